/* exec: run a new process in a container. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define EXEC_OPTIONS \
    "   --process, -p FILE   the process to run, as an OCI process object (JSON)\n" \
    "   --tty, -t            give the process a terminal\n" \
    "   --detach, -d         do not wait for the process\n" \
    "   --console-socket S   send the pty master to the unix socket S\n" \
    "   --env, -e KEY=VALUE  set an environment variable (repeatable)\n" \
    "   --cwd DIR            working directory in the container\n" \
    "   --user, -u UID[:GID] run as this user\n" \
    "   --additional-gids, -g G[,G]  supplementary groups (repeatable)\n" \
    "   --cap, -c CAP        add a capability (repeatable)\n" \
    "   --no-new-privs       set no_new_privs for the process\n" \
    "   --apparmor PROFILE   the AppArmor profile of the process\n" \
    "   --process-label L    the SELinux label of the process\n" \
    "   --pid-file FILE      write the process's pid to FILE\n" \
    "   --preserve-fds N     pass N more fds (3 .. 3+N-1) to the process\n" \
    "   --cgroup [CTRL:]SUB  run in the container's existing sub-cgroup SUB (repeatable)\n" \
    "   --ignore-paused      allow exec in a paused container\n"

enum {
    OPT_CONSOLE_SOCKET = 1000, OPT_CWD, OPT_NO_NEW_PRIVS, OPT_APPARMOR, OPT_PROCESS_LABEL, OPT_PID_FILE,
    OPT_PRESERVE_FDS, OPT_CGROUP, OPT_IGNORE_PAUSED, OPT_NO_SUBREAPER,
};

static const struct option exec_long[] = {
    { "process", required_argument, NULL, 'p' },
    { "tty", no_argument, NULL, 't' },
    { "detach", no_argument, NULL, 'd' },
    { "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
    { "env", required_argument, NULL, 'e' },
    { "cwd", required_argument, NULL, OPT_CWD },
    { "user", required_argument, NULL, 'u' },
    { "additional-gids", required_argument, NULL, 'g' },
    { "cap", required_argument, NULL, 'c' },
    { "no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS },
    { "apparmor", required_argument, NULL, OPT_APPARMOR },
    { "process-label", required_argument, NULL, OPT_PROCESS_LABEL },
    { "pid-file", required_argument, NULL, OPT_PID_FILE },
    { "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
    { "cgroup", required_argument, NULL, OPT_CGROUP },
    { "ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED },
    { "no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER },
    { 0 },
};

/* Append to a NULL-terminated list sized by argc (every flag value fits). */
static void push(const char ***list, size_t *n, const char *v, int argc)
{
    if (!*list)
        *list = calloc((size_t)argc + 1, sizeof(char *));
    if (*list)
        (*list)[(*n)++] = v;
}

static int run_exec(const struct runtime_opts *ro, int argc, char **argv)
{
    struct exec_opts eo = { 0 };
    struct error *err = NULL;
    int o, ret = 1;
    /* '+': options stop at the container id, the command's own flags are its own */
    while ((o = cmd_getopt(&cmd_exec, argc, argv, "+p:tde:u:g:c:", exec_long)) != -1) {
        switch (o) {
        case 'h': ret = 0; goto out;
        case '?': goto out;
        case 'p': eo.process_path = optarg; break;
        case 't': eo.tty = true; break;
        case 'd': eo.detach = true; break;
        case OPT_CONSOLE_SOCKET: eo.console_socket = optarg; break;
        case 'e': push(&eo.env, &eo.n_env, optarg, argc); break;
        case OPT_CWD: eo.cwd = optarg; break;
        case 'u': eo.user = optarg; break;
        case 'g': push(&eo.additional_gids, &eo.n_additional_gids, optarg, argc); break;
        case 'c': push(&eo.caps, &eo.n_caps, optarg, argc); break;
        case OPT_NO_NEW_PRIVS: eo.no_new_privs = true; break;
        case OPT_APPARMOR: eo.apparmor = optarg; break;
        case OPT_PROCESS_LABEL: eo.process_label = optarg; break;
        case OPT_PID_FILE: eo.pid_file = optarg; break;
        case OPT_PRESERVE_FDS:
            if (parse_int_arg("--preserve-fds", optarg, &eo.preserve_fds, &err) < 0) {
                ret = cmd_fail(err);
                goto out;
            }
            break;
        case OPT_CGROUP: push(&eo.cgroups, &eo.n_cgroups, optarg, argc); break;
        case OPT_IGNORE_PAUSED: eo.ignore_paused = true; break;
        case OPT_NO_SUBREAPER: break;   /* accepted for runc compatibility */
        }
    }
    if (optind >= argc) {
        ret = cmd_usage_error(&cmd_exec, "expects a container id");
        goto out;
    }
    eo.id = argv[optind];
    eo.args = argv + optind + 1;
    eo.n_args = (size_t)(argc - optind - 1);
    if (!eo.process_path && eo.n_args == 0) {
        ret = cmd_usage_error(&cmd_exec, "expects a command to run (or --process)");
        goto out;
    }
    if (eo.process_path && eo.n_args) {
        ret = cmd_usage_error(&cmd_exec, "takes either --process or a command, not both");
        goto out;
    }
    int status = 0;
    if (container_exec(ro, &eo, &status, &err) < 0) {
        cmd_fail(err);
        ret = 255;      /* as runc exec fails */
    } else {
        ret = status;
    }
out:
    free(eo.env);
    free(eo.additional_gids);
    free(eo.caps);
    free(eo.cgroups);
    return ret;
}

const struct command cmd_exec = {
    .name = "exec", .args = "ID [COMMAND [ARG...]]", .run = run_exec,
    .summary = "Run a new process in a container: it joins the container's namespaces and cgroup and gets its "
               "capabilities, seccomp profile and rlimits unless flags say otherwise; exits with the process's code.",
    .options = EXEC_OPTIONS,
};
