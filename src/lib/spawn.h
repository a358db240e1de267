/* Cloning the container's init and the runtime <-> init sync protocol. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

struct spec;
struct executor;
struct executor_ctx;

enum sync_type {
    SYNC_GO = 1,        /* runtime -> init: maps written, cgroup joined; payload: state JSON */
    SYNC_HOOKS,         /* init -> runtime: run prestart and createRuntime hooks now */
    SYNC_HOOKS_DONE,    /* runtime -> init */
    SYNC_READY,         /* init -> runtime: set up, waiting on the exec fifo */
    SYNC_ERROR,         /* either way: payload is the message */
    SYNC_PID,           /* intermediate -> runtime: payload is the init's pid */
};

struct spawn_args {
    const struct spec *spec;
    const struct executor *executor;
    struct executor_ctx *exec_ctx;
    int state_dirfd;    /* O_PATH; the init opens the exec fifo through it */
    int lockfd;         /* the runtime's lock: closed in the init at once */
    int console_fd;     /* --console-socket connection, or -1 */
    bool no_pivot;
    bool no_new_keyring;
    int preserve_fds;
};

/* Start the init. *sync_fd is the runtime's end of the sync socket. */
int spawn_init(const struct spawn_args *a, pid_t *pid, int *sync_fd, struct error **err);

/* A process waited on in the foreground (run, exec): become the reaper of
 * our descendants and block the signals to forward (*old: the mask before). */
void foreground_begin(sigset_t *mask, sigset_t *old);
/* Forward those signals to pid until it exits; *exit_status is its exit
 * code, 128+N when signal N killed it. Other descendants are reaped. */
int foreground_wait(pid_t pid, const sigset_t *mask, int *exit_status, struct error **err);

int sync_send(int fd, enum sync_type type, const char *payload);
/* Receive one message; *payload (malloc'd, may be NULL) for GO/ERROR/PID.
 * Returns the type, 0 on EOF, or a negative errno. */
int sync_recv(int fd, char **payload);
