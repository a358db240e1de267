/* Process confinement other than seccomp. */
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "cleanup.h"
#include "log.h"
#include "spec.h"
#include "util.h"

#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

/* The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER1); declared here
 * because <linux/sched/types.h> does not mix with <sched.h>. */
struct krunc_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
};

/* IOPRIO_* from <linux/ioprio.h> */
#define KRUNC_IOPRIO_CLASS_SHIFT 13
#define KRUNC_IOPRIO_WHO_PROCESS 1

struct cpu_list {
    uint64_t *bits;
    size_t nbits;       /* 0: not set */
};

struct process_security {
    struct cap_sets caps;
    const char *apparmor_profile;       /* NULL: none */
    const char *selinux_label;          /* NULL: none */
    bool has_scheduler;
    struct krunc_sched_attr sched;
    bool has_ioprio;
    int ioprio;                         /* IOPRIO_PRIO_VALUE(class, data) */
    bool has_personality;
    unsigned long persona;
    struct cpu_list affinity_initial, affinity_final;
};

/* ---- host LSM detection ---- */

bool security_apparmor_enabled(void)
{
    _cleanup_free_ char *buf = NULL;
    if (read_file_at(AT_FDCWD, "/sys/module/apparmor/parameters/enabled", &buf, NULL) < 0)
        return false;
    return buf[0] == 'Y';
}

bool security_selinux_enabled(void)
{
    /* selinuxfs is mounted when SELinux is active */
    return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

/* ---- parsing helpers ---- */

static const struct { const char *name; uint32_t policy; } sched_policies[] = {
    { "SCHED_OTHER", 0 }, { "SCHED_FIFO", 1 }, { "SCHED_RR", 2 }, { "SCHED_BATCH", 3 },
    { "SCHED_ISO", 4 }, { "SCHED_IDLE", 5 }, { "SCHED_DEADLINE", 6 },
};

static const struct { const char *name; uint64_t flag; } sched_flags[] = {
    { "SCHED_FLAG_RESET_ON_FORK", 0x01 }, { "SCHED_FLAG_RECLAIM", 0x02 }, { "SCHED_FLAG_DL_OVERRUN", 0x04 },
    { "SCHED_FLAG_KEEP_POLICY", 0x08 }, { "SCHED_FLAG_KEEP_PARAMS", 0x10 }, { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
    { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
};

static const struct { const char *name; int cls; } ioprio_classes[] = {
    { "IOPRIO_CLASS_RT", 1 }, { "IOPRIO_CLASS_BE", 2 }, { "IOPRIO_CLASS_IDLE", 3 },
};

static const struct { const char *name; unsigned long flag; } persona_flags[] = {
    { "UNAME26", UNAME26 }, { "ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE }, { "FDPIC_FUNCPTRS", FDPIC_FUNCPTRS },
    { "MMAP_PAGE_ZERO", MMAP_PAGE_ZERO }, { "ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT },
    { "READ_IMPLIES_EXEC", READ_IMPLIES_EXEC }, { "ADDR_LIMIT_32BIT", ADDR_LIMIT_32BIT },
    { "SHORT_INODE", SHORT_INODE }, { "WHOLE_SECONDS", WHOLE_SECONDS }, { "STICKY_TIMEOUTS", STICKY_TIMEOUTS },
    { "ADDR_LIMIT_3GB", ADDR_LIMIT_3GB },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int parse_scheduler(json_t *process, const char *path, struct process_security *sec, struct error **err)
{
    json_t *s;
    TRY(json_get_typed(process, path, "scheduler", JSON_OBJECT, &s, err));
    if (!s)
        return 0;
    _cleanup_free_ char *p = NULL;
    if (asprintf(&p, "%s.scheduler", path) < 0)
        return error_set(err, ENOMEM, "out of memory");
    const char *policy;
    TRY(json_get_string(s, p, "policy", true, &policy, err));
    struct krunc_sched_attr *a = &sec->sched;
    memset(a, 0, sizeof(*a));
    a->size = sizeof(*a);
    bool found = false;
    for (size_t i = 0; i < ARRAY_LEN(sched_policies); i++)
        if (strcmp(sched_policies[i].name, policy) == 0) {
            a->sched_policy = sched_policies[i].policy;
            found = true;
        }
    if (!found)
        return error_set(err, EINVAL, "%s.policy: unknown scheduling policy \"%s\"", p, policy);
    if (a->sched_policy == 4)
        return error_set(err, EINVAL, "%s.policy: SCHED_ISO is not implemented by Linux", p);

    bool have;
    int64_t v = 0;
    TRY(json_get_int64(s, p, "nice", &have, &v, err));
    if (have && (v < -20 || v > 19))
        return error_set(err, EINVAL, "%s.nice: %lld is outside -20..19", p, (long long)v);
    a->sched_nice = (int32_t)v;
    v = 0;
    TRY(json_get_int64(s, p, "priority", &have, &v, err));
    bool rt = a->sched_policy == 1 || a->sched_policy == 2;
    if (rt && (v < 1 || v > 99))
        return error_set(err, EINVAL, "%s.priority: %s needs a priority in 1..99, got %lld", p, policy, (long long)v);
    if (!rt && v != 0)
        return error_set(err, EINVAL, "%s.priority: must be 0 for %s", p, policy);
    a->sched_priority = (uint32_t)v;
    if (rt && a->sched_nice != 0)
        log_debug("%s.nice: ignored by %s", p, policy);

    json_t *flags;
    TRY(json_get_typed(s, p, "flags", JSON_ARRAY, &flags, err));
    size_t i;
    json_t *f;
    json_array_foreach(flags, i, f) {
        if (!json_is_string(f))
            return error_set(err, EINVAL, "%s.flags[%zu]: expected a string", p, i);
        found = false;
        for (size_t j = 0; j < ARRAY_LEN(sched_flags); j++)
            if (strcmp(sched_flags[j].name, json_string_value(f)) == 0) {
                a->sched_flags |= sched_flags[j].flag;
                found = true;
            }
        if (!found)
            return error_set(err, EINVAL, "%s.flags[%zu]: unknown scheduler flag \"%s\"", p, i, json_string_value(f));
    }
    TRY(json_get_uint64(s, p, "runtime", NULL, &a->sched_runtime, err));
    TRY(json_get_uint64(s, p, "deadline", NULL, &a->sched_deadline, err));
    TRY(json_get_uint64(s, p, "period", NULL, &a->sched_period, err));
    if (a->sched_policy == 6) {
        uint64_t period = a->sched_period ? a->sched_period : a->sched_deadline;
        if (a->sched_runtime < 1024)
            return error_set(err, EINVAL, "%s.runtime: SCHED_DEADLINE needs a runtime of at least 1024 ns", p);
        if (a->sched_runtime > a->sched_deadline || a->sched_deadline > period)
            return error_set(err, EINVAL, "%s: SCHED_DEADLINE needs runtime <= deadline <= period", p);
    } else if (a->sched_runtime || a->sched_deadline || a->sched_period) {
        return error_set(err, EINVAL, "%s: runtime, deadline and period are only for SCHED_DEADLINE", p);
    }
    if (a->sched_flags & 0x40)
        a->sched_util_max = 1024;   /* no clamp value in the spec: keep the whole range */
    sec->has_scheduler = true;
    return 0;
}

static int parse_ioprio(json_t *process, const char *path, struct process_security *sec, struct error **err)
{
    json_t *o;
    TRY(json_get_typed(process, path, "ioPriority", JSON_OBJECT, &o, err));
    if (!o)
        return 0;
    _cleanup_free_ char *p = NULL;
    if (asprintf(&p, "%s.ioPriority", path) < 0)
        return error_set(err, ENOMEM, "out of memory");
    const char *cls;
    TRY(json_get_string(o, p, "class", true, &cls, err));
    int c = -1;
    for (size_t i = 0; i < ARRAY_LEN(ioprio_classes); i++)
        if (strcmp(ioprio_classes[i].name, cls) == 0)
            c = ioprio_classes[i].cls;
    if (c < 0)
        return error_set(err, EINVAL, "%s.class: unknown I/O priority class \"%s\"", p, cls);
    bool have;
    int64_t prio = 0;
    TRY(json_get_int64(o, p, "priority", &have, &prio, err));
    if (!have)
        return error_set(err, EINVAL, "%s.priority: missing required integer", p);
    if (prio < 0 || prio > 7)
        return error_set(err, EINVAL, "%s.priority: %lld is outside 0..7", p, (long long)prio);
    sec->has_ioprio = true;
    sec->ioprio = (c << KRUNC_IOPRIO_CLASS_SHIFT) | (int)prio;
    return 0;
}

static int parse_personality(json_t *linux_obj, struct process_security *sec, struct error **err)
{
    json_t *o;
    if (!linux_obj)
        return 0;
    TRY(json_get_typed(linux_obj, "linux", "personality", JSON_OBJECT, &o, err));
    if (!o)
        return 0;
    const char *domain;
    TRY(json_get_string(o, "linux.personality", "domain", true, &domain, err));
    if (strcmp(domain, "LINUX") == 0)
        sec->persona = PER_LINUX;
    else if (strcmp(domain, "LINUX32") == 0)
        sec->persona = PER_LINUX32;
    else
        return error_set(err, EINVAL, "linux.personality.domain: unknown execution domain \"%s\" (LINUX or LINUX32)", domain);
    json_t *flags;
    TRY(json_get_typed(o, "linux.personality", "flags", JSON_ARRAY, &flags, err));
    size_t i;
    json_t *f;
    json_array_foreach(flags, i, f) {
        if (!json_is_string(f))
            return error_set(err, EINVAL, "linux.personality.flags[%zu]: expected a string", i);
        bool found = false;
        for (size_t j = 0; j < ARRAY_LEN(persona_flags); j++)
            if (strcmp(persona_flags[j].name, json_string_value(f)) == 0) {
                sec->persona |= persona_flags[j].flag;
                found = true;
            }
        if (!found)
            return error_set(err, EINVAL, "linux.personality.flags[%zu]: unknown personality flag \"%s\"", i,
                             json_string_value(f));
    }
    sec->has_personality = true;
    return 0;
}

#define MAX_CPUS 65536

int cpu_list_parse(const char *s, uint64_t **bits, size_t *nbits)
{
    *bits = NULL;
    *nbits = 0;
    /* first pass: the highest CPU, and the syntax */
    unsigned long max = 0;
    bool any = false;
    for (const char *p = s; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *end;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned long a = strtoul(p, &end, 10), b = a;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return -EINVAL;
            b = strtoul(p, &end, 10);
            p = end;
        }
        while (*p == ' ')
            p++;
        if (a > b || b >= MAX_CPUS)
            return -ERANGE;
        if (*p == ',')
            p++;
        else if (*p)
            return -EINVAL;
        if (b > max)
            max = b;
        any = true;
    }
    if (!any)
        return 0;
    size_t n = max + 1, words = (n + 63) / 64;
    uint64_t *v = calloc(words, sizeof(uint64_t));
    if (!v)
        return -ENOMEM;
    for (const char *p = s; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        p = end;
        if (*p == '-')
            b = strtoul(p + 1, (char **)&p, 10);
        for (unsigned long c = a; c <= b; c++)
            v[c / 64] |= UINT64_C(1) << (c % 64);
        while (*p == ' ')
            p++;
    }
    *bits = v;
    *nbits = n;
    return 0;
}

static int parse_affinity(struct spec *spec, json_t *process, const char *path, struct process_security *sec,
                          struct error **err)
{
    json_t *o;
    TRY(json_get_typed(process, path, "execCPUAffinity", JSON_OBJECT, &o, err));
    if (!o)
        return 0;
    _cleanup_free_ char *p = NULL;
    if (asprintf(&p, "%s.execCPUAffinity", path) < 0)
        return error_set(err, ENOMEM, "out of memory");
    static const char *const keys[] = { "initial", "final" };
    struct cpu_list *dst[] = { &sec->affinity_initial, &sec->affinity_final };
    for (int k = 0; k < 2; k++) {
        const char *s;
        TRY(json_get_string(o, p, keys[k], false, &s, err));
        if (!s || !*s)
            continue;
        _cleanup_free_ uint64_t *bits = NULL;
        size_t n;
        int r = cpu_list_parse(s, &bits, &n);
        if (r == -ENOMEM)
            return error_set(err, ENOMEM, "out of memory");
        if (r < 0)
            return error_set(err, EINVAL, "%s.%s: \"%s\" is not a CPU list such as \"0-3,7\"%s", p, keys[k], s,
                             r == -ERANGE ? " (bad range or CPU number)" : "");
        if (n == 0)
            continue;
        dst[k]->nbits = n;
        dst[k]->bits = spec_alloc(spec, (n + 63) / 64 * sizeof(uint64_t));
        memcpy(dst[k]->bits, bits, (n + 63) / 64 * sizeof(uint64_t));
    }
    return 0;
}

static int parse_lsm(json_t *process, const char *path, json_t *linux_obj, struct process_security *sec,
                     struct error **err)
{
    const char *s;
    TRY(json_get_string(process, path, "apparmorProfile", false, &s, err));
    if (s && *s) {
        if (!security_apparmor_enabled())
            return error_set(err, ENOTSUP, "%s.apparmorProfile: AppArmor profile \"%s\" asked for, but AppArmor is not "
                             "enabled on this host", path, s);
        sec->apparmor_profile = s;
    }
    TRY(json_get_string(process, path, "selinuxLabel", false, &s, err));
    if (s && *s) {
        if (!security_selinux_enabled())
            return error_set(err, ENOTSUP, "%s.selinuxLabel: SELinux label \"%s\" asked for, but SELinux is not "
                             "enabled on this host", path, s);
        sec->selinux_label = s;
    }
    if (linux_obj) {
        TRY(json_get_string(linux_obj, "linux", "mountLabel", false, &s, err));
        if (s && *s && !security_selinux_enabled())
            return error_set(err, ENOTSUP, "linux.mountLabel: SELinux mount label \"%s\" asked for, but SELinux is not "
                             "enabled on this host", s);
    }
    return 0;
}

int process_security_parse(struct spec *spec, json_t *process, const char *path, json_t *linux_obj,
                           struct process_security **out, struct error **err)
{
    struct process_security *sec = spec_alloc(spec, sizeof(*sec));
    json_t *caps;
    TRY(json_get_typed(process, path, "capabilities", JSON_OBJECT, &caps, err));
    _cleanup_free_ char *cpath = NULL;
    if (asprintf(&cpath, "%s.capabilities", path) < 0)
        return error_set(err, ENOMEM, "out of memory");
    TRY(cap_sets_parse(caps, cpath, &sec->caps, err));
    TRY(parse_lsm(process, path, linux_obj, sec, err));
    TRY(parse_scheduler(process, path, sec, err));
    TRY(parse_ioprio(process, path, sec, err));
    TRY(parse_personality(linux_obj, sec, err));
    TRY(parse_affinity(spec, process, path, sec, err));
    *out = sec;
    return 0;
}

/* ---- overrides (exec) ---- */

int process_security_add_capability(struct process_security *sec, const char *name, struct error **err)
{
    /* as runc exec --cap: bounding, effective and permitted; ambient too when
     * the capability is inheritable (it cannot be raised otherwise) */
    unsigned which = (1u << CAPSET_BOUNDING) | (1u << CAPSET_EFFECTIVE) | (1u << CAPSET_PERMITTED);
    int cap = capability_from_name(name);
    if (cap >= 0 && (sec->caps.set[CAPSET_INHERITABLE] & (UINT64_C(1) << cap)))
        which |= 1u << CAPSET_AMBIENT;
    int r = cap_sets_add_name(&sec->caps, which, name, err);
    if (r < 0)
        return error_prefix(err, "--cap");
    return 0;
}

int process_security_set_apparmor(struct process_security *sec, const char *profile, struct error **err)
{
    if (profile && *profile && !security_apparmor_enabled())
        return error_set(err, ENOTSUP, "AppArmor profile \"%s\" asked for, but AppArmor is not enabled on this host",
                         profile);
    sec->apparmor_profile = profile && *profile ? profile : NULL;
    return 0;
}

int process_security_set_selinux_label(struct process_security *sec, const char *label, struct error **err)
{
    if (label && *label && !security_selinux_enabled())
        return error_set(err, ENOTSUP, "SELinux label \"%s\" asked for, but SELinux is not enabled on this host",
                         label);
    sec->selinux_label = label && *label ? label : NULL;
    return 0;
}

/* ---- applying ---- */

/* Write to this thread's LSM exec attribute; the label takes effect at execve. */
static int write_exec_attr(const char *lsm, const char *value, struct error **err)
{
    _cleanup_free_ char *p = NULL;
    if (lsm && asprintf(&p, "/proc/thread-self/attr/%s/exec", lsm) < 0)
        return error_set(err, ENOMEM, "out of memory");
    const char *candidates[] = { p, "/proc/thread-self/attr/exec", "/proc/self/attr/exec" };
    for (size_t i = 0; i < ARRAY_LEN(candidates); i++) {
        if (!candidates[i])
            continue;
        _cleanup_close_ int fd = open(candidates[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return error_sys(err, errno, "open %s", candidates[i]);
        }
        ssize_t n = write(fd, value, strlen(value));
        if (n < 0)
            return error_sys(err, errno, "write \"%s\" to %s", value, candidates[i]);
        return 0;
    }
    return error_set(err, ENOENT, "no LSM exec attribute under /proc (is /proc mounted in the container?)");
}

static int cpu_list_apply(const struct cpu_list *l, const char *what, struct error **err)
{
    size_t n = l->nbits;
    cpu_set_t *set = CPU_ALLOC(n);
    if (!set)
        return error_set(err, ENOMEM, "out of memory");
    size_t size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(size, set);
    for (size_t c = 0; c < n; c++)
        if (l->bits[c / 64] & (UINT64_C(1) << (c % 64)))
            CPU_SET_S(c, size, set);
    int r = sched_setaffinity(0, size, set);
    int e = errno;
    CPU_FREE(set);
    if (r < 0)
        return error_sys(err, e, "setting the %s CPU affinity (execCPUAffinity)", what);
    return 0;
}

int process_security_affinity_initial(const struct process_security *sec, struct error **err)
{
    if (!sec || !sec->affinity_initial.nbits)
        return 0;
    return cpu_list_apply(&sec->affinity_initial, "initial", err);
}

int process_security_affinity_final(const struct process_security *sec, struct error **err)
{
    if (!sec || (!sec->affinity_final.nbits && !sec->affinity_initial.nbits))
        return 0;
    if (sec->affinity_final.nbits)
        return cpu_list_apply(&sec->affinity_final, "final", err);
    /* No final list: back to the container's default, every CPU its cpuset
     * allows (the kernel intersects the mask with the cgroup's cpus). */
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    if (ncpu < 1)
        ncpu = 1;
    size_t n = (size_t)ncpu + 64;
    uint64_t bits[(n + 63) / 64];
    memset(bits, 0xff, sizeof(bits));
    struct cpu_list all = { bits, n };
    return cpu_list_apply(&all, "default", err);
}

int process_security_prepare(const struct process_security *sec, struct error **err)
{
    if (!sec)
        return 0;
    if (sec->has_personality && personality(sec->persona) < 0)
        return error_sys(err, errno, "personality(0x%lx) (linux.personality)", sec->persona);
    if (sec->has_scheduler) {
        struct krunc_sched_attr a = sec->sched;
        if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
            return error_sys(err, errno, "sched_setattr (process.scheduler)");
    }
    if (sec->has_ioprio && syscall(SYS_ioprio_set, KRUNC_IOPRIO_WHO_PROCESS, 0, sec->ioprio) < 0)
        return error_sys(err, errno, "ioprio_set (process.ioPriority)");
    if (sec->apparmor_profile) {
        _cleanup_free_ char *v = NULL;
        if (asprintf(&v, "exec %s", sec->apparmor_profile) < 0)
            return error_set(err, ENOMEM, "out of memory");
        if (write_exec_attr("apparmor", v, err) < 0)
            return error_prefix(err, "applying AppArmor profile \"%s\"", sec->apparmor_profile);
    }
    if (sec->selinux_label && write_exec_attr(NULL, sec->selinux_label, err) < 0)
        return error_prefix(err, "applying SELinux label \"%s\"", sec->selinux_label);
    return 0;
}

int process_security_apply(const struct process_security *sec, bool no_new_privileges, struct error **err)
{
    static const struct cap_sets none;
    TRY(cap_sets_apply(sec ? &sec->caps : &none, err));
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return error_sys(err, errno, "prctl(PR_SET_KEEPCAPS, 0)");
    if (no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return error_sys(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
    return 0;
}

const struct cap_sets *process_security_caps(const struct process_security *sec)
{
    return sec ? &sec->caps : NULL;
}
