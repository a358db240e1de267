/* The cgroup module against fake cgroup trees in a temp directory: the v1/v2 conversions, which
 * file each resource lands in, the checks of linux.resources, and the hybrid routing. The
 * "kernel" here is plain files, so a leaf's interface files are made by the test beforehand. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "cgroups/internal.h"
#include "cleanup.h"
#include "util.h"

static int failures, checks;
static char *root;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        checks++;                                                         \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *rel = NULL, *full = NULL;
    if (vasprintf(&rel, fmt, ap) < 0 || asprintf(&full, "%s/%s", root, rel) < 0)
        abort();
    va_end(ap);
    free(rel);
    return full;
}

/* make root/rel (and its directories) holding content */
static void put_file(const char *rel, const char *content)
{
    _cleanup_free_ char *p = pathf("%s", rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    if (mkdir_p(p, 0755) < 0)
        abort();
    *slash = '/';
    if (write_file_at(AT_FDCWD, p, content, strlen(content), O_CREAT | O_TRUNC, 0644) < 0)
        abort();
}

static void put_files(const char *dir, const char *const *files)
{
    for (; *files; files++) {
        _cleanup_free_ char *rel = NULL;
        if (asprintf(&rel, "%s/%s", dir, *files) < 0)
            abort();
        put_file(rel, "");
    }
}

/* the file's content without a trailing newline; "<missing>" when absent */
static char *get(const char *rel)
{
    _cleanup_free_ char *p = pathf("%s", rel);
    char *s = NULL;
    if (read_file_at(AT_FDCWD, p, &s, NULL) < 0)
        return strdup("<missing>");
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n')
        s[--n] = '\0';
    return s;
}

#define CHECK_FILE(rel, want)                                                        \
    do {                                                                             \
        _cleanup_free_ char *_got = get(rel);                                        \
        CHECK(!strcmp(_got, want), "%s: got \"%s\", want \"%s\"", rel, _got, want);  \
    } while (0)

static void fresh_root(void)
{
    if (root) {
        /* rm -r of the previous tree */
        char *argv[] = { "rm", "-rf", root, NULL };
        pid_t pid = fork();
        if (pid == 0) {
            execvp("rm", argv);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        free(root);
    }
    char tmpl[] = "/tmp/krunc-cgtest.XXXXXX";
    if (!mkdtemp(tmpl))
        abort();
    root = strdup(tmpl);
    cgroup_set_root_for_tests(root);
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
        abort();
    }
    return j;
}

/* create with resources; returns 0 or the error code, and the message in *msg */
static int create(const char *path, const char *resources, json_t **state, char **msg)
{
    _cleanup_json_ json_t *res = resources ? parse(resources) : NULL;
    struct error *e = NULL;
    struct cgroup_opts opts = { .id = "t" };
    *state = NULL;
    int r = cgroup_create_at(path, res, &opts, 4242, state, &e);
    if (msg)
        *msg = e ? strdup(e->msg) : NULL;
    else if (e)
        fprintf(stderr, "  (error: %s)\n", e->msg);
    error_free(e);
    return r;
}

static int check_resources(const char *resources, char **msg)
{
    _cleanup_json_ json_t *res = parse(resources);
    struct error *e = NULL;
    int r = cgroup_resources_check(res, &e);
    *msg = e ? strdup(e->msg) : NULL;
    error_free(e);
    return r;
}

/* ---- pure functions ---- */

static void test_conversions(void)
{
    CHECK(cg_cpu_shares_to_weight(0) == 0, "shares 0 is unset");
    CHECK(cg_cpu_shares_to_weight(2) == 1, "shares 2 -> 1, got %llu", (unsigned long long)cg_cpu_shares_to_weight(2));
    CHECK(cg_cpu_shares_to_weight(1024) == 39, "shares 1024 -> 39, got %llu",
          (unsigned long long)cg_cpu_shares_to_weight(1024));
    CHECK(cg_cpu_shares_to_weight(262144) == 10000, "shares max -> 10000");
    CHECK(cg_cpu_shares_to_weight(1000000) == 10000, "shares above max clamp");
    CHECK(cg_blkio_weight_to_io_weight(10) == 1, "blkio 10 -> 1");
    CHECK(cg_blkio_weight_to_io_weight(500) == 4950, "blkio 500 -> 4950, got %llu",
          (unsigned long long)cg_blkio_weight_to_io_weight(500));
    CHECK(cg_blkio_weight_to_io_weight(1000) == 10000, "blkio 1000 -> 10000");

    int64_t out = 0;
    struct error *e = NULL;
    CHECK(cg_swap_to_v2(-1, 100, true, &out, &e) == 0 && out == -1, "swap -1 is max");
    CHECK(cg_swap_to_v2(300, 100, true, &out, &e) == 0 && out == 200, "swap 300 limit 100 -> 200");
    CHECK(cg_swap_to_v2(100, 100, true, &out, &e) == 0 && out == 0, "swap == limit -> no swap");
    CHECK(cg_swap_to_v2(50, 100, true, &out, &e) < 0 && e && strstr(e->msg, "below the memory limit"),
          "swap below limit is refused");
    error_free(e);
    e = NULL;
    CHECK(cg_swap_to_v2(300, 0, false, &out, &e) < 0 && e && strstr(e->msg, "needs a memory limit"),
          "swap without a limit is refused");
    error_free(e);

    char buf[64];
    struct cg_device_rule r1 = { true, 'c', 1, 3, CG_ACC_ALL };
    cg_device_rule_format(&r1, buf, sizeof(buf));
    CHECK(!strcmp(buf, "c 1:3 rwm"), "rule format: %s", buf);
    struct cg_device_rule r2 = { false, 'b', -1, 7, CG_ACC_READ | CG_ACC_MKNOD };
    cg_device_rule_format(&r2, buf, sizeof(buf));
    CHECK(!strcmp(buf, "b *:7 rm"), "rule format: %s", buf);
    struct cg_device_rule r3 = { false, 'a', -1, -1, CG_ACC_ALL };
    cg_device_rule_format(&r3, buf, sizeof(buf));
    CHECK(!strcmp(buf, "a"), "rule format: %s", buf);
}

static void test_check(void)
{
    static const struct { const char *json, *want; } bad[] = {
        { "{\"memory\": {\"limit\": \"1G\"}}", "linux.resources.memory.limit: expected an integer" },
        { "{\"memory\": {\"limit\": -5}}", "linux.resources.memory.limit: must be -1" },
        { "{\"memory\": {\"swappiness\": 101}}", "linux.resources.memory.swappiness: must be between 0 and 100" },
        { "{\"memory\": {\"limit\": 200, \"swap\": 100}}", "linux.resources.memory.swap: memory+swap limit 100 is below" },
        { "{\"memory\": {\"disableOOMKiller\": 1}}", "linux.resources.memory.disableOOMKiller: expected" },
        { "{\"memory\": []}", "linux.resources.memory: expected an object" },
        { "{\"cpu\": {\"shares\": -1}}", "linux.resources.cpu.shares: must not be negative" },
        { "{\"cpu\": {\"quota\": -7}}", "linux.resources.cpu.quota: must be -1" },
        { "{\"cpu\": {\"cpus\": \"0-\"}}", "linux.resources.cpu.cpus: \"0-\" is not a CPU list" },
        { "{\"cpu\": {\"mems\": \"3-1\"}}", "linux.resources.cpu.mems:" },
        { "{\"cpu\": {\"idle\": 2}}", "linux.resources.cpu.idle: must be 0 or 1" },
        { "{\"pids\": {\"limit\": \"10\"}}", "linux.resources.pids.limit: expected an integer" },
        { "{\"blockIO\": {\"weight\": 5}}", "linux.resources.blockIO.weight: must be between 10 and 1000" },
        { "{\"blockIO\": {\"weightDevice\": [{\"major\": 8}]}}", "linux.resources.blockIO.weightDevice[0].minor: missing" },
        { "{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0}]}}",
          "linux.resources.blockIO.throttleReadBpsDevice[0].rate: missing" },
        { "{\"hugepageLimits\": [{\"pageSize\": \"2M\", \"limit\": 1}]}",
          "linux.resources.hugepageLimits[0].pageSize: \"2M\" is not a page size" },
        { "{\"hugepageLimits\": [{\"pageSize\": \"2MB\"}]}", "linux.resources.hugepageLimits[0].limit: missing" },
        { "{\"network\": {\"classID\": -1}}", "linux.resources.network.classID" },
        { "{\"network\": {\"priorities\": [{\"name\": \"eth0\"}]}}", "linux.resources.network.priorities[0].priority: missing" },
        { "{\"rdma\": {\"mlx5\": {\"hcaHandles\": \"x\"}}}", "linux.resources.rdma.mlx5.hcaHandles: expected an integer" },
        { "{\"unified\": {\"memory.high\": 5}}", "linux.resources.unified.memory.high: expected a string" },
        { "{\"unified\": {\"../etc\": \"x\"}}", "linux.resources.unified.../etc: not a cgroup file name" },
        { "{\"unified\": {\"cgroup.procs\": \"1\"}}", "linux.resources.unified.cgroup.procs: krunc manages" },
        { "{\"devices\": [{\"access\": \"rwm\"}]}", "linux.resources.devices[0].allow: missing required boolean" },
        { "{\"devices\": [{\"allow\": true, \"type\": \"x\"}]}", "linux.resources.devices[0].type: \"x\" is not one of" },
        { "{\"devices\": [{\"allow\": true, \"access\": \"rwq\"}]}", "linux.resources.devices[0].access:" },
        { "{\"devices\": [{\"allow\": true, \"major\": \"1\"}]}", "linux.resources.devices[0].major: expected an integer" },
        { "{\"devices\": {}}", "linux.resources.devices: expected an array" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        _cleanup_free_ char *msg = NULL;
        int r = check_resources(bad[i].json, &msg);
        CHECK(r < 0 && msg && strstr(msg, bad[i].want), "check %s: got \"%s\", want \"%s...\"", bad[i].json,
              msg ? msg : "(accepted)", bad[i].want);
    }
    static const char *const good[] = {
        "{}",
        "{\"memory\": {\"limit\": -1, \"swap\": -1, \"swappiness\": 0, \"disableOOMKiller\": false}}",
        "{\"cpu\": {\"shares\": 1024, \"quota\": -1, \"period\": 100000, \"cpus\": \"0-3,5\", \"mems\": \"\"}}",
        "{\"pids\": {\"limit\": -1}}",
        "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3}]}",
        "{\"hugepageLimits\": [{\"pageSize\": \"1GB\", \"limit\": 0}], \"unified\": {\"memory.high\": \"max\"}}",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        _cleanup_free_ char *msg = NULL;
        int r = check_resources(good[i], &msg);
        CHECK(r == 0, "check %s: refused: %s", good[i], msg ? msg : "");
    }
}

/* ---- v2 ---- */

static const char *const v2_leaf_files[] = {
    "cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "cgroup.freeze", "cgroup.kill",
    "memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle",
    "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "rdma.max",
    "memory.high", NULL,
};

static void make_v2_tree(void)
{
    fresh_root();
    put_file("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    put_file("cgroup.subtree_control", "");
    put_file("cgroup.procs", "");
    put_file("krunc/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    put_file("krunc/cgroup.subtree_control", "");
    put_files("krunc/t", v2_leaf_files);
}

static void test_v2(void)
{
    make_v2_tree();
    json_t *state = NULL;
    _cleanup_free_ char *msg = NULL;
    int r = create(NULL,
                   "{\"memory\": {\"limit\": 67108864, \"reservation\": 1048576, \"swap\": 100663296},"
                   " \"cpu\": {\"shares\": 1024, \"quota\": 50000, \"period\": 100000, \"burst\": 1000, \"idle\": 1,"
                   "           \"cpus\": \"0-1\", \"mems\": \"0\"},"
                   " \"pids\": {\"limit\": 64},"
                   " \"blockIO\": {\"weight\": 500, \"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0, \"rate\": 1048576}]},"
                   " \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}],"
                   " \"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}},"
                   " \"unified\": {\"memory.high\": \"50000000\"},"
                   " \"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 11, \"access\": \"r\"}]}",
                   &state, &msg);
    CHECK(r == 0, "v2 create: %s", msg ? msg : "");
    CHECK_FILE("krunc/t/memory.max", "67108864");
    CHECK_FILE("krunc/t/memory.low", "1048576");
    CHECK_FILE("krunc/t/memory.swap.max", "33554432");
    CHECK_FILE("krunc/t/cpu.weight", "39");
    CHECK_FILE("krunc/t/cpu.max", "50000 100000");
    CHECK_FILE("krunc/t/cpu.max.burst", "1000");
    CHECK_FILE("krunc/t/cpu.idle", "1");
    CHECK_FILE("krunc/t/cpuset.cpus", "0-1");
    CHECK_FILE("krunc/t/cpuset.mems", "0");
    CHECK_FILE("krunc/t/pids.max", "64");
    CHECK_FILE("krunc/t/io.weight", "4950");
    CHECK_FILE("krunc/t/io.max", "8:0 rbps=1048576");
    CHECK_FILE("krunc/t/hugetlb.2MB.max", "4194304");
    CHECK_FILE("krunc/t/rdma.max", "mlx5_1 hca_handle=3 hca_object=max");
    CHECK_FILE("krunc/t/memory.high", "50000000");
    CHECK_FILE("krunc/t/cgroup.procs", "4242");
    /* every controller offered, enabled from the top down (the leaf's cgroup.controllers was empty) */
    CHECK_FILE("cgroup.subtree_control", "+cpu +cpuset +memory +io +pids +hugetlb +rdma +misc");
    CHECK_FILE("krunc/cgroup.subtree_control", "+cpu +cpuset +memory +io +pids +hugetlb +rdma +misc");
    CHECK(state && !strcmp(json_string_value(json_object_get(state, "layout")), "v2"), "layout v2 in state");

    /* update: only the period keeps the quota; swap alone is computed from the current memory.max */
    _cleanup_json_ json_t *upd = parse("{\"cpu\": {\"period\": 200000}, \"memory\": {\"swap\": 134217728}, \"pids\": {\"limit\": -1}}");
    struct error *e = NULL;
    r = cgroup_update(state, upd, &e);
    CHECK(r == 0, "v2 update: %s", e ? e->msg : "");
    error_free(e);
    e = NULL;
    CHECK_FILE("krunc/t/cpu.max", "50000 200000");
    CHECK_FILE("krunc/t/memory.swap.max", "67108864");
    CHECK_FILE("krunc/t/pids.max", "max");
    /* checkBeforeUpdate refuses a limit below the usage */
    put_file("krunc/t/memory.current", "5000000\n");
    _cleanup_json_ json_t *low = parse("{\"memory\": {\"limit\": 4000000, \"checkBeforeUpdate\": true}}");
    r = cgroup_update(state, low, &e);
    CHECK(r < 0 && e && strstr(e->msg, "below the current usage 5000000"), "checkBeforeUpdate: %s", e ? e->msg : "(accepted)");
    error_free(e);
    e = NULL;
    CHECK_FILE("krunc/t/memory.max", "67108864");

    /* freezer: cgroup.freeze (the fake has no cgroup.events to wait on) */
    CHECK(cgroup_freeze(state, true, &e) == 0, "v2 freeze: %s", e ? e->msg : "");
    CHECK_FILE("krunc/t/cgroup.freeze", "1");
    CHECK(cgroup_is_frozen(state) == 1, "v2 is frozen");
    CHECK(cgroup_freeze(state, false, &e) == 0, "v2 thaw");
    CHECK(cgroup_is_frozen(state) == 0, "v2 is thawed");
    error_free(e);
    e = NULL;

    /* the leaf pre-existed: destroy leaves it */
    CHECK(cgroup_destroy(state, &e) == 0, "destroy: %s", e ? e->msg : "");
    _cleanup_free_ char *leaf = pathf("krunc/t");
    CHECK(access(leaf, F_OK) == 0, "a cgroup krunc did not make is not removed");
    json_decref(state);
    error_free(e);
}

static void test_v2_refusals(void)
{
    static const struct { const char *json, *want; } bad[] = {
        { "{\"memory\": {\"kernel\": 1048576}}", "linux.resources.memory.kernel: kernel memory limits do not exist on cgroup v2" },
        { "{\"memory\": {\"kernelTCP\": 1048576}}", "linux.resources.memory.kernelTCP:" },
        { "{\"memory\": {\"swappiness\": 10}}", "linux.resources.memory.swappiness: not supported on cgroup v2" },
        { "{\"memory\": {\"disableOOMKiller\": true}}", "linux.resources.memory.disableOOMKiller:" },
        { "{\"memory\": {\"swap\": 1048576}}", "linux.resources.memory.swap: a swap limit needs a memory limit" },
        { "{\"cpu\": {\"realtimeRuntime\": 1000}}", "linux.resources.cpu.realtimeRuntime: realtime scheduling limits do not exist on cgroup v2" },
        { "{\"blockIO\": {\"leafWeight\": 100}}", "linux.resources.blockIO.leafWeight: does not exist on cgroup v2" },
        { "{\"network\": {\"classID\": 5}}", "linux.resources.network.classID: this host has no net_cls controller (cgroup layout v2)" },
        { "{\"network\": {\"priorities\": [{\"name\": \"lo\", \"priority\": 1}]}}", "linux.resources.network.priorities: this host has no net_prio controller" },
        { "{\"hugepageLimits\": [{\"pageSize\": \"1GB\", \"limit\": 0}]}", "linux.resources.hugepageLimits[0].pageSize: this host has no 1GB huge pages" },
        { "{\"unified\": {\"memory.nosuch\": \"1\"}}", "linux.resources.unified.memory.nosuch:" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        make_v2_tree();
        json_t *state = NULL;
        _cleanup_free_ char *msg = NULL;
        int r = create(NULL, bad[i].json, &state, &msg);
        CHECK(r < 0 && msg && strstr(msg, bad[i].want), "v2 %s: got \"%s\", want \"%s...\"", bad[i].json,
              msg ? msg : "(accepted)", bad[i].want);
        json_decref(state);
    }
    /* a default-valued field the host cannot apply is fine */
    make_v2_tree();
    json_t *state = NULL;
    _cleanup_free_ char *msg = NULL;
    int r = create(NULL, "{\"memory\": {\"kernel\": 0, \"useHierarchy\": false}, \"cpu\": {\"realtimeRuntime\": 0}, \"network\": {\"classID\": 0}}",
                   &state, &msg);
    CHECK(r == 0, "default-valued fields accepted on v2: %s", msg ? msg : "");
    json_decref(state);
}

/* the whole lifecycle of directories krunc makes itself */
static void test_v2_made_and_removed(void)
{
    make_v2_tree();
    struct cgroup_opts opts = { .id = "new" };
    json_t *state = NULL;
    struct error *e = NULL;
    int r = cgroup_create_at(NULL, NULL, &opts, 0, &state, &e);
    CHECK(r == 0, "create /krunc/new: %s", e ? e->msg : "");
    _cleanup_free_ char *leaf = pathf("krunc/new");
    CHECK(access(leaf, F_OK) == 0, "leaf made");
    json_t *d0 = json_array_get(json_object_get(state, "dirs"), 0);
    CHECK(json_integer_value(json_object_get(d0, "created")) == 1, "created counts the leaf only (krunc existed)");
    CHECK(cgroup_destroy(state, &e) == 0, "destroy: %s", e ? e->msg : "");
    CHECK(access(leaf, F_OK) < 0, "leaf removed");
    json_decref(state);

    /* a path whose parents are new: all of them made, all removed */
    r = cgroup_create_at("/a/b/c", NULL, &opts, 0, &state, &e);
    CHECK(r == 0, "create /a/b/c: %s", e ? e->msg : "");
    d0 = json_array_get(json_object_get(state, "dirs"), 0);
    CHECK(json_integer_value(json_object_get(d0, "created")) == 3, "created 3, got %lld",
          (long long)json_integer_value(json_object_get(d0, "created")));
    CHECK(cgroup_destroy(state, &e) == 0, "destroy: %s", e ? e->msg : "");
    _cleanup_free_ char *a = pathf("a");
    CHECK(access(a, F_OK) < 0, "parents krunc made are removed");
    json_decref(state);

    /* relative and odd paths */
    r = cgroup_create_at("x//y/./z/", NULL, &opts, 0, &state, &e);
    CHECK(r == 0 && !strcmp(json_string_value(json_object_get(state, "path")), "/x/y/z"), "normalized path");
    CHECK(cgroup_destroy(state, &e) == 0, "destroy");
    json_decref(state);
    state = NULL;
    r = cgroup_create_at("/x/../../etc", NULL, &opts, 0, &state, &e);
    CHECK(r < 0 && e && strstr(e->msg, "linux.cgroupsPath") && strstr(e->msg, ".."), "'..' refused");
    error_free(e);
    e = NULL;
    r = cgroup_create_at("/", NULL, &opts, 0, &state, &e);
    CHECK(r < 0 && e && strstr(e->msg, "root cgroup"), "the root cgroup refused");
    error_free(e);
    e = NULL;

    /* joining a cgroup that has processes is refused */
    put_file("busy/cgroup.procs", "77\n");
    r = cgroup_create_at("/busy", NULL, &opts, 0, &state, &e);
    CHECK(r < 0 && e && strstr(e->msg, "has processes"), "busy cgroup refused: %s", e ? e->msg : "(accepted)");
    error_free(e);
}

/* ---- v1 ---- */

static void make_v1_tree(bool with_unified)
{
    fresh_root();
    static const char *const hier[] = { "cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                                        "net_cls,net_prio", "systemd", NULL };
    if (!with_unified) {
        put_files("hugetlb/krunc/t", (const char *const[]){ "cgroup.procs", "hugetlb.2MB.limit_in_bytes", NULL });
    } else {
        put_file("unified/cgroup.controllers", "hugetlb\n");
        put_file("unified/cgroup.subtree_control", "");
        put_file("unified/krunc/cgroup.controllers", "hugetlb\n");
        put_file("unified/krunc/cgroup.subtree_control", "");
        put_files("unified/krunc/t", (const char *const[]){ "cgroup.procs", "cgroup.controllers", "hugetlb.2MB.max",
                                                             "memory.high", NULL });
    }
    static const char *const files[] = {
        "cgroup.procs", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.cfs_burst_us", "cpu.rt_runtime_us",
        "cpu.rt_period_us", "cpu.idle", "cpuset.cpus", "cpuset.mems", "memory.limit_in_bytes",
        "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.kmem.limit_in_bytes",
        "memory.kmem.tcp.limit_in_bytes", "memory.swappiness", "memory.oom_control", "memory.use_hierarchy",
        "devices.allow", "devices.deny", "freezer.state", "blkio.weight", "blkio.leaf_weight", "blkio.weight_device",
        "blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device", "pids.max", "net_cls.classid",
        "net_prio.ifpriomap", NULL,
    };
    for (const char *const *h = hier; *h; h++) {
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/krunc/t", *h) < 0)
            abort();
        put_files(dir, files);
    }
    put_file("memory/krunc/t/memory.memsw.limit_in_bytes", "9223372036854771712\n");
}

static void test_v1(void)
{
    make_v1_tree(false);
    json_t *state = NULL;
    char *msg = NULL;
    int r = create(NULL,
                   "{\"memory\": {\"limit\": 67108864, \"reservation\": 1048576, \"swap\": 100663296, \"kernel\": 8388608,"
                   "             \"kernelTCP\": 1048576, \"swappiness\": 30, \"disableOOMKiller\": true, \"useHierarchy\": true},"
                   " \"cpu\": {\"shares\": 512, \"quota\": -1, \"period\": 50000, \"burst\": 10, \"realtimeRuntime\": 900,"
                   "          \"realtimePeriod\": 1000, \"idle\": 0, \"cpus\": \"1\", \"mems\": \"0\"},"
                   " \"pids\": {\"limit\": -1},"
                   " \"blockIO\": {\"weight\": 300, \"leafWeight\": 200, \"weightDevice\": [{\"major\": 8, \"minor\": 16, \"weight\": 400}],"
                   "              \"throttleWriteIOPSDevice\": [{\"major\": 8, \"minor\": 0, \"rate\": 100}]},"
                   " \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 2097152}],"
                   " \"network\": {\"classID\": 1048577, \"priorities\": [{\"name\": \"eth0\", \"priority\": 5}]},"
                   " \"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"}]}",
                   &state, &msg);
    CHECK(r == 0, "v1 create: %s", msg ? msg : "");
    free(msg);
    msg = NULL;
    CHECK_FILE("memory/krunc/t/memory.limit_in_bytes", "67108864");
    CHECK_FILE("memory/krunc/t/memory.memsw.limit_in_bytes", "100663296");
    CHECK_FILE("memory/krunc/t/memory.soft_limit_in_bytes", "1048576");
    CHECK_FILE("memory/krunc/t/memory.kmem.limit_in_bytes", "8388608");
    CHECK_FILE("memory/krunc/t/memory.kmem.tcp.limit_in_bytes", "1048576");
    CHECK_FILE("memory/krunc/t/memory.swappiness", "30");
    CHECK_FILE("memory/krunc/t/memory.oom_control", "1");
    CHECK_FILE("memory/krunc/t/memory.use_hierarchy", "1");
    CHECK_FILE("cpu,cpuacct/krunc/t/cpu.shares", "512");
    CHECK_FILE("cpu,cpuacct/krunc/t/cpu.cfs_quota_us", "-1");
    CHECK_FILE("cpu,cpuacct/krunc/t/cpu.cfs_period_us", "50000");
    CHECK_FILE("cpu,cpuacct/krunc/t/cpu.cfs_burst_us", "10");
    CHECK_FILE("cpu,cpuacct/krunc/t/cpu.rt_runtime_us", "900");
    CHECK_FILE("cpu,cpuacct/krunc/t/cpu.rt_period_us", "1000");
    CHECK_FILE("cpu,cpuacct/krunc/t/cpu.idle", "0");
    CHECK_FILE("cpuset/krunc/t/cpuset.cpus", "1");
    CHECK_FILE("cpuset/krunc/t/cpuset.mems", "0");
    CHECK_FILE("pids/krunc/t/pids.max", "max");
    CHECK_FILE("blkio/krunc/t/blkio.weight", "300");
    CHECK_FILE("blkio/krunc/t/blkio.leaf_weight", "200");
    CHECK_FILE("blkio/krunc/t/blkio.weight_device", "8:16 400");
    CHECK_FILE("blkio/krunc/t/blkio.throttle.write_iops_device", "8:0 100");
    CHECK_FILE("hugetlb/krunc/t/hugetlb.2MB.limit_in_bytes", "2097152");
    CHECK_FILE("net_cls,net_prio/krunc/t/net_cls.classid", "1048577");
    CHECK_FILE("net_cls,net_prio/krunc/t/net_prio.ifpriomap", "eth0 5");
    /* deny everything, then each allow rule as its own write (the fake file collects them) */
    CHECK_FILE("devices/krunc/t/devices.deny", "aa");
    _cleanup_free_ char *allow = get("devices/krunc/t/devices.allow");
    CHECK(!strncmp(allow, "b 8:* r", 7) && strstr(allow, "c 1:3 rwm") && strstr(allow, "c 136:* rwm"),
          "devices.allow: %s", allow);
    CHECK_FILE("cpu,cpuacct/krunc/t/cgroup.procs", "4242");
    CHECK_FILE("systemd/krunc/t/cgroup.procs", "4242");
    CHECK(!strcmp(json_string_value(json_object_get(state, "layout")), "v1"), "layout v1");

    /* v1 freezer */
    struct error *e = NULL;
    CHECK(cgroup_freeze(state, true, &e) == 0, "v1 freeze: %s", e ? e->msg : "");
    CHECK_FILE("freezer/krunc/t/freezer.state", "FROZEN");
    CHECK(cgroup_is_frozen(state) == 1, "v1 frozen");
    CHECK(cgroup_freeze(state, false, &e) == 0, "v1 thaw");
    CHECK(cgroup_is_frozen(state) == 0, "v1 thawed");
    error_free(e);
    e = NULL;

    /* update raising the limit above the current memsw writes memsw first (else the kernel refuses) */
    put_file("memory/krunc/t/memory.memsw.limit_in_bytes", "100663296\n");
    _cleanup_json_ json_t *upd = parse("{\"memory\": {\"limit\": 268435456, \"swap\": 536870912}}");
    CHECK(cgroup_update(state, upd, &e) == 0, "v1 update: %s", e ? e->msg : "");
    CHECK_FILE("memory/krunc/t/memory.limit_in_bytes", "268435456");
    CHECK_FILE("memory/krunc/t/memory.memsw.limit_in_bytes", "536870912");
    error_free(e);
    e = NULL;

    /* unified keys need v2 */
    _cleanup_json_ json_t *uni = parse("{\"unified\": {\"memory.high\": \"1\"}}");
    CHECK(cgroup_update(state, uni, &e) < 0 && e && strstr(e->msg, "linux.resources.unified.memory.high: needs cgroup v2"),
          "unified on v1: %s", e ? e->msg : "(accepted)");
    error_free(e);
    json_decref(state);

    make_v1_tree(false);
    r = create(NULL, "{\"unified\": {\"memory.high\": \"1\"}}", &state, &msg);
    CHECK(r < 0 && strstr(msg, "linux.resources.unified.memory.high: needs cgroup v2, and this host has cgroup v1 only"),
          "unified on v1 at create: %s", msg);
    free(msg);
    msg = NULL;

    /* no swap accounting */
    make_v1_tree(false);
    _cleanup_free_ char *memsw = pathf("memory/krunc/t/memory.memsw.limit_in_bytes");
    unlink(memsw);
    r = create(NULL, "{\"memory\": {\"limit\": 1048576, \"swap\": 4194304}}", &state, &msg);
    CHECK(r < 0 && strstr(msg, "linux.resources.memory.swap: this host has no swap accounting"), "no memsw: %s", msg);
    free(msg);
    msg = NULL;
    r = create(NULL, "{\"memory\": {\"limit\": 1048576, \"swap\": 1048576}}", &state, &msg);
    CHECK(r == 0, "swap == limit needs no swap accounting: %s", msg ? msg : "");
    json_decref(state);
    free(msg);
    msg = NULL;

    /* a blkio controller without weight files (no CFQ/BFQ) */
    make_v1_tree(false);
    _cleanup_free_ char *bw = pathf("blkio/krunc/t/blkio.weight");
    unlink(bw);
    r = create(NULL, "{\"blockIO\": {\"weight\": 100}}", &state, &msg);
    CHECK(r < 0 && strstr(msg, "linux.resources.blockIO.weight: not supported by this host"), "no blkio.weight: %s", msg);
    free(msg);
}

static void test_hybrid(void)
{
    make_v1_tree(true);
    json_t *state = NULL;
    _cleanup_free_ char *msg = NULL;
    int r = create(NULL, "{\"memory\": {\"limit\": 1048576}, \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 2097152}]}",
                   &state, &msg);
    CHECK(r == 0, "hybrid create: %s", msg ? msg : "");
    CHECK(state && !strcmp(json_string_value(json_object_get(state, "layout")), "hybrid"), "layout hybrid");
    /* hugetlb is not on v1 here: the v2 mount takes it, enabled in its parents */
    CHECK_FILE("unified/krunc/t/hugetlb.2MB.max", "2097152");
    CHECK_FILE("unified/cgroup.subtree_control", "+hugetlb");
    CHECK_FILE("unified/krunc/cgroup.subtree_control", "+hugetlb");
    CHECK_FILE("memory/krunc/t/memory.limit_in_bytes", "1048576");
    CHECK_FILE("unified/krunc/t/cgroup.procs", "4242");
    CHECK_FILE("memory/krunc/t/cgroup.procs", "4242");
    json_decref(state);

    /* a unified key for a controller on v1 is refused by name */
    make_v1_tree(true);
    free(msg);
    msg = NULL;
    r = create(NULL, "{\"unified\": {\"memory.high\": \"1\"}}", &state, &msg);
    CHECK(r < 0 && msg && strstr(msg, "linux.resources.unified.memory.high: the memory controller is not on cgroup v2 on this host (layout hybrid; it is on v1)"),
          "hybrid unified memory: %s", msg ? msg : "(accepted)");
    free(msg);
    msg = NULL;
    r = create(NULL, "{\"unified\": {\"hugetlb.2MB.max\": \"4194304\"}}", &state, &msg);
    CHECK(r == 0, "hybrid unified hugetlb: %s", msg ? msg : "");
    CHECK_FILE("unified/krunc/t/hugetlb.2MB.max", "4194304");
    json_decref(state);
}

static void test_systemd(void)
{
    fresh_root();
    struct cgroup_opts opts = { .id = "s", .systemd = true };
    json_t *state = NULL;
    struct error *e = NULL;
    int r = cgroup_create_at("bad-form", NULL, &opts, 0, &state, &e);
    CHECK(r < 0 && e && strstr(e->msg, "slice:prefix:name"), "systemd path form: %s", e ? e->msg : "(accepted)");
    error_free(e);
    e = NULL;
    struct stat st;
    if (lstat("/run/systemd/system", &st) < 0) {
        r = cgroup_create_at("system.slice:krunc:s", NULL, &opts, 0, &state, &e);
        CHECK(r < 0 && e && strstr(e->msg, "systemd is not running (not PID 1)"), "no systemd: %s", e ? e->msg : "(accepted)");
        CHECK(state == NULL, "nothing made");
        error_free(e);
    } else {
        printf("SKIP systemd-not-running case: systemd runs on this machine\n");
    }
}

int main(void)
{
    test_conversions();
    test_check();
    test_v2();
    test_v2_refusals();
    test_v2_made_and_removed();
    test_v1();
    test_hybrid();
    test_systemd();
    fresh_root();   /* removes the last tree */
    rmdir(root);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
