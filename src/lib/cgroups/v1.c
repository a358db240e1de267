/* cgroup v1: linux.resources written to each controller's own hierarchy. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cleanup.h"
#include "internal.h"

#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

/* The v1 directory for controller c, or NULL when c is not on v1 (or absent). */
static struct cg_dir *v1_dir(struct cg_set *set, enum cg_controller c)
{
    struct cg_dir *d = cg_set_dir_for(set, c);
    return d && !d->v2 ? d : NULL;
}

int cg_v1_devices_apply(struct cg_dir *d, const struct cg_device_rule *rules, size_t n, size_t n_required,
                        struct error **err)
{
    /* one rule per write(); the kernel reads each write as one rule */
    _cleanup_close_ int allow = -1, deny = -1;
    int dfd = cg_dir_fd(d, err);
    if (dfd < 0)
        return dfd;
    for (size_t i = 0; i < n; i++) {
        int *fd = rules[i].allow ? &allow : &deny;
        const char *file = rules[i].allow ? "devices.allow" : "devices.deny";
        if (*fd < 0) {
            *fd = openat(dfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC);
            if (*fd < 0)
                return error_sys(err, errno, "open %s/%s", d->path, file);
        }
        char line[64];
        cg_device_rule_format(&rules[i], line, sizeof(line));
        if (write(*fd, line, strlen(line)) < 0) {
            /* a parent that does not allow a default device (krunc nested in a container):
             * it stays denied, which is safe */
            if (i >= n_required && errno == EPERM && rules[i].allow)
                continue;
            return error_sys(err, errno, "write \"%s\" to %s/%s", line, d->path, file);
        }
    }
    return 0;
}

static int apply_memory(struct cg_dir *d, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err)
{
    const typeof(r->memory) *m = &r->memory;
    if (m->check_before_update && mode == CG_APPLY_UPDATE && m->limit.set && m->limit.v > 0) {
        uint64_t usage = 0;
        if (cg_read_u64(d, "memory.usage_in_bytes", &usage, NULL) == 0 && usage > (uint64_t)m->limit.v)
            return error_set(err, EBUSY, "linux.resources.memory.limit: %" PRId64 " is below the current usage %" PRIu64,
                             m->limit.v, usage);
    }
    bool memsw = m->swap.set && cg_file_exists(d, "memory.memsw.limit_in_bytes");
    if (m->swap.set && !memsw && m->swap.v != -1 && !(m->limit.set && m->swap.v == m->limit.v))
        return error_set(err, ENOTSUP, "linux.resources.memory.swap: this host has no swap accounting (%s/memory.memsw.limit_in_bytes does not exist)",
                         d->path);
    /* the kernel keeps memory <= memory+swap at every step: raise memsw first when the
     * new memory limit is above the current memsw one */
    bool swap_first = false;
    if (memsw && m->limit.set) {
        uint64_t cur = 0;
        if (cg_read_u64(d, "memory.memsw.limit_in_bytes", &cur, NULL) == 0)
            swap_first = m->limit.v == -1 || (uint64_t)m->limit.v > cur;
    }
    if (memsw && swap_first)
        TRY(cg_putf(d, "memory.memsw.limit_in_bytes", "linux.resources.memory.swap", err, "%" PRId64, m->swap.v));
    if (m->limit.set)
        TRY(cg_putf(d, "memory.limit_in_bytes", "linux.resources.memory.limit", err, "%" PRId64, m->limit.v));
    if (memsw && !swap_first)
        TRY(cg_putf(d, "memory.memsw.limit_in_bytes", "linux.resources.memory.swap", err, "%" PRId64, m->swap.v));
    if (m->reservation.set)
        TRY(cg_putf(d, "memory.soft_limit_in_bytes", "linux.resources.memory.reservation", err, "%" PRId64,
                 m->reservation.v));
    if (m->kernel.set)
        TRY(cg_putf(d, "memory.kmem.limit_in_bytes", "linux.resources.memory.kernel", err, "%" PRId64, m->kernel.v));
    if (m->kernel_tcp.set)
        TRY(cg_putf(d, "memory.kmem.tcp.limit_in_bytes", "linux.resources.memory.kernelTCP", err, "%" PRId64,
                 m->kernel_tcp.v));
    if (m->swappiness.set)
        TRY(cg_putf(d, "memory.swappiness", "linux.resources.memory.swappiness", err, "%" PRIu64, m->swappiness.v));
    if (m->disable_oom)
        TRY(cg_put(d, "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller", err));
    else if (m->has_disable_oom && mode == CG_APPLY_UPDATE)
        TRY(cg_put(d, "memory.oom_control", "0", "linux.resources.memory.disableOOMKiller", err));
    if (m->use_hierarchy)
        TRY(cg_put(d, "memory.use_hierarchy", "1", "linux.resources.memory.useHierarchy", err));
    return 0;
}

static int apply_cpu(struct cg_dir *d, const struct cg_resources *r, struct error **err)
{
    const typeof(r->cpu) *c = &r->cpu;
    if (c->shares.set)
        TRY(cg_putf(d, "cpu.shares", "linux.resources.cpu.shares", err, "%" PRIu64, c->shares.v));
    if (c->period.set)
        TRY(cg_putf(d, "cpu.cfs_period_us", "linux.resources.cpu.period", err, "%" PRIu64, c->period.v));
    if (c->quota.set)
        TRY(cg_putf(d, "cpu.cfs_quota_us", "linux.resources.cpu.quota", err, "%" PRId64, c->quota.v));
    if (c->burst.set)
        TRY(cg_putf(d, "cpu.cfs_burst_us", "linux.resources.cpu.burst", err, "%" PRIu64, c->burst.v));
    if (c->rt_period.set)
        TRY(cg_putf(d, "cpu.rt_period_us", "linux.resources.cpu.realtimePeriod", err, "%" PRIu64, c->rt_period.v));
    if (c->rt_runtime.set) {
        struct error *e = NULL;
        int r2 = cg_putf(d, "cpu.rt_runtime_us", "linux.resources.cpu.realtimeRuntime", &e, "%" PRId64, c->rt_runtime.v);
        if (r2 < 0) {
            r2 = error_set(err, e->code, "%s%s", e->msg,
                           r2 == -EINVAL ? " (it must fit in the parent cgroup's own cpu.rt_runtime_us)" : "");
            error_free(e);
            return r2;
        }
    }
    if (c->idle.set && (c->idle.v || cg_file_exists(d, "cpu.idle")))
        TRY(cg_putf(d, "cpu.idle", "linux.resources.cpu.idle", err, "%" PRId64, c->idle.v));
    return 0;
}

static const char *const throttle_files[CG_THROTTLE__MAX] = {
    [CG_THROTTLE_READ_BPS] = "blkio.throttle.read_bps_device",
    [CG_THROTTLE_WRITE_BPS] = "blkio.throttle.write_bps_device",
    [CG_THROTTLE_READ_IOPS] = "blkio.throttle.read_iops_device",
    [CG_THROTTLE_WRITE_IOPS] = "blkio.throttle.write_iops_device",
};

static int apply_blkio(struct cg_dir *d, const struct cg_resources *r, struct error **err)
{
    /* CFQ had blkio.weight; with BFQ the files are blkio.bfq.* */
    const char *weight = cg_file_exists(d, "blkio.weight") ? "blkio.weight"
                         : cg_file_exists(d, "blkio.bfq.weight") ? "blkio.bfq.weight" : NULL;
    bool need_weight = r->blkio.weight.set;
    for (size_t i = 0; i < r->blkio.n_weight_devices; i++)
        need_weight |= r->blkio.weight_devices[i].weight.set;
    if (need_weight && !weight)
        return error_set(err, ENOTSUP, "linux.resources.blockIO.weight: not supported by this host (no blkio.weight or blkio.bfq.weight in %s; the disk's I/O scheduler has no weights)",
                         d->path);
    if (r->blkio.weight.set)
        TRY(cg_putf(d, weight, "linux.resources.blockIO.weight", err, "%" PRIu64, r->blkio.weight.v));
    if (r->blkio.leaf_weight.set)
        TRY(cg_putf(d, "blkio.leaf_weight", "linux.resources.blockIO.leafWeight", err, "%" PRIu64, r->blkio.leaf_weight.v));
    for (size_t i = 0; i < r->blkio.n_weight_devices; i++) {
        const struct cg_weight_device *w = &r->blkio.weight_devices[i];
        char what[64];
        snprintf(what, sizeof(what), "linux.resources.blockIO.weightDevice[%zu]", i);
        _cleanup_free_ char *file = NULL;
        if (w->weight.set) {
            if (asprintf(&file, "%s_device", weight) < 0)
                return error_set(err, ENOMEM, "out of memory");
            TRY(cg_putf(d, file, what, err, "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor, w->weight.v));
        }
        if (w->leaf_weight.set)
            TRY(cg_putf(d, "blkio.leaf_weight_device", what, err, "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
                     w->leaf_weight.v));
    }
    for (int k = 0; k < CG_THROTTLE__MAX; k++)
        for (size_t i = 0; i < r->blkio.n_throttle[k]; i++) {
            const struct cg_throttle *t = &r->blkio.throttle[k][i];
            char what[80];
            snprintf(what, sizeof(what), "linux.resources.blockIO.%s[%zu]", cg_throttle_keys[k], i);
            TRY(cg_putf(d, throttle_files[k], what, err, "%" PRId64 ":%" PRId64 " %" PRIu64, t->major, t->minor, t->rate));
        }
    return 0;
}

int cg_v1_apply(struct cg_set *set, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err)
{
    unsigned need = cg_resources_controllers(r);
    struct cg_dir *d;
    if ((need & CG_BIT(CG_MEMORY)) && (d = v1_dir(set, CG_MEMORY)))
        TRY(apply_memory(d, r, mode, err));
    if ((need & CG_BIT(CG_CPUSET)) && (d = v1_dir(set, CG_CPUSET)))
        TRY(cg_apply_cpuset(d, r, err));
    if ((need & CG_BIT(CG_CPU)) && (d = v1_dir(set, CG_CPU)))
        TRY(apply_cpu(d, r, err));
    if ((need & CG_BIT(CG_PIDS)) && (d = v1_dir(set, CG_PIDS)))
        TRY(cg_put_max(d, "pids.max", r->pids_limit.v, "linux.resources.pids.limit", err));
    if ((need & CG_BIT(CG_BLKIO)) && (d = v1_dir(set, CG_BLKIO)))
        TRY(apply_blkio(d, r, err));
    if ((need & CG_BIT(CG_HUGETLB)) && (d = v1_dir(set, CG_HUGETLB)))
        TRY(cg_apply_hugetlb(d, r, "limit_in_bytes", err));
    if ((need & CG_BIT(CG_NET_CLS)) && (d = v1_dir(set, CG_NET_CLS)))
        TRY(cg_putf(d, "net_cls.classid", "linux.resources.network.classID", err, "%" PRIu64, r->network.class_id.v));
    if ((need & CG_BIT(CG_NET_PRIO)) && (d = v1_dir(set, CG_NET_PRIO)))
        for (size_t i = 0; i < r->network.n_priorities; i++) {
            char what[64];
            snprintf(what, sizeof(what), "linux.resources.network.priorities[%zu]", i);
            TRY(cg_putf(d, "net_prio.ifpriomap", what, err, "%s %u", r->network.priorities[i].name,
                     r->network.priorities[i].priority));
        }
    if ((need & CG_BIT(CG_RDMA)) && (d = v1_dir(set, CG_RDMA)))
        TRY(cg_apply_rdma(d, r, err));
    return 0;
}
