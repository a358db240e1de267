#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

#define CAP_ENTRY(n) [CAP_##n] = "CAP_" #n

static const char *const cap_names[] = {
    CAP_ENTRY(CHOWN), CAP_ENTRY(DAC_OVERRIDE), CAP_ENTRY(DAC_READ_SEARCH), CAP_ENTRY(FOWNER),
    CAP_ENTRY(FSETID), CAP_ENTRY(KILL), CAP_ENTRY(SETGID), CAP_ENTRY(SETUID), CAP_ENTRY(SETPCAP),
    CAP_ENTRY(LINUX_IMMUTABLE), CAP_ENTRY(NET_BIND_SERVICE), CAP_ENTRY(NET_BROADCAST), CAP_ENTRY(NET_ADMIN),
    CAP_ENTRY(NET_RAW), CAP_ENTRY(IPC_LOCK), CAP_ENTRY(IPC_OWNER), CAP_ENTRY(SYS_MODULE), CAP_ENTRY(SYS_RAWIO),
    CAP_ENTRY(SYS_CHROOT), CAP_ENTRY(SYS_PTRACE), CAP_ENTRY(SYS_PACCT), CAP_ENTRY(SYS_ADMIN), CAP_ENTRY(SYS_BOOT),
    CAP_ENTRY(SYS_NICE), CAP_ENTRY(SYS_RESOURCE), CAP_ENTRY(SYS_TIME), CAP_ENTRY(SYS_TTY_CONFIG), CAP_ENTRY(MKNOD),
    CAP_ENTRY(LEASE), CAP_ENTRY(AUDIT_WRITE), CAP_ENTRY(AUDIT_CONTROL), CAP_ENTRY(SETFCAP), CAP_ENTRY(MAC_OVERRIDE),
    CAP_ENTRY(MAC_ADMIN), CAP_ENTRY(SYSLOG), CAP_ENTRY(WAKE_ALARM), CAP_ENTRY(BLOCK_SUSPEND), CAP_ENTRY(AUDIT_READ),
    CAP_ENTRY(PERFMON), CAP_ENTRY(BPF), CAP_ENTRY(CHECKPOINT_RESTORE),
};

#define N_CAP_NAMES ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

static const char *const set_names[CAPSET__MAX] = {
    [CAPSET_BOUNDING] = "bounding",
    [CAPSET_EFFECTIVE] = "effective",
    [CAPSET_INHERITABLE] = "inheritable",
    [CAPSET_PERMITTED] = "permitted",
    [CAPSET_AMBIENT] = "ambient",
};

const char *cap_set_name(enum cap_set s) { return set_names[s]; }

int capability_from_name(const char *name)
{
    for (int i = 0; i < N_CAP_NAMES; i++)
        if (cap_names[i] && strcmp(cap_names[i], name) == 0)
            return i;
    return -1;
}

const char *capability_name(int cap)
{
    return cap >= 0 && cap < N_CAP_NAMES ? cap_names[cap] : NULL;
}

int capability_last_known(void) { return N_CAP_NAMES - 1; }

int capability_last_cap(void)
{
    static int cached = -1;
    if (cached >= 0)
        return cached;
    _cleanup_free_ char *buf = NULL;
    int last = CAP_LAST_CAP;
    if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", &buf, NULL) == 0) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (end != buf && v >= 0 && v < 64)
            last = (int)v;
    }
    cached = last;
    return last;
}

char *cap_mask_to_string(uint64_t mask)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return NULL;
    bool first = true;
    for (int c = 0; c < 64; c++) {
        if (!(mask & (UINT64_C(1) << c)))
            continue;
        const char *n = capability_name(c);
        if (n)
            fprintf(f, "%s%s", first ? "" : ",", n);
        else
            fprintf(f, "%s%d", first ? "" : ",", c);
        first = false;
    }
    fclose(f);
    return s;
}

/* Resolve a name: 1 and *cap set when usable, 0 when the kernel lacks it, <0 on error. */
static int resolve(const char *name, const char *path, int *cap, struct error **err)
{
    int c = capability_from_name(name);
    if (c < 0)
        return error_set(err, EINVAL, "%s: unknown capability \"%s\"", path, name);
    if (c > capability_last_cap()) {
        log_debug("%s: capability %s is not known to the running kernel; skipped", path, name);
        return 0;
    }
    *cap = c;
    return 1;
}

int cap_sets_parse(json_t *caps, const char *path, struct cap_sets *out, struct error **err)
{
    memset(out, 0, sizeof(*out));
    if (!caps || json_is_null(caps))
        return 0;
    if (!json_is_object(caps))
        return error_set(err, EINVAL, "%s: expected an object", path);
    for (int s = 0; s < CAPSET__MAX; s++) {
        json_t *arr = json_object_get(caps, set_names[s]);
        if (!arr || json_is_null(arr))
            continue;
        if (!json_is_array(arr))
            return error_set(err, EINVAL, "%s.%s: expected an array of capability names", path, set_names[s]);
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            _cleanup_free_ char *epath = NULL;
            if (asprintf(&epath, "%s.%s[%zu]", path, set_names[s], i) < 0)
                return error_set(err, ENOMEM, "out of memory");
            if (!json_is_string(e))
                return error_set(err, EINVAL, "%s: expected a capability name (string)", epath);
            int cap = 0, r = resolve(json_string_value(e), epath, &cap, err);
            if (r < 0)
                return r;
            if (r > 0)
                out->set[s] |= UINT64_C(1) << cap;
        }
    }
    uint64_t extra = out->set[CAPSET_EFFECTIVE] & ~out->set[CAPSET_PERMITTED];
    if (extra) {
        _cleanup_free_ char *names = cap_mask_to_string(extra);
        return error_set(err, EINVAL, "%s.effective: %s not in %s.permitted (effective must be a subset of permitted)",
                         path, names ? names : "?", path);
    }
    uint64_t amb = out->set[CAPSET_AMBIENT];
    uint64_t ok = amb & out->set[CAPSET_PERMITTED] & out->set[CAPSET_INHERITABLE];
    if (amb != ok) {
        _cleanup_free_ char *names = cap_mask_to_string(amb & ~ok);
        log_debug("%s.ambient: %s not in both permitted and inheritable; cannot be raised, ignored", path,
                  names ? names : "?");
        out->set[CAPSET_AMBIENT] = ok;
    }
    return 0;
}

int cap_sets_add_name(struct cap_sets *sets, unsigned which, const char *name, struct error **err)
{
    int cap = 0, r = resolve(name, "capability", &cap, err);
    if (r <= 0)
        return r;
    for (int s = 0; s < CAPSET__MAX; s++)
        if (which & (1u << s))
            sets->set[s] |= UINT64_C(1) << cap;
    return 0;
}

/* ---- the kernel interface ---- */

static int capget_raw(uint64_t *eff, uint64_t *perm, uint64_t *inh)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -errno;
    *eff = data[0].effective | ((uint64_t)data[1].effective << 32);
    *perm = data[0].permitted | ((uint64_t)data[1].permitted << 32);
    *inh = data[0].inheritable | ((uint64_t)data[1].inheritable << 32);
    return 0;
}

static int capset_raw(uint64_t eff, uint64_t perm, uint64_t inh)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {
        { .effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh },
        { .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32), .inheritable = (uint32_t)(inh >> 32) },
    };
    if (syscall(SYS_capset, &hdr, data) < 0)
        return -errno;
    return 0;
}

int cap_sets_current(struct cap_sets *out, struct error **err)
{
    memset(out, 0, sizeof(*out));
    int r = capget_raw(&out->set[CAPSET_EFFECTIVE], &out->set[CAPSET_PERMITTED], &out->set[CAPSET_INHERITABLE]);
    if (r < 0)
        return error_sys(err, -r, "capget");
    int last = capability_last_cap();
    for (int c = 0; c <= last; c++) {
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
            out->set[CAPSET_BOUNDING] |= UINT64_C(1) << c;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
            out->set[CAPSET_AMBIENT] |= UINT64_C(1) << c;
    }
    return 0;
}

int cap_sets_apply(const struct cap_sets *sets, struct error **err)
{
    uint64_t eff = 0, perm = 0, inh = 0;
    int r = capget_raw(&eff, &perm, &inh);
    if (r < 0)
        return error_sys(err, -r, "capget");
    /* After a uid switch with KEEPCAPS the effective set is empty: raise
     * everything still permitted so that CAP_SETPCAP is usable below. */
    if (eff != perm && (r = capset_raw(perm, perm, inh)) < 0)
        return error_sys(err, -r, "capset: raising the effective set");

    int last = capability_last_cap();
    for (int c = 0; c <= last; c++) {
        if (sets->set[CAPSET_BOUNDING] & (UINT64_C(1) << c))
            continue;
        int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (in < 0 && errno == EINVAL)
            break;      /* beyond what this kernel knows */
        if (in == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
            return error_sys(err, errno, "dropping %s from the bounding set", capability_name(c) ?: "capability");
    }

    r = capset_raw(sets->set[CAPSET_EFFECTIVE], sets->set[CAPSET_PERMITTED], sets->set[CAPSET_INHERITABLE]);
    if (r < 0) {
        _cleanup_free_ char *inh_extra = cap_mask_to_string(sets->set[CAPSET_INHERITABLE] & ~sets->set[CAPSET_BOUNDING] & ~inh);
        if (r == -EPERM && inh_extra && *inh_extra)
            return error_sys(err, -r, "capset: inheritable capabilities %s are not in the bounding set", inh_extra);
        return error_sys(err, -r, "capset: setting the effective, permitted and inheritable sets");
    }

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return error_sys(err, errno, "clearing the ambient capabilities");
    for (int c = 0; c <= last; c++) {
        if (!(sets->set[CAPSET_AMBIENT] & (UINT64_C(1) << c)))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            return error_sys(err, errno, "raising ambient capability %s", capability_name(c) ?: "?");
    }
    return 0;
}
