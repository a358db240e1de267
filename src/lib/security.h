/* Process confinement other than seccomp: capabilities, noNewPrivileges,
 * AppArmor, SELinux, scheduler, I/O priority, CPU affinity, personality. */
#pragma once
#include <jansson.h>
#include "error.h"

struct spec;
struct process_security;

/* Parse the security parts of a process object (path: "process") and of the
 * linux object (personality). linux_obj may be NULL. Result lives in spec's arena. */
int process_security_parse(struct spec *spec, json_t *process, const char *path, json_t *linux_obj,
                           struct process_security **out, struct error **err);

/* In the container init, still privileged, before the uid/gid switch
 * (personality, scheduler, ioprio, affinity, LSM labels for exec). */
int process_security_prepare(const struct process_security *sec, struct error **err);
/* After the uid/gid switch (which keeps capabilities): set the five
 * capability sets, then no_new_privs. */
int process_security_apply(const struct process_security *sec, bool no_new_privileges, struct error **err);
