/* PLACEHOLDER: replaced by the krun executor work (issue 5). */
#include <errno.h>
#include <string.h>

#include "../executor.h"
#include "../spec.h"

static bool krun_can_handle(const struct spec *spec)
{
    const char *h = spec_annotation(spec, HANDLER_ANNOTATION);
    return h && strcmp(h, "krun") == 0;
}

static int krun_pre_exec(struct executor_ctx *ctx, struct spec *spec, const char *bundle, struct error **err)
{
    (void)ctx; (void)spec; (void)bundle;
    return error_set(err, ENOTSUP, "the krun executor is not implemented yet");
}

static int krun_exec(struct executor_ctx *ctx, const struct spec *spec, struct error **err)
{
    (void)ctx; (void)spec;
    return error_set(err, ENOTSUP, "the krun executor is not implemented yet");
}

const struct executor executor_krun = {
    .name = "krun",
    .annotations = (const char *const[]){ NULL },
    .can_handle = krun_can_handle,
    .pre_exec = krun_pre_exec,
    .exec = krun_exec,
};
