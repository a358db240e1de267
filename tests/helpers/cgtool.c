/* Test harness for the cgroup module on the real hierarchies (used by tests/integration/test_cgroups.py).
 *
 *   cgtool run [-p CGROUPS_PATH] [-r RESOURCES.json] [-i ID] [-s STATE_OUT] [-d] [-k] [--systemd] -- CMD ARGS...
 *       forks CMD, puts it in a new cgroup before it runs, waits for it, removes the cgroup and
 *       exits with CMD's status (-d: don't wait, print the pid; -k: keep the cgroup)
 *   cgtool destroy|pids|frozen|stats STATE
 *   cgtool kill STATE SIGNAL         cgtool freeze STATE 0|1       cgtool update STATE RESOURCES.json
 *   cgtool check RESOURCES.json      cgtool oom STATE (prints a line per OOM kill until the cgroup is gone)
 *   cgtool bpf-run RESOURCES.json -- CMD ARGS...
 *       runs CMD in a fresh cgroup of the v2 hierarchy only, with the eBPF device program made from
 *       RESOURCES' devices rules attached: on a hybrid host this tests the v2 program alone
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "cgroups/internal.h"
#include "cleanup.h"
#include "util.h"

static int fail(struct error *e)
{
    fprintf(stderr, "cgtool: %s\n", e && e->msg ? e->msg : "failed");
    error_free(e);
    return 1;
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = !strcmp(path, "-") ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "cgtool: %s: %s\n", path, je.text);
        exit(2);
    }
    return j;
}

static int cmd_run(int argc, char **argv)
{
    const char *path = NULL, *res_file = NULL, *id = "cgtool", *state_out = NULL;
    bool detach = false, keep = false, systemd = false;
    static const struct option longopts[] = { { "systemd", no_argument, NULL, 'S' }, { 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "+p:r:i:s:dk", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': path = optarg; break;
        case 'r': res_file = optarg; break;
        case 'i': id = optarg; break;
        case 's': state_out = optarg; break;
        case 'd': detach = true; break;
        case 'k': keep = true; break;
        case 'S': systemd = true; break;
        default: return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "cgtool run: no command\n");
        return 2;
    }
    _cleanup_json_ json_t *res = res_file ? load_json(res_file) : NULL;
    struct error *e = NULL;
    if (res && cgroup_resources_check(res, &e) < 0)
        return fail(e);
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        char b;
        close(go[1]);
        if (read(go[0], &b, 1) != 1)
            _exit(127);
        execvp(argv[optind], argv + optind);
        _exit(127);
    }
    close(go[0]);
    struct cgroup_opts opts = { .id = id, .systemd = systemd };
    json_t *state = NULL;
    struct timespec t0, t1, t2, t3;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (cgroup_create_at(path, res, &opts, pid, &state, &e) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return fail(e);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (state_out) {
        if (state ? json_dump_file(state, state_out, 0) < 0 : write_file_at(AT_FDCWD, state_out, "null", 4, O_CREAT | O_TRUNC, 0644) < 0) {
            fprintf(stderr, "cgtool: cannot write %s\n", state_out);
            kill(pid, SIGKILL);
        }
    }
    if (write(go[1], "x", 1) != 1)
        return 1;
    close(go[1]);
    if (detach) {
        printf("%d\n", (int)pid);
        json_decref(state);
        return 0;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    clock_gettime(CLOCK_MONOTONIC, &t2);
    if (!keep && cgroup_destroy(state, &e) < 0) {
        json_decref(state);
        return fail(e);
    }
    clock_gettime(CLOCK_MONOTONIC, &t3);
    if (getenv("CGTOOL_TIMING"))
        fprintf(stderr, "create %ldus destroy %ldus\n", (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000),
                (long)((t3.tv_sec - t2.tv_sec) * 1000000 + (t3.tv_nsec - t2.tv_nsec) / 1000));
    json_decref(state);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_bpf_run(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--"))
        return 2;
    _cleanup_json_ json_t *res = load_json(argv[1]);
    struct error *e = NULL;
    struct cg_resources r;
    if (cg_resources_parse(res, "linux.resources", &r, &e) < 0)
        return fail(e);
    struct cg_hosts hosts;
    if (cg_detect(&hosts, &e) < 0)
        return fail(e);
    struct cg_hier *v2 = cg_hosts_v2(&hosts);
    if (!v2) {
        fprintf(stderr, "cgtool: no cgroup v2 hierarchy on this host\n");
        return 77;
    }
    _cleanup_free_ char *dir = NULL;
    if (asprintf(&dir, "%s/krunc-bpftest.%d", v2->mount, (int)getpid()) < 0 || mkdir(dir, 0755) < 0) {
        perror("cgtool: mkdir");
        return 1;
    }
    cg_hosts_free(&hosts);
    int ret = 1;
    _cleanup_free_ struct cg_device_rule *rules = NULL;
    size_t n = 0;
    _cleanup_close_ int prog = -1, dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg_device_rules_effective(&r, &rules, &n) < 0 || dfd < 0 || cg_bpf_devices_load(rules, n, &prog, &e) < 0 ||
        cg_bpf_devices_attach(dfd, prog, dir, &e) < 0) {
        fail(e);
        rmdir(dir);
        cg_resources_free(&r);
        return 1;
    }
    cg_resources_free(&r);
    pid_t pid = fork();
    if (pid == 0) {
        char pidstr[16];
        int len = snprintf(pidstr, sizeof(pidstr), "%d", (int)getpid());
        if (write_file_at(dfd, "cgroup.procs", pidstr, (size_t)len, 0, 0) < 0)
            _exit(126);
        execvp(argv[3], argv + 3);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
        usleep(1000);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cgtool run|destroy|pids|kill|freeze|frozen|update|stats|check|oom ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "bpf-run"))
        return cmd_bpf_run(argc - 1, argv + 1);
    if (argc < 3)
        return 2;
    struct error *e = NULL;
    if (!strcmp(cmd, "check")) {
        _cleanup_json_ json_t *res = load_json(argv[2]);
        return cgroup_resources_check(res, &e) < 0 ? fail(e) : 0;
    }
    _cleanup_json_ json_t *state = load_json(argv[2]);
    if (!strcmp(cmd, "destroy"))
        return cgroup_destroy(state, &e) < 0 ? fail(e) : 0;
    if (!strcmp(cmd, "pids")) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cgroup_pids(state, &pids, &n, &e) < 0)
            return fail(e);
        for (size_t i = 0; i < n; i++)
            printf("%d\n", (int)pids[i]);
        return 0;
    }
    if (!strcmp(cmd, "kill") && argc > 3) {
        int sig = signal_from_string(argv[3]);
        if (sig < 0)
            return 2;
        return cgroup_kill_all(state, sig, &e) < 0 ? fail(e) : 0;
    }
    if (!strcmp(cmd, "freeze") && argc > 3)
        return cgroup_freeze(state, atoi(argv[3]) != 0, &e) < 0 ? fail(e) : 0;
    if (!strcmp(cmd, "frozen")) {
        int r = cgroup_is_frozen(state);
        if (r < 0)
            return 1;
        printf("%d\n", r);
        return 0;
    }
    if (!strcmp(cmd, "update") && argc > 3) {
        _cleanup_json_ json_t *res = load_json(argv[3]);
        return cgroup_update(state, res, &e) < 0 ? fail(e) : 0;
    }
    if (!strcmp(cmd, "oom")) {
        struct cgroup_oom_watch *w = NULL;
        if (cgroup_oom_watch_open(state, &w, &e) < 0)
            return fail(e);
        /* ready: the caller may start the hog now */
        printf("watching\n");
        fflush(stdout);
        for (;;) {
            struct pollfd p = { .fd = cgroup_oom_watch_fd(w), .events = POLLIN };
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                break;
            uint64_t n = 0;
            int r = cgroup_oom_watch_read(w, &n, &e);
            if (r == -ENOENT)
                break;
            if (r < 0) {
                cgroup_oom_watch_free(w);
                return fail(e);
            }
            for (uint64_t i = 0; i < n; i++)
                printf("oom\n");
            fflush(stdout);
        }
        printf("gone\n");
        cgroup_oom_watch_free(w);
        return 0;
    }
    if (!strcmp(cmd, "stats")) {
        json_t *stats = NULL;
        if (cgroup_stats(state, &stats, &e) < 0)
            return fail(e);
        json_dumpf(stats, stdout, JSON_SORT_KEYS);
        putchar('\n');
        json_decref(stats);
        return 0;
    }
    fprintf(stderr, "cgtool: unknown command %s\n", cmd);
    return 2;
}
