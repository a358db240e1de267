/* ps: the processes of a container. json: the pids; table: the host's ps
 * output (ps -ef, or the ps options given after the id) cut to those pids. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"

static const struct option ps_long[] = { { "format", required_argument, NULL, 'f' }, { 0 } };

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/* Run ps with args; print its header and the lines whose PID column is ours. */
static int ps_table(char **ps_args, const pid_t *pids, size_t n, struct error **err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return error_sys(err, errno, "pipe");
    fflush(NULL);
    pid_t child = fork();
    if (child < 0)
        return error_sys(err, errno, "fork");
    if (child == 0) {
        dup2(p[1], STDOUT_FILENO);
        execvp("ps", ps_args);
        dprintf(STDERR_FILENO, "krunc: exec ps: %s\n", strerror(errno));
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char *line = NULL;
    size_t cap = 0;
    int pid_col = -1;
    bool header = true;
    while (f && getline(&line, &cap, f) > 0) {
        if (header) {
            /* which whitespace-separated column is PID */
            char *copy = strdup(line), *save = NULL;
            int col = 0;
            for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), col++)
                if (strcmp(t, "PID") == 0)
                    pid_col = col;
            free(copy);
            fputs(line, stdout);
            header = false;
            continue;
        }
        char *copy = strdup(line), *save = NULL;
        int col = 0;
        long pid = -1;
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), col++)
            if (col == pid_col) {
                pid = strtol(t, NULL, 10);
                break;
            }
        free(copy);
        if (has_pid(pids, n, pid))
            fputs(line, stdout);
    }
    free(line);
    if (f)
        fclose(f);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return error_set(err, EIO, "ps failed (exit status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (pid_col < 0)
        return error_set(err, EINVAL, "ps printed no PID column");
    return 0;
}

static int run_ps(const struct runtime_opts *ro, int argc, char **argv)
{
    int o;
    const char *format = "table";
    /* '+': what follows the id goes to ps */
    while ((o = cmd_getopt(&cmd_ps, argc, argv, "+f:", ps_long)) != -1) {
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
        if (o == 'f')
            format = optarg;
    }
    if (strcmp(format, "table") && strcmp(format, "json"))
        return cmd_usage_error(&cmd_ps, "--format: \"%s\" is not table or json", format);
    if (optind >= argc)
        return cmd_usage_error(&cmd_ps, "expects a container id");
    const char *id = argv[optind];
    struct error *err = NULL;
    pid_t *pids = NULL;
    size_t n = 0;
    if (container_ps(ro, id, &pids, &n, &err) < 0)
        return cmd_fail(err);
    int ret = 0;
    if (strcmp(format, "json") == 0) {
        if (optind + 1 < argc) {
            free(pids);
            return cmd_usage_error(&cmd_ps, "ps options cannot be used with --format json");
        }
        putchar('[');
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", (int)pids[i]);
        puts("]");
    } else {
        int extra = argc - optind - 1;
        char **args = calloc((size_t)extra + 3, sizeof(char *));
        if (!args) {
            free(pids);
            return cmd_fail(NULL);
        }
        args[0] = "ps";
        if (extra == 0)
            args[1] = "-ef";
        for (int i = 0; i < extra; i++)
            args[1 + i] = argv[optind + 1 + i];
        if (ps_table(args, pids, n, &err) < 0)
            ret = cmd_fail(err);
        free(args);
    }
    free(pids);
    return ret;
}

const struct command cmd_ps = {
    .name = "ps", .args = "ID [PS OPTIONS]", .run = run_ps,
    .summary = "List the processes of a container: json prints their pids, table the host's ps output "
               "(ps -ef unless ps options follow the id) for them.",
    .options = "   --format, -f FMT     table (default) or json\n",
};
