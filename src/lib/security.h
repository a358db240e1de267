/* Process confinement other than seccomp: capabilities, noNewPrivileges,
 * AppArmor, SELinux, scheduler, I/O priority, CPU affinity, personality. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

struct spec;
struct process_security;
struct cap_sets;

/* Parse the security parts of a process object (path: "process") and of the
 * linux object (personality; mountLabel is checked against the host). linux_obj
 * may be NULL. *out is never NULL on success. Result lives in spec's arena.
 * Host checks happen here so that they fail at create time: an AppArmor
 * profile, SELinux label or mount label on a host without that LSM is an error. */
int process_security_parse(struct spec *spec, json_t *process, const char *path, json_t *linux_obj,
                           struct process_security **out, struct error **err);

/* In the container init, still privileged, before the uid/gid switch and after
 * pivot_root (/proc must be the container's): personality, scheduler, ioprio,
 * LSM labels for the next execve. */
int process_security_prepare(const struct process_security *sec, struct error **err);
/* After the uid/gid switch (done with PR_SET_KEEPCAPS): raise the effective
 * set from permitted, drop the bounding set, set inheritable, permitted,
 * effective, ambient; clear KEEPCAPS; then no_new_privs. sec NULL: every set
 * empty (as with no process.capabilities). */
int process_security_apply(const struct process_security *sec, bool no_new_privileges, struct error **err);

/* process.execCPUAffinity, for `exec` only (the spec says it does not apply to
 * the container's init). initial: call in the exec'd process before it joins
 * the container's cgroup. final: after joining; without a final list (and with
 * an initial one) the affinity goes back to every CPU the cgroup allows. */
int process_security_affinity_initial(const struct process_security *sec, struct error **err);
int process_security_affinity_final(const struct process_security *sec, struct error **err);

/* Overrides for `exec` flags. --cap: bounding, effective, permitted (and
 * ambient when inheritable), as runc does. */
int process_security_add_capability(struct process_security *sec, const char *name, struct error **err);
int process_security_set_apparmor(struct process_security *sec, const char *profile, struct error **err);
int process_security_set_selinux_label(struct process_security *sec, const char *label, struct error **err);
const struct cap_sets *process_security_caps(const struct process_security *sec);

bool security_apparmor_enabled(void);
bool security_selinux_enabled(void);

/* "0-3,7" -> bitmap (malloc'd, *nbits = highest CPU + 1; 0 and NULL for an
 * empty list). -EINVAL on bad syntax, -ERANGE on a reversed range or a CPU
 * number >= 65536. */
int cpu_list_parse(const char *s, uint64_t **bits, size_t *nbits);
