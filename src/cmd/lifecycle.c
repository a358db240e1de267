/* start, kill, delete: one container id each. */
#include <stdio.h>
#include <string.h>

#include "../lib/util.h"
#include "cmd.h"

static int run_start(const struct runtime_opts *ro, int argc, char **argv)
{
    int o;
    while ((o = cmd_getopt(&cmd_start, argc, argv, "", NULL)) != -1)
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
    if (cmd_expect_args(&cmd_start, argc, 1, 1))
        return 1;
    struct error *err = NULL;
    if (container_start(ro, argv[optind], &err) < 0)
        return cmd_fail(err);
    return 0;
}

static const struct option kill_long[] = { { "all", no_argument, NULL, 'a' }, { 0 } };

static int run_kill(const struct runtime_opts *ro, int argc, char **argv)
{
    int o;
    bool all = false;
    while ((o = cmd_getopt(&cmd_kill, argc, argv, "a", kill_long)) != -1) {
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
        if (o == 'a')
            all = true;
    }
    if (cmd_expect_args(&cmd_kill, argc, 1, 2))
        return 1;
    const char *name = optind + 1 < argc ? argv[optind + 1] : "SIGTERM";
    int sig = signal_from_string(name);
    if (sig < 0)
        return cmd_usage_error(&cmd_kill, "unknown signal \"%s\"", name);
    struct error *err = NULL;
    if (container_kill(ro, argv[optind], sig, all, &err) < 0)
        return cmd_fail(err);
    return 0;
}

static const struct option delete_long[] = { { "force", no_argument, NULL, 'f' }, { 0 } };

static int run_delete(const struct runtime_opts *ro, int argc, char **argv)
{
    int o;
    bool force = false;
    while ((o = cmd_getopt(&cmd_delete, argc, argv, "f", delete_long)) != -1) {
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
        if (o == 'f')
            force = true;
    }
    if (cmd_expect_args(&cmd_delete, argc, 1, 1))
        return 1;
    struct error *err = NULL;
    if (container_delete(ro, argv[optind], force, &err) < 0)
        return cmd_fail(err);
    return 0;
}

const struct command cmd_start = {
    .name = "start", .args = "ID", .run = run_start,
    .summary = "Start the process of a created container.",
};

const struct command cmd_kill = {
    .name = "kill", .args = "ID [SIGNAL]", .run = run_kill,
    .summary = "Send a signal (default SIGTERM; a name with or without SIG, or a number) to the container's init.",
    .options = "   --all, -a            signal every process of the container\n",
};

const struct command cmd_delete = {
    .name = "delete", .args = "ID", .run = run_delete,
    .summary = "Delete a container and everything it holds (state, cgroup).",
    .options = "   --force, -f          kill the container first if it is still running\n",
};
