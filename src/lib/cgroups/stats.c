/* Statistics in the shape of runc's `events --stats` data: cpu, cpuset, memory, pids, blkio,
 * hugetlb. Each part is read from the hierarchy that holds its controller, v1 or v2. Fields
 * runc leaves out when zero are left out here too. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cleanup.h"
#include "internal.h"

/* What v1 reports for "no limit" (PAGE_COUNTER_MAX pages); used for v2's "max" as well, so
 * both layouts print the same number. */
#define UNLIMITED 9223372036854771712ULL

static json_t *u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* set key to v, or leave it out when v is 0 (Go's omitempty) */
static void set_nz(json_t *o, const char *key, uint64_t v)
{
    if (v)
        json_object_set_new(o, key, u64(v));
}

static uint64_t read_u64_or0(struct cg_dir *d, const char *file)
{
    uint64_t v = 0;
    if (cg_read_u64(d, file, &v, NULL) < 0)
        return 0;
    return v == UINT64_MAX ? UNLIMITED : v;
}

static uint64_t keyed_or0(const char *text, const char *key)
{
    uint64_t v = 0;
    return text && cg_parse_keyed(text, key, &v) == 0 ? v : 0;
}

/* "key value" lines -> {"key": value} */
static json_t *keyed_object(const char *text)
{
    json_t *o = json_object();
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *sp = memchr(p, ' ', len);
        if (sp && sp > p) {
            _cleanup_free_ char *key = strndup(p, (size_t)(sp - p));
            json_object_set_new(o, key, u64(strtoull(sp + 1, NULL, 10)));
        }
        p = eol ? eol + 1 : NULL;
    }
    return o;
}

/* "1 2 3" -> [1, 2, 3] */
static json_t *number_list(const char *text)
{
    json_t *a = json_array();
    for (const char *p = text; p && *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            break;
        json_array_append_new(a, u64(v));
        p = end;
    }
    return a;
}

/* "0-2,5" -> [0, 1, 2, 5] */
static json_t *id_list(const char *text)
{
    json_t *a = json_array();
    const char *p = text;
    while (p && *p && !isspace((unsigned char)*p)) {
        char *end;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (end == p)
            break;
        p = end;
        if (*p == '-') {
            hi = strtoul(p + 1, &end, 10);
            p = end;
        }
        for (unsigned long i = lo; i <= hi && i - lo < 65536; i++)
            json_array_append_new(a, json_integer((json_int_t)i));
        if (*p == ',')
            p++;
    }
    return a;
}

static void free_str(char **s) { free(*s); }
#define _cleanup_str_ __attribute__((cleanup(free_str)))

static char *read_or_null(struct cg_dir *d, const char *file)
{
    char *s = NULL;
    if (cg_read(d, file, &s, NULL) < 0)
        return NULL;
    return s;
}

/* ---- v1 ---- */

static void v1_cpu(struct cg_dir *acct, struct cg_dir *cpu, json_t *out)
{
    json_t *usage = json_object(), *thr = json_object();
    if (acct) {
        set_nz(usage, "total", read_u64_or0(acct, "cpuacct.usage"));
        _cleanup_str_ char *pc = read_or_null(acct, "cpuacct.usage_percpu");
        _cleanup_str_ char *pk = read_or_null(acct, "cpuacct.usage_percpu_sys");
        _cleanup_str_ char *pu = read_or_null(acct, "cpuacct.usage_percpu_user");
        if (pc)
            json_object_set_new(usage, "percpu", number_list(pc));
        if (pk)
            json_object_set_new(usage, "percpu_kernel", number_list(pk));
        if (pu)
            json_object_set_new(usage, "percpu_user", number_list(pu));
        /* cpuacct.stat counts clock ticks */
        _cleanup_str_ char *st = read_or_null(acct, "cpuacct.stat");
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t ns = hz > 0 ? 1000000000ULL / (uint64_t)hz : 10000000ULL;
        json_object_set_new(usage, "kernel", u64(keyed_or0(st, "system") * ns));
        json_object_set_new(usage, "user", u64(keyed_or0(st, "user") * ns));
    } else {
        json_object_set_new(usage, "kernel", json_integer(0));
        json_object_set_new(usage, "user", json_integer(0));
    }
    if (cpu) {
        _cleanup_str_ char *st = read_or_null(cpu, "cpu.stat");
        set_nz(thr, "periods", keyed_or0(st, "nr_periods"));
        set_nz(thr, "throttledPeriods", keyed_or0(st, "nr_throttled"));
        set_nz(thr, "throttledTime", keyed_or0(st, "throttled_time"));
    }
    json_object_set_new(out, "usage", usage);
    json_object_set_new(out, "throttling", thr);
}

static json_t *memory_entry(struct cg_dir *d, const char *prefix)
{
    char f[96];
    json_t *e = json_object();
    snprintf(f, sizeof(f), "%s.limit_in_bytes", prefix);
    json_object_set_new(e, "limit", u64(read_u64_or0(d, f)));
    snprintf(f, sizeof(f), "%s.usage_in_bytes", prefix);
    set_nz(e, "usage", read_u64_or0(d, f));
    snprintf(f, sizeof(f), "%s.max_usage_in_bytes", prefix);
    set_nz(e, "max", read_u64_or0(d, f));
    snprintf(f, sizeof(f), "%s.failcnt", prefix);
    json_object_set_new(e, "failcnt", u64(read_u64_or0(d, f)));
    return e;
}

static void v1_memory(struct cg_dir *d, json_t *out)
{
    _cleanup_str_ char *st = read_or_null(d, "memory.stat");
    set_nz(out, "cache", keyed_or0(st, "cache"));
    json_object_set_new(out, "usage", memory_entry(d, "memory"));
    if (cg_file_exists(d, "memory.memsw.usage_in_bytes"))
        json_object_set_new(out, "swap", memory_entry(d, "memory.memsw"));
    if (cg_file_exists(d, "memory.kmem.usage_in_bytes"))
        json_object_set_new(out, "kernel", memory_entry(d, "memory.kmem"));
    if (cg_file_exists(d, "memory.kmem.tcp.usage_in_bytes"))
        json_object_set_new(out, "kernelTCP", memory_entry(d, "memory.kmem.tcp"));
    if (st)
        json_object_set_new(out, "raw", keyed_object(st));
}

/* "8:0 Read 4096" lines (and a final "Total N") -> [{major, minor, op, value}] */
static json_t *blkio_entries(const char *text)
{
    json_t *a = json_array();
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        _cleanup_free_ char *line = strndup(p, eol ? (size_t)(eol - p) : strlen(p));
        p = eol ? eol + 1 : NULL;
        unsigned long long maj, min, val;
        char op[32];
        int n = line ? sscanf(line, "%llu:%llu %31s %llu", &maj, &min, op, &val) : 0;
        if (n == 3) {
            /* "8:0 123": a file with no op column (blkio.time, sectors) */
            val = strtoull(op, NULL, 10);
            op[0] = '\0';
        } else if (n != 4) {
            continue;
        }
        json_t *e = json_object();
        set_nz(e, "major", maj);
        set_nz(e, "minor", min);
        if (op[0])
            json_object_set_new(e, "op", json_string(op));
        set_nz(e, "value", val);
        json_array_append_new(a, e);
    }
    return a;
}

static void v1_blkio(struct cg_dir *d, json_t *out)
{
    /* CFQ's full set when it is there; else BFQ's; else the throttle layer's counts */
    static const struct { const char *key, *cfq, *bfq, *throttle; } files[] = {
        { "ioServiceBytesRecursive", "blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive",
          "blkio.throttle.io_service_bytes_recursive" },
        { "ioServicedRecursive", "blkio.io_serviced_recursive", "blkio.bfq.io_serviced_recursive",
          "blkio.throttle.io_serviced_recursive" },
        { "ioQueueRecursive", "blkio.io_queued_recursive", NULL, NULL },
        { "ioServiceTimeRecursive", "blkio.io_service_time_recursive", NULL, NULL },
        { "ioWaitTimeRecursive", "blkio.io_wait_time_recursive", NULL, NULL },
        { "ioMergedRecursive", "blkio.io_merged_recursive", NULL, NULL },
        { "ioTimeRecursive", "blkio.time_recursive", NULL, NULL },
        { "sectorsRecursive", "blkio.sectors_recursive", NULL, NULL },
    };
    int src = cg_file_exists(d, files[0].cfq) ? 0 : cg_file_exists(d, files[0].bfq) ? 1 : 2;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        const char *f = src == 0 ? files[i].cfq : src == 1 ? files[i].bfq : files[i].throttle;
        if (!f)
            continue;
        _cleanup_str_ char *text = read_or_null(d, f);
        if (!text)
            continue;
        json_t *a = blkio_entries(text);
        if (json_array_size(a))
            json_object_set_new(out, files[i].key, a);
        else
            json_decref(a);
    }
}

/* the page sizes the directory has files for: "hugetlb.2MB.<suffix>" */
static void each_hugepage_size(struct cg_dir *d, const char *suffix, void (*fn)(struct cg_dir *, const char *, json_t *),
                               json_t *out)
{
    _cleanup_close_ int fd = openat(cg_dir_fd(d, NULL), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    _cleanup_closedir_ DIR *dir = fdopendir(fd);
    if (!dir)
        return;
    fd = -1;
    size_t sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t nl = strlen(de->d_name);
        if (strncmp(de->d_name, "hugetlb.", 8) || nl <= 8 + sl || strcmp(de->d_name + nl - sl, suffix))
            continue;
        _cleanup_free_ char *size = strndup(de->d_name + 8, nl - 8 - sl);
        if (size && !strchr(size, '.'))
            fn(d, size, out);
    }
}

static void v1_hugetlb_one(struct cg_dir *d, const char *size, json_t *out)
{
    char f[96];
    json_t *e = json_object();
    snprintf(f, sizeof(f), "hugetlb.%s.usage_in_bytes", size);
    set_nz(e, "usage", read_u64_or0(d, f));
    snprintf(f, sizeof(f), "hugetlb.%s.max_usage_in_bytes", size);
    set_nz(e, "max", read_u64_or0(d, f));
    snprintf(f, sizeof(f), "hugetlb.%s.failcnt", size);
    json_object_set_new(e, "failcnt", u64(read_u64_or0(d, f)));
    json_object_set_new(out, size, e);
}

/* in runc's order: cpus, cpu_exclusive, mems, then the rest */
static void v1_cpuset(struct cg_dir *d, json_t *out)
{
    static const char *const files[] = {
        "cpus", "cpu_exclusive", "mems", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
        "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char f[64];
        snprintf(f, sizeof(f), "cpuset.%s", files[i]);
        _cleanup_str_ char *t = read_or_null(d, f);
        if (!t)
            continue;
        if (i == 0 || i == 2)
            json_object_set_new(out, files[i], id_list(t));
        else
            json_object_set_new(out, files[i], json_integer(strtoll(t, NULL, 10)));
    }
}

/* ---- v2 ---- */

static void v2_cpu(struct cg_dir *d, json_t *out)
{
    _cleanup_str_ char *st = read_or_null(d, "cpu.stat");
    json_t *usage = json_object(), *thr = json_object();
    set_nz(usage, "total", keyed_or0(st, "usage_usec") * 1000);
    json_object_set_new(usage, "kernel", u64(keyed_or0(st, "system_usec") * 1000));
    json_object_set_new(usage, "user", u64(keyed_or0(st, "user_usec") * 1000));
    set_nz(thr, "periods", keyed_or0(st, "nr_periods"));
    set_nz(thr, "throttledPeriods", keyed_or0(st, "nr_throttled"));
    set_nz(thr, "throttledTime", keyed_or0(st, "throttled_usec") * 1000);
    json_object_set_new(out, "usage", usage);
    json_object_set_new(out, "throttling", thr);
}

static void v2_memory(struct cg_dir *d, json_t *out)
{
    _cleanup_str_ char *st = read_or_null(d, "memory.stat");
    _cleanup_str_ char *ev = read_or_null(d, "memory.events");
    set_nz(out, "cache", keyed_or0(st, "file"));
    uint64_t cur = read_u64_or0(d, "memory.current"), max = read_u64_or0(d, "memory.max");
    json_t *usage = json_object();
    json_object_set_new(usage, "limit", u64(max ? max : UNLIMITED));
    set_nz(usage, "usage", cur);
    set_nz(usage, "max", read_u64_or0(d, "memory.peak"));
    json_object_set_new(usage, "failcnt", u64(keyed_or0(ev, "max")));
    json_object_set_new(out, "usage", usage);
    if (cg_file_exists(d, "memory.swap.current")) {
        /* as v1's memsw: memory and swap together */
        uint64_t swap = read_u64_or0(d, "memory.swap.current"), smax = read_u64_or0(d, "memory.swap.max");
        json_t *sw = json_object();
        json_object_set_new(sw, "limit", u64(smax == UNLIMITED || max == UNLIMITED ? UNLIMITED : smax + max));
        set_nz(sw, "usage", swap + cur);
        _cleanup_str_ char *sev = read_or_null(d, "memory.swap.events");
        json_object_set_new(sw, "failcnt", u64(keyed_or0(sev, "max")));
        json_object_set_new(out, "swap", sw);
    }
    if (st)
        json_object_set_new(out, "raw", keyed_object(st));
}

static void v2_io(struct cg_dir *d, json_t *out)
{
    _cleanup_str_ char *st = read_or_null(d, "io.stat");
    json_t *bytes = json_array(), *ios = json_array();
    for (const char *p = st; p && *p;) {
        const char *eol = strchr(p, '\n');
        _cleanup_free_ char *line = strndup(p, eol ? (size_t)(eol - p) : strlen(p));
        p = eol ? eol + 1 : NULL;
        unsigned long long maj, min;
        if (!line || sscanf(line, "%llu:%llu", &maj, &min) != 2)
            continue;
        static const struct { const char *key, *op; int bytes; } map[] = {
            { "rbytes=", "Read", 1 }, { "wbytes=", "Write", 1 }, { "rios=", "Read", 0 }, { "wios=", "Write", 0 },
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
            const char *k = strstr(line, map[i].key);
            if (!k)
                continue;
            json_t *e = json_object();
            set_nz(e, "major", maj);
            set_nz(e, "minor", min);
            json_object_set_new(e, "op", json_string(map[i].op));
            set_nz(e, "value", strtoull(k + strlen(map[i].key), NULL, 10));
            json_array_append_new(map[i].bytes ? bytes : ios, e);
        }
    }
    if (json_array_size(bytes))
        json_object_set_new(out, "ioServiceBytesRecursive", bytes);
    else
        json_decref(bytes);
    if (json_array_size(ios))
        json_object_set_new(out, "ioServicedRecursive", ios);
    else
        json_decref(ios);
}

static void v2_hugetlb_one(struct cg_dir *d, const char *size, json_t *out)
{
    char f[96];
    json_t *e = json_object();
    snprintf(f, sizeof(f), "hugetlb.%s.current", size);
    set_nz(e, "usage", read_u64_or0(d, f));
    snprintf(f, sizeof(f), "hugetlb.%s.max", size);
    uint64_t max = read_u64_or0(d, f);
    set_nz(e, "max", max == UNLIMITED ? 0 : max);
    snprintf(f, sizeof(f), "hugetlb.%s.events", size);
    _cleanup_str_ char *ev = read_or_null(d, f);
    json_object_set_new(e, "failcnt", u64(keyed_or0(ev, "max")));
    json_object_set_new(out, size, e);
}

int cg_stats(struct cg_set *set, json_t *stats, struct error **err)
{
    (void)err;
    json_t *cpu = json_object(), *cpuset = json_object(), *memory = json_object(), *pids = json_object(),
           *blkio = json_object(), *hugetlb = json_object();
    struct cg_dir *d;

    /* v2 keeps usage in cpu.stat even without the cpu controller */
    struct cg_dir *c = cg_set_dir_for(set, CG_CPU), *a = cg_set_dir_for(set, CG_CPUACCT);
    if (!c && !a)
        c = cg_set_v2(set);
    if (c && c->v2)
        v2_cpu(c, cpu);
    else
        v1_cpu(a && !a->v2 ? a : NULL, c, cpu);

    if ((d = cg_set_dir_for(set, CG_CPUSET))) {
        if (d->v2) {
            _cleanup_str_ char *cpus = read_or_null(d, "cpuset.cpus.effective");
            _cleanup_str_ char *mems = read_or_null(d, "cpuset.mems.effective");
            if (cpus)
                json_object_set_new(cpuset, "cpus", id_list(cpus));
            if (mems)
                json_object_set_new(cpuset, "mems", id_list(mems));
        } else {
            v1_cpuset(d, cpuset);
        }
    }
    if ((d = cg_set_dir_for(set, CG_MEMORY))) {
        if (d->v2)
            v2_memory(d, memory);
        else
            v1_memory(d, memory);
    }
    if ((d = cg_set_dir_for(set, CG_PIDS))) {
        set_nz(pids, "current", read_u64_or0(d, "pids.current"));
        uint64_t max = read_u64_or0(d, "pids.max");
        set_nz(pids, "limit", max == UNLIMITED ? 0 : max);
    }
    if ((d = cg_set_dir_for(set, CG_BLKIO))) {
        if (d->v2)
            v2_io(d, blkio);
        else
            v1_blkio(d, blkio);
    }
    if ((d = cg_set_dir_for(set, CG_HUGETLB))) {
        if (d->v2)
            each_hugepage_size(d, ".max", v2_hugetlb_one, hugetlb);
        else
            each_hugepage_size(d, ".limit_in_bytes", v1_hugetlb_one, hugetlb);
    }
    json_object_set_new(stats, "cpu", cpu);
    json_object_set_new(stats, "cpuset", cpuset);
    json_object_set_new(stats, "memory", memory);
    json_object_set_new(stats, "pids", pids);
    json_object_set_new(stats, "blkio", blkio);
    json_object_set_new(stats, "hugetlb", hugetlb);
    json_object_set_new(stats, "intel_rdt", json_object());
    json_object_set_new(stats, "network_interfaces", json_null());
    return 0;
}
