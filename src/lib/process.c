#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int process_set_rlimits(const struct spec_process *p, struct error **err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const struct spec_rlimit *rl = &p->rlimits[i];
        struct rlimit lim = { .rlim_cur = rl->soft, .rlim_max = rl->hard };
        if (setrlimit(rl->resource, &lim) < 0) {
            int e = errno;
            struct rlimit cur;
            getrlimit(rl->resource, &cur);
            if (e == EPERM && rl->hard > cur.rlim_max)
                return error_sys(err, e, "process.rlimits[%zu]: set %s to %llu:%llu (above the hard limit %llu, which "
                                 "needs CAP_SYS_RESOURCE)", i, rl->type, (unsigned long long)rl->soft,
                                 (unsigned long long)rl->hard, (unsigned long long)cur.rlim_max);
            return error_sys(err, e, "process.rlimits[%zu]: set %s to %llu:%llu", i, rl->type,
                             (unsigned long long)rl->soft, (unsigned long long)rl->hard);
        }
    }
    return 0;
}

/* A process in the container could otherwise open /proc/PID/exe of the init
 * (or of an exec helper) while it is still krunc, and keep that fd; without a
 * user namespace the container's root is host root and, once krunc is no longer
 * running, could write the host's krunc through it (CVE-2019-5736). A
 * non-dumpable process's /proc/PID/exe is open only to CAP_SYS_PTRACE; execve
 * makes the container's process dumpable again. In a user namespace the
 * container's root cannot write krunc, and the init stays dumpable so that it
 * owns its /proc files (oom_score_adj) there. */
void process_hide_image(const struct spec *spec)
{
    if (!spec->linux.ns[NS_USER].enabled)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int process_set_oom_score_adj(const struct spec_process *p, struct error **err)
{
    if (!p->has_oom_score_adj)
        return 0;
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
    int r = write_file("/proc/self/oom_score_adj", buf, (size_t)n);
    if (r < 0)
        return error_sys(err, -r, "process.oomScoreAdj: write %d to /proc/self/oom_score_adj", p->oom_score_adj);
    return 0;
}

int process_switch_user(const struct spec_user *u, struct error **err)
{
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return error_sys(err, errno, "prctl(PR_SET_KEEPCAPS)");
    if (setgroups(u->n_additional_gids, u->additional_gids) < 0) {
        /* setgroups is denied in a user namespace whose setgroups file says deny */
        if (!(errno == EPERM && u->n_additional_gids == 0))
            return error_sys(err, errno, "process.user.additionalGids: setgroups");
    }
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return error_sys(err, errno, "process.user.gid: setresgid(%u)", (unsigned)u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return error_sys(err, errno, "process.user.uid: setresuid(%u)", (unsigned)u->uid);
    if (u->has_umask)
        umask(u->umask);
    return 0;
}

int process_make_cwd(const struct spec_process *p, struct error **err)
{
    struct stat st;
    if (stat(p->cwd, &st) == 0 || errno != ENOENT)
        return 0;   /* present, or a problem that chdir will name */
    int r = mkdir_p(p->cwd, 0755);
    if (r < 0)
        return error_sys(err, -r, "process.cwd: create \"%s\"", p->cwd);
    return 0;
}

int process_enter_cwd(const struct spec_process *p, struct error **err)
{
    if (chdir(p->cwd) < 0)
        return error_sys(err, errno, "process.cwd: chdir \"%s\"", p->cwd);
    return 0;
}

int process_set_uts_and_sysctl(const struct spec *spec, struct error **err)
{
    if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
        return error_sys(err, errno, "hostname: set \"%s\"", spec->hostname);
    if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
        return error_sys(err, errno, "domainname: set \"%s\"", spec->domainname);
    for (size_t i = 0; i < spec->linux.n_sysctl; i++) {
        const struct spec_kv *kv = &spec->linux.sysctl[i];
        if (strstr(kv->key, "..") || strchr(kv->key, '/') != NULL)
            return error_set(err, EINVAL, "linux.sysctl.%s: invalid name", kv->key);
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "/proc/sys/%s", kv->key) < 0)
            return error_set(err, ENOMEM, "out of memory");
        for (char *c = path + strlen("/proc/sys/"); *c; c++)
            if (*c == '.')
                *c = '/';
        int r = write_file(path, kv->value, strlen(kv->value));
        if (r < 0)
            return error_sys(err, -r, "linux.sysctl.%s: write \"%s\"", kv->key, kv->value);
    }
    return 0;
}

int process_cloexec_from(int from, struct error **err)
{
    if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    /* kernels before 5.11: walk /proc/self/fd */
    _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
    if (!d)
        return error_sys(err, errno, "list open fds");
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        if (fd >= from && fd != dirfd(d))
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    return 0;
}
