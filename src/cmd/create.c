#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

#define CREATE_OPTIONS \
    "   --bundle, -b DIR     the bundle directory (default: the current directory)\n" \
    "   --pid-file FILE      write the init's pid to FILE\n" \
    "   --console-socket S   send the pty master to the unix socket S\n" \
    "   --no-pivot           do not use pivot_root (for a rootfs on a ramdisk)\n" \
    "   --no-new-keyring     do not make a new session keyring\n" \
    "   --preserve-fds N     pass N more fds (3 .. 3+N-1) to the container\n"

enum { OPT_PID_FILE = 1000, OPT_CONSOLE_SOCKET, OPT_NO_PIVOT, OPT_NO_NEW_KEYRING, OPT_PRESERVE_FDS, OPT_NO_SUBREAPER };

static const struct option create_long[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "pid-file", required_argument, NULL, OPT_PID_FILE },
    { "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
    { "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
    { "no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING },
    { "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
    { "detach", no_argument, NULL, 'd' },
    { "no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER },
    { 0 },
};

/* Shared by create and run: returns 0, 1 (error, reported) or -1 (help shown). */
static int parse_create_opts(const struct command *c, int argc, char **argv, struct create_opts *co, bool is_run)
{
    int o;
    struct error *err = NULL;
    while ((o = cmd_getopt(c, argc, argv, is_run ? "b:d" : "b:", create_long)) != -1) {
        switch (o) {
        case 'h': return -1;
        case '?': return 1;
        case 'b': co->bundle = optarg; break;
        case 'd':
            if (!is_run)
                return cmd_usage_error(c, "unknown flag --detach");
            co->detach = true;
            break;
        case OPT_PID_FILE: co->pid_file = optarg; break;
        case OPT_CONSOLE_SOCKET: co->console_socket = optarg; break;
        case OPT_NO_PIVOT: co->no_pivot = true; break;
        case OPT_NO_NEW_KEYRING: co->no_new_keyring = true; break;
        case OPT_NO_SUBREAPER: break;   /* accepted for runc compatibility */
        case OPT_PRESERVE_FDS:
            if (parse_int_arg("--preserve-fds", optarg, &co->preserve_fds, &err) < 0)
                return cmd_fail(err);
            break;
        }
    }
    if (cmd_expect_args(c, argc, 1, 1))
        return 1;
    co->id = argv[optind];
    return 0;
}

static int run_create(const struct runtime_opts *ro, int argc, char **argv)
{
    struct create_opts co = { .detach = true };
    int r = parse_create_opts(&cmd_create, argc, argv, &co, false);
    if (r)
        return r < 0 ? 0 : r;
    struct error *err = NULL;
    if (container_create(ro, &co, &err) < 0)
        return cmd_fail(err);
    return 0;
}

static int run_run(const struct runtime_opts *ro, int argc, char **argv)
{
    struct create_opts co = { 0 };
    int r = parse_create_opts(&cmd_run, argc, argv, &co, true);
    if (r)
        return r < 0 ? 0 : r;
    struct error *err = NULL;
    int status = 0;
    if (container_run(ro, &co, &status, &err) < 0)
        return cmd_fail(err);
    return status;
}

const struct command cmd_create = {
    .name = "create", .args = "ID", .run = run_create,
    .summary = "Create a container from a bundle; it waits for `start` to run its process.",
    .options = CREATE_OPTIONS,
};

const struct command cmd_run = {
    .name = "run", .args = "ID", .run = run_run,
    .summary = "Create and start a container, wait for it and exit with its exit code (128+N when killed by signal N).",
    .options = CREATE_OPTIONS "   --detach, -d         do not wait for the container\n",
};
