/* linux.seccomp through libseccomp. */
#pragma once
#include <jansson.h>
#include "error.h"

struct spec;
struct seccomp_profile;

int seccomp_profile_parse(struct spec *spec, json_t *seccomp, const char *path,
                          struct seccomp_profile **out, struct error **err);
/* Load the filter. Called last in the container init, right before the
 * executor's exec. state_json is the container state, for listenerPath. */
int seccomp_profile_apply(const struct seccomp_profile *profile, const char *state_json, struct error **err);
