/* linux.resources: type and value checks, the parsed form, and the v1 <-> v2 value conversions. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cleanup.h"
#include "../spec.h"
#include "cgroups.h"
#include "internal.h"

#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

static char *sub(const char *prefix, const char *name)
{
    char *s = NULL;
    if (asprintf(&s, "%s.%s", prefix, name) < 0)
        return NULL;
    return s;
}

/* Element i of the array at path, which must be an object: *e is it, *p its path ("path[i]", to free). */
static int array_object(json_t *arr, const char *path, size_t i, json_t **e, char **p, struct error **err)
{
    if (asprintf(p, "%s[%zu]", path, i) < 0) {
        *p = NULL;
        return error_set(err, ENOMEM, "out of memory");
    }
    *e = json_array_get(arr, i);
    if (!json_is_object(*e))
        return error_set(err, EINVAL, "%s: expected an object", *p);
    return 0;
}

/* A byte count or -1 for unlimited. 0 means "not set", as runc treats it. */
static int get_limit(json_t *o, const char *path, const char *key, struct cg_opt_i64 *out, struct error **err)
{
    bool have = false;
    int64_t v = 0;
    TRY(json_get_int64(o, path, key, &have, &v, err));
    if (!have)
        return 0;
    if (v < -1)
        return error_set(err, EINVAL, "%s.%s: must be -1 (unlimited) or a number of bytes, got %lld", path, key,
                         (long long)v);
    out->set = v != 0;
    out->v = v;
    return 0;
}

static int get_u64(json_t *o, const char *path, const char *key, bool zero_is_unset, struct cg_opt_u64 *out,
                   struct error **err)
{
    bool have = false;
    uint64_t v = 0;
    TRY(json_get_uint64(o, path, key, &have, &v, err));
    out->set = have && !(zero_is_unset && v == 0);
    out->v = v;
    return 0;
}

static int get_i64(json_t *o, const char *path, const char *key, bool zero_is_unset, struct cg_opt_i64 *out,
                   struct error **err)
{
    bool have = false;
    int64_t v = 0;
    TRY(json_get_int64(o, path, key, &have, &v, err));
    out->set = have && !(zero_is_unset && v == 0);
    out->v = v;
    return 0;
}

static int get_required_int64(json_t *o, const char *path, const char *key, int64_t *out, struct error **err)
{
    bool have = false;
    TRY(json_get_int64(o, path, key, &have, out, err));
    if (!have)
        return error_set(err, EINVAL, "%s.%s: missing required integer", path, key);
    return 0;
}

static int get_required_uint64(json_t *o, const char *path, const char *key, uint64_t *out, struct error **err)
{
    bool have = false;
    TRY(json_get_uint64(o, path, key, &have, out, err));
    if (!have)
        return error_set(err, EINVAL, "%s.%s: missing required integer", path, key);
    return 0;
}

/* "0-3,5,7-8" */
static bool valid_id_list(const char *s)
{
    if (!*s)
        return true;
    const char *p = s;
    for (;;) {
        if (!isdigit((unsigned char)*p))
            return false;
        char *end;
        unsigned long a = strtoul(p, &end, 10);
        p = end;
        if (*p == '-') {
            p++;
            if (!isdigit((unsigned char)*p))
                return false;
            unsigned long b = strtoul(p, &end, 10);
            p = end;
            if (b < a)
                return false;
        }
        if (*p == '\0')
            return true;
        if (*p != ',')
            return false;
        p++;
    }
}

static int parse_memory(json_t *m, const char *path, struct cg_resources *r, struct error **err)
{
    TRY(get_limit(m, path, "limit", &r->memory.limit, err));
    TRY(get_limit(m, path, "reservation", &r->memory.reservation, err));
    TRY(get_limit(m, path, "swap", &r->memory.swap, err));
    TRY(get_limit(m, path, "kernel", &r->memory.kernel, err));
    TRY(get_limit(m, path, "kernelTCP", &r->memory.kernel_tcp, err));
    TRY(get_u64(m, path, "swappiness", false, &r->memory.swappiness, err));
    if (r->memory.swappiness.set && r->memory.swappiness.v > 100)
        return error_set(err, EINVAL, "%s.swappiness: must be between 0 and 100, got %llu", path,
                         (unsigned long long)r->memory.swappiness.v);
    json_t *v;
    TRY(json_get_typed(m, path, "disableOOMKiller", JSON_TRUE, &v, err));
    r->memory.has_disable_oom = v != NULL;
    r->memory.disable_oom = v && json_is_true(v);
    TRY(json_get_bool(m, path, "useHierarchy", &r->memory.use_hierarchy, err));
    TRY(json_get_bool(m, path, "checkBeforeUpdate", &r->memory.check_before_update, err));
    if (r->memory.limit.set && r->memory.swap.set && r->memory.limit.v > 0 && r->memory.swap.v > 0 &&
        r->memory.swap.v < r->memory.limit.v)
        return error_set(err, EINVAL, "%s.swap: memory+swap limit %lld is below the memory limit %lld", path,
                         (long long)r->memory.swap.v, (long long)r->memory.limit.v);
    return 0;
}

static int parse_cpu(json_t *c, const char *path, struct cg_resources *r, struct error **err)
{
    TRY(get_u64(c, path, "shares", true, &r->cpu.shares, err));
    TRY(get_i64(c, path, "quota", true, &r->cpu.quota, err));
    if (r->cpu.quota.set && r->cpu.quota.v < -1)
        return error_set(err, EINVAL, "%s.quota: must be -1 (unlimited) or a number of microseconds, got %lld", path,
                         (long long)r->cpu.quota.v);
    TRY(get_u64(c, path, "period", true, &r->cpu.period, err));
    TRY(get_u64(c, path, "burst", false, &r->cpu.burst, err));
    TRY(get_i64(c, path, "realtimeRuntime", true, &r->cpu.rt_runtime, err));
    TRY(get_u64(c, path, "realtimePeriod", true, &r->cpu.rt_period, err));
    TRY(get_i64(c, path, "idle", false, &r->cpu.idle, err));
    if (r->cpu.idle.set && r->cpu.idle.v != 0 && r->cpu.idle.v != 1)
        return error_set(err, EINVAL, "%s.idle: must be 0 or 1, got %lld", path, (long long)r->cpu.idle.v);
    TRY(json_get_string(c, path, "cpus", false, &r->cpu.cpus, err));
    TRY(json_get_string(c, path, "mems", false, &r->cpu.mems, err));
    if (r->cpu.cpus && !valid_id_list(r->cpu.cpus))
        return error_set(err, EINVAL, "%s.cpus: \"%s\" is not a CPU list like \"0-3,5\"", path, r->cpu.cpus);
    if (r->cpu.mems && !valid_id_list(r->cpu.mems))
        return error_set(err, EINVAL, "%s.mems: \"%s\" is not a memory node list like \"0-1\"", path, r->cpu.mems);
    if (r->cpu.cpus && !*r->cpu.cpus)
        r->cpu.cpus = NULL;
    if (r->cpu.mems && !*r->cpu.mems)
        r->cpu.mems = NULL;
    return 0;
}

static int check_blkio_weight(const char *path, const char *key, struct cg_opt_u64 *w, struct error **err)
{
    if (w->set && (w->v < 10 || w->v > 1000))
        return error_set(err, EINVAL, "%s.%s: must be between 10 and 1000, got %llu", path, key,
                         (unsigned long long)w->v);
    return 0;
}

const char *const cg_throttle_keys[CG_THROTTLE__MAX] = {
    [CG_THROTTLE_READ_BPS] = "throttleReadBpsDevice",
    [CG_THROTTLE_WRITE_BPS] = "throttleWriteBpsDevice",
    [CG_THROTTLE_READ_IOPS] = "throttleReadIOPSDevice",
    [CG_THROTTLE_WRITE_IOPS] = "throttleWriteIOPSDevice",
};

static int parse_blkio(json_t *b, const char *path, struct cg_resources *r, struct error **err)
{
    TRY(get_u64(b, path, "weight", true, &r->blkio.weight, err));
    TRY(check_blkio_weight(path, "weight", &r->blkio.weight, err));
    TRY(get_u64(b, path, "leafWeight", true, &r->blkio.leaf_weight, err));
    TRY(check_blkio_weight(path, "leafWeight", &r->blkio.leaf_weight, err));

    json_t *arr;
    TRY(json_get_typed(b, path, "weightDevice", JSON_ARRAY, &arr, err));
    if (arr && json_array_size(arr)) {
        size_t n = json_array_size(arr);
        r->blkio.weight_devices = calloc(n, sizeof(*r->blkio.weight_devices));
        _cleanup_free_ char *apath = sub(path, "weightDevice");
        if (!r->blkio.weight_devices || !apath)
            return error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            _cleanup_free_ char *p = NULL;
            json_t *e = NULL;
            TRY(array_object(arr, apath, i, &e, &p, err));
            struct cg_weight_device *w = &r->blkio.weight_devices[i];
            TRY(get_required_int64(e, p, "major", &w->major, err));
            TRY(get_required_int64(e, p, "minor", &w->minor, err));
            TRY(get_u64(e, p, "weight", true, &w->weight, err));
            TRY(check_blkio_weight(p, "weight", &w->weight, err));
            TRY(get_u64(e, p, "leafWeight", true, &w->leaf_weight, err));
            TRY(check_blkio_weight(p, "leafWeight", &w->leaf_weight, err));
            if (w->major < 0 || w->minor < 0)
                return error_set(err, EINVAL, "%s: major and minor must not be negative", p);
            r->blkio.n_weight_devices++;
        }
    }
    for (int k = 0; k < CG_THROTTLE__MAX; k++) {
        TRY(json_get_typed(b, path, cg_throttle_keys[k], JSON_ARRAY, &arr, err));
        if (!arr || !json_array_size(arr))
            continue;
        size_t n = json_array_size(arr);
        r->blkio.throttle[k] = calloc(n, sizeof(struct cg_throttle));
        _cleanup_free_ char *apath = sub(path, cg_throttle_keys[k]);
        if (!r->blkio.throttle[k] || !apath)
            return error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            _cleanup_free_ char *p = NULL;
            json_t *e = NULL;
            TRY(array_object(arr, apath, i, &e, &p, err));
            struct cg_throttle *t = &r->blkio.throttle[k][i];
            TRY(get_required_int64(e, p, "major", &t->major, err));
            TRY(get_required_int64(e, p, "minor", &t->minor, err));
            if (t->major < 0 || t->minor < 0)
                return error_set(err, EINVAL, "%s: major and minor must not be negative", p);
            TRY(get_required_uint64(e, p, "rate", &t->rate, err));
            r->blkio.n_throttle[k]++;
        }
    }
    return 0;
}

static bool valid_page_size(const char *s)
{
    size_t digits = strspn(s, "0123456789");
    if (digits == 0)
        return false;
    s += digits;
    return strchr("KMGTP", s[0]) && s[0] && s[1] == 'B' && s[2] == '\0';
}

static int parse_hugepages(json_t *arr, const char *path, struct cg_resources *r, struct error **err)
{
    size_t n = json_array_size(arr);
    if (!n)
        return 0;
    r->hugepages = calloc(n, sizeof(*r->hugepages));
    if (!r->hugepages)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = NULL;
        json_t *e = NULL;
        TRY(array_object(arr, path, i, &e, &p, err));
        struct cg_hugepage *h = &r->hugepages[i];
        TRY(json_get_string(e, p, "pageSize", true, &h->page_size, err));
        if (!valid_page_size(h->page_size))
            return error_set(err, EINVAL, "%s.pageSize: \"%s\" is not a page size like \"2MB\" or \"1GB\"", p,
                             h->page_size);
        TRY(get_required_uint64(e, p, "limit", &h->limit, err));
        r->n_hugepages++;
    }
    return 0;
}

static int parse_network(json_t *net, const char *path, struct cg_resources *r, struct error **err)
{
    bool have = false;
    uint32_t id = 0;
    TRY(json_get_uint32(net, path, "classID", false, &have, &id, err));
    r->network.class_id.set = have && id != 0;
    r->network.class_id.v = id;
    json_t *arr;
    TRY(json_get_typed(net, path, "priorities", JSON_ARRAY, &arr, err));
    if (!arr || !json_array_size(arr))
        return 0;
    size_t n = json_array_size(arr);
    r->network.priorities = calloc(n, sizeof(*r->network.priorities));
    _cleanup_free_ char *apath = sub(path, "priorities");
    if (!r->network.priorities || !apath)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = NULL;
        json_t *e = NULL;
        TRY(array_object(arr, apath, i, &e, &p, err));
        struct cg_netprio *np = &r->network.priorities[i];
        TRY(json_get_string(e, p, "name", true, &np->name, err));
        if (!*np->name || strpbrk(np->name, " \n/"))
            return error_set(err, EINVAL, "%s.name: \"%s\" is not an interface name", p, np->name);
        TRY(json_get_uint32(e, p, "priority", true, NULL, &np->priority, err));
        r->network.n_priorities++;
    }
    return 0;
}

static int parse_rdma(json_t *obj, const char *path, struct cg_resources *r, struct error **err)
{
    size_t n = json_object_size(obj);
    if (!n)
        return 0;
    r->rdma = calloc(n, sizeof(*r->rdma));
    if (!r->rdma)
        return error_set(err, ENOMEM, "out of memory");
    const char *key;
    json_t *e;
    json_object_foreach(obj, key, e) {
        _cleanup_free_ char *p = sub(path, key);
        if (!json_is_object(e))
            return error_set(err, EINVAL, "%s: expected an object", p);
        if (!*key || strpbrk(key, " \n/"))
            return error_set(err, EINVAL, "%s: \"%s\" is not an RDMA device name", path, key);
        struct cg_rdma *d = &r->rdma[r->n_rdma];
        d->device = key;
        uint32_t v = 0;
        TRY(json_get_uint32(e, p, "hcaHandles", false, &d->handles.set, &v, err));
        d->handles.v = v;
        TRY(json_get_uint32(e, p, "hcaObjects", false, &d->objects.set, &v, err));
        d->objects.v = v;
        r->n_rdma++;
    }
    return 0;
}

static int parse_unified(json_t *obj, const char *path, struct cg_resources *r, struct error **err)
{
    size_t n = json_object_size(obj);
    if (!n)
        return 0;
    r->unified = calloc(n, sizeof(*r->unified));
    if (!r->unified)
        return error_set(err, ENOMEM, "out of memory");
    const char *key;
    json_t *e;
    json_object_foreach(obj, key, e) {
        if (!json_is_string(e))
            return error_set(err, EINVAL, "%s.%s: expected a string", path, key);
        const char *dot = strchr(key, '.');
        if (!dot || dot == key || !dot[1] || strchr(key, '/') || key[0] == '.')
            return error_set(err, EINVAL, "%s.%s: not a cgroup file name like \"memory.high\"", path, key);
        if (!strcmp(key, "cgroup.procs") || !strcmp(key, "cgroup.threads") || !strcmp(key, "cgroup.kill") ||
            !strcmp(key, "cgroup.freeze") || !strcmp(key, "cgroup.subtree_control"))
            return error_set(err, EINVAL, "%s.%s: krunc manages this file itself", path, key);
        r->unified[r->n_unified].key = key;
        r->unified[r->n_unified].value = json_string_value(e);
        r->n_unified++;
    }
    return 0;
}

static int parse_devices(json_t *arr, const char *path, struct cg_resources *r, struct error **err)
{
    r->has_devices = true;
    size_t n = json_array_size(arr);
    if (!n)
        return 0;
    r->devices = calloc(n, sizeof(*r->devices));
    if (!r->devices)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = NULL;
        json_t *e = NULL;
        TRY(array_object(arr, path, i, &e, &p, err));
        struct cg_device_rule *d = &r->devices[i];
        json_t *allow;
        TRY(json_get_typed(e, p, "allow", JSON_TRUE, &allow, err));
        if (!allow)
            return error_set(err, EINVAL, "%s.allow: missing required boolean", p);
        d->allow = json_is_true(allow);
        const char *type = NULL, *access = NULL;
        TRY(json_get_string(e, p, "type", false, &type, err));
        if (!type || !*type || !strcmp(type, "a"))
            d->type = 'a';
        else if (!strcmp(type, "b") || !strcmp(type, "c"))
            d->type = type[0];
        else
            return error_set(err, EINVAL, "%s.type: \"%s\" is not one of \"a\", \"b\", \"c\"", p, type);
        bool have = false;
        d->major = d->minor = -1;
        TRY(json_get_int64(e, p, "major", &have, &d->major, err));
        if (have && d->major < -1)
            return error_set(err, EINVAL, "%s.major: must not be negative", p);
        TRY(json_get_int64(e, p, "minor", &have, &d->minor, err));
        if (have && d->minor < -1)
            return error_set(err, EINVAL, "%s.minor: must not be negative", p);
        if (d->major > 0xfffff || d->minor > 0xfffff)
            return error_set(err, EINVAL, "%s: device number out of range", p);
        TRY(json_get_string(e, p, "access", false, &access, err));
        if (!access || !*access) {
            d->access = CG_ACC_ALL;
        } else {
            for (const char *a = access; *a; a++) {
                unsigned bit = *a == 'r' ? CG_ACC_READ : *a == 'w' ? CG_ACC_WRITE : *a == 'm' ? CG_ACC_MKNOD : 0;
                if (!bit)
                    return error_set(err, EINVAL, "%s.access: \"%s\" may only hold the letters r, w and m", p,
                                     access);
                d->access |= bit;
            }
        }
        r->n_devices++;
    }
    return 0;
}

void cg_resources_free(struct cg_resources *r)
{
    if (!r)
        return;
    free(r->blkio.weight_devices);
    for (int k = 0; k < CG_THROTTLE__MAX; k++)
        free(r->blkio.throttle[k]);
    free(r->hugepages);
    free(r->network.priorities);
    free(r->rdma);
    free(r->unified);
    free(r->devices);
    memset(r, 0, sizeof(*r));
}

int cg_resources_parse(json_t *json, const char *prefix, struct cg_resources *r, struct error **err)
{
    memset(r, 0, sizeof(*r));
    if (!json || json_is_null(json))
        return 0;
    if (!json_is_object(json))
        return error_set(err, EINVAL, "%s: expected an object", prefix);
    struct {
        const char *key;
        json_type type;
        int (*parse)(json_t *, const char *, struct cg_resources *, struct error **);
    } const parts[] = {
        { "memory", JSON_OBJECT, parse_memory },
        { "cpu", JSON_OBJECT, parse_cpu },
        { "blockIO", JSON_OBJECT, parse_blkio },
        { "hugepageLimits", JSON_ARRAY, parse_hugepages },
        { "network", JSON_OBJECT, parse_network },
        { "rdma", JSON_OBJECT, parse_rdma },
        { "unified", JSON_OBJECT, parse_unified },
        { "devices", JSON_ARRAY, parse_devices },
    };
    int ret = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && ret == 0; i++) {
        json_t *v;
        ret = json_get_typed(json, prefix, parts[i].key, parts[i].type, &v, err);
        if (ret == 0 && v) {
            _cleanup_free_ char *p = sub(prefix, parts[i].key);
            ret = p ? parts[i].parse(v, p, r, err) : error_set(err, ENOMEM, "out of memory");
        }
    }
    if (ret == 0) {
        json_t *pids;
        ret = json_get_typed(json, prefix, "pids", JSON_OBJECT, &pids, err);
        if (ret == 0 && pids) {
            _cleanup_free_ char *p = sub(prefix, "pids");
            ret = get_i64(pids, p, "limit", true, &r->pids_limit, err);
        }
    }
    if (ret < 0)
        cg_resources_free(r);
    return ret;
}

int cgroup_resources_check(json_t *resources, struct error **err)
{
    struct cg_resources r;
    int ret = cg_resources_parse(resources, "linux.resources", &r, err);
    if (ret == 0)
        cg_resources_free(&r);
    return ret;
}

unsigned cg_resources_controllers(const struct cg_resources *r)
{
    unsigned m = 0;
    const typeof(r->memory) *mem = &r->memory;
    if (mem->limit.set || mem->reservation.set || mem->swap.set || mem->kernel.set || mem->kernel_tcp.set ||
        mem->swappiness.set || mem->disable_oom || mem->use_hierarchy || mem->check_before_update)
        m |= CG_BIT(CG_MEMORY);
    const typeof(r->cpu) *cpu = &r->cpu;
    if (cpu->shares.set || cpu->quota.set || cpu->period.set || cpu->burst.set || cpu->rt_runtime.set ||
        cpu->rt_period.set || cpu->idle.set)
        m |= CG_BIT(CG_CPU);
    if (cpu->cpus || cpu->mems)
        m |= CG_BIT(CG_CPUSET);
    if (r->pids_limit.set)
        m |= CG_BIT(CG_PIDS);
    bool blk = r->blkio.weight.set || r->blkio.leaf_weight.set || r->blkio.n_weight_devices;
    for (int k = 0; k < CG_THROTTLE__MAX; k++)
        blk |= r->blkio.n_throttle[k] > 0;
    if (blk)
        m |= CG_BIT(CG_BLKIO);
    if (r->n_hugepages)
        m |= CG_BIT(CG_HUGETLB);
    if (r->network.class_id.set)
        m |= CG_BIT(CG_NET_CLS);
    if (r->network.n_priorities)
        m |= CG_BIT(CG_NET_PRIO);
    if (r->n_rdma)
        m |= CG_BIT(CG_RDMA);
    return m;
}

unsigned cg_resources_unified_controllers(const struct cg_resources *r)
{
    unsigned m = 0;
    for (size_t i = 0; i < r->n_unified; i++) {
        const char *k = r->unified[i].key;
        int c = cg_controller_from_name(k, strcspn(k, "."));
        if (c >= 0)
            m |= CG_BIT(c);
    }
    return m;
}

const char *cg_resources_first_limit(const struct cg_resources *r)
{
    unsigned m = cg_resources_controllers(r);
    if (m & CG_BIT(CG_MEMORY))
        return "linux.resources.memory";
    if (m & (CG_BIT(CG_CPU) | CG_BIT(CG_CPUSET)))
        return "linux.resources.cpu";
    if (m & CG_BIT(CG_PIDS))
        return "linux.resources.pids";
    if (m & CG_BIT(CG_BLKIO))
        return "linux.resources.blockIO";
    if (m & CG_BIT(CG_HUGETLB))
        return "linux.resources.hugepageLimits";
    if (m & (CG_BIT(CG_NET_CLS) | CG_BIT(CG_NET_PRIO)))
        return "linux.resources.network";
    if (m & CG_BIT(CG_RDMA))
        return "linux.resources.rdma";
    if (r->n_unified)
        return "linux.resources.unified";
    return NULL;
}

/* What every container may use whatever its rules say: mknod of any device, and the
 * devices a container's /dev always holds (null, zero, full, random, urandom, tty, ptmx,
 * the pty slaves and the tun device). */
static const struct cg_device_rule default_device_rules[] = {
    { true, 'c', -1, -1, CG_ACC_MKNOD },
    { true, 'b', -1, -1, CG_ACC_MKNOD },
    { true, 'c', 1, 3, CG_ACC_ALL },
    { true, 'c', 1, 5, CG_ACC_ALL },
    { true, 'c', 1, 7, CG_ACC_ALL },
    { true, 'c', 1, 8, CG_ACC_ALL },
    { true, 'c', 1, 9, CG_ACC_ALL },
    { true, 'c', 5, 0, CG_ACC_ALL },
    { true, 'c', 5, 2, CG_ACC_ALL },
    { true, 'c', 10, 200, CG_ACC_ALL },
    { true, 'c', 136, -1, CG_ACC_ALL },
};

int cg_device_rules_effective(const struct cg_resources *r, struct cg_device_rule **out, size_t *n)
{
    size_t nd = sizeof(default_device_rules) / sizeof(default_device_rules[0]);
    struct cg_device_rule *v = malloc((1 + r->n_devices + nd) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    v[k++] = (struct cg_device_rule){ false, 'a', -1, -1, CG_ACC_ALL };
    for (size_t i = 0; i < r->n_devices; i++)
        v[k++] = r->devices[i];
    for (size_t i = 0; i < nd; i++)
        v[k++] = default_device_rules[i];
    *out = v;
    *n = k;
    return 0;
}

void cg_device_rule_format(const struct cg_device_rule *d, char *buf, size_t size)
{
    if (d->type == 'a') {
        snprintf(buf, size, "a");
        return;
    }
    char maj[24], min[24], acc[4];
    size_t k = 0;
    if (d->major < 0)
        snprintf(maj, sizeof(maj), "*");
    else
        snprintf(maj, sizeof(maj), "%lld", (long long)d->major);
    if (d->minor < 0)
        snprintf(min, sizeof(min), "*");
    else
        snprintf(min, sizeof(min), "%lld", (long long)d->minor);
    if (d->access & CG_ACC_READ)
        acc[k++] = 'r';
    if (d->access & CG_ACC_WRITE)
        acc[k++] = 'w';
    if (d->access & CG_ACC_MKNOD)
        acc[k++] = 'm';
    acc[k] = '\0';
    snprintf(buf, size, "%c %s:%s %s", d->type, maj, min, acc);
}

/* ---- conversions ---- */

/* cpu.shares [2, 262144] maps linearly onto cpu.weight [1, 10000]. */
uint64_t cg_cpu_shares_to_weight(uint64_t shares)
{
    if (shares == 0)
        return 0;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

/* blkio.weight [10, 1000] maps linearly onto io.weight [1, 10000]. */
uint64_t cg_blkio_weight_to_io_weight(uint64_t weight)
{
    if (weight == 0)
        return 0;
    if (weight < 10)
        weight = 10;
    if (weight > 1000)
        weight = 1000;
    return 1 + ((weight - 10) * 9999) / 990;
}

/* OCI's swap is memory+swap (v1's memsw); v2's memory.swap.max is the swap alone. */
int cg_swap_to_v2(int64_t swap, int64_t limit, bool limit_set, int64_t *out, struct error **err)
{
    if (swap == -1) {
        *out = -1;
        return 0;
    }
    if (!limit_set || limit <= 0)
        return error_set(err, EINVAL, "linux.resources.memory.swap: a swap limit needs a memory limit");
    if (swap < limit)
        return error_set(err, EINVAL, "linux.resources.memory.swap: memory+swap limit %lld is below the memory limit %lld",
                         (long long)swap, (long long)limit);
    *out = swap - limit;
    return 0;
}
