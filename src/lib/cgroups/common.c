/* PLACEHOLDER: replaced by the cgroups work (issue 4). */
#include <errno.h>
#include "cgroups.h"

int cgroup_resources_check(json_t *resources, struct error **err) { (void)resources; (void)err; return 0; }
int cgroup_create(const struct spec *spec, const struct cgroup_opts *opts, pid_t pid, json_t **state_out, struct error **err)
{ (void)spec; (void)opts; (void)pid; (void)err; *state_out = NULL; return 0; }
int cgroup_destroy(json_t *state, struct error **err) { (void)state; (void)err; return 0; }
int cgroup_kill_all(json_t *state, int sig, struct error **err) { (void)state; (void)sig; return error_set(err, ENOTSUP, "kill --all: not supported yet"); }
int cgroup_pids(json_t *state, pid_t **pids, size_t *n, struct error **err) { (void)state; (void)pids; (void)n; return error_set(err, ENOTSUP, "not supported yet"); }
int cgroup_freeze(json_t *state, bool frozen, struct error **err) { (void)state; (void)frozen; return error_set(err, ENOTSUP, "not supported yet"); }
int cgroup_is_frozen(json_t *state) { (void)state; return 0; }
int cgroup_update(json_t *state, json_t *resources, struct error **err) { (void)state; (void)resources; return error_set(err, ENOTSUP, "not supported yet"); }
int cgroup_stats(json_t *state, json_t **stats, struct error **err) { (void)state; (void)stats; return error_set(err, ENOTSUP, "not supported yet"); }
