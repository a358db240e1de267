#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "cleanup.h"
#include "dynload.h"
#include "executor.h"
#include "hooks.h"
#include "log.h"
#include "namespaces.h"
#include "seccomp.h"
#include "spawn.h"
#include "spec.h"
#include "state.h"
#include "terminal.h"
#include "util.h"

#define _cleanup_state_ _cleanup_(state_freep)

static char *oci_state_string(const struct container_state *st, enum container_status status)
{
    _cleanup_json_ json_t *o = state_to_oci(st, status);
    return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

static void kill_and_reap(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Everything `create` does; *pid_out is the init's pid. For `run` in the
 * foreground with a terminal, *console_out (when not NULL) gets the runtime's
 * end of the console socket pair, else -1. */
static int create_container(const struct runtime_opts *ro, const struct create_opts *co, pid_t *pid_out,
                            int *console_out, struct error **err)
{
    int r = state_check_id(co->id, err);
    if (r < 0)
        return r;
    _cleanup_spec_ struct spec *spec = NULL;
    if ((r = spec_load(co->bundle ? co->bundle : ".", &spec, err)) < 0)
        return r;
    if (spec->process.terminal && !co->console_socket && co->detach)
        return error_set(err, EINVAL, "process.terminal is true, but no --console-socket was given to receive the pty");
    if (!spec->process.terminal && co->console_socket)
        return error_set(err, EINVAL, "--console-socket given, but process.terminal is false");
    const struct executor *ex;
    if ((r = executor_select(spec, ro->forced_handler, &ex, err)) < 0)
        return r;
    /* libkrun (pre_exec) and sd-bus (once the init exists) are opened with
     * dlopen: make it usable now, before anything is made */
    if ((ex->uses_dlopen || ro->systemd_cgroup) && (r = dynload_prepare(err)) < 0)
        return r;
    if ((r = seccomp_profile_compile(spec->linux.seccomp, err)) < 0)
        return r;
    struct executor_ctx ectx = { .executor = ex, .debug = ro->debug, .library = ro->libkrun };
    if ((r = ex->pre_exec(&ectx, spec, spec->bundle, err)) < 0)
        return r;

    _cleanup_close_ int dirfd = -1, lockfd = -1, console_fd = -1, sync_fd = -1, console_runtime = -1;
    _cleanup_free_ char *created = NULL, *state_json = NULL;
    struct container_state st;
    pid_t pid = -1;
    json_t *cgroup = NULL;
    bool dir_made = false;
    if ((r = state_dir_create(ro->root, co->id, &dirfd, &lockfd, err)) < 0)
        goto fail;
    dir_made = true;
    if (mkfifoat(dirfd, EXEC_FIFO, 0622) < 0 || fchmodat(dirfd, EXEC_FIFO, 0622, 0) < 0) {
        r = error_sys(err, errno, "create the exec fifo");
        goto fail;
    }
    if ((r = state_write_config(dirfd, co->id, spec->json, err)) < 0)
        goto fail;
    if (co->console_socket && (r = console_socket_connect(co->console_socket, &console_fd, err)) < 0)
        goto fail;
    /* foreground with a terminal: the runtime itself receives the pty master */
    if (spec->process.terminal && !co->console_socket && (r = console_socketpair(&console_runtime, &console_fd, err)) < 0)
        goto fail;

    struct spawn_args sa = {
        .spec = spec, .executor = ex, .exec_ctx = &ectx, .state_dirfd = dirfd, .lockfd = lockfd,
        .console_fd = console_fd, .no_pivot = co->no_pivot, .no_new_keyring = co->no_new_keyring, .preserve_fds = co->preserve_fds,
    };
    if ((r = spawn_init(&sa, &pid, &sync_fd, err)) < 0)
        goto fail;
    if (spec->linux.ns[NS_USER].enabled && !spec->linux.ns[NS_USER].path &&
        (r = ns_write_id_maps(spec, pid, err)) < 0)
        goto fail;
    struct cgroup_opts copts = { .id = co->id, .systemd = ro->systemd_cgroup };
    if ((r = cgroup_create(spec, &copts, pid, &cgroup, err)) < 0)
        goto fail;

    created = now_rfc3339();
    st = (struct container_state){
        .id = (char *)co->id, .pid = pid, .pid_start = proc_start_time(pid), .bundle = (char *)spec->bundle,
        .rootfs = (char *)spec->root_path, .created = created, .owner = "", .executor = (char *)ex->name,
        .cgroup = cgroup, .dirfd = dirfd, .lockfd = -1,
    };
    json_t *ann = json_object_get(spec->json, "annotations");
    st.annotations = json_is_object(ann) ? ann : NULL;
    if ((r = state_save(&st, err)) < 0)
        goto fail;

    state_json = oci_state_string(&st, STATUS_CREATING);
    if ((r = sync_send(sync_fd, SYNC_GO, state_json)) < 0) {
        r = error_sys(err, -r, "start the container init");
        goto fail;
    }
    for (;;) {
        _cleanup_free_ char *payload = NULL;
        int t = sync_recv(sync_fd, &payload);
        if (t == SYNC_READY)
            break;
        if (t == SYNC_HOOKS) {
            if ((r = hooks_run(spec, HOOK_PRESTART, state_json, err)) < 0 ||
                (r = hooks_run(spec, HOOK_CREATE_RUNTIME, state_json, err)) < 0) {
                sync_send(sync_fd, SYNC_ERROR, (*err)->msg);
                goto fail;
            }
            sync_send(sync_fd, SYNC_HOOKS_DONE, NULL);
            continue;
        }
        r = t == SYNC_ERROR && payload ? error_set(err, EIO, "%s", payload)
                                       : error_set(err, EIO, "the container init exited during setup");
        goto fail;
    }
    if (co->pid_file && (r = pid_file_write(co->pid_file, pid, err)) < 0)
        goto fail;
    log_debug("created container %s, init pid %d, executor %s", co->id, (int)pid, ex->name);
    json_decref(cgroup);
    if (ex->release)
        ex->release(&ectx);
    *pid_out = pid;
    if (console_out)
        *console_out = TAKE_FD(console_runtime);
    return 0;

fail:
    kill_and_reap(pid);
    if (cgroup) {
        cgroup_destroy(cgroup, NULL);
        json_decref(cgroup);
    }
    if (ex->cleanup)
        ex->cleanup(spec, NULL);
    if (ex->release)
        ex->release(&ectx);
    if (dir_made)
        state_remove_dir(ro->root, co->id, NULL);
    return r;
}

int container_create(const struct runtime_opts *ro, const struct create_opts *co, struct error **err)
{
    pid_t pid;
    return create_container(ro, co, &pid, NULL, err);
}

static bool pid_alive(const struct container_state *st)
{
    return st->pid > 0 && proc_start_time(st->pid) == st->pid_start;
}

int container_start(const struct runtime_opts *ro, const char *id, struct error **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(ro->root, id, true, &st, err);
    if (r < 0)
        return r;
    enum container_status s = state_status(st);
    if (s != STATUS_CREATED)
        return error_set(err, EINVAL, "cannot start a container that is %s: %s", status_name(s), id);
    _cleanup_close_ int fifo = openat(st->dirfd, EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fifo < 0)
        return error_sys(err, errno, "open the exec fifo of %s", id);
    /* The init is blocked opening the other end. Once it has, it runs the
     * startContainer hooks and writes '0' (then the fifo closes when its
     * exec succeeds) or '1' and what failed. */
    char buf[4096];
    size_t got = 0;
    for (;;) {
        struct pollfd p = { .fd = fifo, .events = POLLIN };
        int n = poll(&p, 1, 100);
        if (n < 0 && errno != EINTR)
            return error_sys(err, errno, "wait for the init of %s", id);
        if (n > 0) {
            ssize_t k = read(fifo, buf + got, sizeof(buf) - 1 - got);
            if (k > 0) {
                got += (size_t)k;
                if (got < sizeof(buf) - 1)
                    continue;
            }
            if (k < 0 && errno == EAGAIN)
                continue;
            if (k == 0 || got == sizeof(buf) - 1)
                break;      /* the writer is gone: exec'd, or exited */
        }
        if (!got && !pid_alive(st))
            return error_set(err, ESRCH, "the init of container %s has exited", id);
    }
    buf[got] = '\0';
    if (got == 0)
        return error_set(err, ESRCH, "the init of container %s has exited", id);
    if (buf[0] != '0') {
        unlinkat(st->dirfd, EXEC_FIFO, 0);
        return error_set(err, EIO, "start %s: %s", id, got > 1 ? buf + 1 : "the container init failed");
    }
    unlinkat(st->dirfd, EXEC_FIFO, 0);

    /* the whole spec is parsed only when there are poststart hooks to run */
    json_t *doc;
    if ((r = state_read_config(st, &doc, err)) < 0)
        return r;
    if (json_array_size(json_object_get(json_object_get(doc, "hooks"), "poststart")) == 0) {
        json_decref(doc);
        return 0;
    }
    _cleanup_spec_ struct spec *spec = NULL;
    if ((r = spec_parse(doc, st->bundle ? st->bundle : "/", &spec, err)) < 0)
        return r;
    if (spec->hooks[HOOK_POSTSTART].n) {
        _cleanup_free_ char *sj = oci_state_string(st, STATUS_RUNNING);
        _cleanup_error_ struct error *herr = NULL;
        if (hooks_run(spec, HOOK_POSTSTART, sj, &herr) < 0)
            log_warn("%s", herr->msg);
    }
    return 0;
}

static int wait_gone(pid_t pid, unsigned long long start, int timeout_ms)
{
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0 && proc_start_time(pid) == start) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        poll(&p, 1, timeout_ms);
    }
    return proc_start_time(pid) == start ? -ETIMEDOUT : 0;
}

static int destroy_container(const struct runtime_opts *ro, struct container_state *st, struct error **err)
{
    _cleanup_spec_ struct spec *spec = NULL;
    _cleanup_error_ struct error *serr = NULL;
    if (state_load_spec(st, &spec, &serr) < 0)
        log_warn("delete %s: %s", st->id, serr->msg);
    if (st->cgroup) {
        int r = cgroup_destroy(st->cgroup, err);
        if (r < 0)
            return r;
    }
    if (spec) {
        const struct executor *ex = st->executor ? executor_by_name(st->executor) : NULL;
        if (ex && ex->cleanup) {
            _cleanup_error_ struct error *cerr = NULL;
            if (ex->cleanup(spec, &cerr) < 0)
                log_warn("delete %s: %s", st->id, cerr->msg);
        }
        if (spec->hooks[HOOK_POSTSTOP].n) {
            _cleanup_free_ char *sj = oci_state_string(st, STATUS_STOPPED);
            _cleanup_error_ struct error *herr = NULL;
            if (hooks_run(spec, HOOK_POSTSTOP, sj, &herr) < 0)
                log_warn("%s", herr->msg);
        }
    }
    return state_remove_dir(ro->root, st->id, err);
}

int container_delete(const struct runtime_opts *ro, const char *id, bool force, struct error **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    _cleanup_error_ struct error *lerr = NULL;
    int r = state_load(ro->root, id, true, &st, &lerr);
    /* `delete --force` of a container that is already gone succeeds, as in runc:
     * podman and conmon call it to clean up after a create that failed */
    if (r == -ENOENT && force)
        return 0;
    if (r < 0) {
        if (err)
            *err = TAKE_PTR(lerr);
        return r;
    }
    /* a systemd scope is stopped over sd-bus: make dlopen usable before anything is killed */
    if (st->cgroup && cgroup_uses_systemd(st->cgroup) && (r = dynload_prepare(err)) < 0)
        return r;
    enum container_status s = state_status(st);
    if (s != STATUS_STOPPED) {
        if (s != STATUS_CREATED && !force)
            return error_set(err, EBUSY, "cannot delete container %s that is not stopped: %s", id, status_name(s));
        if (st->cgroup) {
            cgroup_kill_all(st->cgroup, SIGKILL, NULL);
            if (s == STATUS_PAUSED)
                cgroup_freeze(st->cgroup, false, NULL);
        }
        kill(st->pid, SIGKILL);
        if (wait_gone(st->pid, st->pid_start, 5000) < 0)
            return error_set(err, ETIMEDOUT, "container %s: init %d did not exit after SIGKILL", id, (int)st->pid);
    }
    return destroy_container(ro, st, err);
}

int container_kill(const struct runtime_opts *ro, const char *id, int sig, bool all, struct error **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(ro->root, id, false, &st, err);
    if (r < 0)
        return r;
    /* --all goes through the cgroup even once the init has exited: without a
     * pid namespace its children outlive it, and the runc shim kills them so */
    if (all && st->cgroup)
        return cgroup_kill_all(st->cgroup, sig, err);
    enum container_status s = state_status(st);
    if (s == STATUS_STOPPED)
        return error_set(err, ESRCH, "container not running: %s", id);
    /* a frozen process dies of SIGKILL only once thawed (v1), as runc does it */
    bool thaw = sig == SIGKILL && s == STATUS_PAUSED;
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
    /* the pidfd pins the process: check it is still the init we started */
    if (pidfd < 0 || !pid_alive(st))
        return error_set(err, ESRCH, "container not running: %s", id);
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
        return error_sys(err, errno, "kill %s with signal %d", id, sig);
    if (thaw)
        return cgroup_freeze(st->cgroup, false, err);
    return 0;
}

int container_state(const struct runtime_opts *ro, const char *id, json_t **out, struct error **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(ro->root, id, false, &st, err);
    if (r < 0)
        return r;
    *out = state_to_oci(st, state_status(st));
    return *out ? 0 : error_set(err, ENOMEM, "out of memory");
}

int container_list(const struct runtime_opts *ro, json_t **out, struct error **err)
{
    char **ids;
    size_t n;
    int r = state_list_ids(ro->root, &ids, &n, err);
    if (r < 0)
        return r;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o;
        if (container_state(ro, ids[i], &o, NULL) == 0)
            json_array_append_new(arr, o);
        free(ids[i]);
    }
    free(ids);
    *out = arr;
    return 0;
}

/* ---- run ---- */

int container_run(const struct runtime_opts *ro, const struct create_opts *co, int *exit_status, struct error **err)
{
    sigset_t mask, old;
    if (!co->detach)
        foreground_begin(&mask, &old);   /* the init may come from an intermediate process */
    pid_t pid;
    _cleanup_close_ int console = -1, master = -1;
    int r = create_container(ro, co, &pid, co->detach ? NULL : &console, err);
    if (r < 0)
        return r;
    r = container_start(ro, co->id, err);
    if (r < 0) {
        container_delete(ro, co->id, true, NULL);
        return r;
    }
    *exit_status = 0;
    if (co->detach)
        return 0;
    /* a terminal in the foreground: the user's tty <-> the container's pty until it exits */
    if (console >= 0 && ((r = console_receive_master(console, &master, err)) < 0 ||
                         (r = terminal_proxy(master, pid, err)) < 0)) {
        kill(pid, SIGKILL);
        int ignored;
        foreground_wait(pid, &mask, &ignored, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        container_delete(ro, co->id, true, NULL);
        return r;
    }
    r = foreground_wait(pid, &mask, exit_status, err);
    sigprocmask(SIG_SETMASK, &old, NULL);
    _cleanup_error_ struct error *derr = NULL;
    if (container_delete(ro, co->id, true, &derr) < 0)
        log_warn("%s", derr->msg);
    return r;
}
