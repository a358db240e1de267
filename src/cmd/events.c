/* events: runc's JSON event stream (stats every interval, OOM kills), or the stats once. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const struct option events_long[] = {
    { "stats", no_argument, NULL, 's' },
    { "interval", required_argument, NULL, 'i' },
    { 0 },
};

/* A Go duration: "5s", "100ms", "1m30s", "1.5h"; to milliseconds. */
static int parse_duration_ms(const char *s, long *out)
{
    double total = 0;
    const char *p = s;
    if (!*p)
        return -EINVAL;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0)
            return -EINVAL;
        p = end;
        static const struct { const char *unit; double ms; } units[] = {
            { "ns", 1e-6 }, { "us", 1e-3 }, { "\xc2\xb5s", 1e-3 }, { "ms", 1 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 },
        };
        size_t i, n = sizeof(units) / sizeof(units[0]), best = n, best_len = 0;
        for (i = 0; i < n; i++) {
            size_t l = strlen(units[i].unit);
            if (!strncmp(p, units[i].unit, l) && l > best_len) {
                best = i;
                best_len = l;
            }
        }
        if (best == n)
            return -EINVAL;
        total += v * units[best].ms;
        p += best_len;
    }
    if (total > 1e12)
        return -ERANGE;
    *out = (long)total;
    return 0;
}

static int print_event(json_t *e, void *data)
{
    (void)data;
    if (json_dumpf(e, stdout, JSON_COMPACT) < 0 || putchar('\n') == EOF || fflush(stdout) == EOF)
        return -EPIPE;
    return 0;
}

static int run_events(const struct runtime_opts *ro, int argc, char **argv)
{
    bool stats = false;
    long interval = 5000;
    int o;
    while ((o = cmd_getopt(&cmd_events, argc, argv, "", events_long)) != -1) {
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
        if (o == 's')
            stats = true;
        if (o == 'i' && (parse_duration_ms(optarg, &interval) < 0 || interval <= 0))
            return cmd_usage_error(&cmd_events, "--interval: \"%s\" is not a duration greater than 0 (like 5s, 500ms)",
                                   optarg);
    }
    if (cmd_expect_args(&cmd_events, argc, 1, 1))
        return 1;
    struct error *err = NULL;
    if (container_events(ro, argv[optind], stats, interval, print_event, NULL, &err) < 0)
        return cmd_fail(err);
    return 0;
}

const struct command cmd_events = {
    .name = "events", .args = "ID", .run = run_events,
    .summary = "Print the container's events as JSON lines: its stats every interval and OOM kills, until it is deleted.",
    .options = "   --stats              print the stats once and exit\n"
               "   --interval T         time between stats (default 5s; 500ms, 1m...)\n",
};
