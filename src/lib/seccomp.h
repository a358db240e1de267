/* linux.seccomp through libseccomp. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include "error.h"

struct spec;
struct seccomp_profile;

/* Check the whole profile. Unknown actions, operators, flags (and flags the
 * kernel lacks) and architectures are errors naming the JSON path; unknown
 * syscall names are skipped (debug log) when compiled, as runc does. */
int seccomp_profile_parse(struct spec *spec, json_t *seccomp, const char *path,
                          struct seccomp_profile **out, struct error **err);
/* Compile to BPF with libseccomp, kept in the spec's arena. Call it in the
 * runtime process of create (and exec) before spawning, so that libseccomp's
 * own complaints surface there and the init only loads the program. It costs
 * 1-10 ms for a long multi-arch allow list, which is why spec_parse does not
 * do it for start/delete. NULL profile: nothing. Apply compiles on the spot
 * when this was not called. */
int seccomp_profile_compile(struct seccomp_profile *profile, struct error **err);
/* Before pivot_root, while host paths still resolve: connect to
 * listenerPath when the profile has SCMP_ACT_NOTIFY rules. *fd = -1 when
 * there is nothing to connect. */
int seccomp_listener_connect(const struct seccomp_profile *profile, int *fd, struct error **err);
/* Loading a filter without no_new_privs needs CAP_SYS_ADMIN, which the init
 * gives up at the uid switch. When this is true (profile set and
 * noNewPrivileges false), call seccomp_profile_apply right before the uid
 * switch (after process_security_prepare, step 10), as runc does; otherwise
 * call it last, right before the executor's exec. */
bool seccomp_profile_load_early(const struct seccomp_profile *profile, bool no_new_privileges);
bool seccomp_profile_uses_notify(const struct seccomp_profile *profile);
/* Load the filter. listener_fd from seccomp_listener_connect (still owned by
 * the caller; it is shut down after the send). state_json: the container's
 * OCI state document (its "pid" should be the pid as the runtime sees it); it
 * goes as "state" in the container process state sent with the notify fd. */
int seccomp_profile_apply(const struct seccomp_profile *profile, int listener_fd, const char *state_json,
                          struct error **err);

/* NULL-terminated name lists, for `krunc features`. */
const char *const *seccomp_known_actions(void);
const char *const *seccomp_known_operators(void);
const char *const *seccomp_known_archs(void);
const char *const *seccomp_known_flags(void);
