#include "unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

int unix_connect(const char *path, int *out, struct error **err)
{
    *out = -1;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    _cleanup_close_ int dirfd = -1;
    _cleanup_free_ char *alias = NULL;
    const char *target = path;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        _cleanup_free_ char *d = strdup(path), *b = strdup(path);
        if (!d || !b)
            return error_set(err, ENOMEM, "out of memory");
        dirfd = open(dirname(d), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return error_sys(err, errno, "open the directory of socket \"%s\"", path);
        if (asprintf(&alias, "/proc/self/fd/%d/%s", dirfd, basename(b)) < 0)
            return error_set(err, ENOMEM, "out of memory");
        if (strlen(alias) >= sizeof(sa.sun_path))
            return error_set(err, ENAMETOOLONG, "socket path \"%s\": name too long", path);
        target = alias;
    }
    memcpy(sa.sun_path, target, strlen(target) + 1);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return error_sys(err, errno, "socket(AF_UNIX)");
    int r;
    do
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return error_sys(err, errno, "connect to \"%s\"", path);
    *out = TAKE_FD(fd);
    return 0;
}

int unix_send_fd(int sock, const void *data, size_t len, int fd, struct error **err)
{
    static const char nul = 0;
    struct iovec iov = { .iov_base = (void *)(len ? data : &nul), .iov_len = len ? len : 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return error_sys(err, errno, "sendmsg with SCM_RIGHTS");
    for (size_t off = (size_t)n; len && off < len;) {
        ssize_t m = send(sock, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (m < 0) {
            if (errno == EINTR)
                continue;
            return error_sys(err, errno, "send");
        }
        off += (size_t)m;
    }
    return 0;
}

int unix_recv_fd(int sock, char **data, int *fd, struct error **err)
{
    *fd = -1;
    if (data)
        *data = NULL;
    size_t cap = 4096;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return error_set(err, ENOMEM, "out of memory");
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return error_sys(err, errno, "recvmsg");
    int got = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfds; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (got < 0)
                got = f;
            else
                close(f);       /* only one was expected */
        }
    }
    if (got < 0)
        return error_set(err, n == 0 ? EPIPE : EBADMSG, "%s", n == 0 ? "the peer closed the socket without sending a file descriptor"
                                                                      : "message without a file descriptor");
    if (msg.msg_flags & MSG_CTRUNC) {
        close(got);
        return error_set(err, EBADMSG, "recvmsg: control data truncated");
    }
    buf[n] = 0;
    if (data)
        *data = TAKE_PTR(buf);
    *fd = got;
    return 0;
}
