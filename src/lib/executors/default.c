#include <errno.h>
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
    .annotations = (const char *const[]){ NULL },
    .can_handle = default_can_handle,
    .pre_exec = default_pre_exec,
    .exec = default_exec,
};
