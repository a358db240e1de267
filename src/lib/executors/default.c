#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../executor.h"
#include "../spec.h"

static bool default_can_handle(const struct spec *spec)
{
    const char *h = spec_annotation(spec, HANDLER_ANNOTATION);
    return !h || strcmp(h, "default") == 0;
}

static int default_pre_exec(struct executor_ctx *ctx, struct spec *spec, const char *bundle, struct error **err)
{
    (void)ctx; (void)spec; (void)bundle; (void)err;
    return 0;
}

static const char *env_path(const struct spec *spec)
{
    for (size_t i = 0; i < spec->process.n_env; i++)
        if (strncmp(spec->process.env[i], "PATH=", 5) == 0)
            return spec->process.env[i] + 5;
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/* In the container, before it reports ready: a missing binary fails create, as in runc. */
static int default_check(struct executor_ctx *ctx, const struct spec *spec, struct error **err)
{
    (void)ctx;
    const char *file = spec->process.args[0];
    if (strchr(file, '/')) {
        if (access(file, X_OK) < 0)
            return error_sys(err, errno, "exec \"%s\"", file);
        return 0;
    }
    const char *path = env_path(spec);
    while (*path) {
        const char *end = strchrnul(path, ':');
        int n = (int)(end - path);
        char *candidate = NULL;
        if (asprintf(&candidate, "%.*s/%s", n, n ? path : ".", file) >= 0) {
            bool ok = access(candidate, X_OK) == 0;
            free(candidate);
            if (ok)
                return 0;
        }
        path = *end ? end + 1 : end;
    }
    return error_set(err, ENOENT, "exec \"%s\": executable file not found in $PATH", file);
}

/* The environment is already the container's (process.env) and the path
 * search uses its PATH, as execvp does. */
static int default_exec(struct executor_ctx *ctx, const struct spec *spec, struct error **err)
{
    (void)ctx;
    const char *file = spec->process.args[0];
    execvp(file, (char *const *)spec->process.args);
    int e = errno;
    return error_sys(err, e, "exec \"%s\"", file);
}

const struct executor executor_default = {
    .name = "default",
    .replaces_image = true,
    .annotations = (const char *const[]){ NULL },
    .can_handle = default_can_handle,
    .pre_exec = default_pre_exec,
    .check = default_check,
    .exec = default_exec,
};
