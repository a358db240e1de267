/* The CLI commands: each parses its own flags and calls the library. */
#pragma once
#include <getopt.h>
#include <stdbool.h>
#include "../lib/container.h"
#include "../lib/error.h"

struct command {
    const char *name;
    const char *args;       /* "ID [SIGNAL]" */
    const char *summary;
    const char *options;    /* help text of the flags, one per line */
    int (*run)(const struct runtime_opts *ro, int argc, char **argv);
};

extern const struct command cmd_create, cmd_start, cmd_run, cmd_state, cmd_kill, cmd_delete, cmd_list,
    cmd_spec, cmd_features, cmd_exec, cmd_ps, cmd_update, cmd_pause, cmd_resume, cmd_events;
extern const struct command *const commands[];

/* Print the error (and log it), free it; returns the exit code 1. */
int cmd_fail(struct error *err);
/* A usage error: message and the command's usage on stderr; returns 1. */
int cmd_usage_error(const struct command *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmd_print_help(const struct command *c);
/* getopt_long over argv with --help handled; returns the option, -1 at the
 * end, '?' on a bad flag (already reported), 'h' for help (printed). */
int cmd_getopt(const struct command *c, int argc, char **argv, const char *shortopts, const struct option *longopts);
/* Check the number of positional arguments left after the flags. */
int cmd_expect_args(const struct command *c, int argc, int min, int max);
int parse_int_arg(const char *flag, const char *s, int *out, struct error **err);
