/* pause, resume: the freezer of the container's cgroup. */
#include "cmd.h"

static int one_id(const struct command *c, const struct runtime_opts *ro, int argc, char **argv,
                  int (*op)(const struct runtime_opts *, const char *, struct error **))
{
    int o;
    while ((o = cmd_getopt(c, argc, argv, "", NULL)) != -1)
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
    if (cmd_expect_args(c, argc, 1, 1))
        return 1;
    struct error *err = NULL;
    if (op(ro, argv[optind], &err) < 0)
        return cmd_fail(err);
    return 0;
}

static int run_pause(const struct runtime_opts *ro, int argc, char **argv)
{
    return one_id(&cmd_pause, ro, argc, argv, container_pause);
}

static int run_resume(const struct runtime_opts *ro, int argc, char **argv)
{
    return one_id(&cmd_resume, ro, argc, argv, container_resume);
}

const struct command cmd_pause = {
    .name = "pause", .args = "ID", .run = run_pause,
    .summary = "Suspend every process of a running container (cgroup freezer).",
};

const struct command cmd_resume = {
    .name = "resume", .args = "ID", .run = run_resume,
    .summary = "Resume a paused container.",
};
