/* Container operations: the library side of the CLI commands. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

struct runtime_opts {
    const char *root;           /* --root */
    bool debug;                 /* --debug */
    bool systemd_cgroup;        /* --systemd-cgroup */
    const char *forced_handler; /* "krun" when invoked as krun */
    const char *libkrun;        /* --libkrun / $KRUNC_LIBKRUN */
};

struct create_opts {
    const char *id;
    const char *bundle;
    const char *pid_file;
    const char *console_socket;
    bool no_pivot;
    bool no_new_keyring;
    int preserve_fds;
    bool detach;                /* run -d */
};

int container_create(const struct runtime_opts *ro, const struct create_opts *co, struct error **err);
int container_start(const struct runtime_opts *ro, const char *id, struct error **err);
/* create + start (+ wait unless detached). *exit_status: the container's exit
 * code, 128+signal when killed. */
int container_run(const struct runtime_opts *ro, const struct create_opts *co, int *exit_status, struct error **err);
int container_kill(const struct runtime_opts *ro, const char *id, int sig, bool all, struct error **err);
int container_delete(const struct runtime_opts *ro, const char *id, bool force, struct error **err);
int container_state(const struct runtime_opts *ro, const char *id, json_t **out, struct error **err);
/* Every container's OCI state, for list. */
int container_list(const struct runtime_opts *ro, json_t **out, struct error **err);
