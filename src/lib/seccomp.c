/* linux.seccomp: the profile is checked and compiled to BPF with libseccomp
 * while the spec is parsed (so that every mistake surfaces at create time);
 * the container init only hands the program to seccomp(2). */
#include "seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "spec.h"
#include "unixsock.h"

#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

struct rule;

struct seccomp_profile {
    struct spec *spec;              /* whose arena holds all of this */
    const char *path;               /* "linux.seccomp" */
    uint32_t default_action;
    unsigned long flags;            /* SECCOMP_FILTER_FLAG_* for seccomp(2), without NEW_LISTENER */
    bool uses_notify;
    const char *listener_path;
    const char *listener_metadata;
    const char **arch_names;
    uint32_t *arch_tokens;
    size_t n_arch;
    struct rule *rules;
    size_t n_rules, n_syscalls;
    struct sock_filter *bpf;        /* the compiled program (seccomp_profile_compile), in the arena */
    unsigned short bpf_len;
};

/* ---- names ---- */

enum act_kind { ACT_PLAIN, ACT_WITH_ERRNO, ACT_WITH_TRACE };

static const struct { const char *name; uint32_t action; enum act_kind kind; } actions[] = {
    { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, ACT_PLAIN },
    { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, ACT_PLAIN },
    { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, ACT_PLAIN },
    { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, ACT_PLAIN },
    { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), ACT_WITH_ERRNO },
    { "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), ACT_WITH_TRACE },
    { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, ACT_PLAIN },
    { "SCMP_ACT_LOG", SCMP_ACT_LOG, ACT_PLAIN },
    { "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, ACT_PLAIN },
};

static const struct { const char *name; enum scmp_compare op; } operators[] = {
    { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
    { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
    { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static const struct { const char *name; uint32_t arch; } arches[] = {
    { "SCMP_ARCH_X86", SCMP_ARCH_X86 }, { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 }, { "SCMP_ARCH_X32", SCMP_ARCH_X32 },
    { "SCMP_ARCH_ARM", SCMP_ARCH_ARM }, { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
    { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS }, { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
    { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 }, { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
    { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 }, { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
    { "SCMP_ARCH_PPC", SCMP_ARCH_PPC }, { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 }, { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
    { "SCMP_ARCH_S390", SCMP_ARCH_S390 }, { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
    { "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC }, { "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64 },
    { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
#ifdef SCMP_ARCH_LOONGARCH64
    { "SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64 },
#endif
#ifdef SCMP_ARCH_M68K
    { "SCMP_ARCH_M68K", SCMP_ARCH_M68K },
#endif
#ifdef SCMP_ARCH_SH
    { "SCMP_ARCH_SH", SCMP_ARCH_SH }, { "SCMP_ARCH_SHEB", SCMP_ARCH_SHEB },
#endif
};

static const struct { const char *name; unsigned long flag; } flag_names[] = {
    { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
    { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
    { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
    { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

#define NAME_LIST(table)                                            \
    static const char *names[ARRAY_LEN(table) + 1];                 \
    for (size_t i = 0; i < ARRAY_LEN(table); i++)                   \
        names[i] = table[i].name;                                   \
    return names

const char *const *seccomp_known_actions(void) { NAME_LIST(actions); }
const char *const *seccomp_known_operators(void) { NAME_LIST(operators); }
const char *const *seccomp_known_archs(void) { NAME_LIST(arches); }
const char *const *seccomp_known_flags(void) { NAME_LIST(flag_names); }

/* ---- parsing ---- */

static int parse_action(json_t *obj, const char *path, const char *key, const char *errno_key, uint32_t *out,
                        struct error **err)
{
    const char *name;
    TRY(json_get_string(obj, path, key, true, &name, err));
    bool have_errno;
    uint64_t ret = 0;
    TRY(json_get_uint64(obj, path, errno_key, &have_errno, &ret, err));
    for (size_t i = 0; i < ARRAY_LEN(actions); i++) {
        if (strcmp(actions[i].name, name) != 0)
            continue;
        if (have_errno && actions[i].kind == ACT_PLAIN)
            return error_set(err, EINVAL, "%s.%s: %s takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", path,
                             errno_key, name);
        if (ret > 0xffff)
            return error_set(err, EINVAL, "%s.%s: %llu is out of range", path, errno_key, (unsigned long long)ret);
        if (!have_errno)
            ret = EPERM;
        switch (actions[i].kind) {
        case ACT_WITH_ERRNO: *out = SCMP_ACT_ERRNO((uint32_t)ret); break;
        case ACT_WITH_TRACE: *out = SCMP_ACT_TRACE((uint32_t)ret); break;
        default: *out = actions[i].action; break;
        }
        return 0;
    }
    return error_set(err, EINVAL, "%s.%s: unknown seccomp action \"%s\"", path, key, name);
}

/* Can the running kernel take this seccomp(2) flag? A NULL program makes the
 * call fail with EFAULT once the flags are accepted, EINVAL before. */
static bool kernel_has_flag(unsigned long flag)
{
    if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
        flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL);
    return r < 0 && errno == EFAULT;
}

struct rule {
    const char *path;               /* linux.seccomp.syscalls[i] */
    const char **names;
    size_t n_names;
    uint32_t action;
    struct scmp_arg_cmp *args;
    size_t n_args;
};

static int parse_rule(struct spec *spec, json_t *e, const char *path, struct rule *r, struct error **err)
{
    if (!json_is_object(e))
        return error_set(err, EINVAL, "%s: expected an object", path);
    r->path = path;
    TRY(json_get_strv(spec, e, path, "names", &r->names, &r->n_names, err));
    if (!r->names || r->n_names == 0)
        return error_set(err, EINVAL, "%s.names: must list at least one syscall", path);
    for (size_t i = 0; i < r->n_names; i++)
        if (!*r->names[i])
            return error_set(err, EINVAL, "%s.names[%zu]: empty syscall name", path, i);
    TRY(parse_action(e, path, "action", "errnoRet", &r->action, err));
    json_t *args;
    TRY(json_get_typed(e, path, "args", JSON_ARRAY, &args, err));
    if (!args)
        return 0;
    r->n_args = json_array_size(args);
    if (r->n_args > 6 * 7)
        return error_set(err, EINVAL, "%s.args: too many conditions", path);
    r->args = spec_alloc(spec, (r->n_args + 1) * sizeof(*r->args));
    for (size_t i = 0; i < r->n_args; i++) {
        json_t *a = json_array_get(args, i);
        _cleanup_free_ char *ap = NULL;
        if (asprintf(&ap, "%s.args[%zu]", path, i) < 0)
            return error_set(err, ENOMEM, "out of memory");
        if (!json_is_object(a))
            return error_set(err, EINVAL, "%s: expected an object", ap);
        bool have;
        uint64_t index = 0, value = 0, value_two = 0;
        TRY(json_get_uint64(a, ap, "index", &have, &index, err));
        if (!have)
            return error_set(err, EINVAL, "%s.index: missing required integer", ap);
        if (index > 5)
            return error_set(err, EINVAL, "%s.index: %llu is not a syscall argument (0..5)", ap, (unsigned long long)index);
        TRY(json_get_uint64(a, ap, "value", &have, &value, err));
        if (!have)
            return error_set(err, EINVAL, "%s.value: missing required integer", ap);
        TRY(json_get_uint64(a, ap, "valueTwo", NULL, &value_two, err));
        const char *op;
        TRY(json_get_string(a, ap, "op", true, &op, err));
        bool found = false;
        for (size_t j = 0; j < ARRAY_LEN(operators); j++)
            if (strcmp(operators[j].name, op) == 0) {
                /* for MASKED_EQ, value is the mask and valueTwo the datum, as libseccomp takes them */
                r->args[i] = (struct scmp_arg_cmp){ .arg = (unsigned)index, .op = operators[j].op,
                                                    .datum_a = value, .datum_b = value_two };
                found = true;
            }
        if (!found)
            return error_set(err, EINVAL, "%s.op: unknown seccomp operator \"%s\"", ap, op);
    }
    return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct rule *r, size_t name_idx, int nr, struct error **err)
{
    const char *name = r->names[name_idx];
    bool same_arg_twice = false;
    for (size_t i = 0; i < r->n_args; i++)
        for (size_t j = i + 1; j < r->n_args; j++)
            same_arg_twice |= r->args[i].arg == r->args[j].arg;
    int rc;
    if (same_arg_twice) {
        /* libseccomp cannot AND two conditions on one argument; as runc
         * does, each condition becomes a rule of its own (an OR). */
        for (size_t i = 0; i < r->n_args; i++) {
            rc = seccomp_rule_add_array(ctx, r->action, nr, 1, &r->args[i]);
            if (rc < 0)
                goto fail;
        }
        return 0;
    }
    rc = seccomp_rule_add_array(ctx, r->action, nr, (unsigned)r->n_args, r->n_args ? r->args : NULL);
    if (rc >= 0)
        return 0;
fail:
    return error_sys(err, -rc, "%s: adding the rule for syscall \"%s\"", r->path, name);
}

/* Export the BPF program (malloc'd). */
static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **out, unsigned short *len, struct error **err)
{
    _cleanup_close_ int fd = memfd_create("krunc-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return error_sys(err, errno, "memfd_create");
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0)
        return error_sys(err, -rc, "linux.seccomp: exporting the BPF program");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_sys(err, errno, "fstat");
    size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
    if (n == 0 || n > BPF_MAXINSNS)
        return error_set(err, E2BIG, "linux.seccomp: the compiled filter has %zu instructions (the kernel takes 1..%d)", n,
                         BPF_MAXINSNS);
    size_t want = n * sizeof(struct sock_filter), got = 0;
    _cleanup_free_ struct sock_filter *prog = malloc(want);
    if (!prog)
        return error_set(err, ENOMEM, "out of memory");
    while (got < want) {
        ssize_t m = pread(fd, (char *)prog + got, want - got, (off_t)got);
        if (m < 0 && errno == EINTR)
            continue;
        if (m <= 0)
            return error_sys(err, m < 0 ? errno : EIO, "reading back the BPF program");
        got += (size_t)m;
    }
    *out = TAKE_PTR(prog);
    *len = (unsigned short)n;
    return 0;
}

static void ctx_releasep(scmp_filter_ctx *c) { if (*c) seccomp_release(*c); }

int seccomp_profile_parse(struct spec *spec, json_t *seccomp, const char *path, struct seccomp_profile **out,
                          struct error **err)
{
    *out = NULL;
    if (!json_is_object(seccomp))
        return error_set(err, EINVAL, "%s: expected an object", path);
    struct seccomp_profile *p = spec_alloc(spec, sizeof(*p));
    TRY(parse_action(seccomp, path, "defaultAction", "defaultErrnoRet", &p->default_action, err));
    if (p->default_action == SCMP_ACT_NOTIFY)
        return error_set(err, EINVAL, "%s.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (the runtime's "
                         "own syscalls after loading the filter would wait on the listener)", path);

    const char **arch_names;
    size_t n_arch;
    TRY(json_get_strv(spec, seccomp, path, "architectures", &arch_names, &n_arch, err));
    uint32_t *arch_tokens = spec_alloc(spec, (n_arch + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n_arch; i++) {
        bool found = false;
        for (size_t j = 0; j < ARRAY_LEN(arches); j++)
            if (strcmp(arches[j].name, arch_names[i]) == 0) {
                arch_tokens[i] = arches[j].arch;
                found = true;
            }
        if (!found)
            return error_set(err, EINVAL, "%s.architectures[%zu]: unknown architecture \"%s\"", path, i, arch_names[i]);
    }

    const char **flags;
    size_t n_flags;
    TRY(json_get_strv(spec, seccomp, path, "flags", &flags, &n_flags, err));
    for (size_t i = 0; i < n_flags; i++) {
        unsigned long f = 0;
        for (size_t j = 0; j < ARRAY_LEN(flag_names); j++)
            if (strcmp(flag_names[j].name, flags[i]) == 0)
                f = flag_names[j].flag;
        if (!f)
            return error_set(err, EINVAL, "%s.flags[%zu]: unknown seccomp flag \"%s\"", path, i, flags[i]);
        if (!kernel_has_flag(f))
            return error_set(err, ENOTSUP, "%s.flags[%zu]: %s is not supported by the running kernel", path, i, flags[i]);
        p->flags |= f;
    }

    TRY(json_get_string(seccomp, path, "listenerPath", false, &p->listener_path, err));
    TRY(json_get_string(seccomp, path, "listenerMetadata", false, &p->listener_metadata, err));
    if (p->listener_path && !*p->listener_path)
        p->listener_path = NULL;
    if (p->listener_metadata && *p->listener_metadata && !p->listener_path)
        return error_set(err, EINVAL, "%s.listenerMetadata: set without listenerPath", path);
    if (p->listener_path && p->listener_path[0] != '/')
        return error_set(err, EINVAL, "%s.listenerPath: \"%s\" is not an absolute path", path, p->listener_path);

    json_t *syscalls;
    TRY(json_get_typed(seccomp, path, "syscalls", JSON_ARRAY, &syscalls, err));
    size_t n_rules = syscalls ? json_array_size(syscalls) : 0;
    struct rule *rules = spec_alloc(spec, (n_rules + 1) * sizeof(*rules));
    size_t n_syscalls = 0;
    for (size_t i = 0; i < n_rules; i++) {
        _cleanup_free_ char *rp = NULL;
        if (asprintf(&rp, "%s.syscalls[%zu]", path, i) < 0)
            return error_set(err, ENOMEM, "out of memory");
        TRY(parse_rule(spec, json_array_get(syscalls, i), spec_strdup(spec, rp), &rules[i], err));
        n_syscalls += rules[i].n_names;
        if (rules[i].action != SCMP_ACT_NOTIFY)
            continue;
        p->uses_notify = true;
        for (size_t j = 0; j < rules[i].n_names; j++)
            if (strcmp(rules[i].names[j], "sendmsg") == 0)
                return error_set(err, EINVAL, "%s.names[%zu]: SCMP_ACT_NOTIFY cannot be used for sendmsg: the notify "
                                 "fd is sent to the listener with it after the filter is loaded", rp, j);
    }
    if (p->uses_notify) {
        if (!p->listener_path)
            return error_set(err, EINVAL, "%s.listenerPath: required when a rule uses SCMP_ACT_NOTIFY", path);
        if (seccomp_api_get() < 5)
            return error_set(err, ENOTSUP, "%s: SCMP_ACT_NOTIFY needs libseccomp >= 2.5 and Linux >= 5.0 (API level 5)",
                             path);
    } else if (p->flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) {
        log_debug("%s.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only applies with SCMP_ACT_NOTIFY; ignored", path);
        p->flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    }

    p->spec = spec;
    p->path = path;
    p->arch_names = arch_names;
    p->arch_tokens = arch_tokens;
    p->n_arch = n_arch;
    p->rules = rules;
    p->n_rules = n_rules;
    p->n_syscalls = n_syscalls;
    *out = p;
    return 0;
}

#define X32_SYSCALL_BIT 0x40000000u

/* The largest syscall number the profile names on arch, or -1. */
static int profile_max_nr(const struct seccomp_profile *p, uint32_t arch)
{
    int max = -1;
    for (size_t i = 0; i < p->n_rules; i++)
        for (size_t j = 0; j < p->rules[i].n_names; j++) {
            int nr = seccomp_syscall_resolve_name_arch(arch, p->rules[i].names[j]);
            if (nr > max)
                max = nr;
        }
    return max;
}

/* Syscalls newer than the profile get ENOSYS, not the default action: a profile
 * cannot name what did not exist when it was written, and glibc falls back to an
 * older syscall (clone3 to clone, fchmodat2 to fchmodat) only on ENOSYS. As in
 * runc, a stub before libseccomp's program returns ERRNO(ENOSYS), on each of the
 * filter's architectures, for a number above the largest the profile names there.
 * Not when the default action lets syscalls through anyway. x32 calls (x86_64
 * with X32_SYSCALL_BIT set) go to the program as they are. */
static int prepend_enosys_stub(const struct seccomp_profile *p, struct sock_filter **bpf, unsigned short *len,
                               struct error **err)
{
    if (p->default_action == SCMP_ACT_ALLOW || p->default_action == SCMP_ACT_LOG)
        return 0;
    struct { uint32_t arch; int max; } blocks[ARRAY_LEN(arches) + 1];
    size_t n = 0, stub_len = 3;     /* load the arch; past the blocks: jump to the program; return ENOSYS */
    for (size_t i = 0; i <= p->n_arch; i++) {
        uint32_t arch = i < p->n_arch ? p->arch_tokens[i] : seccomp_arch_native();
        bool seen = arch == SCMP_ARCH_X32;
        for (size_t j = 0; j < n && !seen; j++)
            seen = blocks[j].arch == arch;
        int max = seen ? -1 : profile_max_nr(p, arch);
        if (max < 0)
            continue;
        blocks[n++] = (typeof(blocks[0])){ arch, max };
        stub_len += arch == SCMP_ARCH_X86_64 ? 4 : 3;
    }
    if (n == 0)
        return 0;
    size_t total = stub_len + *len;
    if (total > BPF_MAXINSNS)
        return error_set(err, E2BIG, "linux.seccomp: the compiled filter has %zu instructions (the kernel takes "
                         "1..%d)", total, BPF_MAXINSNS);
    _cleanup_free_ struct sock_filter *out = malloc(total * sizeof(*out));
    if (!out)
        return error_set(err, ENOMEM, "out of memory");
    const size_t enosys = stub_len - 1, program = stub_len;
    /* a jump's offset counts from the instruction after it */
#define TO(target) ((uint8_t)((target) - (pc + 1)))
    size_t pc = 0;
    out[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    for (size_t i = 0; i < n; i++) {
        size_t size = blocks[i].arch == SCMP_ARCH_X86_64 ? 4 : 3;
        out[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, blocks[i].arch, 0, (uint8_t)(size - 1));
        pc++;
        out[pc++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        if (blocks[i].arch == SCMP_ARCH_X86_64) {
            out[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, TO(program), 0);
            pc++;
        }
        out[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)blocks[i].max, TO(enosys),
                                               TO(program));
        pc++;
    }
    out[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, (uint32_t)(program - (pc + 1)), 0, 0);
    pc++;
    out[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
#undef TO
    memcpy(out + pc, *bpf, *len * sizeof(**bpf));
    free(*bpf);
    *bpf = TAKE_PTR(out);
    *len = (unsigned short)total;
    return 0;
}

/* libseccomp builds the program: rules, architectures, optimization. */
static int compile(const struct seccomp_profile *p, struct sock_filter **bpf, unsigned short *len, struct error **err)
{
    const char *path = p->path;
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(p->default_action);
    if (!ctx)
        return error_set(err, EINVAL, "%s: libseccomp refused default action 0x%x", path, p->default_action);
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);     /* no_new_privs is process.noNewPrivileges' business */
    if (rc < 0)
        return error_sys(err, -rc, "%s: seccomp_attr_set(CTL_NNP)", path);
    for (size_t i = 0; i < p->n_arch; i++) {
        rc = seccomp_arch_add(ctx, p->arch_tokens[i]);
        if (rc < 0 && rc != -EEXIST)
            return error_sys(err, -rc, "%s.architectures[%zu]: adding \"%s\"", path, i, p->arch_names[i]);
    }
    /* the binary tree is worth it for long lists; libseccomp <= 2.5.4 misbehaves with it on empty ones */
    if (p->n_syscalls > 32 && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0)
        log_debug("%s: libseccomp binary tree optimization not available", path);
    for (size_t i = 0; i < p->n_rules; i++) {
        const struct rule *r = &p->rules[i];
        if (r->action == p->default_action) {
            log_debug("%s: same action as defaultAction; skipped", r->path);
            continue;
        }
        for (size_t j = 0; j < r->n_names; j++) {
            int nr = seccomp_syscall_resolve_name(r->names[j]);
            if (nr == __NR_SCMP_ERROR) {
                log_debug("%s.names[%zu]: unknown syscall \"%s\" skipped", r->path, j, r->names[j]);
                continue;
            }
            TRY(add_rule(ctx, r, j, nr, err));
        }
    }
    TRY(export_bpf(ctx, bpf, len, err));
    return prepend_enosys_stub(p, bpf, len, err);
}

int seccomp_profile_compile(struct seccomp_profile *profile, struct error **err)
{
    if (!profile || profile->bpf)
        return 0;
    _cleanup_free_ struct sock_filter *bpf = NULL;
    unsigned short len = 0;
    TRY(compile(profile, &bpf, &len, err));
    profile->bpf = spec_alloc(profile->spec, len * sizeof(*bpf));
    memcpy(profile->bpf, bpf, len * sizeof(*bpf));
    profile->bpf_len = len;
    return 0;
}

/* ---- in the container init ---- */

bool seccomp_profile_load_early(const struct seccomp_profile *profile, bool no_new_privileges)
{
    return profile && !no_new_privileges;
}

bool seccomp_profile_uses_notify(const struct seccomp_profile *profile)
{
    return profile && profile->uses_notify;
}

int seccomp_listener_connect(const struct seccomp_profile *profile, int *fd, struct error **err)
{
    *fd = -1;
    if (!profile || !profile->uses_notify)
        return 0;
    int r = unix_connect(profile->listener_path, fd, err);
    if (r < 0)
        return error_prefix(err, "linux.seccomp.listenerPath");
    return 0;
}

/* The container process state of the OCI spec, sent with the notify fd. */
static char *process_state_message(const struct seccomp_profile *profile, const char *state_json)
{
    json_t *state = NULL;
    if (state_json) {
        state = json_loads(state_json, 0, NULL);
        if (state && !json_is_object(state)) {
            json_decref(state);
            state = NULL;
        }
    }
    if (!state)
        state = json_object();
    json_t *ver = json_object_get(state, "ociVersion");
    json_t *pid = json_object_get(state, "pid");
    _cleanup_json_ json_t *msg = json_pack("{s:s, s:[s], s:I}", "ociVersion",
                                           json_is_string(ver) ? json_string_value(ver) : "1.2.0", "fds", "seccompFd",
                                           "pid", json_is_integer(pid) ? json_integer_value(pid) : (json_int_t)getpid());
    if (!msg) {
        json_decref(state);
        return NULL;
    }
    if (profile->listener_metadata && *profile->listener_metadata)
        json_object_set_new(msg, "metadata", json_string(profile->listener_metadata));
    json_object_set_new(msg, "state", state);
    return json_dumps(msg, JSON_COMPACT);
}

int seccomp_profile_apply(const struct seccomp_profile *profile, int listener_fd, const char *state_json,
                          struct error **err)
{
    if (!profile)
        return 0;
    unsigned long flags = profile->flags;
    /* built before the filter exists, so that no allocation has to pass it */
    _cleanup_free_ char *msg = NULL;
    if (profile->uses_notify) {
        if (listener_fd < 0)
            return error_set(err, EBADF, "linux.seccomp: SCMP_ACT_NOTIFY without a connection to listenerPath");
        msg = process_state_message(profile, state_json);
        if (!msg)
            return error_set(err, ENOMEM, "out of memory");
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if (flags & SECCOMP_FILTER_FLAG_TSYNC)
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }
    _cleanup_free_ struct sock_filter *own = NULL;
    struct sock_fprog prog = { .len = profile->bpf_len, .filter = profile->bpf };
    if (!prog.filter) {
        TRY(compile(profile, &own, &prog.len, err));
        prog.filter = own;
    }
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (r < 0) {
        int e = errno;
        if (e == EACCES)
            return error_sys(err, e, "loading the seccomp filter (without noNewPrivileges it must be loaded while "
                             "CAP_SYS_ADMIN is held)");
        return error_sys(err, e, "loading the seccomp filter");
    }
    if (!profile->uses_notify)
        return 0;
    _cleanup_close_ int notify_fd = (int)r;
    int rc = unix_send_fd(listener_fd, msg, strlen(msg), notify_fd, err);
    if (rc < 0)
        return error_prefix(err, "sending the seccomp notify fd to \"%s\"", profile->listener_path);
    /* one state per connection, then it is closed (the fd itself is the caller's) */
    shutdown(listener_fd, SHUT_RDWR);
    return 0;
}
