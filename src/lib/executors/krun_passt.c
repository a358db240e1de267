/* krun.use_passt: the VM gets a virtio-net device whose other end is passt,
 * running in the container's network namespace.
 *
 * passt is a host binary, but the container's network namespace exists only
 * once the init is cloned, and the init runs libkrun after pivot_root, where
 * host paths no longer resolve. So pre_exec forks a helper on the host that
 * waits; the init (in its namespaces) sends its pid with SCM_CREDENTIALS, the
 * kernel translates it to a host pid, and the helper joins that process's
 * network namespace and execs passt on one end of a socket pair whose other
 * end the VMM keeps. If the init never asks (creation failed), its end of
 * the control socket closes and the helper exits. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cleanup.h"
#include "krun.h"

static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    while (*path) {
        const char *end = strchrnul(path, ':');
        int n = (int)(end - path);
        char *candidate = NULL;
        if (n > 0 && path[0] == '/' && asprintf(&candidate, "%.*s/%s", n, path, name) >= 0) {
            if (access(candidate, X_OK) == 0)
                return candidate;
            free(candidate);
        }
        path = *end ? end + 1 : end;
    }
    return NULL;
}

static void helper_fail(int ctl, const char *what, int e)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "passt: %s: %s", what, strerror(e));
    if (n > 0)
        send(ctl, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1, MSG_NOSIGNAL);
    _exit(1);
}

static void __attribute__((noreturn)) helper_main(const char *passt, int net, int ctl)
{
    setsid();
    /* Keep nothing of the runtime's: a caller waiting for EOF on a pipe it
     * gave krunc must not wait for this helper. passt gets its end of the
     * socket as fd 3; the control socket is 4 and closes on exec. */
    int hn = fcntl(net, F_DUPFD_CLOEXEC, 10), hc = fcntl(ctl, F_DUPFD_CLOEXEC, 10);
    if (hn < 0 || hc < 0 || dup2(hn, 3) < 0 || dup3(hc, 4, O_CLOEXEC) < 0)
        _exit(1);
    syscall(SYS_close_range, 5, ~0U, 0);
    ctl = 4;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 4)
            close(null);
    }
    /* wait for the init to be in its namespaces, or for it to be gone */
    char byte;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } c;
    struct iovec iov = { &byte, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
    ssize_t got;
    do
        got = recvmsg(ctl, &m, 0);
    while (got < 0 && errno == EINTR);
    struct cmsghdr *cm = got == 1 ? CMSG_FIRSTHDR(&m) : NULL;
    if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_CREDENTIALS)
        _exit(0);
    /* the kernel fills in the sender's real pid, as seen from here */
    struct ucred cred;
    memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
    int pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
    if (pidfd < 0)
        helper_fail(ctl, "find the container init", errno);
    if (setns(pidfd, CLONE_NEWNET) < 0)
        helper_fail(ctl, "join the container's network namespace", errno);
    close(pidfd);
    const char *argv[] = { "passt", "-t", "all", "-u", "all", "--no-dhcp-dns", "--no-map-gw", "--fd", "3", NULL };
    execv(passt, (char *const *)argv);
    helper_fail(ctl, passt, errno);
    _exit(1);
}

int krun_passt_prepare(struct krun_passt *p, struct error **err)
{
    *p = (struct krun_passt){ .vm_fd = -1, .ctl_fd = -1 };
    _cleanup_free_ char *passt = find_in_path("passt");
    if (!passt)
        return error_set(err, ENOENT, "annotations.\"%s\": passt is not installed (not found in $PATH)", KRUN_ANN_PASST);
    int net[2], ctl[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, net) < 0)
        return error_sys(err, errno, "%s: socketpair", KRUN_ANN_PASST);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        int e = errno;
        close(net[0]);
        close(net[1]);
        return error_sys(err, e, "%s: socketpair", KRUN_ANN_PASST);
    }
    int one = 1;
    setsockopt(ctl[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    /* twice, so the helper is nobody's child once the runtime exits */
    pid_t pid = fork();
    if (pid == 0) {
        close(net[0]);
        close(ctl[0]);
        if (fork() == 0)
            helper_main(passt, net[1], ctl[1]);
        _exit(0);
    }
    int e = errno;
    close(net[1]);
    close(ctl[1]);
    if (pid < 0) {
        close(net[0]);
        close(ctl[0]);
        return error_sys(err, e, "%s: fork the passt helper", KRUN_ANN_PASST);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    p->vm_fd = net[0];
    p->ctl_fd = ctl[0];
    return 0;
}

int krun_passt_start(struct krun_passt *p, struct error **err)
{
    struct ucred cred = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } c;
    memset(&c, 0, sizeof(c));
    char byte = 'g';
    struct iovec iov = { &byte, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof(cred));
    memcpy(CMSG_DATA(cm), &cred, sizeof(cred));
    ssize_t n;
    do
        n = sendmsg(p->ctl_fd, &m, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return error_sys(err, errno, "%s: the passt helper is gone", KRUN_ANN_PASST);
    /* EOF: passt was exec'd; a message: what went wrong */
    char msg[256];
    do
        n = recv(p->ctl_fd, msg, sizeof(msg) - 1, 0);
    while (n < 0 && errno == EINTR);
    close(p->ctl_fd);
    p->ctl_fd = -1;
    if (n > 0) {
        msg[n] = '\0';
        return error_set(err, EIO, "%s: %s", KRUN_ANN_PASST, msg);
    }
    return 0;
}

void krun_passt_close(struct krun_passt *p)
{
    if (p->vm_fd >= 0)
        close(p->vm_fd);
    if (p->ctl_fd >= 0)
        close(p->ctl_fd);
    p->vm_fd = p->ctl_fd = -1;
}
