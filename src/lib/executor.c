#include "executor.h"

#include <errno.h>
#include <string.h>

#include "spec.h"

/* The krun executor is first: it takes what it can handle, the rest falls through. */
const struct executor *const executors[] = { &executor_krun, &executor_default, NULL };

const struct executor *executor_by_name(const char *name)
{
    for (size_t i = 0; executors[i]; i++)
        if (strcmp(executors[i]->name, name) == 0)
            return executors[i];
    return NULL;
}

int executor_select(const struct spec *spec, const char *forced, const struct executor **out, struct error **err)
{
    if (forced) {
        *out = executor_by_name(forced);
        if (!*out)
            return error_set(err, EINVAL, "unknown handler \"%s\"", forced);
        return 0;
    }
    const char *handler = spec_annotation(spec, HANDLER_ANNOTATION);
    if (handler && !executor_by_name(handler))
        return error_set(err, EINVAL, "annotations.\"%s\": unknown handler \"%s\"", HANDLER_ANNOTATION, handler);
    for (size_t i = 0; executors[i]; i++) {
        if (executors[i]->can_handle(spec)) {
            *out = executors[i];
            return 0;
        }
    }
    return error_set(err, EINVAL, "no executor can run this container");
}

int executor_check_exec(const char *executor_name, const char *id, struct error **err)
{
    const struct executor *ex = executor_name ? executor_by_name(executor_name) : NULL;
    if (!ex || !ex->exec_refusal)
        return 0;
    return error_set(err, EPERM, "cannot exec in container %s: %s", id, ex->exec_refusal);
}
