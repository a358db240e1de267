/* cgroup v2: one hierarchy; controllers enabled from the top down; v1 values converted. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cleanup.h"
#include "../util.h"
#include "internal.h"

#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

static struct cg_dir *v2_dir(struct cg_set *set, enum cg_controller c)
{
    struct cg_dir *d = cg_set_dir_for(set, c);
    return d && d->v2 ? d : NULL;
}

/* ---- controllers ---- */

static int enable_at(int dfd, const char *where, unsigned want, unsigned must, struct error **err)
{
    _cleanup_free_ char *offered = NULL, *enabled = NULL;
    if (read_file_at(dfd, "cgroup.controllers", &offered, NULL) < 0 ||
        read_file_at(dfd, "cgroup.subtree_control", &enabled, NULL) < 0)
        return must ? error_sys(err, errno, "read the controllers of %s", where) : 0;
    unsigned missing = want & cg_controllers_parse(offered) & ~cg_controllers_parse(enabled);
    if (!missing)
        return 0;
    /* all at once; one by one if that is refused, so one bad controller does not cost the others */
    _cleanup_free_ char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f)
        return error_set(err, ENOMEM, "out of memory");
    for (int c = 0; c < CG__MAX; c++)
        if (missing & CG_BIT(c))
            fprintf(f, "%s+%s", ftell(f) ? " " : "", cg_controller_name(c, true));
    fclose(f);
    if (write_file_at(dfd, "cgroup.subtree_control", line, len, O_TRUNC, 0) == 0)
        return 0;
    for (int c = 0; c < CG__MAX; c++) {
        if (!(missing & CG_BIT(c)))
            continue;
        char one[32];
        int n = snprintf(one, sizeof(one), "+%s", cg_controller_name(c, true));
        int r = write_file_at(dfd, "cgroup.subtree_control", one, (size_t)n, O_TRUNC, 0);
        if (r < 0 && (must & CG_BIT(c)))
            return error_sys(err, -r, "enable the %s controller in %s/cgroup.subtree_control", cg_controller_name(c, true),
                             where);
    }
    return 0;
}

int cg_v2_enable_controllers(const char *mount, const char *rel, unsigned want, unsigned must, struct error **err)
{
    /* already there? one read of the leaf's cgroup.controllers answers it */
    _cleanup_free_ char *leaf = NULL, *have = NULL, *ctl = NULL;
    if (asprintf(&leaf, "%s%s", mount, rel) < 0)
        return error_set(err, ENOMEM, "out of memory");
    if (asprintf(&ctl, "%s/cgroup.controllers", leaf) < 0)
        return error_set(err, ENOMEM, "out of memory");
    if (read_file_at(AT_FDCWD, ctl, &have, NULL) == 0 && (cg_controllers_parse(have) & want) == want)
        return 0;
    /* walk down from the mount root, enabling in each parent of the leaf */
    _cleanup_free_ char *p = strdup(leaf);
    if (!p)
        return error_set(err, ENOMEM, "out of memory");
    size_t mlen = strlen(mount);
    char *s = p + mlen;
    for (;;) {
        char saved = *s;
        *s = '\0';
        _cleanup_close_ int dfd = open(*p ? p : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return error_sys(err, errno, "open %s", p);
        TRY(enable_at(dfd, p, want, must, err));
        *s = saved;
        /* the next component; stop before the leaf itself */
        char *next = strchr(s + 1, '/');
        if (!next)
            return 0;
        s = next;
    }
}

/* ---- resources ---- */

static int apply_memory(struct cg_dir *d, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err)
{
    const typeof(r->memory) *m = &r->memory;
    if (m->kernel.set)
        return error_set(err, ENOTSUP, "linux.resources.memory.kernel: kernel memory limits do not exist on cgroup v2");
    if (m->kernel_tcp.set)
        return error_set(err, ENOTSUP, "linux.resources.memory.kernelTCP: kernel TCP memory limits do not exist on cgroup v2");
    if (m->swappiness.set)
        return error_set(err, ENOTSUP, "linux.resources.memory.swappiness: not supported on cgroup v2");
    if (m->disable_oom)
        return error_set(err, ENOTSUP, "linux.resources.memory.disableOOMKiller: the OOM killer cannot be disabled on cgroup v2");
    if (m->check_before_update && mode == CG_APPLY_UPDATE && m->limit.set && m->limit.v > 0) {
        uint64_t usage = 0;
        if (cg_read_u64(d, "memory.current", &usage, NULL) == 0 && usage > (uint64_t)m->limit.v)
            return error_set(err, EBUSY, "linux.resources.memory.limit: %" PRId64 " is below the current usage %" PRIu64,
                             m->limit.v, usage);
    }
    if (m->swap.set) {
        int64_t limit = m->limit.v;
        bool limit_set = m->limit.set;
        if (!limit_set && mode == CG_APPLY_UPDATE) {
            uint64_t cur = 0;
            if (cg_read_u64(d, "memory.max", &cur, NULL) == 0 && cur != UINT64_MAX) {
                limit = (int64_t)cur;
                limit_set = true;
            }
        }
        int64_t swap = 0;
        TRY(cg_swap_to_v2(m->swap.v, limit, limit_set, &swap, err));
        if (!cg_file_exists(d, "memory.swap.max")) {
            if (swap != 0 && m->swap.v != -1)
                return error_set(err, ENOTSUP, "linux.resources.memory.swap: this host has no swap accounting (%s/memory.swap.max does not exist)",
                                 d->path);
        } else {
            TRY(cg_put_max(d, "memory.swap.max", swap, "linux.resources.memory.swap", err));
        }
    }
    if (m->limit.set)
        TRY(cg_put_max(d, "memory.max", m->limit.v, "linux.resources.memory.limit", err));
    if (m->reservation.set)
        TRY(cg_put_max(d, "memory.low", m->reservation.v, "linux.resources.memory.reservation", err));
    return 0;
}

static int apply_cpu(struct cg_dir *d, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err)
{
    const typeof(r->cpu) *c = &r->cpu;
    if (c->rt_runtime.set || c->rt_period.set)
        return error_set(err, ENOTSUP, "linux.resources.cpu.%s: realtime scheduling limits do not exist on cgroup v2",
                         c->rt_runtime.set ? "realtimeRuntime" : "realtimePeriod");
    if (c->shares.set)
        TRY(cg_putf(d, "cpu.weight", "linux.resources.cpu.shares", err, "%" PRIu64, cg_cpu_shares_to_weight(c->shares.v)));
    if (c->quota.set || c->period.set) {
        char quota[32] = "max";
        if (c->quota.set && c->quota.v > 0) {
            snprintf(quota, sizeof(quota), "%" PRId64, c->quota.v);
        } else if (!c->quota.set && mode == CG_APPLY_UPDATE) {
            /* only the period changes: keep the quota */
            _cleanup_free_ char *cur = NULL;
            if (cg_read(d, "cpu.max", &cur, NULL) == 0)
                snprintf(quota, sizeof(quota), "%.*s", (int)strcspn(cur, " \n"), cur);
        }
        if (c->period.set)
            TRY(cg_putf(d, "cpu.max", "linux.resources.cpu.quota", err, "%s %" PRIu64, quota, c->period.v));
        else
            TRY(cg_put(d, "cpu.max", quota, "linux.resources.cpu.quota", err));
    }
    if (c->burst.set)
        TRY(cg_putf(d, "cpu.max.burst", "linux.resources.cpu.burst", err, "%" PRIu64, c->burst.v));
    if (c->idle.set && (c->idle.v || cg_file_exists(d, "cpu.idle")))
        TRY(cg_putf(d, "cpu.idle", "linux.resources.cpu.idle", err, "%" PRId64, c->idle.v));
    return 0;
}

static int apply_io(struct cg_dir *d, const struct cg_resources *r, struct error **err)
{
    if (r->blkio.leaf_weight.set)
        return error_set(err, ENOTSUP, "linux.resources.blockIO.leafWeight: does not exist on cgroup v2");
    for (size_t i = 0; i < r->blkio.n_weight_devices; i++)
        if (r->blkio.weight_devices[i].leaf_weight.set)
            return error_set(err, ENOTSUP, "linux.resources.blockIO.weightDevice[%zu].leafWeight: does not exist on cgroup v2", i);
    /* BFQ takes blkio's own scale (1-1000) in io.bfq.weight; io.weight is 1-10000 */
    bool bfq = cg_file_exists(d, "io.bfq.weight");
    const char *wfile = bfq ? "io.bfq.weight" : "io.weight";
    if (r->blkio.weight.set)
        TRY(cg_putf(d, wfile, "linux.resources.blockIO.weight", err, "%" PRIu64,
                    bfq ? r->blkio.weight.v : cg_blkio_weight_to_io_weight(r->blkio.weight.v)));
    for (size_t i = 0; i < r->blkio.n_weight_devices; i++) {
        const struct cg_weight_device *w = &r->blkio.weight_devices[i];
        if (!w->weight.set)
            continue;
        char what[64];
        snprintf(what, sizeof(what), "linux.resources.blockIO.weightDevice[%zu]", i);
        TRY(cg_putf(d, wfile, what, err, "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
                    bfq ? w->weight.v : cg_blkio_weight_to_io_weight(w->weight.v)));
    }
    static const char *const keys[CG_THROTTLE__MAX] = { "rbps", "wbps", "riops", "wiops" };
    for (int k = 0; k < CG_THROTTLE__MAX; k++)
        for (size_t i = 0; i < r->blkio.n_throttle[k]; i++) {
            const struct cg_throttle *t = &r->blkio.throttle[k][i];
            char what[80];
            snprintf(what, sizeof(what), "linux.resources.blockIO.%s[%zu]", cg_throttle_keys[k], i);
            /* 0 means "no limit" in blkio.throttle; io.max spells it "max" */
            if (t->rate == 0)
                TRY(cg_putf(d, "io.max", what, err, "%" PRId64 ":%" PRId64 " %s=max", t->major, t->minor, keys[k]));
            else
                TRY(cg_putf(d, "io.max", what, err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t->major, t->minor, keys[k],
                            t->rate));
        }
    return 0;
}

static int apply_unified(struct cg_dir *d, const struct cg_resources *r, struct error **err)
{
    for (size_t i = 0; i < r->n_unified; i++) {
        const struct cg_kv *kv = &r->unified[i];
        struct error *e = NULL;
        int ret = cg_write(d, kv->key, kv->value, &e);
        if (ret == -ENOENT)
            ret = error_set(err, ENOTSUP, "linux.resources.unified.%s: %s/%s does not exist (is its controller enabled on cgroup v2 here?)",
                            kv->key, d->path, kv->key);
        else if (ret < 0)
            ret = error_set(err, e->code, "linux.resources.unified.%s: %s", kv->key, e->msg);
        error_free(e);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int cg_v2_apply(struct cg_set *set, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err)
{
    unsigned need = cg_resources_controllers(r);
    struct cg_dir *d;
    if ((need & CG_BIT(CG_MEMORY)) && (d = v2_dir(set, CG_MEMORY)))
        TRY(apply_memory(d, r, mode, err));
    if ((need & CG_BIT(CG_CPUSET)) && (d = v2_dir(set, CG_CPUSET)))
        TRY(cg_apply_cpuset(d, r, err));
    if ((need & CG_BIT(CG_CPU)) && (d = v2_dir(set, CG_CPU)))
        TRY(apply_cpu(d, r, mode, err));
    if ((need & CG_BIT(CG_PIDS)) && (d = v2_dir(set, CG_PIDS)))
        TRY(cg_put_max(d, "pids.max", r->pids_limit.v, "linux.resources.pids.limit", err));
    if ((need & CG_BIT(CG_BLKIO)) && (d = v2_dir(set, CG_BLKIO)))
        TRY(apply_io(d, r, err));
    if ((need & CG_BIT(CG_HUGETLB)) && (d = v2_dir(set, CG_HUGETLB)))
        TRY(cg_apply_hugetlb(d, r, "max", err));
    if ((need & CG_BIT(CG_RDMA)) && (d = v2_dir(set, CG_RDMA)))
        TRY(cg_apply_rdma(d, r, err));
    /* unified keys go to the v2 directory, last, so they can refine what came before */
    if (r->n_unified && (d = cg_set_v2(set)))
        TRY(apply_unified(d, r, err));
    return 0;
}
