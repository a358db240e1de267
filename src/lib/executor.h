/* How the container's process is finally started. */
#pragma once
#include <stdbool.h>
#include "error.h"

struct spec;

struct executor_ctx {
    const struct executor *executor;
    void *data;                 /* the executor's own state (dlopen handle, ctx id...) */
    bool debug;                 /* --debug */
    const char *library;        /* --libkrun / KRUNC_LIBKRUN: operator's library override */
};

struct executor {
    const char *name;           /* "default", "krun" */
    const char *const *annotations;     /* annotations it reads, NULL-terminated (for `features`) */
    bool replaces_image;        /* exec is an execve: O_CLOEXEC fds close when it succeeds */
    bool uses_dlopen;           /* pre_exec opens a shared library (see dynload.h) */
    /* Why `exec` into its containers is refused; NULL: allowed. */
    const char *exec_refusal;
    bool (*can_handle)(const struct spec *);
    /* Runtime process, after config.json is read, before any namespace. May change spec. */
    int (*pre_exec)(struct executor_ctx *, struct spec *, const char *bundle, struct error **);
    /* Container init, after pivot_root, before telling the runtime it is
     * ready: catch what would make exec fail (a missing binary). May be NULL. */
    int (*check)(struct executor_ctx *, const struct spec *, struct error **);
    /* Container init, after pivot_root, in place of execve. No return on success. */
    int (*exec)(struct executor_ctx *, const struct spec *, struct error **);
    /* delete: remove what pre_exec left in the bundle. May be NULL. */
    int (*cleanup)(const struct spec *, struct error **);
    /* Release ctx->data in a process that will not exec (error paths). May be NULL. */
    void (*release)(struct executor_ctx *);
};

extern const struct executor executor_default;
extern const struct executor executor_krun;

/* The registry, in order of preference, NULL-terminated. */
extern const struct executor *const executors[];

/* Choose the executor for spec. forced: a handler name that overrides the
 * annotation (krunc run as `krun`), or NULL. An unknown run.oci.handler
 * value is an error. */
int executor_select(const struct spec *spec, const char *forced, const struct executor **out, struct error **err);
const struct executor *executor_by_name(const char *name);

/* `krunc exec` into container id, whose state names executor_name (NULL or
 * unknown: the default executor): 0, or -EPERM with the executor's reason. */
int executor_check_exec(const char *executor_name, const char *id, struct error **err);

#define HANDLER_ANNOTATION "run.oci.handler"
