/* `exec`: a new process in a running container, and `ps`.
 *
 * The runtime forks a helper that joins the container's cgroups (and an
 * --cgroup sub-cgroup), sets the execCPUAffinity, joins every namespace of the
 * init through /proc/PID/ns, then forks the process itself (a pid or time
 * namespace only takes effect for children). The process sets itself up as
 * the init does (rlimits, pty, LSM labels, user, cwd, capabilities,
 * no_new_privs, seccomp) and execs. Errors come back over a close-on-exec
 * socket: EOF there means the exec happened. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "cleanup.h"
#include "executor.h"
#include "namespaces.h"
#include "spawn.h"
#include "log.h"
#include "process.h"
#include "seccomp.h"
#include "security.h"
#include "spec.h"
#include "state.h"
#include "terminal.h"
#include "util.h"

#define _cleanup_state_ _cleanup_(state_freep)
#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

/* ---- the process description ---- */

static int parse_user_flag(const char *s, struct spec_user *u, struct error **err)
{
    char *end;
    errno = 0;
    unsigned long uid = strtoul(s, &end, 10);
    if (errno || end == s || (*end && *end != ':') || uid > UINT32_MAX || s[0] == '-')
        return error_set(err, EINVAL, "--user: \"%s\" is not UID[:GID] (numbers)", s);
    u->uid = (uid_t)uid;
    if (*end == ':') {
        const char *g = end + 1;
        errno = 0;
        unsigned long gid = strtoul(g, &end, 10);
        if (errno || end == g || *end || gid > UINT32_MAX || g[0] == '-')
            return error_set(err, EINVAL, "--user: \"%s\" is not UID[:GID] (numbers)", s);
        u->gid = (gid_t)gid;
    }
    return 0;
}

static int add_gids(struct spec *spec, struct spec_user *u, const char *list, struct error **err)
{
    _cleanup_free_ char *copy = strdup(list);
    if (!copy)
        return error_set(err, ENOMEM, "out of memory");
    size_t extra = 1;
    for (const char *p = list; *p; p++)
        extra += *p == ',';
    gid_t *v = spec_alloc(spec, (u->n_additional_gids + extra + 1) * sizeof(gid_t));
    if (u->n_additional_gids)
        memcpy(v, u->additional_gids, u->n_additional_gids * sizeof(gid_t));
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        unsigned long g = strtoul(t, &end, 10);
        if (errno || end == t || *end || g > UINT32_MAX || t[0] == '-')
            return error_set(err, EINVAL, "--additional-gids: \"%s\" is not a gid", t);
        v[u->n_additional_gids++] = (gid_t)g;
    }
    u->additional_gids = v;
    return 0;
}

/* env with KEY=VALUE set (replacing an earlier KEY). */
static void env_set(struct spec *spec, struct spec_process *p, const char *kv)
{
    size_t klen = strcspn(kv, "=");
    for (size_t i = 0; i < p->n_env; i++)
        if (strncmp(p->env[i], kv, klen) == 0 && p->env[i][klen] == '=') {
            p->env[i] = kv;
            return;
        }
    const char **v = spec_alloc(spec, (p->n_env + 2) * sizeof(char *));
    memcpy(v, p->env, p->n_env * sizeof(char *));
    v[p->n_env++] = kv;
    v[p->n_env] = NULL;
    p->env = v;
}

static int build_process(struct spec *spec, const struct exec_opts *eo, json_t **process_doc, struct error **err)
{
    struct spec_process *p = &spec->process;
    if (eo->process_path) {
        json_error_t jerr;
        json_t *doc = json_load_file(eo->process_path, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            if (access(eo->process_path, R_OK) < 0)
                return error_sys(err, errno, "--process \"%s\"", eo->process_path);
            return error_set(err, EINVAL, "--process %s: line %d column %d: %s", eo->process_path, jerr.line,
                             jerr.column, jerr.text);
        }
        *process_doc = doc;     /* the parsed strings point into it */
        if (!json_is_object(doc))
            return error_set(err, EINVAL, "--process %s: expected an object", eo->process_path);
        struct spec_process np;
        int r = spec_parse_process(spec, doc, json_object_get(spec->json, "linux"), &np, err);
        if (r < 0)
            return error_prefix(err, "--process %s", eo->process_path);
        *p = np;
    } else {
        if (eo->n_args == 0)
            return error_set(err, EINVAL, "exec: a command (or --process) is needed");
        const char **args = spec_alloc(spec, (eo->n_args + 1) * sizeof(char *));
        for (size_t i = 0; i < eo->n_args; i++)
            args[i] = eo->args[i];
        p->args = args;
        p->n_args = eo->n_args;
        p->terminal = eo->tty;
    }
    /* flags override what the file or the config said */
    if (eo->process_path && eo->tty)
        p->terminal = true;
    for (size_t i = 0; i < eo->n_env; i++) {
        if (!strchr(eo->env[i], '='))
            return error_set(err, EINVAL, "--env: \"%s\" is not KEY=VALUE", eo->env[i]);
        env_set(spec, p, eo->env[i]);
    }
    if (eo->cwd) {
        if (eo->cwd[0] != '/')
            return error_set(err, EINVAL, "--cwd: \"%s\" is not an absolute path", eo->cwd);
        p->cwd = eo->cwd;
    }
    if (eo->user)
        TRY(parse_user_flag(eo->user, &p->user, err));
    for (size_t i = 0; i < eo->n_additional_gids; i++)
        TRY(add_gids(spec, &p->user, eo->additional_gids[i], err));
    for (size_t i = 0; i < eo->n_caps; i++)
        TRY(process_security_add_capability(p->security, eo->caps[i], err));
    if (eo->no_new_privs)
        p->no_new_privileges = true;
    if (eo->apparmor)
        TRY(process_security_set_apparmor(p->security, eo->apparmor, err));
    if (eo->process_label)
        TRY(process_security_set_selinux_label(p->security, eo->process_label, err));
    return 0;
}

/* ---- the helper and the process ---- */

struct exec_ctx {
    const struct exec_opts *eo;
    struct spec *spec;
    pid_t init;
    int sock;           /* to the runtime: "pid N", error text; EOF on exec */
    int console_fd;     /* -1 without a terminal */
    int listener_fd;    /* seccomp notify listener, -1 when none */
    const char *state_json;
};

static void report(int sock, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int sock, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) >= 0) {
        send(sock, msg, strlen(msg), MSG_NOSIGNAL);
        free(msg);
    }
    va_end(ap);
}

static void __attribute__((noreturn)) run_process(const struct exec_ctx *c)
{
    _cleanup_error_ struct error *err = NULL;
    const struct spec *spec = c->spec;
    const struct spec_process *p = &spec->process;
    const struct seccomp_profile *sc = spec->linux.seccomp;
    bool early = seccomp_profile_load_early(sc, p->no_new_privileges);
    /* krunc ignores SIGPIPE; the process must not inherit that */
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    if (process_set_rlimits(p, &err) < 0 || process_set_oom_score_adj(p, &err) < 0)
        goto fail;
    if (p->terminal && terminal_setup_exec(p, c->console_fd, &err) < 0)
        goto fail;
    if (c->console_fd >= 0)
        close(c->console_fd);
    if (process_security_prepare(p->security, &err) < 0)
        goto fail;
    if (early && seccomp_profile_apply(sc, c->listener_fd, c->state_json, &err) < 0)
        goto fail;
    if (process_switch_user(&p->user, &err) < 0 || process_enter_cwd(p, &err) < 0 ||
        process_security_apply(p->security, p->no_new_privileges, &err) < 0)
        goto fail;
    if (executor_default.check && executor_default.check(NULL, spec, &err) < 0)
        goto fail;
    if (process_cloexec_from(3 + c->eo->preserve_fds, &err) < 0)
        goto fail;
    if (!early && seccomp_profile_apply(sc, c->listener_fd, c->state_json, &err) < 0)
        goto fail;
    environ = (char **)p->env;
    executor_default.exec(NULL, spec, &err);
fail:
    report(c->sock, "%s", err ? err->msg : "exec failed");
    _exit(err && err->code == ENOENT ? 127 : 126);
}

/* Join the namespaces of the init that differ from ours. */
static int join_namespaces(pid_t init, struct error **err)
{
    static const struct { const char *name; int flag; } order[] = {
        { "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
        { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS }, { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
    };
    enum { N = sizeof(order) / sizeof(order[0]) };
    struct ns_join v[N];
    char what[N][64];
    int r = 0;
    for (size_t i = 0; i < N; i++) {
        v[i] = (struct ns_join){ .fd = -1, .flag = order[i].flag, .what = what[i] };
        snprintf(what[i], sizeof(what[i]), "join the container's %s namespace", order[i].name);
        char theirs[64], ours[64];
        snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)init, order[i].name);
        snprintf(ours, sizeof(ours), "/proc/self/ns/%s", order[i].name);
        struct stat a, b;
        if (stat(theirs, &a) < 0) {
            if (errno == ENOENT)
                continue;       /* a namespace type this kernel lacks */
            r = error_sys(err, errno, "stat %s", theirs);
            goto out;
        }
        if (stat(ours, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            continue;           /* shared with the host */
        if ((v[i].fd = open(theirs, O_RDONLY | O_CLOEXEC)) < 0) {
            r = error_sys(err, errno, "open %s", theirs);
            goto out;
        }
    }
    r = ns_join_ordered(v, N, err);
out:
    for (size_t i = 0; i < N; i++)
        if (v[i].fd >= 0)
            close(v[i].fd);
    return r;
}

static void __attribute__((noreturn)) run_helper(const struct exec_ctx *c)
{
    _cleanup_error_ struct error *err = NULL;
    const struct process_security *sec = c->spec->process.security;
    if (process_security_affinity_initial(sec, &err) < 0 || cgroup_join_like(c->init, getpid(), &err) < 0)
        goto fail;
    for (size_t i = 0; i < c->eo->n_cgroups; i++)
        if (cgroup_join_sub(getpid(), c->eo->cgroups[i], &err) < 0)
            goto fail;
    if (process_security_affinity_final(sec, &err) < 0 || join_namespaces(c->init, &err) < 0)
        goto fail;
    /* become root of a joined user namespace, as the init did */
    if (setresgid(0, 0, 0) < 0 && errno != EINVAL && errno != EPERM)
        goto fail_errno;
    if (setresuid(0, 0, 0) < 0 && errno != EINVAL && errno != EPERM)
        goto fail_errno;
    pid_t pid = fork();
    if (pid < 0)
        goto fail_errno;
    if (pid == 0)
        run_process(c);
    report(c->sock, "pid %d", (int)pid);
    _exit(0);
fail_errno:
    error_sys(&err, errno, "exec helper");
fail:
    report(c->sock, "%s", err ? err->msg : "exec failed");
    _exit(1);
}

/* Move fd to a number >= min (close-on-exec), so that --preserve-fds numbers stay free. */
static int lift_fd(int *fd, int min, struct error **err)
{
    if (*fd < 0 || *fd >= min)
        return 0;
    int n = fcntl(*fd, F_DUPFD_CLOEXEC, min);
    if (n < 0)
        return error_sys(err, errno, "fcntl(F_DUPFD_CLOEXEC)");
    close(*fd);
    *fd = n;
    return 0;
}

int container_exec(const struct runtime_opts *ro, const struct exec_opts *eo, int *exit_status, struct error **err)
{
    *exit_status = 0;
    _cleanup_state_ struct container_state *st = NULL;
    TRY(state_load(ro->root, eo->id, false, &st, err));
    enum container_status status = state_status(st);
    if (status == STATUS_STOPPED)
        return error_set(err, EINVAL, "cannot exec in a stopped container: %s", eo->id);
    if (status == STATUS_PAUSED && !eo->ignore_paused)
        return error_set(err, EINVAL, "cannot exec in a paused container: %s (use --ignore-paused)", eo->id);
    if (st->executor)
        TRY(executor_check_exec(st->executor, eo->id, err));

    _cleanup_spec_ struct spec *spec = NULL;
    TRY(state_load_spec(st, &spec, err));
    _cleanup_json_ json_t *process_doc = NULL;
    TRY(build_process(spec, eo, &process_doc, err));
    bool tty = spec->process.terminal;
    if (tty && eo->detach && !eo->console_socket)
        return error_set(err, EINVAL, "exec: a terminal in detached mode needs --console-socket");
    if (!tty && eo->console_socket)
        return error_set(err, EINVAL, "exec: --console-socket given, but no terminal was asked for (-t)");
    TRY(seccomp_profile_compile(spec->linux.seccomp, err));

    int min_fd = 3 + eo->preserve_fds;
    _cleanup_close_ int console_runtime = -1, console_fd = -1, listener_fd = -1, master = -1;
    if (tty) {
        if (eo->console_socket)
            TRY(console_socket_connect(eo->console_socket, &console_fd, err));
        else
            TRY(console_socketpair(&console_runtime, &console_fd, err));
    }
    TRY(seccomp_listener_connect(spec->linux.seccomp, &listener_fd, err));
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return error_sys(err, errno, "socketpair");
    _cleanup_close_ int sock = sv[0], child_sock = sv[1];
    TRY(lift_fd(&console_fd, min_fd, err));
    TRY(lift_fd(&listener_fd, min_fd, err));
    TRY(lift_fd(&child_sock, min_fd, err));

    _cleanup_free_ char *state_json = NULL;
    {
        _cleanup_json_ json_t *o = state_to_oci(st, status);
        state_json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    }
    pid_t init = st->pid;
    /* the lock is not held while the process runs: delete must stay possible */
    state_free(TAKE_PTR(st));

    sigset_t mask, old;
    if (!eo->detach)
        foreground_begin(&mask, &old);   /* the process is our grandchild */
    struct exec_ctx c = { .eo = eo, .spec = spec, .init = init, .sock = child_sock, .console_fd = console_fd,
                          .listener_fd = listener_fd, .state_json = state_json };
    fflush(NULL);
    pid_t helper = fork();
    if (helper < 0) {
        int e = errno;
        if (!eo->detach)
            sigprocmask(SIG_SETMASK, &old, NULL);
        return error_sys(err, e, "fork");
    }
    if (helper == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        process_hide_image(spec);
        close(sock);
        if (console_runtime >= 0)
            close(console_runtime);
        run_helper(&c);
    }
    close(TAKE_FD(child_sock));
    close(TAKE_FD(console_fd));
    close(TAKE_FD(listener_fd));

    int r = 0;
    pid_t pid = -1;
    char buf[4096];
    ssize_t n;
    do
        n = recv(sock, buf, sizeof(buf) - 1, 0);
    while (n < 0 && errno == EINTR);
    int hs;
    while (waitpid(helper, &hs, 0) < 0 && errno == EINTR)
        ;
    buf[n > 0 ? n : 0] = 0;
    if (n <= 0 || sscanf(buf, "pid %d", &pid) != 1) {
        r = error_set(err, EIO, "%s", n > 0 ? buf : "the exec helper failed");
        goto out;
    }
    /* EOF: the process exec'd; a message: it failed */
    do
        n = recv(sock, buf, sizeof(buf) - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        buf[n] = 0;
        r = error_set(err, EIO, "%s", buf);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        goto out;
    }
    if (eo->pid_file && (r = pid_file_write(eo->pid_file, pid, err)) < 0)
        goto out;
    if (eo->detach)
        return 0;
    if (console_runtime >= 0) {
        if ((r = console_receive_master(console_runtime, &master, err)) < 0 ||
            (r = terminal_proxy(master, pid, err)) < 0) {
            kill(pid, SIGKILL);
            int ignored;
            foreground_wait(pid, &mask, &ignored, NULL);
            goto out;
        }
    }
    r = foreground_wait(pid, &mask, exit_status, err);
out:
    if (!eo->detach)
        sigprocmask(SIG_SETMASK, &old, NULL);
    return r;
}

int container_ps(const struct runtime_opts *ro, const char *id, pid_t **pids, size_t *n, struct error **err)
{
    *pids = NULL;
    *n = 0;
    _cleanup_state_ struct container_state *st = NULL;
    TRY(state_load(ro->root, id, false, &st, err));
    if (state_status(st) == STATUS_STOPPED)
        return error_set(err, EINVAL, "container %s is not running", id);
    if (!st->cgroup)
        return error_set(err, ENOENT, "container %s has no cgroup to list", id);
    return cgroup_pids(st->cgroup, pids, n, err);
}
