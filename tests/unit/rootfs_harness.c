/* Test driver for the rootfs module alone: reads BUNDLE/config.json, creates
 * the namespaces it lists (no joining), then runs rootfs_prepare,
 * rootfs_pivot and rootfs_finalize as the container init does and execs
 * process.args. Used by tests/integration/test_rootfs_module.py.
 *
 * rootfs-harness [--no-pivot] [--no-openat2] [--enosys SYSCALL]... [--cgroup NAME] BUNDLE
 *   --no-openat2      use the userspace walk instead of openat2
 *   --enosys SYSCALL  make SYSCALL fail with ENOSYS (seccomp), as on an older kernel
 *   --cgroup NAME     join NAME (relative to each hierarchy's root) first, as the
 *                     runtime moves the init into the container's cgroup
 * Exit status: the command's, or 125 when setting up failed (message on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounts.h"
#include "rootfs.h"
#include "spec.h"
#include "util.h"

#define SETUP_FAILED 125

static void die(const char *what, struct error *e)
{
    fprintf(stderr, "rootfs-harness: %s%s%s\n", what, e ? ": " : "", e ? e->msg : strerror(errno));
    exit(SETUP_FAILED);
}

static int wait_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid", NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void join_cgroup(const char *name)
{
    struct mountinfo *mi;
    size_t n;
    if (mountinfo_read(&mi, &n) < 0)
        die("read mountinfo", NULL);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", getpid());
    for (size_t i = 0; i < n; i++) {
        if (strncmp(mi[i].fstype, "cgroup", 6) != 0 || !path_is_under(mi[i].mountpoint, "/sys/fs/cgroup"))
            continue;
        _cleanup_free_ char *procs = NULL;
        if (asprintf(&procs, "%s/%s/cgroup.procs", mi[i].mountpoint, name) < 0)
            die("asprintf", NULL);
        if (access(procs, F_OK) == 0 && write_file(procs, pid, strlen(pid)) < 0)
            die(procs, NULL);
    }
    mountinfo_free(mi, n);
}

/* A one-rule seccomp filter: SYSCALL fails with ENOSYS, the rest is allowed. */
static void deny_syscall(const char *name)
{
    static const struct { const char *name; long nr; } known[] = {
        { "openat2", SYS_openat2 }, { "mount_setattr", SYS_mount_setattr }, { "open_tree", SYS_open_tree },
    };
    long nr = -1;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i].name, name) == 0)
            nr = known[i].nr;
    if (nr < 0) {
        fprintf(stderr, "rootfs-harness: --enosys knows openat2, mount_setattr, open_tree\n");
        exit(2);
    }
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        die("seccomp", NULL);
}

static void write_map(pid_t pid, const char *file, const struct spec_id_map *m, size_t n)
{
    _cleanup_free_ char *text = NULL, *path = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
    fclose(f);
    if (asprintf(&path, "/proc/%d/%s", pid, file) < 0 || write_file(path, text, len) < 0)
        die(file, NULL);
}

static void sync_read(int fd)
{
    char c;
    if (read(fd, &c, 1) != 1)
        exit(SETUP_FAILED);
}

static void sync_write(int fd)
{
    if (write(fd, "x", 1) != 1)
        die("sync", NULL);
}

static void container_init(struct spec *spec, bool no_pivot)
{
    struct error *e = NULL;
    if (rootfs_prepare(spec, &e) < 0)
        die("rootfs_prepare", e);
    if (rootfs_pivot(spec, no_pivot, &e) < 0)
        die("rootfs_pivot", e);
    if (rootfs_finalize(spec, &e) < 0)
        die("rootfs_finalize", e);
    if (spec->process.cwd && chdir(spec->process.cwd) < 0)
        die("chdir", NULL);
    environ = (char **)spec->process.env;
    execvp(spec->process.args[0], (char *const *)spec->process.args);
    die(spec->process.args[0], NULL);
}

int main(int argc, char **argv)
{
    bool no_pivot = false;
    const char *cgroup = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--no-pivot") == 0)
            no_pivot = true;
        else if (strcmp(argv[i], "--no-openat2") == 0)
            inroot_no_openat2 = true;
        else if (strcmp(argv[i], "--enosys") == 0 && i + 1 < argc)
            deny_syscall(argv[++i]);
        else if (strcmp(argv[i], "--cgroup") == 0 && i + 1 < argc)
            cgroup = argv[++i];
        else
            break;
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: rootfs-harness [--no-pivot] [--no-openat2] [--enosys SYSCALL]... [--cgroup NAME] BUNDLE\n");
        return 2;
    }
    struct error *e = NULL;
    struct spec *spec;
    if (spec_load(argv[i], &spec, &e) < 0)
        die("spec", e);
    for (int t = 0; t < NS__MAX; t++)
        if (spec->linux.ns[t].path) {
            fprintf(stderr, "rootfs-harness: joining namespaces is not supported\n");
            return 2;
        }
    if (cgroup)
        join_cgroup(cgroup);

    const struct spec_namespace *ns = spec->linux.ns;
    int flags = CLONE_NEWNS;
    for (int t = 0; t < NS__MAX; t++)
        if (ns[t].enabled && t != NS_USER && t != NS_PID && t != NS_MNT && t != NS_TIME)
            flags |= ns_clone_flag(t);

    int to_child[2], to_parent[2];
    if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(to_parent, O_CLOEXEC) < 0)
        die("pipe", NULL);
    pid_t child = fork();
    if (child < 0)
        die("fork", NULL);
    if (child == 0) {
        if (ns[NS_USER].enabled) {
            if (unshare(CLONE_NEWUSER) < 0)
                die("unshare user", NULL);
            sync_write(to_parent[1]);
            sync_read(to_child[0]);
        }
        if (unshare(flags) < 0)
            die("unshare", NULL);
        if (!ns[NS_PID].enabled)
            container_init(spec, no_pivot);
        if (unshare(CLONE_NEWPID) < 0)
            die("unshare pid", NULL);
        pid_t init = fork();
        if (init < 0)
            die("fork", NULL);
        if (init == 0)
            container_init(spec, no_pivot);
        exit(wait_status(init));
    }
    if (ns[NS_USER].enabled) {
        sync_read(to_parent[0]);
        write_map(child, "uid_map", spec->linux.uid_mappings, spec->linux.n_uid_mappings);
        write_map(child, "gid_map", spec->linux.gid_mappings, spec->linux.n_gid_mappings);
        sync_write(to_child[1]);
    }
    int status = wait_status(child);
    spec_free(spec);
    return status;
}
