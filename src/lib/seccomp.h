/* linux.seccomp through libseccomp. */
#pragma once
#include <jansson.h>
#include "error.h"

struct spec;
struct seccomp_profile;

int seccomp_profile_parse(struct spec *spec, json_t *seccomp, const char *path,
                          struct seccomp_profile **out, struct error **err);
/* Before pivot_root, while host paths still resolve: connect to
 * listenerPath when the profile has SCMP_ACT_NOTIFY rules. *fd = -1 when
 * there is nothing to connect. */
int seccomp_listener_connect(const struct seccomp_profile *profile, int *fd, struct error **err);
/* Load the filter. Called last in the container init, right before the
 * executor's exec. listener_fd from seccomp_listener_connect; state_json is
 * the container state sent with the notify fd. */
int seccomp_profile_apply(const struct seccomp_profile *profile, int listener_fd, const char *state_json,
                          struct error **err);
