/* The krun executor's pure parts: annotations, VM size defaults, the guest
 * config document, the device added to the spec, the config file writer. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "executor.h"
#include "executors/krun.h"
#include "spec.h"
#include "unit.h"

static const char base[] =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"A=1\"],\"user\":{\"uid\":0,\"gid\":0}},"
    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";

static struct spec *spec_with(json_t *annotations)
{
    json_t *doc = json_loads(base, 0, NULL);
    if (annotations)
        json_object_set_new(doc, "annotations", annotations);
    struct spec *spec = NULL;
    if (spec_parse(doc, "/b", &spec, NULL) < 0)
        return NULL;
    return spec;
}

/* Parse one annotation; returns the error message (malloc'd) or NULL. */
static char *opts_with(const char *key, const char *value, struct krun_opts *o)
{
    struct spec *spec = spec_with(json_pack("{s:s}", key, value));
    struct error *err = NULL;
    struct krun_opts tmp;
    if (!o)
        o = &tmp;
    int r = krun_opts_parse(spec, o, &err);
    char *msg = r < 0 ? strdup(err ? err->msg : "(no message)") : NULL;
    if (o == &tmp && r == 0)
        krun_opts_free(o);
    error_free(err);
    spec_free(spec);
    return msg;
}

#define EXPECT_OK(key, value) do { \
        char *_m = opts_with(key, value, NULL); \
        if (_m) fprintf(stderr, "unexpected: %s\n", _m); \
        CHECK(_m == NULL); \
        free(_m); \
    } while (0)
#define EXPECT_ERR(key, value, text) do { \
        char *_m = opts_with(key, value, NULL); \
        CHECK_CONTAINS(_m, text); \
        CHECK_CONTAINS(_m, key); \
        free(_m); \
    } while (0)

static void test_annotations(void)
{
    struct krun_opts o;
    char *m = opts_with("krun.cpus", "4", &o);
    CHECK(m == NULL && o.cpus == 4 && o.variant == KRUN_VARIANT_DEFAULT && o.log_level == -1);
    krun_opts_free(&o);
    EXPECT_OK("krun.cpus", "255");
    EXPECT_ERR("krun.cpus", "0", "from 1 to 255");
    EXPECT_ERR("krun.cpus", "256", "from 1 to 255");
    EXPECT_ERR("krun.cpus", "-1", "from 1 to 255");
    EXPECT_ERR("krun.cpus", "two", "from 1 to 255");
    EXPECT_ERR("krun.cpus", "2 ", "from 1 to 255");
    EXPECT_ERR("krun.cpus", "", "from 1 to 255");

    m = opts_with("krun.ram_mib", "4096", &o);
    CHECK(m == NULL && o.ram_mib == 4096);
    krun_opts_free(&o);
    EXPECT_ERR("krun.ram_mib", "0", "RAM size in MiB");
    EXPECT_ERR("krun.ram_mib", "4294967296", "RAM size in MiB");
    EXPECT_ERR("krun.ram_mib", "1G", "RAM size in MiB");

    m = opts_with("krun.log_level", "debug", &o);
    CHECK(m == NULL && o.log_level == 4);
    krun_opts_free(&o);
    m = opts_with("krun.log_level", "0", &o);
    CHECK(m == NULL && o.log_level == 0);
    krun_opts_free(&o);
    EXPECT_ERR("krun.log_level", "6", "not a log level");
    EXPECT_ERR("krun.log_level", "loud", "not a log level");

    m = opts_with("krun.nested_virt", "true", &o);
    CHECK(m == NULL && o.nested_virt);
    krun_opts_free(&o);
    EXPECT_OK("krun.nested_virt", "false");
    EXPECT_ERR("krun.nested_virt", "yes please", "not true or false");

    m = opts_with("krun.gpu_flags", "0x2c2", &o);
    CHECK(m == NULL && o.has_gpu_flags && o.gpu_flags == 0x2c2);
    krun_opts_free(&o);
    EXPECT_OK("krun.gpu_flags", "0");
    EXPECT_ERR("krun.gpu_flags", "0x800", "virglrenderer flags");
    EXPECT_ERR("krun.gpu_flags", "lots", "virglrenderer flags");

    m = opts_with("krun.port_map", "8080:80, 8443:443", &o);
    CHECK(m == NULL && o.has_port_map && o.port_map && o.port_map[0] && !strcmp(o.port_map[0], "8080:80") &&
          o.port_map[1] && !strcmp(o.port_map[1], "8443:443") && !o.port_map[2]);
    krun_opts_free(&o);
    m = opts_with("krun.port_map", "", &o);
    CHECK(m == NULL && o.has_port_map && o.port_map && !o.port_map[0]);
    krun_opts_free(&o);
    EXPECT_ERR("krun.port_map", "8080", "HOST_PORT:GUEST_PORT");
    EXPECT_ERR("krun.port_map", "8080:0", "from 1 to 65535");
    EXPECT_ERR("krun.port_map", "70000:80", "from 1 to 65535");
    EXPECT_ERR("krun.port_map", "80:80,80:81", "host port 80 twice");
    EXPECT_ERR("krun.port_map", "80:80,81:80", "guest port 80 twice");
    EXPECT_ERR("krun.port_map", "80:80,", "ends with a comma");

    EXPECT_OK("krun.use_passt", "1");
    EXPECT_ERR("krun.use_passt", "maybe", "not true or false");

    EXPECT_ERR("krun.variant", "sgx", "sev, tdx or aws-nitro");
    m = opts_with("krun.variant", "sev", &o);
    CHECK(m == NULL && o.variant == KRUN_VARIANT_SEV && o.tee_config && !strcmp(o.tee_config, "/krun-sev.json") &&
          o.root_disk && !strcmp(o.root_disk, "/disk.img"));
    krun_opts_free(&o);
    m = opts_with("krun.variant", "aws-nitro", &o);
    CHECK(m == NULL && o.variant == KRUN_VARIANT_NITRO && !o.tee_config);
    krun_opts_free(&o);
    EXPECT_ERR("krun.tee_config", "/x.json", "only for krun.variant");
}

static char *opts_with2(json_t *ann, struct krun_opts *o)
{
    struct spec *spec = spec_with(ann);
    struct error *err = NULL;
    int r = krun_opts_parse(spec, o, &err);
    char *msg = r < 0 ? strdup(err ? err->msg : "(no message)") : NULL;
    error_free(err);
    spec_free(spec);
    return msg;
}

static void test_combinations(void)
{
    struct krun_opts o;
    char *m = opts_with2(json_pack("{s:s, s:s}", "krun.variant", "tdx", "krun.cpus", "2"), &o);
    CHECK_CONTAINS(m, "one vCPU");
    free(m);
    m = opts_with2(json_pack("{s:s, s:s}", "krun.variant", "tdx", "krun.ram_mib", "4096"), &o);
    CHECK_CONTAINS(m, "3072");
    free(m);
    m = opts_with2(json_pack("{s:s, s:s, s:s}", "krun.variant", "tdx", "krun.ram_mib", "2048", "krun.tee_config",
                             "/tee.json"), &o);
    CHECK(m == NULL && o.ram_mib == 2048 && !strcmp(o.tee_config, "/tee.json"));
    free(m);
    krun_opts_free(&o);
    m = opts_with2(json_pack("{s:s, s:s}", "krun.variant", "sev", "krun.root_disk", "disk.img"), &o);
    CHECK_CONTAINS(m, "not an absolute path");
    free(m);
    m = opts_with2(json_pack("{s:s, s:s}", "krun.use_passt", "true", "krun.port_map", "1:1"), &o);
    CHECK_CONTAINS(m, "cannot be combined");
    free(m);
    m = opts_with2(json_pack("{s:s, s:s}", "krun.use_passt", "true", "krun.variant", "sev"), &o);
    CHECK_CONTAINS(m, "no network devices");
    free(m);
}

static void test_defaults(void)
{
    unsigned n = krun_default_vcpus(0);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(n >= 1 && n <= KRUN_DEFAULT_MAX_VCPUS && (long)n <= online);
    CHECK(krun_default_vcpus(1) == 1);

    json_t *res = json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)512 * 1024 * 1024);
    CHECK(krun_default_ram_mib(res) == 512);
    json_decref(res);
    res = json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)128 * 1024 * 1024);
    CHECK(krun_default_ram_mib(res) == KRUN_DEFAULT_RAM_MIB);
    json_decref(res);
    res = json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)-1);
    CHECK(krun_default_ram_mib(res) == KRUN_DEFAULT_RAM_MIB);
    json_decref(res);
    CHECK(krun_default_ram_mib(NULL) == KRUN_DEFAULT_RAM_MIB);
}

static void test_tokens_and_document(void)
{
    json_t *j = json_loads("{\"a\":[1,\"x\",{\"b\":null}],\"c\":true}", 0, NULL);
    /* object, a, array, 1, "x", object, b, null, c, true */
    CHECK(krun_json_tokens(j) == 10);
    json_decref(j);

    json_t *cfg = json_loads("{\"ociVersion\":\"1\",\"hooks\":{\"prestart\":[{\"path\":\"/h\",\"args\":[\"h\"],"
                             "\"env\":[\"H=1\"]}]},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},\"root\":{}}",
                             0, NULL);
    json_t *doc = NULL;
    CHECK(krun_config_document(cfg, &doc, NULL) == 0);
    if (doc) {
        void *it = json_object_iter(doc);
        CHECK(it && !strcmp(json_object_iter_key(it), "process"));
        CHECK(json_object_size(doc) == 4);
        /* no env in process: an empty one keeps the hook's from being used */
        CHECK(json_array_size(json_object_get(json_object_get(doc, "process"), "env")) == 0 &&
              json_object_get(json_object_get(doc, "process"), "env"));
        CHECK(!json_object_get(json_object_get(cfg, "process"), "env"));
        json_decref(doc);
    }
    /* too many args */
    json_t *args = json_object_get(json_object_get(cfg, "process"), "args");
    for (int i = 0; i < KRUN_CONFIG_MAX_ARGS - 1; i++)
        json_array_append_new(args, json_string("x"));
    doc = NULL;
    CHECK(krun_config_document(cfg, &doc, NULL) == 0);
    json_decref(doc);
    json_array_append_new(args, json_string("x"));
    struct error *err = NULL;
    doc = NULL;
    CHECK(krun_config_document(cfg, &doc, &err) == -E2BIG && !doc);
    CHECK_CONTAINS(err ? err->msg : NULL, "at most 32");
    error_free(err);
    json_array_clear(args);
    json_array_append_new(args, json_string("sh"));
    /* too many tokens */
    json_t *env = json_array();
    json_object_set_new(json_object_get(cfg, "process"), "env", env);
    size_t have = krun_json_tokens(cfg);
    for (size_t i = have; i < KRUN_CONFIG_MAX_TOKENS; i++)
        json_array_append_new(env, json_string("A=1"));
    CHECK(krun_json_tokens(cfg) == KRUN_CONFIG_MAX_TOKENS);
    doc = NULL;
    CHECK(krun_config_document(cfg, &doc, NULL) == 0);
    json_decref(doc);
    json_array_append_new(env, json_string("A=1"));
    err = NULL;
    doc = NULL;
    CHECK(krun_config_document(cfg, &doc, &err) == -E2BIG);
    CHECK_CONTAINS(err ? err->msg : NULL, "16384");
    error_free(err);
    json_decref(cfg);
}

static void test_device(void)
{
    struct spec *spec = spec_with(NULL);
    CHECK(krun_add_device(spec, "/dev/kvm", makedev(10, 232), NULL) == 0);
    CHECK(spec->linux.n_devices == 1 && !strcmp(spec->linux.devices[0].path, "/dev/kvm") &&
          spec->linux.devices[0].type == 'c' && spec->linux.devices[0].major == 10 &&
          spec->linux.devices[0].minor == 232 && spec->linux.devices[0].has_mode && spec->linux.devices[0].mode == 0666);
    json_t *devs = json_object_get(json_object_get(spec->json, "linux"), "devices");
    CHECK(json_array_size(devs) == 1);
    json_t *d = json_array_get(devs, 0);
    CHECK(json_integer_value(json_object_get(d, "major")) == 10 && json_integer_value(json_object_get(d, "fileMode")) == 0666);
    /* present: not added twice; the rule made in a list of its own, once */
    CHECK(krun_add_device(spec, "/dev/kvm", makedev(10, 232), NULL) == 0);
    CHECK(spec->linux.n_devices == 1 && json_array_size(devs) == 1);
    json_t *own = json_object_get(json_object_get(json_object_get(spec->json, "linux"), "resources"), "devices");
    CHECK(json_array_size(own) == 1);
    CHECK(json_is_true(json_object_get(json_array_get(own, 0), "allow")) &&
          json_integer_value(json_object_get(json_array_get(own, 0), "minor")) == 232);
    CHECK(spec->linux.resources == json_object_get(json_object_get(spec->json, "linux"), "resources"));
    spec_free(spec);

    json_t *doc = json_loads(base, 0, NULL);
    json_object_set_new(json_object_get(doc, "linux"), "resources",
                        json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
    json_object_set_new(json_object_get(doc, "linux"), "devices",
                        json_pack("[{s:s, s:s, s:i, s:i}]", "path", "/dev/fuse", "type", "c", "major", 10, "minor", 229));
    spec = NULL;
    CHECK(spec_parse(doc, "/b", &spec, NULL) == 0);
    if (!spec)
        return;
    CHECK(krun_add_device(spec, "/dev/kvm", makedev(10, 232), NULL) == 0);
    CHECK(spec->linux.n_devices == 2 && !strcmp(spec->linux.devices[0].path, "/dev/fuse") &&
          !strcmp(spec->linux.devices[1].path, "/dev/kvm"));
    json_t *rules = json_object_get(spec->linux.resources, "devices");
    CHECK(json_array_size(rules) == 2);
    json_t *rule = json_array_get(rules, 1);
    CHECK(json_is_true(json_object_get(rule, "allow")) && !strcmp(json_string_value(json_object_get(rule, "type")), "c") &&
          json_integer_value(json_object_get(rule, "major")) == 10 &&
          json_integer_value(json_object_get(rule, "minor")) == 232 &&
          !strcmp(json_string_value(json_object_get(rule, "access")), "rwm"));
    spec_free(spec);
}

static void test_write(void)
{
    char dir[] = "/tmp/krun-unit-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    json_t *doc = json_pack("{s:{s:[s]}}", "process", "args", "sh");
    CHECK(krun_config_write(rootfd, doc, NULL) == 0);
    struct stat st;
    CHECK(fstatat(rootfd, KRUN_CONFIG_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
          (st.st_mode & 07777) == 0444);
    /* a regular file there is replaced */
    CHECK(krun_config_write(rootfd, doc, NULL) == 0);
    CHECK(krun_config_remove(rootfd, NULL) == 0);
    CHECK(fstatat(rootfd, KRUN_CONFIG_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
    CHECK(krun_config_remove(rootfd, NULL) == 0);
    /* a symlink there is refused, and not removed by cleanup either */
    CHECK(symlinkat("/tmp/krun-unit-target-does-not-exist", rootfd, KRUN_CONFIG_FILE) == 0);
    struct error *err = NULL;
    CHECK(krun_config_write(rootfd, doc, &err) == -EEXIST);
    CHECK_CONTAINS(err ? err->msg : NULL, "symbolic link");
    error_free(err);
    CHECK(access("/tmp/krun-unit-target-does-not-exist", F_OK) < 0);
    CHECK(krun_config_remove(rootfd, NULL) == 0);
    CHECK(fstatat(rootfd, KRUN_CONFIG_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode));
    unlinkat(rootfd, KRUN_CONFIG_FILE, 0);
    close(rootfd);
    rmdir(dir);
    json_decref(doc);
}

static void test_variants(void)
{
    const struct krun_variant_info *v = krun_variant_info(KRUN_VARIANT_DEFAULT);
    CHECK(!strcmp(v->soname, "libkrun.so.1") && !strcmp(v->devices[0], "/dev/kvm") && !v->devices[1]);
    v = krun_variant_info(KRUN_VARIANT_SEV);
    CHECK(!strcmp(v->soname, "libkrun-sev.so.1") && !strcmp(v->devices[0], "/dev/kvm") &&
          !strcmp(v->devices[1], "/dev/sev") && !v->devices[2]);
    v = krun_variant_info(KRUN_VARIANT_TDX);
    CHECK(!strcmp(v->soname, "libkrun-tdx.so.1") && !strcmp(v->devices[0], "/dev/kvm") && !v->devices[1]);
    v = krun_variant_info(KRUN_VARIANT_NITRO);
    CHECK(!strcmp(v->soname, "libkrun-awsnitro.so.1") && !strcmp(v->devices[0], "/dev/nitro_enclaves") &&
          !v->devices[1]);
    CHECK(strstr(krun_strerror(-ENOENT), "libkrunfw") != NULL);
    CHECK(strstr(krun_strerror(-E2BIG), "long") != NULL);
}

static void test_registry(void)
{
    CHECK(executor_check_exec(NULL, "c1", NULL) == 0);
    CHECK(executor_check_exec("unknown", "c1", NULL) == 0);
    struct error *err = NULL;
    CHECK(executor_check_exec("default", "c1", NULL) == 0);
    CHECK(executor_check_exec("krun", "c1", &err) == -EPERM);
    CHECK_CONTAINS(err ? err->msg : NULL, "c1");
    CHECK_CONTAINS(err ? err->msg : NULL, "microVM");
    error_free(err);

    const struct executor *ex = NULL;
    struct spec *spec = spec_with(json_pack("{s:s}", "run.oci.handler", "krun"));
    CHECK(executor_select(spec, NULL, &ex, NULL) == 0 && ex == &executor_krun);
    spec_free(spec);
    spec = spec_with(NULL);
    CHECK(executor_select(spec, NULL, &ex, NULL) == 0 && ex == &executor_default);
    CHECK(executor_select(spec, "krun", &ex, NULL) == 0 && ex == &executor_krun);
    spec_free(spec);
    spec = spec_with(json_pack("{s:s}", "run.oci.handler", "wasm"));
    err = NULL;
    CHECK(executor_select(spec, NULL, &ex, &err) < 0);
    CHECK_CONTAINS(err ? err->msg : NULL, "unknown handler");
    error_free(err);
    spec_free(spec);
    int n = 0;
    for (const char *const *a = executor_krun.annotations; *a; a++)
        n++;
    CHECK(n == 10);
}

int main(void)
{
    test_annotations();
    test_combinations();
    test_defaults();
    test_tokens_and_document();
    test_device();
    test_write();
    test_variants();
    test_registry();
    UNIT_DONE();
}
