#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int write_file_at(int dirfd, const char *path, const char *data, size_t len, int flags, mode_t mode)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | flags, mode);
    if (fd < 0)
        return -errno;
    int r = write_all(fd, data, len);
    if (r < 0)
        return r;
    int c = close(TAKE_FD(fd));
    return c < 0 ? -errno : 0;
}

int write_file(const char *path, const char *data, size_t len)
{
    return write_file_at(AT_FDCWD, path, data, len, O_TRUNC, 0);
}

int read_file_at(int dirfd, const char *path, char **out, size_t *len)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, used = 0;
    _cleanup_free_ char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (used + 1 >= cap) {
            char *n = realloc(buf, cap * 2);
            if (!n)
                return -ENOMEM;
            buf = n;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + used, cap - used - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    buf[used] = '\0';
    if (len)
        *len = used;
    *out = TAKE_PTR(buf);
    return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

unsigned long long proc_start_time(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *buf = NULL;
    if (read_file_at(AT_FDCWD, path, &buf, NULL) < 0)
        return 0;
    /* the command name may hold spaces and parentheses: skip past the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return 0;
    /* field 3 is the state: a zombie counts as gone */
    char *state = strrchr(buf, ')') + 2;
    if (*state == 'Z' || *state == 'X')
        return 0;
    return strtoull(p + 1, NULL, 10);
}

static const struct { const char *name; int num; } signal_table[] = {
    { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL }, { "TRAP", SIGTRAP },
    { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
    { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
    { "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
    { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU },
    { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
    { "POLL", SIGPOLL }, { "PWR", SIGPWR }, { "SYS", SIGSYS },
};

int signal_from_string(const char *s)
{
    if (!s || !*s)
        return -1;
    if (s[0] >= '0' && s[0] <= '9') {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v <= 0 || v > SIGRTMAX)
            return -1;
        return (int)v;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++)
        if (strcasecmp(signal_table[i].name, s) == 0)
            return signal_table[i].num;
    /* RTMIN, RTMIN+N, RTMAX-N */
    if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
        bool min = strncasecmp(s, "RTMIN", 5) == 0;
        const char *rest = s + 5;
        long off = 0;
        if (*rest) {
            char *end;
            if ((min && *rest != '+') || (!min && *rest != '-'))
                return -1;
            off = strtol(rest + 1, &end, 10);
            if (*end || rest[1] == '\0')
                return -1;
        }
        int v = min ? SIGRTMIN + (int)off : SIGRTMAX - (int)off;
        return v >= SIGRTMIN && v <= SIGRTMAX ? v : -1;
    }
    return -1;
}

char *now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
    return strdup(buf);
}

int pid_file_write(const char *path, pid_t pid, struct error **err)
{
    _cleanup_free_ char *tmp = NULL;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return error_set(err, ENOMEM, "out of memory");
    int r = write_file_at(AT_FDCWD, tmp, buf, (size_t)n, O_CREAT | O_TRUNC, 0644);
    if (r < 0 || rename(tmp, path) < 0) {
        r = r < 0 ? r : -errno;
        unlink(tmp);
        return error_sys(err, -r, "--pid-file: write \"%s\"", path);
    }
    return 0;
}
