#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int error_vset(struct error **err, int code, bool with_errno, const char *fmt, va_list ap)
{
    int ret = code > 0 ? -code : (code < 0 ? code : -EINVAL);
    if (!err || *err)
        return ret;
    struct error *e = calloc(1, sizeof(*e));
    if (!e)
        return ret;
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    if (msg && with_errno) {
        char *full = NULL;
        if (asprintf(&full, "%s: %s", msg, strerror(-ret)) >= 0) {
            free(msg);
            msg = full;
        }
    }
    e->code = -ret;
    e->msg = msg ? msg : strdup("out of memory");
    *err = e;
    return ret;
}

int error_set(struct error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = error_vset(err, code, false, fmt, ap);
    va_end(ap);
    return r;
}

int error_sys(struct error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = error_vset(err, code, true, fmt, ap);
    va_end(ap);
    return r;
}

int error_prefix(struct error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -EINVAL;
    char *prefix = NULL, *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&prefix, fmt, ap);
    va_end(ap);
    if (n >= 0 && asprintf(&full, "%s: %s", prefix, (*err)->msg) >= 0) {
        free((*err)->msg);
        (*err)->msg = full;
    }
    free(prefix);
    return -(*err)->code;
}

void error_free(struct error *e)
{
    if (!e)
        return;
    free(e->msg);
    free(e);
}
