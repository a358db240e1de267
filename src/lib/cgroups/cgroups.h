/* Cgroups on v1, v2 and hybrid hosts. What was created is described by a JSON
 * object kept in state.json, so later commands act on the same cgroup. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "../error.h"

struct spec;

struct cgroup_opts {
    const char *id;
    bool systemd;       /* --systemd-cgroup */
};

/* Check linux.resources at spec load, before anything is created. */
int cgroup_resources_check(json_t *resources, struct error **err);
/* Create the container's cgroup, apply linux.resources, move pid into it.
 * *state_out describes what was made (for cgroup_destroy and friends); it is NULL when krunc
 * may make no cgroup (rootless) and no limit was asked for: the container runs without one. */
int cgroup_create(const struct spec *spec, const struct cgroup_opts *opts, pid_t pid,
                  json_t **state_out, struct error **err);
/* The same, from the parts of the spec it uses (cgroups_path NULL: "/krunc/<id>"). */
int cgroup_create_at(const char *cgroups_path, json_t *resources, const struct cgroup_opts *opts, pid_t pid,
                     json_t **state_out, struct error **err);
/* Remove what cgroup_create made. Processes still inside are killed first (a container
 * without its own pid namespace can leave some). state may be NULL (no cgroup). */
int cgroup_destroy(json_t *state, struct error **err);
/* Move pid into every cgroup that `like` is in (exec joins the init's). */
int cgroup_join_like(pid_t like, pid_t pid, struct error **err);
/* exec --cgroup "[controller[,controller]:]path": move pid on into the existing
 * sub-cgroup path of the cgroup it is in, on every hierarchy, or only on those
 * with the controllers named. */
int cgroup_join_sub(pid_t pid, const char *arg, struct error **err);
/* Signal every process in the cgroup (frozen meanwhile so none forks past it; SIGKILL on a
 * full v2 host is one write to cgroup.kill). A frozen cgroup is thawed after a SIGKILL. */
int cgroup_kill_all(json_t *state, int sig, struct error **err);
int cgroup_pids(json_t *state, pid_t **pids, size_t *n, struct error **err);
/* The container's cgroup still exists. */
bool cgroup_alive(json_t *state);
/* systemd made it (--systemd-cgroup): removing it takes sd-bus. */
bool cgroup_uses_systemd(json_t *state);
int cgroup_freeze(json_t *state, bool frozen, struct error **err);
/* 1 when frozen, 0 when not, negative errno on error. */
int cgroup_is_frozen(json_t *state);
int cgroup_update(json_t *state, json_t *resources, struct error **err);
/* runc's `events --stats` data object: cpu, cpuset, memory, pids, blkio, hugetlb. */
int cgroup_stats(json_t *state, json_t **stats, struct error **err);

/* OOM notifications (for `events`). Poll cgroup_oom_watch_fd() for POLLIN; then
 * cgroup_oom_watch_read() gives the OOM kills since the last call (0 when the wake-up was for
 * something else), or -ENOENT once the cgroup is gone (the container was deleted). */
struct cgroup_oom_watch;
int cgroup_oom_watch_open(json_t *state, struct cgroup_oom_watch **out, struct error **err);
int cgroup_oom_watch_fd(const struct cgroup_oom_watch *w);
int cgroup_oom_watch_read(struct cgroup_oom_watch *w, uint64_t *events, struct error **err);
void cgroup_oom_watch_free(struct cgroup_oom_watch *w);

/* Tests only: treat ROOT as /sys/fs/cgroup (a fake tree in a temp dir; see tests/unit/test_cgroups.c).
 * NULL restores the real one. Nothing reads this from the environment. */
void cgroup_set_root_for_tests(const char *root);
