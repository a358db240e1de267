/* krunc: global flags and the command table. */
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/dynload.h"
#include "lib/error.h"
#include "lib/log.h"

const struct command *const commands[] = {
    &cmd_create, &cmd_start, &cmd_run, &cmd_exec, &cmd_ps, &cmd_state, &cmd_kill, &cmd_delete, &cmd_list, &cmd_spec,
    &cmd_features, &cmd_update, &cmd_pause, &cmd_resume, &cmd_events, NULL,
};

static void print_usage(FILE *out)
{
    fprintf(out, "Usage: krunc [global options] COMMAND [options] [arguments]\n\n"
                 "An OCI container runtime; a container runs as namespaces, or as a KVM microVM\n"
                 "through libkrun when its config has the annotation run.oci.handler=krun.\n\nCommands:\n");
    for (size_t i = 0; commands[i]; i++)
        fprintf(out, "   %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nGlobal options:\n"
                 "   --root DIR           state directory (default /run/krunc)\n"
                 "   --log FILE           log to FILE instead of stderr\n"
                 "   --log-format FMT     text (default) or json\n"
                 "   --debug              log debug messages\n"
                 "   --systemd-cgroup     create cgroups through systemd\n"
                 "   --libkrun FILE       the libkrun library for the krun executor (also $KRUNC_LIBKRUN)\n"
                 "   --version, -v        print the version\n"
                 "   --help, -h           show this help\n");
}

enum { OPT_ROOT = 1000, OPT_LOG, OPT_LOG_FORMAT, OPT_DEBUG, OPT_SYSTEMD_CGROUP, OPT_ROOTLESS, OPT_CRIU, OPT_LIBKRUN };

static const struct option global_long[] = {
    { "root", required_argument, NULL, OPT_ROOT },
    { "log", required_argument, NULL, OPT_LOG },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { "debug", no_argument, NULL, OPT_DEBUG },
    { "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP },
    { "rootless", required_argument, NULL, OPT_ROOTLESS },
    { "criu", required_argument, NULL, OPT_CRIU },
    { "libkrun", required_argument, NULL, OPT_LIBKRUN },
    { "version", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { 0 },
};

int main(int argc, char **argv)
{
    struct runtime_opts ro = { .root = "/run/krunc", .libkrun = getenv("KRUNC_LIBKRUN") };
    const char *log_path = NULL, *log_format = "text";
    dynload_init(argv);
    /* invoked as `krun`, every container is a microVM */
    char *self = strdup(argv[0]);
    if (self && strcmp(basename(self), "krun") == 0)
        ro.forced_handler = "krun";
    free(self);
    signal(SIGPIPE, SIG_IGN);

    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "+:vh", global_long, NULL)) != -1) {
        switch (o) {
        case OPT_ROOT: ro.root = optarg; break;
        case OPT_LOG: log_path = optarg; break;
        case OPT_LOG_FORMAT:
            if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
                fprintf(stderr, "krunc: --log-format: \"%s\" is not text or json\n", optarg);
                return 1;
            }
            log_format = optarg;
            break;
        case OPT_DEBUG: ro.debug = true; break;
        case OPT_SYSTEMD_CGROUP: ro.systemd_cgroup = true; break;
        case OPT_ROOTLESS: case OPT_CRIU: break;    /* accepted for runc compatibility */
        case OPT_LIBKRUN: ro.libkrun = optarg; break;
        case 'v':
            printf("krunc version %s\nspec: 1.2.0\nbuild: %s\n", KRUNC_VERSION, dynload_describe());
            return 0;
        case 'h':
            print_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "krunc: flag %s needs a value\n", argv[optind - 1]);
            return 1;
        default:
            fprintf(stderr, "krunc: unknown global flag %s\n", argv[optind - 1]);
            print_usage(stderr);
            return 1;
        }
    }
    if (ro.root[0] == '\0') {
        fprintf(stderr, "krunc: --root must not be empty\n");
        return 1;
    }
    if (log_init(log_path, log_format, ro.debug) < 0) {
        fprintf(stderr, "krunc: --log: cannot open \"%s\"\n", log_path);
        return 1;
    }
    if (optind >= argc) {
        print_usage(stderr);
        return 1;
    }
    const char *name = argv[optind];
    for (size_t i = 0; commands[i]; i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            /* 0, not 1: glibc then starts afresh, forgetting the stop-at-the-first-
             * argument order of the global parse, so that a command's flags may
             * follow its arguments (`create ID --pid-file F`), as runc allows */
            optind = 0;
            return commands[i]->run(&ro, sub_argc, sub_argv);
        }
    }
    char *msg = NULL;
    if (asprintf(&msg, "unknown command \"%s\"; see krunc --help", name) >= 0)
        log_fatal(msg);
    free(msg);
    return 1;
}
