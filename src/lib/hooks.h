/* OCI hooks, run with the state JSON on stdin. */
#pragma once
#include "error.h"
#include "spec.h"

/* Run every hook of kind k in order; the first failure stops and is returned. */
int hooks_run(const struct spec *spec, enum hook_kind k, const char *state_json, struct error **err);
