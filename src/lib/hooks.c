#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

static int hook_run(const struct spec_hook *h, const char *kind, const char *state_json, struct error **err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return error_sys(err, errno, "%s hook \"%s\": pipe", kind, h->path);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return error_sys(err, e, "%s hook \"%s\": fork", kind, h->path);
    }
    if (pid == 0) {
        dup2(pipefd[0], STDIN_FILENO);
        signal(SIGPIPE, SIG_DFL);
        const char *argv0[] = { h->path, NULL };
        const char *empty[] = { NULL };
        execve(h->path, (char *const *)(h->args && h->args[0] ? h->args : argv0),
               (char *const *)(h->env ? h->env : empty));
        dprintf(STDERR_FILENO, "krunc: %s hook \"%s\": exec: %s\n", kind, h->path, strerror(errno));
        _exit(127);
    }
    close(pipefd[0]);
    /* a hook need not read its stdin: a short write or EPIPE is fine */
    write_all(pipefd[1], state_json, strlen(state_json));
    close(pipefd[1]);

    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (h->timeout > 0 && pidfd >= 0) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int n;
        do
            n = poll(&p, 1, h->timeout * 1000);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return error_set(err, ETIMEDOUT, "%s hook \"%s\": timed out after %d s", kind, h->path, h->timeout);
        }
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return error_sys(err, errno, "%s hook \"%s\": wait", kind, h->path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        return error_set(err, EIO, "%s hook \"%s\": killed by signal %d", kind, h->path, WTERMSIG(status));
    return error_set(err, EIO, "%s hook \"%s\": exited with status %d", kind, h->path, WEXITSTATUS(status));
}

int hooks_run(const struct spec *spec, enum hook_kind k, const char *state_json, struct error **err)
{
    const struct spec_hook_list *l = &spec->hooks[k];
    for (size_t i = 0; i < l->n; i++) {
        log_debug("running %s hook %zu: %s", hook_kind_name(k), i, l->items[i].path);
        int r = hook_run(&l->items[i], hook_kind_name(k), state_json, err);
        if (r < 0)
            return r;
    }
    return 0;
}
