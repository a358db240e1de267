/* The v2 device controller is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the
 * cgroup. It is written here instruction by instruction: a handful of compares per rule. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "../cleanup.h"
#include "internal.h"

/* The program sees struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
 * where access_type is (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*. It returns 1 to allow.
 * CG_ACC_MKNOD/READ/WRITE have the values of BPF_DEVCG_ACC_MKNOD/READ/WRITE. */
_Static_assert((int)CG_ACC_MKNOD == (int)BPF_DEVCG_ACC_MKNOD && (int)CG_ACC_READ == (int)BPF_DEVCG_ACC_READ &&
               (int)CG_ACC_WRITE == (int)BPF_DEVCG_ACC_WRITE, "access bits");

enum { R0 = 0, R1, R2, R3, R4, R5 };

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    struct bpf_insn i;
    memset(&i, 0, sizeof(i));
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define ALU32_IMM(op, dst, imm) insn(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm) insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JMP_IMM(op, dst, imm, off) insn(BPF_JMP | (op) | BPF_K, dst, 0, off, imm)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The last rule that matches decides, as the rules read in order would on v1: so the rules
 * are tested from the last to the first, and the first match returns. An allow rule matches
 * when it grants every access asked for; a deny rule when it takes away any of them. Nothing
 * matching: denied. */
static int build(const struct cg_device_rule *rules, size_t n, struct bpf_insn **out, size_t *count)
{
    size_t cap = 8 + n * 8, k = 0;
    struct bpf_insn *p = calloc(cap, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p[k++] = LDX_W(R2, R1, 0);                      /* access_type */
    p[k++] = MOV32_REG(R3, R2);
    p[k++] = ALU32_IMM(BPF_AND, R2, 0xffff);        /* r2: device type */
    p[k++] = ALU32_IMM(BPF_RSH, R3, 16);            /* r3: access asked */
    p[k++] = LDX_W(R4, R1, 4);                      /* r4: major */
    p[k++] = LDX_W(R5, R1, 8);                      /* r5: minor */
    bool ended = false;
    for (size_t i = n; i-- > 0 && !ended;) {
        const struct cg_device_rule *r = &rules[i];
        bool check_type = r->type != 'a';
        bool check_access = (r->access & CG_ACC_ALL) != CG_ACC_ALL;
        bool check_major = r->type != 'a' && r->major >= 0;
        bool check_minor = r->type != 'a' && r->minor >= 0;
        /* the instructions of this block after each test, to jump over */
        int16_t len = (int16_t)(check_type + 3 * check_access + check_major + check_minor + 2);
        int16_t done = 0;
        if (check_type) {
            done++;
            p[k++] = JMP_IMM(BPF_JNE, R2, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, len - done);
        }
        if (check_access) {
            p[k++] = MOV32_REG(R1, R3);
            if (r->allow) {
                /* asked & ~granted != 0: not this rule */
                p[k++] = ALU32_IMM(BPF_AND, R1, (int32_t)(~r->access & CG_ACC_ALL));
                done += 3;
                p[k++] = JMP_IMM(BPF_JNE, R1, 0, len - done);
            } else {
                /* asked & denied == 0: not this rule */
                p[k++] = ALU32_IMM(BPF_AND, R1, (int32_t)r->access);
                done += 3;
                p[k++] = JMP_IMM(BPF_JEQ, R1, 0, len - done);
            }
        }
        if (check_major) {
            done++;
            p[k++] = JMP_IMM(BPF_JNE, R4, (int32_t)r->major, len - done);
        }
        if (check_minor) {
            done++;
            p[k++] = JMP_IMM(BPF_JNE, R5, (int32_t)r->minor, len - done);
        }
        p[k++] = MOV64_IMM(R0, r->allow ? 1 : 0);
        p[k++] = EXIT();
        /* a rule for every device and every access always matches: nothing before it counts */
        ended = r->type == 'a' && !check_access;
    }
    if (!ended) {
        p[k++] = MOV64_IMM(R0, 0);
        p[k++] = EXIT();
    }
    *out = p;
    *count = k;
    return 0;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int cg_bpf_devices_load(const struct cg_device_rule *rules, size_t n, int *prog_fd, struct error **err)
{
    *prog_fd = -1;
    _cleanup_free_ struct bpf_insn *insns = NULL;
    size_t count = 0;
    if (build(rules, n, &insns, &count) < 0)
        return error_set(err, ENOMEM, "out of memory");
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = (uint32_t)count;
    attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
    long fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd < 0) {
        int e = errno;
        /* again with the verifier's log, to say why */
        size_t log_size = 65536;
        _cleanup_free_ char *log = calloc(1, log_size);
        if (log) {
            attr.log_level = 1;
            attr.log_buf = (uint64_t)(uintptr_t)log;
            attr.log_size = (uint32_t)log_size;
            long fd2 = sys_bpf(BPF_PROG_LOAD, &attr);
            if (fd2 >= 0)
                close((int)fd2);
        }
        return error_sys(err, e, "load the eBPF device program (%zu instructions)%s%s", count,
                         log && *log ? "; verifier: " : "", log ? log : "");
    }
    *prog_fd = (int)fd;
    return 0;
}

int cg_bpf_devices_attach(int cgroup_fd, int prog_fd, const char *dir, struct error **err)
{
    /* the programs attached before (an update replaces them) */
    uint32_t ids[64];
    union bpf_attr q;
    memset(&q, 0, sizeof(q));
    q.query.target_fd = (uint32_t)cgroup_fd;
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = (uint64_t)(uintptr_t)ids;
    q.query.prog_cnt = sizeof(ids) / sizeof(ids[0]);
    uint32_t old = 0;
    if (sys_bpf(BPF_PROG_QUERY, &q) == 0)
        old = q.query.prog_cnt;

    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)cgroup_fd;
    a.attach_bpf_fd = (uint32_t)prog_fd;
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
        return error_sys(err, errno, "attach the eBPF device program to %s", dir);

    for (uint32_t i = 0; i < old && i < sizeof(ids) / sizeof(ids[0]); i++) {
        union bpf_attr g;
        memset(&g, 0, sizeof(g));
        g.prog_id = ids[i];
        long ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
        if (ofd < 0)
            continue;
        union bpf_attr d;
        memset(&d, 0, sizeof(d));
        d.target_fd = (uint32_t)cgroup_fd;
        d.attach_bpf_fd = (uint32_t)ofd;
        d.attach_type = BPF_CGROUP_DEVICE;
        long r = sys_bpf(BPF_PROG_DETACH, &d);
        int e = errno;
        close((int)ofd);
        if (r < 0 && e != ENOENT)
            return error_sys(err, e, "detach the previous eBPF device program from %s", dir);
    }
    return 0;
}
