/* Linux capabilities by name, and the five sets of a process, with raw
 * capget/capset and prctl (no libcap). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"

enum cap_set { CAPSET_BOUNDING, CAPSET_EFFECTIVE, CAPSET_INHERITABLE, CAPSET_PERMITTED, CAPSET_AMBIENT, CAPSET__MAX };

struct cap_sets {
    uint64_t set[CAPSET__MAX];      /* bit n = capability n */
};

/* "bounding", "effective", ... (the OCI member names) */
const char *cap_set_name(enum cap_set s);
/* "CAP_SYS_ADMIN" -> 21; -1 when the name is not a capability krunc knows. */
int capability_from_name(const char *name);
/* 21 -> "CAP_SYS_ADMIN"; NULL when unknown. */
const char *capability_name(int cap);
/* The highest capability krunc knows by name. */
int capability_last_known(void);
/* The highest capability the running kernel has (/proc/sys/kernel/cap_last_cap). */
int capability_last_cap(void);

/* Parse an OCI capabilities object (path e.g. "process.capabilities"). Unknown
 * names are errors naming the JSON path; names the running kernel lacks are
 * skipped with a debug log. effective must lie within permitted; ambient
 * capabilities outside permitted and inheritable cannot be raised and are
 * dropped with a debug log (as runc does). */
int cap_sets_parse(json_t *caps, const char *path, struct cap_sets *out, struct error **err);

/* Add one capability by name to the sets in `which` (a mask of 1 << enum cap_set),
 * as `exec --cap` does. Unknown names are errors; names the kernel lacks are skipped. */
int cap_sets_add_name(struct cap_sets *sets, unsigned which, const char *name, struct error **err);

/* Make the process's capabilities exactly *sets: raise effective to permitted,
 * drop the bounding set, set inheritable/permitted/effective, then ambient. */
int cap_sets_apply(const struct cap_sets *sets, struct error **err);

/* The current sets of this process (ambient and bounding read via prctl). */
int cap_sets_current(struct cap_sets *out, struct error **err);

/* "CAP_CHOWN,CAP_KILL" for messages; caller frees. */
char *cap_mask_to_string(uint64_t mask);
