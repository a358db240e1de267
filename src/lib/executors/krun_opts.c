/* The krun executor's annotations and VM size defaults. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../cleanup.h"
#include "../spec.h"
#include "krun.h"

static const struct krun_variant_info variants[] = {
    [KRUN_VARIANT_DEFAULT] = { "", "libkrun.so.1", { "/dev/kvm" },
                               "the krun executor runs the container as a KVM microVM" },
    [KRUN_VARIANT_SEV] = { "sev", "libkrun-sev.so.1", { "/dev/kvm", "/dev/sev" },
                           "krun.variant \"sev\" runs the container as an AMD SEV confidential VM on KVM" },
    [KRUN_VARIANT_TDX] = { "tdx", "libkrun-tdx.so.1", { "/dev/kvm" },
                           "krun.variant \"tdx\" runs the container as an Intel TDX confidential VM on KVM" },
    [KRUN_VARIANT_NITRO] = { "aws-nitro", "libkrun-awsnitro.so.1", { "/dev/nitro_enclaves" },
                             "krun.variant \"aws-nitro\" runs the container in an AWS Nitro Enclave" },
};

const struct krun_variant_info *krun_variant_info(enum krun_variant v)
{
    return &variants[v];
}

#define ANN_ERR(err, key, value, fmt, ...) \
    error_set(err, EINVAL, "annotations.\"%s\": \"%s\" " fmt, key, value, ##__VA_ARGS__)

/* A decimal (or, with base 0, 0x-hex) number in [min, max]; no sign, no spaces. */
static bool parse_number(const char *s, int base, unsigned long long min, unsigned long long max,
                         unsigned long long *out)
{
    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse_bool(const char *key, const char *v, bool *out, struct error **err)
{
    if (!strcmp(v, "true") || !strcmp(v, "1")) {
        *out = true;
        return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0")) {
        *out = false;
        return 0;
    }
    return ANN_ERR(err, key, v, "is not true or false");
}

static int parse_log_level(const char *v, int *out, struct error **err)
{
    static const char *const names[] = { "off", "error", "warn", "info", "debug", "trace" };
    for (int i = 0; i < 6; i++) {
        if (!strcasecmp(v, names[i])) {
            *out = i;
            return 0;
        }
    }
    unsigned long long n;
    if (!parse_number(v, 10, 0, 5, &n))
        return ANN_ERR(err, KRUN_ANN_LOG_LEVEL, v, "is not a log level: 0-5 or off, error, warn, info, debug, trace");
    *out = (int)n;
    return 0;
}

static int strv_push(char ***v, size_t *n, char *s)
{
    char **nv = realloc(*v, (*n + 2) * sizeof(char *));
    if (!nv) {
        free(s);
        return -ENOMEM;
    }
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

/* "8080:80,8443:443": TCP host:guest pairs for TSI; "" exposes nothing. */
static int parse_port_map(const char *v, char ***out, struct error **err)
{
    _cleanup_strv_ char **map = calloc(1, sizeof(char *));
    size_t n = 0;
    if (!map)
        return error_set(err, ENOMEM, "out of memory");
    const char *p = v;
    while (*p) {
        const char *end = strchrnul(p, ',');
        _cleanup_free_ char *item = strndup(p, (size_t)(end - p));
        if (!item)
            return error_set(err, ENOMEM, "out of memory");
        char *s = item, *e = item + strlen(item);
        while (*s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            *--e = '\0';
        char *colon = strchr(s, ':');
        unsigned long long host, guest;
        if (!colon)
            return ANN_ERR(err, KRUN_ANN_PORT_MAP, v, "has \"%s\", which is not HOST_PORT:GUEST_PORT", s);
        *colon = '\0';
        if (!parse_number(s, 10, 1, 65535, &host) || !parse_number(colon + 1, 10, 1, 65535, &guest))
            return ANN_ERR(err, KRUN_ANN_PORT_MAP, v, "has \"%s:%s\"; ports are numbers from 1 to 65535", s,
                           colon + 1);
        for (size_t i = 0; i < n; i++) {
            const char *c = strchr(map[i], ':');
            if (strtoull(map[i], NULL, 10) == host)
                return ANN_ERR(err, KRUN_ANN_PORT_MAP, v, "maps host port %llu twice", host);
            if (strtoull(c + 1, NULL, 10) == guest)
                return ANN_ERR(err, KRUN_ANN_PORT_MAP, v, "maps guest port %llu twice", guest);
        }
        char *entry;
        if (asprintf(&entry, "%llu:%llu", host, guest) < 0 || strv_push(&map, &n, entry) < 0)
            return error_set(err, ENOMEM, "out of memory");
        if (!*end)
            break;
        p = end + 1;
        if (!*p)
            return ANN_ERR(err, KRUN_ANN_PORT_MAP, v, "ends with a comma");
    }
    *out = TAKE_PTR(map);
    return 0;
}

static int parse_rootfs_path(const char *key, const char *v, char **out, struct error **err)
{
    if (v[0] != '/')
        return ANN_ERR(err, key, v, "is not an absolute path inside the container's rootfs");
    if (!(*out = strdup(v)))
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}

void krun_opts_free(struct krun_opts *o)
{
    strv_freep(&o->port_map);
    free(o->tee_config);
    free(o->root_disk);
    *o = (struct krun_opts){ .log_level = -1 };
}

static int opts_parse(const struct spec *spec, struct krun_opts *o, struct error **err)
{
    const char *v;
    int r;
    if ((v = spec_annotation(spec, KRUN_ANN_VARIANT)) && *v) {
        size_t i;
        for (i = 1; i < sizeof(variants) / sizeof(variants[0]); i++)
            if (!strcmp(v, variants[i].name))
                break;
        if (i == sizeof(variants) / sizeof(variants[0]))
            return ANN_ERR(err, KRUN_ANN_VARIANT, v, "is not a libkrun variant: sev, tdx or aws-nitro");
        o->variant = (enum krun_variant)i;
    }
    bool tee = o->variant == KRUN_VARIANT_SEV || o->variant == KRUN_VARIANT_TDX;
    unsigned long long n;
    if ((v = spec_annotation(spec, KRUN_ANN_CPUS))) {
        if (!parse_number(v, 10, 1, 255, &n))
            return ANN_ERR(err, KRUN_ANN_CPUS, v, "is not a number of vCPUs from 1 to 255");
        if (o->variant == KRUN_VARIANT_TDX && n != 1)
            return ANN_ERR(err, KRUN_ANN_CPUS, v, "is not 1: a TDX guest (krun.variant \"tdx\") has one vCPU");
        o->cpus = (unsigned)n;
    }
    if ((v = spec_annotation(spec, KRUN_ANN_RAM))) {
        if (!parse_number(v, 10, 1, UINT32_MAX, &n))
            return ANN_ERR(err, KRUN_ANN_RAM, v, "is not a RAM size in MiB from 1 to %u", UINT32_MAX);
        if (o->variant == KRUN_VARIANT_TDX && n > KRUN_TDX_MAX_RAM_MIB)
            return ANN_ERR(err, KRUN_ANN_RAM, v, "is above %u: the most a TDX guest (krun.variant \"tdx\") can have",
                           KRUN_TDX_MAX_RAM_MIB);
        o->ram_mib = (uint32_t)n;
    }
    if ((v = spec_annotation(spec, KRUN_ANN_LOG_LEVEL)) && (r = parse_log_level(v, &o->log_level, err)) < 0)
        return r;
    if ((v = spec_annotation(spec, KRUN_ANN_NESTED)) && (r = parse_bool(KRUN_ANN_NESTED, v, &o->nested_virt, err)) < 0)
        return r;
    if ((v = spec_annotation(spec, KRUN_ANN_GPU))) {
        /* virglrenderer flag bits 0 (EGL) .. 10 (DRM native context) */
        if (!parse_number(v, 0, 0, 0x7ff, &n))
            return ANN_ERR(err, KRUN_ANN_GPU, v, "is not a set of virglrenderer flags (a number below 0x800)");
        o->has_gpu_flags = true;
        o->gpu_flags = (uint32_t)n;
    }
    if ((v = spec_annotation(spec, KRUN_ANN_PASST)) && (r = parse_bool(KRUN_ANN_PASST, v, &o->use_passt, err)) < 0)
        return r;
    if ((v = spec_annotation(spec, KRUN_ANN_PORT_MAP))) {
        if ((r = parse_port_map(v, &o->port_map, err)) < 0)
            return r;
        o->has_port_map = true;
        if (o->use_passt)
            return error_set(err, EINVAL, "annotations.\"%s\" maps ports of TSI networking; it cannot be combined "
                             "with \"%s\" (give passt's own port options instead)", KRUN_ANN_PORT_MAP, KRUN_ANN_PASST);
    }
    if (o->use_passt && tee)
        return error_set(err, EINVAL, "annotations.\"%s\": libkrun's %s variant has no network devices",
                         KRUN_ANN_PASST, variants[o->variant].name);
    const char *tc = spec_annotation(spec, KRUN_ANN_TEE_CONFIG), *rd = spec_annotation(spec, KRUN_ANN_ROOT_DISK);
    if (!tee && (tc || rd))
        return error_set(err, EINVAL, "annotations.\"%s\" is only for krun.variant \"sev\" or \"tdx\"",
                         tc ? KRUN_ANN_TEE_CONFIG : KRUN_ANN_ROOT_DISK);
    if (tee) {
        if (!tc)
            tc = o->variant == KRUN_VARIANT_SEV ? "/krun-sev.json" : "/krun-tdx.json";
        if ((r = parse_rootfs_path(KRUN_ANN_TEE_CONFIG, tc, &o->tee_config, err)) < 0 ||
            (r = parse_rootfs_path(KRUN_ANN_ROOT_DISK, rd ? rd : "/disk.img", &o->root_disk, err)) < 0)
            return r;
    }
    return 0;
}

int krun_opts_parse(const struct spec *spec, struct krun_opts *o, struct error **err)
{
    *o = (struct krun_opts){ .log_level = -1 };
    int r = opts_parse(spec, o, err);
    if (r < 0)
        krun_opts_free(o);
    return r;
}

unsigned krun_default_vcpus(long max_vcpus)
{
    cpu_set_t set;
    unsigned n = 1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = (unsigned)CPU_COUNT(&set);
    if (n > KRUN_DEFAULT_MAX_VCPUS)
        n = KRUN_DEFAULT_MAX_VCPUS;
    if (max_vcpus > 0 && n > (unsigned long)max_vcpus)
        n = (unsigned)max_vcpus;
    return n;
}

uint32_t krun_default_ram_mib(json_t *resources)
{
    json_t *limit = json_object_get(json_object_get(resources, "memory"), "limit");
    if (json_is_integer(limit)) {
        json_int_t mib = json_integer_value(limit) / (1024 * 1024);
        if (mib > KRUN_MIN_LIMIT_RAM_MIB)
            return mib > UINT32_MAX ? UINT32_MAX : (uint32_t)mib;
    }
    return KRUN_DEFAULT_RAM_MIB;
}
