/* dynload for the statically linked krunc: it never calls dlopen (glibc's
 * dlopen from a static program would load a second libc next to the first).
 * dynload_prepare runs krunc-dynamic instead, found next to this krunc (the
 * build tree, or a copy of both) or where it is installed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "dynload.h"
#include "log.h"

#ifndef KRUNC_DYNAMIC_PATH
#error "KRUNC_DYNAMIC_PATH: where krunc-dynamic is installed"
#endif
#define HELPER "krunc-dynamic"

static char **saved_argv;

void dynload_init(char **argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    saved_argv = malloc((n + 1) * sizeof(*argv));
    if (saved_argv)
        memcpy(saved_argv, argv, (n + 1) * sizeof(*argv));
}

int dynload_prepare(struct error **err)
{
    if (!saved_argv)
        return error_set(err, ENOMEM, "out of memory");
    /* next to this krunc (not found when it was deleted, as in an upgrade), then the installed one */
    _cleanup_free_ char *self = realpath("/proc/self/exe", NULL), *sibling = NULL;
    const char *paths[2];
    size_t n = 0;
    const char *slash = self ? strrchr(self, '/') : NULL;
    if (slash && asprintf(&sibling, "%.*s/" HELPER, (int)(slash - self), self) >= 0)
        paths[n++] = sibling;
    if (n == 0 || strcmp(paths[0], KRUNC_DYNAMIC_PATH) != 0)
        paths[n++] = KRUNC_DYNAMIC_PATH;

    int failed = 0;
    const char *failed_path = NULL;
    for (size_t i = 0; i < n; i++) {
        log_debug("this krunc is static and cannot dlopen: running %s", paths[i]);
        fflush(NULL);
        execve(paths[i], saved_argv, environ);
        if (errno != ENOENT && !failed) {
            failed = errno;
            failed_path = paths[i];
        }
    }
    if (failed)
        return error_sys(err, failed, "this krunc is statically linked and loads libkrun and libsystemd through "
                         HELPER ", but cannot run %s", failed_path);
#define MISSING "this krunc is statically linked and loads libkrun and libsystemd through " HELPER ", which is missing: "
#define REMEDY " (reinstall krunc, or build it with -Dstatic=false)"
    if (n == 1)
        return error_set(err, ENOENT, MISSING "it is not at %s" REMEDY, paths[0]);
    return error_set(err, ENOENT, MISSING "it is neither at %s nor at %s" REMEDY, paths[0], paths[1]);
#undef MISSING
#undef REMEDY
}

void *dynload_open(const char *name)
{
    (void)name;
    return NULL;
}

void *dynload_sym(void *handle, const char *symbol)
{
    (void)handle;
    (void)symbol;
    return NULL;
}

void dynload_close(void *handle)
{
    (void)handle;
}

const char *dynload_error(void)
{
    return "this krunc is statically linked and cannot load shared libraries itself";
}

const char *dynload_describe(void)
{
    return "static; libkrun and libsystemd are loaded through " HELPER " (next to krunc, or " KRUNC_DYNAMIC_PATH ")";
}
