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

/* `exec`: a new process in a running (or created) container. */
struct exec_opts {
    const char *id;
    const char *process_path;   /* --process FILE: the whole process object */
    char **args;                /* CMD... (when no --process) */
    size_t n_args;
    bool tty;                   /* -t */
    bool detach;                /* -d */
    const char *console_socket;
    const char **env;           /* -e KEY=VALUE, set over the config's */
    size_t n_env;
    const char *cwd;
    const char *user;           /* "UID[:GID]" */
    const char **additional_gids;   /* each "G[,G...]", added */
    size_t n_additional_gids;
    const char **caps;          /* --cap, added */
    size_t n_caps;
    bool no_new_privs;
    const char *apparmor;
    const char *process_label;
    const char *pid_file;
    int preserve_fds;
    const char **cgroups;       /* --cgroup "[controller:]path" */
    size_t n_cgroups;
    bool ignore_paused;
};
/* Unless detached, waits and sets *exit_status (128+N when killed by signal N). */
int container_exec(const struct runtime_opts *ro, const struct exec_opts *eo, int *exit_status, struct error **err);
/* The pids in the container's cgroup (malloc'd). */
int container_ps(const struct runtime_opts *ro, const char *id, pid_t **pids, size_t *n, struct error **err);

/* update, pause, resume, events (src/lib/control.c). update applies LinuxResources JSON to the
 * running container's cgroup and keeps it in the stored config. */
int container_update(const struct runtime_opts *ro, const char *id, json_t *resources, struct error **err);
int container_pause(const struct runtime_opts *ro, const char *id, struct error **err);
int container_resume(const struct runtime_opts *ro, const char *id, struct error **err);
/* Calls emit with each event ({"type": "stats"|"oom", "id", "data"}): once with the stats when
 * stats_once, else stats every interval_ms and OOM events as they happen, until the container's
 * cgroup is gone or emit fails. */
int container_events(const struct runtime_opts *ro, const char *id, bool stats_once, long interval_ms,
                     int (*emit)(json_t *event, void *data), void *data, struct error **err);
