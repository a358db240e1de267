#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "spec.h"
#include "unixsock.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* What runc puts in the message that carries the master; receivers such as
 * containerd's console socket use it as the file's name. */
#define CONSOLE_PAYLOAD "/dev/ptmx"

static int open_master(int *out, struct error **err)
{
    static const char *const paths[] = { "/dev/pts/ptmx", "/dev/ptmx" };
    int first_errno = 0;
    for (size_t i = 0; i < 2; i++) {
        int fd = open(paths[i], O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            *out = fd;
            return 0;
        }
        if (!first_errno)
            first_errno = errno;
    }
    return error_sys(err, first_errno, "process.terminal: open /dev/pts/ptmx (is devpts mounted on /dev/pts?)");
}

/* Bind the slave over /dev/console, creating the mount point when missing. */
static int mount_console(const char *slave_path, struct error **err)
{
    _cleanup_close_ int fd = open("/dev/console", O_RDONLY | O_CREAT | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != ENXIO && errno != ENODEV && errno != EACCES)
        return error_sys(err, errno, "process.terminal: create /dev/console");
    if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
        return error_sys(err, errno, "process.terminal: bind %s on /dev/console", slave_path);
    return 0;
}

static int setup_pty(const struct spec_process *proc, int console_fd, bool console, struct error **err)
{
    if (console_fd < 0)
        return error_set(err, EBADF, "process.terminal: no console socket to send the pty master to");
    _cleanup_close_ int master = -1;
    int r = open_master(&master, err);
    if (r < 0)
        return r;
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return error_sys(err, errno, "process.terminal: unlockpt");
    unsigned ptn;
    if (ioctl(master, TIOCGPTN, &ptn) < 0)
        return error_sys(err, errno, "process.terminal: ptsname");
    _cleanup_free_ char *slave_path = NULL;
    if (asprintf(&slave_path, "/dev/pts/%u", ptn) < 0)
        return error_set(err, ENOMEM, "out of memory");
    if (proc->has_console_size) {
        struct winsize ws = { .ws_row = (unsigned short)proc->console_height,
                              .ws_col = (unsigned short)proc->console_width };
        if (ioctl(master, TIOCSWINSZ, &ws) < 0)
            return error_sys(err, errno, "process.consoleSize: TIOCSWINSZ");
    }
    /* the peer of this very master, not whatever /dev/pts/N names right now */
    _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return error_sys(err, errno, "process.terminal: open %s", slave_path);
    if (fchown(slave, proc->user.uid, (gid_t)-1) < 0)
        return error_sys(err, errno, "process.terminal: chown %s to uid %u", slave_path, (unsigned)proc->user.uid);
    if (console && (r = mount_console(slave_path, err)) < 0)
        return r;

    if (setsid() < 0 && !(errno == EPERM && getsid(0) == getpid()))
        return error_sys(err, errno, "process.terminal: setsid");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return error_sys(err, errno, "process.terminal: make %s the controlling terminal", slave_path);
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            return error_sys(err, errno, "process.terminal: dup2 to fd %d", i);

    r = unix_send_fd(console_fd, CONSOLE_PAYLOAD, strlen(CONSOLE_PAYLOAD), master, err);
    if (r < 0)
        return error_prefix(err, "process.terminal: sending the pty master to the console socket");
    return 0;
}

int terminal_setup_in_container(const struct spec *spec, int console_fd, struct error **err)
{
    return setup_pty(&spec->process, console_fd, true, err);
}

int terminal_setup_exec(const struct spec_process *proc, int console_fd, struct error **err)
{
    return setup_pty(proc, console_fd, false, err);
}

/* ---- runtime side ---- */

int console_socket_connect(const char *path, int *fd, struct error **err)
{
    int r = unix_connect(path, fd, err);
    if (r < 0)
        return error_prefix(err, "--console-socket");
    return 0;
}

int console_socketpair(int *runtime_end, int *init_end, struct error **err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return error_sys(err, errno, "socketpair for the console");
    *runtime_end = sv[0];
    *init_end = sv[1];
    return 0;
}

int console_receive_master(int sock, int *master, struct error **err)
{
    _cleanup_free_ char *payload = NULL;
    int r = unix_recv_fd(sock, &payload, master, err);
    if (r < 0)
        return error_prefix(err, "receiving the container's pty master");
    if (!isatty(*master)) {
        close(*master);
        *master = -1;
        return error_set(err, EBADMSG, "the console socket sent a file descriptor that is not a terminal");
    }
    return 0;
}

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

struct proxy {
    int master, sigfd, pidfd;
    pid_t pid;
    int tty;                    /* the user's terminal (stdin or stdout), -1 when none */
    bool stdin_open, master_open, stdout_open;
    char in[4096];              /* stdin bytes not yet taken by the master */
    size_t in_len;
};

static void copy_winsize(struct proxy *p)
{
    struct winsize ws;
    if (p->tty >= 0 && ioctl(p->tty, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        ioctl(p->master, TIOCSWINSZ, &ws);
}

static void to_stdout(struct proxy *p, const char *buf, size_t n)
{
    while (p->stdout_open && n) {
        ssize_t w = write(STDOUT_FILENO, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pf = { .fd = STDOUT_FILENO, .events = POLLOUT };
                poll(&pf, 1, -1);
                continue;
            }
            p->stdout_open = false;     /* EPIPE and the like: drop the output */
            return;
        }
        buf += w;
        n -= (size_t)w;
    }
}

/* Read what the master has; false once the pty is gone (all slaves closed). */
static bool pump_master(struct proxy *p)
{
    char buf[8192];
    for (;;) {
        ssize_t n = read(p->master, buf, sizeof(buf));
        if (n > 0) {
            to_stdout(p, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        p->master_open = false;     /* EIO: the last slave closed */
        return false;
    }
}

static void pump_stdin(struct proxy *p)
{
    ssize_t n = read(STDIN_FILENO, p->in, sizeof(p->in));
    if (n > 0) {
        p->in_len = (size_t)n;
        return;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    p->stdin_open = false;
    if (!isatty(STDIN_FILENO)) {
        /* a pipe ran dry: tell the program in the container, as typing ^D would */
        struct termios t;
        p->in[0] = tcgetattr(p->master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
        p->in_len = 1;
    }
}

static void flush_input(struct proxy *p)
{
    while (p->in_len) {
        ssize_t w = write(p->master, p->in, p->in_len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                p->in_len = 0;      /* the pty is gone */
            return;
        }
        memmove(p->in, p->in + w, p->in_len - (size_t)w);
        p->in_len -= (size_t)w;
    }
}

static void handle_signals(struct proxy *p)
{
    struct signalfd_siginfo si;
    while (read(p->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGWINCH) {
            copy_winsize(p);
            continue;
        }
        for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
            if ((int)si.ssi_signo == forwarded_signals[i]) {
                if (p->pidfd >= 0)
                    syscall(SYS_pidfd_send_signal, p->pidfd, si.ssi_signo, NULL, 0);
                else
                    kill(p->pid, (int)si.ssi_signo);
            }
    }
}

static bool process_gone(struct proxy *p)
{
    if (p->pidfd >= 0) {
        struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
        return poll(&pf, 1, 0) > 0;
    }
    return kill(p->pid, 0) < 0 && errno == ESRCH;
}

int terminal_proxy(int master, pid_t pid, struct error **err)
{
    struct proxy p = { .master = master, .sigfd = -1, .pidfd = -1, .pid = pid, .tty = -1,
                       .stdin_open = true, .master_open = true, .stdout_open = true };
    int r = 0;
    int master_flags = fcntl(master, F_GETFL);
    if (master_flags < 0)
        return error_sys(err, errno, "fcntl on the pty master");
    if (fcntl(master, F_SETFL, master_flags | O_NONBLOCK) < 0)
        return error_sys(err, errno, "fcntl on the pty master");

    p.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p.pidfd < 0 && errno != ENOSYS) {
        r = error_sys(err, errno, "pidfd_open(%d)", (int)pid);
        goto out_flags;
    }

    sigset_t mask, old_mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGWINCH);
    sigaddset(&mask, SIGPIPE);
    for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
        sigaddset(&mask, forwarded_signals[i]);
    sigprocmask(SIG_BLOCK, &mask, &old_mask);
    p.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (p.sigfd < 0) {
        r = error_sys(err, errno, "signalfd");
        goto out_mask;
    }

    struct termios saved;
    bool raw = false;
    if (isatty(STDIN_FILENO))
        p.tty = STDIN_FILENO;
    else if (isatty(STDOUT_FILENO))
        p.tty = STDOUT_FILENO;
    if (p.tty == STDIN_FILENO && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios t = saved;
        cfmakeraw(&t);
        raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
    copy_winsize(&p);

    for (;;) {
        struct pollfd pf[4] = {
            { .fd = p.stdin_open && !p.in_len ? STDIN_FILENO : -1, .events = POLLIN },
            { .fd = p.master_open ? master : -1, .events = POLLIN | (p.in_len ? POLLOUT : 0) },
            { .fd = p.sigfd, .events = POLLIN },
            { .fd = p.pidfd, .events = POLLIN },
        };
        /* without a pidfd, look again every so often */
        int n = poll(pf, 4, p.pidfd >= 0 ? -1 : 200);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = error_sys(err, errno, "poll");
            break;
        }
        if (pf[2].revents)
            handle_signals(&p);
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR))
            pump_stdin(&p);
        if (p.in_len && p.master_open)
            flush_input(&p);
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR))
            pump_master(&p);
        if ((p.pidfd >= 0 && pf[3].revents) || (p.pidfd < 0 && process_gone(&p)))
            break;
    }

    /* The process is gone: take what it wrote before exiting. The read ends
     * with EIO once no slave is open; other holders (a daemon it left behind)
     * could keep it open, hence the bound on the wait. */
    for (int rounds = 0; r == 0 && p.master_open && rounds < 1000; rounds++) {
        struct pollfd pf = { .fd = master, .events = POLLIN };
        int n = poll(&pf, 1, 1000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        pump_master(&p);
    }

    if (raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    handle_signals(&p);
    close(p.sigfd);
out_mask:
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    if (p.pidfd >= 0)
        close(p.pidfd);
out_flags:
    fcntl(master, F_SETFL, master_flags);
    return r;
}
