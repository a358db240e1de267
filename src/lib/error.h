/* Errors: every fallible function returns 0 or a negative errno and fills a
 * struct error whose message says what failed and on what. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>

struct error {
    int code;   /* positive errno, or 0 when there is none */
    char *msg;
};

/* Set *err (if err and *err is empty) and return -code (or -EINVAL when code is 0). */
int error_set(struct error **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like error_set, with ": strerror(code)" appended. */
int error_sys(struct error **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Put "prefix: " before an existing message. Returns -code of the error. */
int error_prefix(struct error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_free(struct error *e);
