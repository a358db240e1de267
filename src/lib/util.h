#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

int write_file_at(int dirfd, const char *path, const char *data, size_t len, int flags, mode_t mode);
int write_file(const char *path, const char *data, size_t len);
/* Read a whole file; *out is NUL-terminated. */
int read_file_at(int dirfd, const char *path, char **out, size_t *len);
/* write/read the whole buffer, retrying on EINTR and short counts */
int write_all(int fd, const void *buf, size_t len);
int mkdir_p(const char *path, mode_t mode);
/* Field 22 of /proc/PID/stat: start time in clock ticks; 0 when gone. */
unsigned long long proc_start_time(pid_t pid);
/* Signal names ("TERM", "SIGTERM", "15") -> number; -1 when unknown. */
int signal_from_string(const char *s);
char *now_rfc3339(void);
/* --pid-file: write pid to path atomically (a temp file renamed over it). */
int pid_file_write(const char *path, pid_t pid, struct error **err);
