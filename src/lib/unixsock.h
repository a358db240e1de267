/* AF_UNIX helpers: connect by path (any length), pass fds with SCM_RIGHTS. */
#pragma once
#include <stddef.h>
#include "error.h"

/* Connect a SOCK_STREAM socket to path; *fd is O_CLOEXEC. Paths longer than
 * sun_path are reached through their directory's /proc/self/fd entry. */
int unix_connect(const char *path, int *fd, struct error **err);
/* One sendmsg carrying data (len > 0) and fd in SCM_RIGHTS; the rest of data,
 * if the kernel took only part, follows with plain sends. */
int unix_send_fd(int sock, const void *data, size_t len, int fd, struct error **err);
/* Receive one message with one fd. *data (NUL-terminated, may be NULL) gets the
 * payload of that message; *fd is O_CLOEXEC. Fails when no fd came with it. */
int unix_recv_fd(int sock, char **data, int *fd, struct error **err);
