#include <jansson.h>
#include <stdlib.h>

#include "spec.h"
#include "unit.h"

static const char base[] =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},"
    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";

/* Parse base with path set to value (a JSON text); return the error message or NULL. */
static char *parse_with(const char *path, const char *value)
{
    json_t *doc = json_loads(base, 0, NULL);
    if (path) {
        char *p = strdup(path), *save = NULL;
        json_t *cur = doc;
        char *tok = strtok_r(p, ".", &save), *next;
        while ((next = strtok_r(NULL, ".", &save))) {
            json_t *child = json_object_get(cur, tok);
            if (!child) {
                child = json_object();
                json_object_set_new(cur, tok, child);
            }
            cur = child;
            tok = next;
        }
        json_object_set_new(cur, tok, json_loads(value, JSON_DECODE_ANY, NULL));
        free(p);
    }
    struct spec *spec = NULL;
    struct error *err = NULL;
    int r = spec_parse(doc, "/bundle", &spec, &err);
    char *msg = r < 0 && err ? strdup(err->msg) : NULL;
    error_free(err);
    spec_free(spec);
    return msg;
}

#define EXPECT_ERROR(path, value, text) do { \
        char *_m = parse_with(path, value); \
        CHECK_CONTAINS(_m, text); \
        free(_m); \
    } while (0)

static void test_good(void)
{
    char *m = parse_with(NULL, NULL);
    CHECK(m == NULL);
    free(m);
    json_t *doc = json_loads(base, 0, NULL);
    json_object_set_new(doc, "annotations", json_pack("{s:s}", "run.oci.handler", "krun"));
    struct spec *spec = NULL;
    CHECK(spec_parse(doc, "/b", &spec, NULL) == 0);
    if (spec) {
        CHECK(strcmp(spec->root_path, "/b/rootfs") == 0);
        CHECK(spec->process.n_args == 1 && spec->process.args[1] == NULL);
        CHECK(spec->linux.ns[NS_MNT].enabled && !spec->linux.ns[NS_PID].enabled);
        CHECK(strcmp(spec_annotation(spec, "run.oci.handler"), "krun") == 0);
        CHECK(spec_annotation(spec, "other") == NULL);
    }
    spec_free(spec);
}

static void test_errors(void)
{
    EXPECT_ERROR("ociVersion", "\"2.0.0\"", "ociVersion");
    EXPECT_ERROR("ociVersion", "1", "ociVersion: expected a string");
    EXPECT_ERROR("process.args", "[]", "process.args: must be a non-empty array of strings");
    EXPECT_ERROR("process.args", "[\"sh\", 1]", "process.args[1]: expected a string");
    EXPECT_ERROR("process.user.uid", "\"0\"", "process.user.uid: expected an integer");
    EXPECT_ERROR("process.user.uid", "-1", "process.user.uid");
    EXPECT_ERROR("process.cwd", "\"rel\"", "process.cwd");
    EXPECT_ERROR("process.env", "[\"NOEQUALS\"]", "process.env[0]");
    EXPECT_ERROR("process.rlimits", "[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]", "process.rlimits[0].type");
    EXPECT_ERROR("process.rlimits", "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":1}]", "process.rlimits[0]");
    EXPECT_ERROR("process.oomScoreAdj", "5000", "process.oomScoreAdj");
    EXPECT_ERROR("mounts", "{}", "mounts: expected an array");
    EXPECT_ERROR("mounts", "[{\"type\":\"tmpfs\"}]", "mounts[0].destination");
    EXPECT_ERROR("linux.namespaces", "[{\"type\":\"bogus\"}]", "linux.namespaces[0].type");
    EXPECT_ERROR("linux.namespaces", "[{\"type\":\"pid\"},{\"type\":\"pid\"}]", "linux.namespaces[1].type");
    EXPECT_ERROR("linux.namespaces", "[{\"type\":\"mount\"},{\"type\":\"user\"}]", "uidMappings");
    EXPECT_ERROR("linux.devices", "[{\"type\":\"x\",\"path\":\"/dev/x\"}]", "linux.devices[0].type");
    EXPECT_ERROR("linux.devices", "[{\"type\":\"c\",\"path\":\"/dev/x\"}]", "linux.devices[0]: major and minor");
    EXPECT_ERROR("linux.rootfsPropagation", "\"sideways\"", "linux.rootfsPropagation");
    EXPECT_ERROR("linux.sysctl", "{\"a.b\": 1}", "linux.sysctl.a.b");
    EXPECT_ERROR("hooks.prestart", "[{\"path\":\"rel\"}]", "hooks.prestart[0].path");
    EXPECT_ERROR("hooks.poststop", "[{\"path\":\"/bin/true\",\"timeout\":0}]", "hooks.poststop[0].timeout");
    EXPECT_ERROR("annotations", "{\"a\": 1}", "annotations.a");
    EXPECT_ERROR("hostname", "\"h\"", "uts namespace");
    EXPECT_ERROR("root.path", "\"\"", "root.path");
    EXPECT_ERROR("linux.timeOffsets", "{\"monotonic\":{\"secs\":1}}", "linux.timeOffsets");
}

int main(void)
{
    test_good();
    test_errors();
    UNIT_DONE();
}
