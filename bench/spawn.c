/* spawn: run one command and report its wall time and peak RSS.
 *
 * usage: spawn RESULT_FD PROGRAM [ARG...]
 *        spawn RESULT_FD -      (fork a child that exits at once: the floor)
 *
 * Writes "WALL_NS MAXRSS_KIB WAIT_STATUS\n" to RESULT_FD once PROGRAM has
 * exited.  lifecycle.py uses this instead of forking the runtime from Python:
 * ru_maxrss counts the memory a process had before its execve, and a child
 * forked (or vforked) from Python would report Python's tens of MiB instead
 * of the runtime's own footprint.  This helper is small and static, so what
 * it adds to the child's ru_maxrss is a few pages (see "floor" in the
 * benchmark output). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    long long start, end;
    int result_fd, status;
    pid_t pid;

    if (argc < 3) {
        fprintf(stderr, "usage: spawn RESULT_FD PROGRAM [ARG...]\n");
        return 2;
    }
    result_fd = atoi(argv[1]);

    start = now_ns();
    pid = fork();
    if (pid < 0) {
        perror("spawn: fork");
        return 2;
    }
    if (pid == 0) {
        if (argv[2][0] == '-' && argv[2][1] == '\0')
            _exit(0);
        close(result_fd);
        execv(argv[2], argv + 2);
        fprintf(stderr, "spawn: exec %s: %m\n", argv[2]);
        _exit(127);
    }
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("spawn: wait4");
            return 2;
        }
    }
    end = now_ns();

    if (dprintf(result_fd, "%lld %ld %d\n", end - start, ru.ru_maxrss, status) < 0) {
        perror("spawn: write result");
        return 2;
    }
    return 0;
}
