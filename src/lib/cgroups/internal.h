/* Shared between the cgroup source files; not part of the library's interface. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../error.h"

/* Controllers, as bits. CG_BLKIO is "blkio" on v1 and "io" on v2. */
enum cg_controller {
    CG_CPU, CG_CPUACCT, CG_CPUSET, CG_MEMORY, CG_DEVICES, CG_FREEZER, CG_BLKIO, CG_PIDS,
    CG_HUGETLB, CG_NET_CLS, CG_NET_PRIO, CG_RDMA, CG_PERF_EVENT, CG_MISC,
    CG__MAX
};
#define CG_BIT(c) (1u << (c))

const char *cg_controller_name(enum cg_controller c, bool v2);
/* -1 when unknown. Accepts both "blkio" and "io". */
int cg_controller_from_name(const char *name, size_t len);
/* "cpu io memory" or "cpu,cpuacct" -> bits; unknown words are ignored. */
unsigned cg_controllers_parse(const char *s);

enum cg_layout { CG_LAYOUT_V1, CG_LAYOUT_V2, CG_LAYOUT_HYBRID };
const char *cg_layout_name(enum cg_layout l);

/* One mounted hierarchy. */
struct cg_hier {
    char *mount;            /* mount point */
    char *root;             /* root of the hierarchy that is mounted there ("/" usually) */
    char *v1_name;          /* v1: the controller list as /proc/self/cgroup spells it ("cpu,cpuacct", "name=systemd") */
    bool v2;
    unsigned ctrls;         /* v1: its controllers; v2: filled by cg_hier_v2_controllers() */
    bool ctrls_known;
};

struct cg_hosts {
    enum cg_layout layout;
    struct cg_hier *h;
    size_t n;
};

/* Finds the hierarchies (mountinfo once; or the test root). */
int cg_detect(struct cg_hosts *out, struct error **err);
void cg_hosts_free(struct cg_hosts *hosts);
/* The v2 hierarchy, or NULL. */
struct cg_hier *cg_hosts_v2(struct cg_hosts *hosts);
/* What a v2 hierarchy's root offers (reads cgroup.controllers once). */
unsigned cg_hier_v2_controllers(struct cg_hier *h);

/* One directory of the container's cgroup, in one hierarchy. */
struct cg_dir {
    char *path;             /* absolute */
    bool v2;
    unsigned ctrls;         /* v1: the hierarchy's controllers; v2: the controllers the hierarchy offers */
    int created;            /* how many trailing path components krunc made */
    bool own_parent;        /* the parent is krunc's own default parent: remove it when empty */
    int fd;                 /* O_PATH directory fd, -1 until cg_dir_fd() */
};

struct cg_set {
    enum cg_layout layout;
    char *cgroups_path;
    struct cg_dir *dirs;
    size_t n;
};

void cg_set_free(struct cg_set *set);
int cg_set_from_json(json_t *state, struct cg_set *set, struct error **err);
json_t *cg_set_to_json(const struct cg_set *set);
/* The directory that drives controller c (a v1 hierarchy that has it, else the v2 one
 * when it offers c; devices and freezer are always offered by v2); NULL when none. */
struct cg_dir *cg_set_dir_for(struct cg_set *set, enum cg_controller c);
struct cg_dir *cg_set_v2(struct cg_set *set);
int cg_dir_fd(struct cg_dir *d, struct error **err);

/* File access inside a cgroup directory. Errors name the file. */
int cg_write(struct cg_dir *d, const char *file, const char *value, struct error **err);
int cg_writef(struct cg_dir *d, const char *file, struct error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A write for the resource named by what ("linux.resources.pids.limit"); a missing file is
 * reported as something this host does not support. */
int cg_put(struct cg_dir *d, const char *file, const char *value, const char *what, struct error **err);
int cg_putf(struct cg_dir *d, const char *file, const char *what, struct error **err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Returns -ENOENT without an error message when the file is missing. */
int cg_read(struct cg_dir *d, const char *file, char **out, struct error **err);
bool cg_file_exists(struct cg_dir *d, const char *file);
/* "max" -> UINT64_MAX; a number -> the number. */
int cg_read_u64(struct cg_dir *d, const char *file, uint64_t *out, struct error **err);
/* The value of "key N" in a flat-keyed file (cpu.stat, memory.events). */
int cg_read_keyed(struct cg_dir *d, const char *file, const char *key, uint64_t *out);
int cg_parse_keyed(const char *text, const char *key, uint64_t *out);

/* ---- linux.resources, parsed ---- */

struct cg_opt_i64 { bool set; int64_t v; };
struct cg_opt_u64 { bool set; uint64_t v; };

enum { CG_ACC_MKNOD = 1, CG_ACC_READ = 2, CG_ACC_WRITE = 4, CG_ACC_ALL = 7 };

struct cg_device_rule {
    bool allow;
    char type;              /* 'a', 'b', 'c' */
    int64_t major, minor;   /* -1: any */
    unsigned access;        /* CG_ACC_* bits */
};

struct cg_weight_device {
    int64_t major, minor;
    struct cg_opt_u64 weight, leaf_weight;
};

struct cg_throttle {
    int64_t major, minor;
    uint64_t rate;
};

struct cg_hugepage {
    const char *page_size;  /* "2MB" */
    uint64_t limit;
};

struct cg_netprio {
    const char *name;
    uint32_t priority;
};

struct cg_rdma {
    const char *device;
    struct cg_opt_u64 handles, objects;
};

struct cg_kv {
    const char *key, *value;
};

enum { CG_THROTTLE_READ_BPS, CG_THROTTLE_WRITE_BPS, CG_THROTTLE_READ_IOPS, CG_THROTTLE_WRITE_IOPS, CG_THROTTLE__MAX };

struct cg_resources {
    struct {
        struct cg_opt_i64 limit, reservation, swap, kernel, kernel_tcp;
        struct cg_opt_u64 swappiness;
        bool has_disable_oom, disable_oom;
        bool use_hierarchy;
        bool check_before_update;
    } memory;
    struct {
        struct cg_opt_u64 shares, period, burst, rt_period;
        struct cg_opt_i64 quota, rt_runtime, idle;
        const char *cpus, *mems;
    } cpu;
    struct cg_opt_i64 pids_limit;
    struct {
        struct cg_opt_u64 weight, leaf_weight;
        struct cg_weight_device *weight_devices;
        size_t n_weight_devices;
        struct cg_throttle *throttle[CG_THROTTLE__MAX];
        size_t n_throttle[CG_THROTTLE__MAX];
    } blkio;
    struct cg_hugepage *hugepages;
    size_t n_hugepages;
    struct {
        struct cg_opt_u64 class_id;
        struct cg_netprio *priorities;
        size_t n_priorities;
    } network;
    struct cg_rdma *rdma;
    size_t n_rdma;
    struct cg_kv *unified;
    size_t n_unified;
    bool has_devices;       /* linux.resources.devices was given */
    struct cg_device_rule *devices;
    size_t n_devices;
};

/* prefix names the object ("linux.resources"); strings point into json. */
int cg_resources_parse(json_t *json, const char *prefix, struct cg_resources *out, struct error **err);
void cg_resources_free(struct cg_resources *r);
/* Controllers the resources need, apart from devices and unified. */
unsigned cg_resources_controllers(const struct cg_resources *r);
/* Controllers named by the unified keys ("memory.high" -> memory). */
unsigned cg_resources_unified_controllers(const struct cg_resources *r);
/* The first resource that asks for a limit (a JSON path), or NULL when none does. */
const char *cg_resources_first_limit(const struct cg_resources *r);
/* The rules actually applied: deny everything, the spec's rules (so 1 + r->n_devices of them come
 * first), then the devices every container gets (as runc does). */
int cg_device_rules_effective(const struct cg_resources *r, struct cg_device_rule **out, size_t *n);
/* "c 1:3 rwm" */
void cg_device_rule_format(const struct cg_device_rule *rule, char *buf, size_t size);

/* ---- conversions between v1 and v2 values ---- */
uint64_t cg_cpu_shares_to_weight(uint64_t shares);
uint64_t cg_blkio_weight_to_io_weight(uint64_t weight);
/* OCI swap (memory+swap) to memory.swap.max; *out < 0 means "max". Error when impossible. */
int cg_swap_to_v2(int64_t swap, int64_t limit, bool limit_set, int64_t *out, struct error **err);

/* ---- writers shared by v1 and v2 ---- */
/* The OCI key of each throttle list ("throttleReadBpsDevice"). */
extern const char *const cg_throttle_keys[CG_THROTTLE__MAX];
/* v < 0 is written as "max". */
int cg_put_max(struct cg_dir *d, const char *file, int64_t v, const char *what, struct error **err);
/* cpuset.cpus and cpuset.mems, when given. */
int cg_apply_cpuset(struct cg_dir *d, const struct cg_resources *r, struct error **err);
/* hugetlb.<size>.<limit_file> for each hugepage limit ("limit_in_bytes" on v1, "max" on v2). */
int cg_apply_hugetlb(struct cg_dir *d, const struct cg_resources *r, const char *limit_file, struct error **err);
/* rdma.max, one line a device. */
int cg_apply_rdma(struct cg_dir *d, const struct cg_resources *r, struct error **err);

/* ---- per-version code ---- */
enum cg_apply_mode { CG_APPLY_CREATE, CG_APPLY_UPDATE };

int cg_v1_apply(struct cg_set *set, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err);
int cg_v2_apply(struct cg_set *set, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err);
/* Enable controllers for the v2 directory mount+rel, in each of its parents from the mount root
 * down. want is best effort; a controller in must that cannot be enabled is an error. */
int cg_v2_enable_controllers(const char *mount, const char *rel, unsigned want, unsigned must, struct error **err);
/* The first n_required rules must be written; an allow rule after them that the parent refuses is skipped. */
int cg_v1_devices_apply(struct cg_dir *d, const struct cg_device_rule *rules, size_t n, size_t n_required,
                        struct error **err);
/* runc's stats object (the "data" of a "stats" event), from whichever hierarchy holds each controller. */
int cg_stats(struct cg_set *set, json_t *stats, struct error **err);

/* eBPF device program (BPF_PROG_TYPE_CGROUP_DEVICE). */

int cg_bpf_devices_load(const struct cg_device_rule *rules, size_t n, int *prog_fd, struct error **err);
/* Attach prog to the cgroup dir, replacing the programs krunc attached before. */
int cg_bpf_devices_attach(int cgroup_fd, int prog_fd, const char *dir, struct error **err);

/* cgroup_create without systemd: make cgroups_path (NULL: /krunc/<id>) in every hierarchy.
 * scope: systemd made it already, with pid in it. */
int cg_fs_create(const char *cgroups_path, const char *id, json_t *resources, pid_t pid, bool scope,
                 json_t **state_out, struct error **err);
/* The resources are valid and this host has a hierarchy for each. */
int cg_check_host(json_t *resources, struct error **err);
/* Remove what cg_fs_create made (described by state), killing what is left inside. */
int cg_fs_destroy(json_t *state, struct error **err);

/* --systemd-cgroup */
struct cgroup_opts;
int cg_systemd_create(const char *cgroups_path, json_t *resources, const struct cgroup_opts *opts, pid_t pid,
                      json_t **state_out, struct error **err);
int cg_systemd_destroy(json_t *state, struct error **err);

/* The test root, or NULL in production. */
const char *cg_test_root(void);
