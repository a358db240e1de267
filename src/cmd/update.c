/* update: new resource limits for a running container, from -r FILE|- or runc's flags. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/cleanup.h"
#include "cmd.h"

enum {
    OPT_BLKIO_WEIGHT = 1000, OPT_CPU_PERIOD, OPT_CPU_QUOTA, OPT_CPU_SHARES, OPT_CPU_RT_PERIOD, OPT_CPU_RT_RUNTIME,
    OPT_CPUSET_CPUS, OPT_CPUSET_MEMS, OPT_KERNEL_MEMORY, OPT_KERNEL_MEMORY_TCP, OPT_MEMORY, OPT_MEMORY_RESERVATION,
    OPT_MEMORY_SWAP, OPT_PIDS_LIMIT, OPT_L3_CACHE, OPT_MEM_BW,
};

static const struct option update_long[] = {
    { "resources", required_argument, NULL, 'r' },
    { "blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT },
    { "cpu-period", required_argument, NULL, OPT_CPU_PERIOD },
    { "cpu-quota", required_argument, NULL, OPT_CPU_QUOTA },
    { "cpu-share", required_argument, NULL, OPT_CPU_SHARES },
    { "cpu-shares", required_argument, NULL, OPT_CPU_SHARES },
    { "cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD },
    { "cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME },
    { "cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS },
    { "cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS },
    { "kernel-memory", required_argument, NULL, OPT_KERNEL_MEMORY },
    { "kernel-memory-tcp", required_argument, NULL, OPT_KERNEL_MEMORY_TCP },
    { "memory", required_argument, NULL, OPT_MEMORY },
    { "memory-reservation", required_argument, NULL, OPT_MEMORY_RESERVATION },
    { "memory-swap", required_argument, NULL, OPT_MEMORY_SWAP },
    { "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT },
    { "l3-cache-schema", required_argument, NULL, OPT_L3_CACHE },
    { "mem-bw-schema", required_argument, NULL, OPT_MEM_BW },
    { 0 },
};

/* "64m", "1g", "512MiB", "1048576", "-1": binary units, as runc's flags take them */
static int parse_size(const char *flag, const char *s, long long *out, struct error **err)
{
    if (!strcmp(s, "-1")) {
        *out = -1;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return error_set(err, EINVAL, "--%s: invalid size \"%s\"", flag, s);
    static const char units[] = "bkmgtp";
    double mult = 1;
    if (*end) {
        const char *u = strchr(units, tolower((unsigned char)*end));
        if (!u)
            return error_set(err, EINVAL, "--%s: invalid size \"%s\"", flag, s);
        for (const char *p = units; p < u; p++)
            mult *= 1024;
        end++;
        if (!strcasecmp(end, "ib") || (tolower((unsigned char)*end) == 'b' && end[1] == '\0' && u != units))
            end += strlen(end);
    }
    if (*end)
        return error_set(err, EINVAL, "--%s: invalid size \"%s\"", flag, s);
    v *= mult;
    if (v > 9.2e18)
        return error_set(err, EINVAL, "--%s: size \"%s\" is too large", flag, s);
    *out = (long long)v;
    return 0;
}

static int parse_number(const char *flag, const char *s, bool allow_negative, long long *out, struct error **err)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || (!allow_negative && v < 0))
        return error_set(err, EINVAL, "--%s: invalid value \"%s\"", flag, s);
    *out = v;
    return 0;
}

static json_t *sub(json_t *o, const char *key)
{
    json_t *s = json_object_get(o, key);
    if (!s) {
        s = json_object();
        json_object_set_new(o, key, s);
    }
    return s;
}

static json_t *read_resources(const char *path, struct error **err)
{
    json_error_t je;
    json_t *j = !strcmp(path, "-") ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
    if (!j)
        error_set(err, EINVAL, "--resources %s: %s", path, je.text);
    else if (!json_is_object(j)) {
        error_set(err, EINVAL, "--resources %s: expected a JSON object (LinuxResources)", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int run_update(const struct runtime_opts *ro, int argc, char **argv)
{
    struct error *err = NULL;
    const char *file = NULL;
    _cleanup_json_ json_t *res = json_object();
    int o;
    while ((o = cmd_getopt(&cmd_update, argc, argv, "r:", update_long)) != -1) {
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
        const char *flag = NULL;
        for (const struct option *lo = update_long; lo->name; lo++)
            if (lo->val == o)
                flag = lo->name;
        long long v = 0;
        int r = 0;
        switch (o) {
        case 'r':
            file = optarg;
            break;
        case OPT_BLKIO_WEIGHT:
            if ((r = parse_number(flag, optarg, false, &v, &err)) == 0)
                json_object_set_new(sub(res, "blockIO"), "weight", json_integer(v));
            break;
        case OPT_CPU_PERIOD:
        case OPT_CPU_QUOTA:
        case OPT_CPU_SHARES:
        case OPT_CPU_RT_PERIOD:
        case OPT_CPU_RT_RUNTIME: {
            static const char *const keys[] = { "period", "quota", "shares", "realtimePeriod", "realtimeRuntime" };
            bool neg = o == OPT_CPU_QUOTA || o == OPT_CPU_RT_RUNTIME;
            if ((r = parse_number(flag, optarg, neg, &v, &err)) == 0)
                json_object_set_new(sub(res, "cpu"), keys[o - OPT_CPU_PERIOD], json_integer(v));
            break;
        }
        case OPT_CPUSET_CPUS:
            json_object_set_new(sub(res, "cpu"), "cpus", json_string(optarg));
            break;
        case OPT_CPUSET_MEMS:
            json_object_set_new(sub(res, "cpu"), "mems", json_string(optarg));
            break;
        case OPT_KERNEL_MEMORY:
        case OPT_KERNEL_MEMORY_TCP:
        case OPT_MEMORY:
        case OPT_MEMORY_RESERVATION:
        case OPT_MEMORY_SWAP: {
            static const char *const keys[] = { "kernel", "kernelTCP", "limit", "reservation", "swap" };
            if ((r = parse_size(flag, optarg, &v, &err)) == 0)
                json_object_set_new(sub(res, "memory"), keys[o - OPT_KERNEL_MEMORY], json_integer(v));
            break;
        }
        case OPT_PIDS_LIMIT:
            if ((r = parse_number(flag, optarg, true, &v, &err)) == 0)
                json_object_set_new(sub(res, "pids"), "limit", json_integer(v));
            break;
        case OPT_L3_CACHE:
        case OPT_MEM_BW:
            r = error_set(&err, ENOTSUP, "--%s: Intel RDT is not supported by krunc", flag);
            break;
        }
        if (r < 0)
            return cmd_fail(err);
    }
    if (cmd_expect_args(&cmd_update, argc, 1, 1))
        return 1;
    if (file) {
        /* as runc: the file's resources, the other flags ignored */
        json_decref(res);
        res = read_resources(file, &err);
        if (!res)
            return cmd_fail(err);
    }
    if (container_update(ro, argv[optind], res, &err) < 0)
        return cmd_fail(err);
    return 0;
}

const struct command cmd_update = {
    .name = "update", .args = "ID", .run = run_update,
    .summary = "Change the resource limits of a running container.",
    .options = "   --resources, -r FILE   LinuxResources JSON from FILE, or - for stdin (the other flags are then ignored)\n"
               "   --blkio-weight N       block I/O weight, 10 to 1000\n"
               "   --cpu-period US        CPU CFS period\n"
               "   --cpu-quota US         CPU CFS quota (-1: none)\n"
               "   --cpu-share(s) N       CPU shares\n"
               "   --cpu-rt-period US     realtime period\n"
               "   --cpu-rt-runtime US    realtime runtime\n"
               "   --cpuset-cpus LIST     CPUs to use (\"0-3,5\")\n"
               "   --cpuset-mems LIST     memory nodes to use\n"
               "   --memory SIZE          memory limit (bytes, or with k, m, g; -1: none)\n"
               "   --memory-reservation SIZE  soft limit\n"
               "   --memory-swap SIZE     memory+swap limit (-1: unlimited swap)\n"
               "   --kernel-memory SIZE   kernel memory limit (cgroup v1 only; obsolete)\n"
               "   --kernel-memory-tcp SIZE  kernel TCP buffer limit (cgroup v1 only; obsolete)\n"
               "   --pids-limit N         maximum number of processes (-1: none)\n",
};
