#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "executor.h"
#include "hooks.h"
#include "log.h"
#include "namespaces.h"
#include "process.h"
#include "rootfs.h"
#include "seccomp.h"
#include "security.h"
#include "spec.h"
#include "state.h"
#include "terminal.h"
#include "util.h"

#define SYNC_MAX (1 << 16)

struct sync_hdr {
    uint32_t type;
    uint32_t len;
};

int sync_send(int fd, enum sync_type type, const char *payload)
{
    size_t len = payload ? strlen(payload) : 0;
    if (len > SYNC_MAX - sizeof(struct sync_hdr))
        len = SYNC_MAX - sizeof(struct sync_hdr);
    struct sync_hdr h = { .type = type, .len = (uint32_t)len };
    struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
    ssize_t n;
    do
        n = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

int sync_recv(int fd, char **payload)
{
    _cleanup_free_ char *buf = malloc(SYNC_MAX + 1);
    if (!buf)
        return -ENOMEM;
    ssize_t n;
    do
        n = recv(fd, buf, SYNC_MAX, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0;
    if ((size_t)n < sizeof(struct sync_hdr))
        return -EPROTO;
    struct sync_hdr h;
    memcpy(&h, buf, sizeof(h));
    if (h.len != (size_t)n - sizeof(h))
        return -EPROTO;
    if (payload) {
        *payload = NULL;
        if (h.len) {
            memmove(buf, buf + sizeof(h), h.len);
            buf[h.len] = '\0';
            *payload = TAKE_PTR(buf);
        }
    }
    return (int)h.type;
}

static pid_t clone3_fork(uint64_t flags)
{
    struct clone_args ca = { .flags = flags, .exit_signal = SIGCHLD };
    return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/* ---- the container's init ---- */

static void reset_signals(void)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
}

static char *state_with_status(json_t *state, const char *status)
{
    json_object_set_new(state, "status", json_string(status));
    return json_dumps(state, JSON_COMPACT);
}

/* Everything up to the wait on the exec fifo. Errors go back to the runtime. */
static int init_setup(const struct spawn_args *a, int sync_fd, json_t *state, int *listener_fd, struct error **err)
{
    const struct spec *spec = a->spec;
    int r;
    if (spec->linux.ns[NS_USER].enabled) {
        /* become root of the new or joined user namespace if root is mapped there */
        if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
            return error_sys(err, errno, "setresgid(0) in the user namespace");
        if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
            return error_sys(err, errno, "setresuid(0) in the user namespace");
    }
    /* a session keyring of its own, so the container cannot see the host's keys */
    if (!a->no_new_keyring && syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0 && errno != ENOSYS)
        return error_sys(err, errno, "join a new session keyring");
    if (spec->linux.ns[NS_CGROUP].enabled && !spec->linux.ns[NS_CGROUP].path && unshare(CLONE_NEWCGROUP) < 0)
        return error_sys(err, errno, "linux.namespaces: new cgroup namespace");
    if ((r = seccomp_listener_connect(spec->linux.seccomp, listener_fd, err)) < 0)
        return r;
    if ((r = rootfs_prepare(spec, err)) < 0)
        return r;
    if (spec->hooks[HOOK_PRESTART].n || spec->hooks[HOOK_CREATE_RUNTIME].n) {
        if ((r = sync_send(sync_fd, SYNC_HOOKS, NULL)) < 0)
            return error_sys(err, -r, "sync with the runtime");
        _cleanup_free_ char *payload = NULL;
        int t = sync_recv(sync_fd, &payload);
        if (t != SYNC_HOOKS_DONE)
            return error_set(err, EPIPE, "%s", t == SYNC_ERROR && payload ? payload : "the runtime went away");
    }
    if (spec->hooks[HOOK_CREATE_CONTAINER].n) {
        _cleanup_free_ char *s = state_with_status(state, "creating");
        if ((r = hooks_run(spec, HOOK_CREATE_CONTAINER, s, err)) < 0)
            return r;
    }
    if ((r = rootfs_pivot(spec, a->no_pivot, err)) < 0)
        return r;
    if ((r = process_set_uts_and_sysctl(spec, err)) < 0)
        return r;
    if ((r = process_make_cwd(&spec->process, err)) < 0 ||
        (r = rootfs_finalize(spec, err)) < 0)
        return r;
    if (spec->process.terminal) {
        if ((r = terminal_setup_in_container(spec, a->console_fd, err)) < 0)
            return r;
    }
    if (a->console_fd >= 0)
        close(a->console_fd);
    if ((r = process_set_rlimits(&spec->process, err)) < 0 ||
        (r = process_set_oom_score_adj(&spec->process, err)) < 0 ||
        (r = process_security_prepare(spec->process.security, err)) < 0)
        return r;
    if (seccomp_profile_load_early(spec->linux.seccomp, spec->process.no_new_privileges)) {
        /* without no_new_privs, loading needs CAP_SYS_ADMIN: before the uid switch, as runc does */
        _cleanup_free_ char *s = state_with_status(state, "creating");
        if ((r = seccomp_profile_apply(spec->linux.seccomp, *listener_fd, s, err)) < 0)
            return r;
    }
    if ((r = process_switch_user(&spec->process.user, err)) < 0 ||
        (r = process_enter_cwd(&spec->process, err)) < 0 ||
        (r = process_security_apply(spec->process.security, spec->process.no_new_privileges, err)) < 0)
        return r;
    if (a->executor->check && (r = a->executor->check(a->exec_ctx, spec, err)) < 0)
        return r;
    return process_cloexec_from(3 + a->preserve_fds, err);
}

static void __attribute__((noreturn)) init_main(const struct spawn_args *a, int sync_fd)
{
    _cleanup_error_ struct error *err = NULL;
    _cleanup_free_ char *running = NULL;
    if (a->lockfd >= 0)
        close(a->lockfd);   /* the lock belongs to the runtime process */
    reset_signals();

    _cleanup_free_ char *go = NULL;
    int t = sync_recv(sync_fd, &go);
    if (t != SYNC_GO)
        _exit(1);   /* the runtime failed and will clean up */
    json_t *state = json_loads(go ? go : "{}", 0, NULL);
    if (!state)
        state = json_object();

    int listener_fd = -1;
    if (init_setup(a, sync_fd, state, &listener_fd, &err) < 0) {
        sync_send(sync_fd, SYNC_ERROR, err->msg);
        _exit(1);
    }
    if (sync_send(sync_fd, SYNC_READY, NULL) < 0)
        _exit(1);
    close(sync_fd);

    /* blocks until `krunc start` opens the other end */
    int fifo = openat(a->state_dirfd, EXEC_FIFO, O_WRONLY | O_CLOEXEC);
    if (fifo < 0) {
        dprintf(STDERR_FILENO, "krunc: open exec fifo: %s\n", strerror(errno));
        _exit(1);
    }
    close(a->state_dirfd);

    const struct spec *spec = a->spec;
    if (spec->hooks[HOOK_START_CONTAINER].n) {
        _cleanup_free_ char *s = state_with_status(state, "created");
        if (hooks_run(spec, HOOK_START_CONTAINER, s, &err) < 0)
            goto fail;
    }
    running = state_with_status(state, "running");
    json_decref(state);
    if (!seccomp_profile_load_early(spec->linux.seccomp, spec->process.no_new_privileges) &&
        seccomp_profile_apply(spec->linux.seccomp, listener_fd, running, &err) < 0)
        goto fail;
    /* '0' tells `start` all went well; it then waits for the fifo to close,
     * which execve does (O_CLOEXEC), so poststart hooks run after the exec.
     * An executor that does not replace the image closes it itself. */
    if (write(fifo, "0", 1) != 1)
        _exit(1);
    if (!a->executor->replaces_image)
        close(fifo);
    environ = (char **)spec->process.env;
    a->executor->exec(a->exec_ctx, spec, &err);
    dprintf(STDERR_FILENO, "krunc: %s\n", err ? err->msg : "exec failed");
    _exit(err && err->code == ENOENT ? 127 : 126);
fail:
    /* '1' and the message: `start` fails with it */
    if (write(fifo, "1", 1) == 1 && err)
        write_all(fifo, err->msg, strlen(err->msg));
    _exit(1);
}

/* ---- the runtime side ---- */

static void __attribute__((noreturn)) intermediate_main(const struct spawn_args *a, int sync_fd, uint64_t flags)
{
    _cleanup_error_ struct error *err = NULL;
    const struct spec *spec = a->spec;
    if (ns_join_all(spec, &err) < 0)
        goto fail;
    if (flags & CLONE_NEWTIME) {
        /* the offsets can only be written before any process is in the namespace */
        if (unshare(CLONE_NEWTIME) < 0) {
            error_sys(&err, errno, "linux.namespaces: new time namespace");
            goto fail;
        }
        if (ns_write_time_offsets(spec, &err) < 0)
            goto fail;
        flags &= ~(uint64_t)CLONE_NEWTIME;
    }
    pid_t pid = clone3_fork(flags);
    if (pid < 0) {
        error_sys(&err, errno, "clone the container init");
        goto fail;
    }
    if (pid == 0)
        init_main(a, sync_fd);
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    _exit(sync_send(sync_fd, SYNC_PID, buf) < 0 ? 1 : 0);
fail:
    sync_send(sync_fd, SYNC_ERROR, err->msg);
    _exit(1);
}

int spawn_init(const struct spawn_args *a, pid_t *pid_out, int *sync_fd, struct error **err)
{
    const struct spec *spec = a->spec;
    if (!spec->linux.ns[NS_MNT].enabled)
        return error_set(err, EINVAL, "linux.namespaces: a mount namespace is required");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return error_sys(err, errno, "socketpair");
    /* the cgroup namespace is made by the init once it is in its cgroup */
    uint64_t flags = (uint64_t)(ns_new_flags(spec) & ~CLONE_NEWCGROUP);
    bool intermediate = ns_any_joined(spec) || spec->linux.time_monotonic.set || spec->linux.time_boottime.set;

    pid_t pid = clone3_fork(intermediate ? 0 : flags);
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return error_sys(err, e, "clone the container %s", intermediate ? "intermediate process" : "init");
    }
    if (pid == 0) {
        close(sv[0]);
        process_hide_image(spec);
        if (intermediate)
            intermediate_main(a, sv[1], flags);
        init_main(a, sv[1]);
    }
    close(sv[1]);
    if (intermediate) {
        _cleanup_free_ char *payload = NULL;
        int t = sync_recv(sv[0], &payload);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (t != SYNC_PID || !payload) {
            close(sv[0]);
            return error_set(err, EIO, "%s", t == SYNC_ERROR && payload ? payload : "the intermediate process failed");
        }
        pid = (pid_t)atoi(payload);
    }
    *pid_out = pid;
    *sync_fd = sv[0];
    return 0;
}

/* ---- waiting in the foreground ---- */

void foreground_begin(sigset_t *mask, sigset_t *old)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    sigfillset(mask);
    /* faults stay ours */
    sigdelset(mask, SIGSEGV);
    sigdelset(mask, SIGBUS);
    sigdelset(mask, SIGILL);
    sigdelset(mask, SIGFPE);
    sigprocmask(SIG_BLOCK, mask, old);
}

static int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

int foreground_wait(pid_t pid, const sigset_t *mask, int *exit_status, struct error **err)
{
    _cleanup_close_ int sfd = signalfd(-1, mask, SFD_CLOEXEC);
    if (sfd < 0)
        return error_sys(err, errno, "signalfd");
    for (;;) {
        int status;
        pid_t p;
        while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
            if (p == pid) {
                *exit_status = exit_code_of(status);
                return 0;
            }
        }
        if (p < 0 && errno == ECHILD)
            return error_set(err, ECHILD, "lost track of process %d", (int)pid);
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) != sizeof(si))
            continue;
        if (si.ssi_signo != SIGCHLD)
            kill(pid, (int)si.ssi_signo);
    }
}
