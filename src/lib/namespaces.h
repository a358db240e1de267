/* Creating and joining namespaces, id maps, time offsets. */
#pragma once
#include <sys/types.h>
#include "error.h"
#include "spec.h"

/* CLONE_NEW* flags of the namespaces the spec asks to create (not join). */
int ns_new_flags(const struct spec *spec);
bool ns_any_joined(const struct spec *spec);
/* setns into every namespace given by path: the user namespace first when it
 * is joined, else last, so that each setns has the privileges it needs. */
int ns_join_all(const struct spec *spec, struct error **err);
struct ns_join {
    int fd;             /* an open namespace file; -1: skip */
    int flag;           /* CLONE_NEW* */
    const char *what;   /* for errors: "linux.namespaces: join network namespace \"/p\"" */
};
/* setns into each: first those owned by our own user namespace (while we
 * still hold our privileges there), then the user namespace, then the rest
 * (owned by the user namespace just joined). */
int ns_join_ordered(const struct ns_join *v, size_t n, struct error **err);

/* Write uid_map and gid_map of pid (from the parent, in the outer user ns). */
int ns_write_id_maps(const struct spec *spec, pid_t pid, struct error **err);
/* After unshare(CLONE_NEWTIME), before any process enters it. */
int ns_write_time_offsets(const struct spec *spec, struct error **err);
