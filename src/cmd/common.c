#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "cmd.h"

int cmd_fail(struct error *err)
{
    log_fatal(err && err->msg ? err->msg : "unknown error");
    error_free(err);
    return 1;
}

void cmd_print_help(const struct command *c)
{
    printf("Usage: krunc [global options] %s [options] %s\n\n%s\n", c->name, c->args, c->summary);
    if (c->options && *c->options)
        printf("\nOptions:\n%s", c->options);
    printf("   --help, -h           show this help\n");
}

int cmd_usage_error(const struct command *c, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        char *full = NULL;
        if (asprintf(&full, "%s: %s (usage: krunc %s [options] %s)", c->name, msg, c->name, c->args) >= 0)
            log_fatal(full);
        free(full);
    }
    free(msg);
    return 1;
}

int cmd_getopt(const struct command *c, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    /* every command takes --help/-h; append them to the caller's tables */
    static struct option merged[64];
    static char shorts[128];
    static const struct option *merged_from;
    static bool merged_done;
    if (!merged_done || merged_from != longopts) {
        size_t n = 0;
        for (; longopts && longopts[n].name && n < 62; n++)
            merged[n] = longopts[n];
        merged[n++] = (struct option){ "help", no_argument, NULL, 'h' };
        merged[n] = (struct option){ 0 };
        /* a leading '+' (stop at the first argument, for exec) must stay first */
        bool stop = shortopts && shortopts[0] == '+';
        snprintf(shorts, sizeof(shorts), "%s:%sh", stop ? "+" : "", shortopts ? shortopts + stop : "");
        merged_from = longopts;
        merged_done = true;
    }
    opterr = 0;
    int o = getopt_long(argc, argv, shorts, merged, NULL);
    if (o == 'h') {
        cmd_print_help(c);
        return 'h';
    }
    if (o == '?') {
        if (optopt)
            cmd_usage_error(c, "unknown flag -%c", optopt);
        else
            cmd_usage_error(c, "unknown flag %s", argv[optind - 1]);
        return '?';
    }
    if (o == ':') {
        cmd_usage_error(c, "flag %s needs a value", argv[optind - 1]);
        return '?';
    }
    return o;
}

int cmd_expect_args(const struct command *c, int argc, int min, int max)
{
    int have = argc - optind;
    if (have < min || (max >= 0 && have > max)) {
        if (min == max)
            return cmd_usage_error(c, "expects exactly %d argument(s), got %d", min, have);
        if (have < min)
            return cmd_usage_error(c, "expects at least %d argument(s), got %d", min, have);
        return cmd_usage_error(c, "expects at most %d argument(s), got %d", max, have);
    }
    return 0;
}

int parse_int_arg(const char *flag, const char *s, int *out, struct error **err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < 0 || v > INT_MAX)
        return error_set(err, EINVAL, "%s: \"%s\" is not a non-negative integer", flag, s);
    *out = (int)v;
    return 0;
}
