/* The container process's own settings applied in the init. */
#pragma once
#include "error.h"
#include "spec.h"

int process_set_rlimits(const struct spec_process *p, struct error **err);
int process_set_oom_score_adj(const struct spec_process *p, struct error **err);
/* In a process forked from the runtime that will be in the container: until it
 * execs, its image is the host's krunc binary; see process.c. */
void process_hide_image(const struct spec *spec);
/* setgroups + setresgid + setresuid, keeping capabilities for the security step. */
int process_switch_user(const struct spec_user *u, struct error **err);
/* Create process.cwd if it is missing (as root, before root.readonly), as runc does. */
int process_make_cwd(const struct spec_process *p, struct error **err);
int process_enter_cwd(const struct spec_process *p, struct error **err);
/* hostname, domainname, linux.sysctl (after pivot_root: /proc/sys is the container's) */
int process_set_uts_and_sysctl(const struct spec *spec, struct error **err);
/* Mark every fd from `from` on close-on-exec. */
int process_cloexec_from(int from, struct error **err);
