/* process.capabilities and the other process-security fields: parsing, and
 * (as root) applying the capability sets in a child the way the init does. */
#include <errno.h>
#include <jansson.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "security.h"
#include "spec.h"
#include "unit.h"

static const char base[] =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},"
    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";

/* Parse base with process.<key> (or linux.<key> when in_linux) set to value. */
static int parse(const char *key, const char *value, bool in_linux, struct spec **out, char **msg)
{
    json_t *doc = json_loads(base, 0, NULL);
    if (key) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
        if (!v) {
            fprintf(stderr, "bad test JSON: %s\n", value);
            abort();
        }
        json_object_set_new(json_object_get(doc, in_linux ? "linux" : "process"), key, v);
    }
    struct error *err = NULL;
    struct spec *spec = NULL;
    int r = spec_parse(doc, "/bundle", &spec, &err);
    *msg = r < 0 && err ? strdup(err->msg) : NULL;
    error_free(err);
    if (out)
        *out = spec;
    else
        spec_free(spec);
    return r;
}

#define EXPECT_ERROR(key, value, in_linux, text) do { \
        char *_m = NULL; \
        CHECK(parse(key, value, in_linux, NULL, &_m) < 0); \
        CHECK_CONTAINS(_m, text); \
        free(_m); \
    } while (0)

#define EXPECT_OK(key, value, in_linux) do { \
        char *_m = NULL; \
        int _r = parse(key, value, in_linux, NULL, &_m); \
        if (_r < 0) fprintf(stderr, "unexpected error: %s\n", _m); \
        CHECK(_r == 0); \
        free(_m); \
    } while (0)

#define BIT(c) (UINT64_C(1) << (c))

static void test_names(void)
{
    CHECK(capability_from_name("CAP_CHOWN") == CAP_CHOWN);
    CHECK(capability_from_name("CAP_SYS_ADMIN") == CAP_SYS_ADMIN);
    CHECK(capability_from_name("CAP_CHECKPOINT_RESTORE") == CAP_CHECKPOINT_RESTORE);
    CHECK(capability_from_name("CAP_FOO") == -1);
    CHECK(capability_from_name("cap_chown") == -1);
    CHECK(capability_from_name("CHOWN") == -1);
    /* every number up to the last known one has a name that maps back */
    for (int c = 0; c <= capability_last_known(); c++) {
        const char *n = capability_name(c);
        CHECK(n != NULL && capability_from_name(n) == c);
    }
    CHECK(capability_name(capability_last_known() + 1) == NULL);
    CHECK(capability_last_cap() >= 0 && capability_last_cap() < 64);
    char *s = cap_mask_to_string(BIT(CAP_KILL) | BIT(CAP_CHOWN));
    CHECK(s && strcmp(s, "CAP_CHOWN,CAP_KILL") == 0);
    free(s);
}

static void test_cap_parse(void)
{
    struct spec *spec = NULL;
    char *msg = NULL;
    CHECK(parse("capabilities",
                "{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\",\"CAP_NET_RAW\"],"
                "\"permitted\":[\"CAP_KILL\",\"CAP_CHOWN\"],"
                "\"effective\":[\"CAP_KILL\"],"
                "\"inheritable\":[\"CAP_CHOWN\",\"CAP_NET_RAW\"],"
                "\"ambient\":[\"CAP_CHOWN\",\"CAP_KILL\"]}", false, &spec, &msg) == 0);
    if (spec) {
        const struct cap_sets *c = process_security_caps(spec->process.security);
        CHECK(c != NULL);
        if (c) {
            CHECK(c->set[CAPSET_BOUNDING] == (BIT(CAP_KILL) | BIT(CAP_CHOWN) | BIT(CAP_NET_RAW)));
            CHECK(c->set[CAPSET_PERMITTED] == (BIT(CAP_KILL) | BIT(CAP_CHOWN)));
            CHECK(c->set[CAPSET_EFFECTIVE] == BIT(CAP_KILL));
            CHECK(c->set[CAPSET_INHERITABLE] == (BIT(CAP_CHOWN) | BIT(CAP_NET_RAW)));
            /* CAP_KILL is not inheritable: it cannot be ambient and is dropped */
            CHECK(c->set[CAPSET_AMBIENT] == BIT(CAP_CHOWN));
        }
    }
    spec_free(spec);
    free(msg);

    /* no capabilities object: every set empty */
    CHECK(parse(NULL, NULL, false, &spec, &msg) == 0);
    if (spec) {
        const struct cap_sets *c = process_security_caps(spec->process.security);
        CHECK(c && !c->set[0] && !c->set[1] && !c->set[2] && !c->set[3] && !c->set[4]);
    }
    spec_free(spec);
    free(msg);

    EXPECT_ERROR("capabilities", "{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\",\"CAP_NET_RAW\",\"CAP_FOO\"]}", false,
                 "process.capabilities.bounding[3]: unknown capability \"CAP_FOO\"");
    EXPECT_ERROR("capabilities", "{\"ambient\":[\"sys_admin\"]}", false,
                 "process.capabilities.ambient[0]: unknown capability \"sys_admin\"");
    EXPECT_ERROR("capabilities", "{\"effective\":[1]}", false, "process.capabilities.effective[0]: expected a capability name");
    EXPECT_ERROR("capabilities", "{\"permitted\":\"CAP_KILL\"}", false, "process.capabilities.permitted: expected an array");
    EXPECT_ERROR("capabilities", "[]", false, "process.capabilities: expected an object");
    EXPECT_ERROR("capabilities", "{\"effective\":[\"CAP_SYS_ADMIN\"],\"permitted\":[\"CAP_KILL\"]}", false,
                 "process.capabilities.effective: CAP_SYS_ADMIN not in process.capabilities.permitted");
    /* unknown members of the object are ignored, as everywhere in the spec */
    EXPECT_OK("capabilities", "{\"bounding\":[],\"whatever\":[\"CAP_FOO\"]}", false);
}

static void test_cap_add(void)
{
    struct spec *spec = NULL;
    char *msg = NULL;
    CHECK(parse("capabilities", "{\"inheritable\":[\"CAP_NET_RAW\"]}", false, &spec, &msg) == 0);
    if (spec) {
        struct error *err = NULL;
        CHECK(process_security_add_capability(spec->process.security, "CAP_KILL", &err) == 0);
        CHECK(process_security_add_capability(spec->process.security, "CAP_NET_RAW", &err) == 0);
        CHECK(process_security_add_capability(spec->process.security, "CAP_NOPE", &err) == -EINVAL);
        CHECK_CONTAINS(err ? err->msg : NULL, "--cap: capability: unknown capability \"CAP_NOPE\"");
        error_free(err);
        const struct cap_sets *c = process_security_caps(spec->process.security);
        uint64_t both = BIT(CAP_KILL) | BIT(CAP_NET_RAW);
        CHECK(c->set[CAPSET_BOUNDING] == both && c->set[CAPSET_EFFECTIVE] == both && c->set[CAPSET_PERMITTED] == both);
        CHECK(c->set[CAPSET_AMBIENT] == BIT(CAP_NET_RAW));
    }
    spec_free(spec);
    free(msg);
}

static void test_other_fields(void)
{
    EXPECT_OK("scheduler", "{\"policy\":\"SCHED_BATCH\",\"nice\":5}", false);
    EXPECT_OK("scheduler", "{\"policy\":\"SCHED_FIFO\",\"priority\":10,\"flags\":[\"SCHED_FLAG_RESET_ON_FORK\"]}", false);
    EXPECT_OK("scheduler", "{\"policy\":\"SCHED_DEADLINE\",\"runtime\":10000,\"deadline\":100000,\"period\":1000000}", false);
    EXPECT_ERROR("scheduler", "{\"nice\":1}", false, "process.scheduler.policy: missing required string");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_FAST\"}", false, "process.scheduler.policy: unknown scheduling policy \"SCHED_FAST\"");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_ISO\"}", false, "SCHED_ISO is not implemented");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_OTHER\",\"nice\":20}", false, "process.scheduler.nice: 20 is outside -20..19");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_RR\"}", false, "process.scheduler.priority: SCHED_RR needs a priority in 1..99");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_OTHER\",\"priority\":3}", false, "must be 0 for SCHED_OTHER");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_X\"]}", false,
                 "process.scheduler.flags[0]: unknown scheduler flag \"SCHED_FLAG_X\"");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_DEADLINE\",\"runtime\":5000,\"deadline\":1000}", false,
                 "runtime <= deadline <= period");
    EXPECT_ERROR("scheduler", "{\"policy\":\"SCHED_OTHER\",\"runtime\":5000}", false, "only for SCHED_DEADLINE");

    EXPECT_OK("ioPriority", "{\"class\":\"IOPRIO_CLASS_IDLE\",\"priority\":4}", false);
    EXPECT_ERROR("ioPriority", "{\"class\":\"IOPRIO_CLASS_XX\",\"priority\":4}", false,
                 "process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_XX\"");
    EXPECT_ERROR("ioPriority", "{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":8}", false, "process.ioPriority.priority: 8 is outside 0..7");
    EXPECT_ERROR("ioPriority", "{\"class\":\"IOPRIO_CLASS_BE\"}", false, "process.ioPriority.priority: missing");

    EXPECT_OK("personality", "{\"domain\":\"LINUX32\"}", true);
    EXPECT_OK("personality", "{\"domain\":\"LINUX\",\"flags\":[\"ADDR_NO_RANDOMIZE\"]}", true);
    EXPECT_ERROR("personality", "{\"domain\":\"SVR4\"}", true, "linux.personality.domain: unknown execution domain \"SVR4\"");
    EXPECT_ERROR("personality", "{\"domain\":\"LINUX\",\"flags\":[\"NOPE\"]}", true,
                 "linux.personality.flags[0]: unknown personality flag \"NOPE\"");
    EXPECT_ERROR("personality", "{}", true, "linux.personality.domain: missing required string");

    EXPECT_OK("execCPUAffinity", "{\"initial\":\"0\",\"final\":\"0-1\"}", false);
    EXPECT_OK("execCPUAffinity", "{\"initial\":\"\"}", false);
    EXPECT_ERROR("execCPUAffinity", "{\"initial\":\"0-x\"}", false,
                 "process.execCPUAffinity.initial: \"0-x\" is not a CPU list");
    EXPECT_ERROR("execCPUAffinity", "{\"final\":\"3-1\"}", false, "process.execCPUAffinity.final: \"3-1\"");

    /* LSMs: an error exactly when the host lacks them */
    char *m = NULL;
    int r = parse("apparmorProfile", "\"krunc-test\"", false, NULL, &m);
    if (security_apparmor_enabled())
        CHECK(r == 0);
    else
        CHECK_CONTAINS(m, "process.apparmorProfile: AppArmor profile \"krunc-test\" asked for, but AppArmor is not enabled");
    free(m);
    m = NULL;
    r = parse("selinuxLabel", "\"system_u:system_r:container_t:s0\"", false, NULL, &m);
    if (security_selinux_enabled())
        CHECK(r == 0);
    else
        CHECK_CONTAINS(m, "process.selinuxLabel: SELinux label \"system_u:system_r:container_t:s0\" asked for, but SELinux is not enabled");
    free(m);
    m = NULL;
    r = parse("mountLabel", "\"system_u:object_r:container_file_t:s0\"", true, NULL, &m);
    if (security_selinux_enabled())
        CHECK(r == 0);
    else
        CHECK_CONTAINS(m, "linux.mountLabel: SELinux mount label");
    free(m);
    /* empty strings mean "none" */
    EXPECT_OK("apparmorProfile", "\"\"", false);
    EXPECT_OK("selinuxLabel", "\"\"", false);
}

static void test_cpu_list(void)
{
    uint64_t *b = NULL;
    size_t n = 0;
    CHECK(cpu_list_parse("0-3,7", &b, &n) == 0 && n == 8 && b && b[0] == 0x8f);
    free(b);
    CHECK(cpu_list_parse("64", &b, &n) == 0 && n == 65 && b[1] == 1 && b[0] == 0);
    free(b);
    CHECK(cpu_list_parse(" 1 , 3-4 ", &b, &n) == 0 && n == 5 && b[0] == 0x1a);
    free(b);
    CHECK(cpu_list_parse("", &b, &n) == 0 && n == 0 && b == NULL);
    CHECK(cpu_list_parse("a", &b, &n) == -EINVAL);
    CHECK(cpu_list_parse("1-", &b, &n) == -EINVAL);
    CHECK(cpu_list_parse("1;2", &b, &n) == -EINVAL);
    CHECK(cpu_list_parse("5-2", &b, &n) == -ERANGE);
    CHECK(cpu_list_parse("70000", &b, &n) == -ERANGE);
}

/* In a child: become uid 1000 keeping capabilities, as the init does, then
 * apply; report the resulting sets through a pipe. */
static int apply_in_child(const struct process_security *sec, bool nnp, struct cap_sets *got, int *nnp_out)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        struct error *err = NULL;
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0)
            _exit(2);
        if (process_security_apply(sec, nnp, &err) < 0) {
            fprintf(stderr, "apply: %s\n", err->msg);
            _exit(3);
        }
        struct cap_sets s;
        if (cap_sets_current(&s, &err) < 0)
            _exit(4);
        int flags[2] = { prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) };
        if (write(p[1], &s, sizeof(s)) != sizeof(s) || write(p[1], flags, sizeof(flags)) != sizeof(flags))
            _exit(5);
        _exit(0);
    }
    close(p[1]);
    int flags[2] = { -1, -1 };
    ssize_t n = read(p[0], got, sizeof(*got));
    ssize_t m = read(p[0], flags, sizeof(flags));
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    *nnp_out = flags[0];
    if (flags[1] != 0)
        return -1;      /* KEEPCAPS must be cleared */
    return n == sizeof(*got) && m == sizeof(flags) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_apply(void)
{
    if (geteuid() != 0) {
        printf("SKIP apply: needs root\n");
        return;
    }
    struct spec *spec = NULL;
    char *msg = NULL;
    CHECK(parse("capabilities",
                "{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\",\"CAP_NET_BIND_SERVICE\",\"CAP_SETPCAP\"],"
                "\"permitted\":[\"CAP_KILL\",\"CAP_CHOWN\",\"CAP_NET_BIND_SERVICE\"],"
                "\"effective\":[\"CAP_KILL\"],"
                "\"inheritable\":[\"CAP_NET_BIND_SERVICE\"],"
                "\"ambient\":[\"CAP_NET_BIND_SERVICE\"]}", false, &spec, &msg) == 0);
    if (!spec)
        return;
    struct cap_sets got;
    int nnp = -1;
    CHECK(apply_in_child(spec->process.security, true, &got, &nnp) == 0);
    CHECK(got.set[CAPSET_BOUNDING] == (BIT(CAP_KILL) | BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SETPCAP)));
    CHECK(got.set[CAPSET_PERMITTED] == (BIT(CAP_KILL) | BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE)));
    CHECK(got.set[CAPSET_EFFECTIVE] == BIT(CAP_KILL));
    CHECK(got.set[CAPSET_INHERITABLE] == BIT(CAP_NET_BIND_SERVICE));
    CHECK(got.set[CAPSET_AMBIENT] == BIT(CAP_NET_BIND_SERVICE));
    CHECK(nnp == 1);

    /* everything empty, no no_new_privs */
    CHECK(apply_in_child(NULL, false, &got, &nnp) == 0);
    CHECK(!got.set[0] && !got.set[1] && !got.set[2] && !got.set[3] && !got.set[4]);
    CHECK(nnp == 0);
    spec_free(spec);
    free(msg);

    /* inheritable outside bounding cannot be set: a clear error */
    CHECK(parse("capabilities", "{\"bounding\":[\"CAP_KILL\"],\"inheritable\":[\"CAP_CHOWN\"]}", false, &spec, &msg) == 0);
    if (spec) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            struct error *err = NULL;
            int r = process_security_apply(spec->process.security, false, &err);
            if (r < 0 && err)
                CHECK(write(p[1], err->msg, strlen(err->msg)) > 0);
            _exit(r < 0 ? 0 : 1);
        }
        close(p[1]);
        char buf[512] = "";
        ssize_t n = read(p[0], buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = 0;
        close(p[0]);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_CONTAINS(buf, "inheritable capabilities CAP_CHOWN are not in the bounding set");
    }
    spec_free(spec);
}

int main(void)
{
    test_names();
    test_cap_parse();
    test_cap_add();
    test_other_fields();
    test_cpu_list();
    test_apply();
    UNIT_DONE();
}
