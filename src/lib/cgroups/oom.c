/* OOM notifications for `events`: v1 through an eventfd registered on memory.oom_control,
 * v2 through inotify on memory.events. Either way the caller polls one fd, then asks how many
 * OOM kills happened since it last asked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "../cleanup.h"
#include "../util.h"
#include "cgroups.h"
#include "internal.h"

struct cgroup_oom_watch {
    bool v2;
    int fd;             /* the eventfd (v1) or the inotify fd (v2) */
    int dirfd;          /* the memory cgroup */
    char *path;
    uint64_t kills;     /* the kill counter last seen */
    bool have_counter;  /* v1 kernels before 4.13 have no oom_kill line */
};

void cgroup_oom_watch_free(struct cgroup_oom_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->dirfd >= 0)
        close(w->dirfd);
    free(w->path);
    free(w);
}

static int read_counter(struct cgroup_oom_watch *w, uint64_t *out)
{
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(w->dirfd, w->v2 ? "memory.events" : "memory.oom_control", &text, NULL);
    if (r < 0)
        return r;
    return cg_parse_keyed(text, "oom_kill", out);
}

int cgroup_oom_watch_open(json_t *state, struct cgroup_oom_watch **out, struct error **err)
{
    *out = NULL;
    struct cg_set set;
    int r = cg_set_from_json(state, &set, err);
    if (r < 0)
        return r;
    struct cg_dir *d = cg_set_dir_for(&set, CG_MEMORY);
    if (!d) {
        cg_set_free(&set);
        return error_set(err, ENOTSUP, "OOM notifications: the container's cgroup has no memory controller");
    }
    struct cgroup_oom_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        cg_set_free(&set);
        return error_set(err, ENOMEM, "out of memory");
    }
    w->fd = -1;
    w->v2 = d->v2;
    w->path = strdup(d->path);
    w->dirfd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cg_set_free(&set);
    if (!w->path || w->dirfd < 0) {
        r = w->path ? error_sys(err, errno, "open %s", w->path) : error_set(err, ENOMEM, "out of memory");
        cgroup_oom_watch_free(w);
        return r;
    }
    w->have_counter = read_counter(w, &w->kills) == 0;
    if (w->v2) {
        w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        _cleanup_free_ char *events = NULL;
        if (w->fd < 0 || asprintf(&events, "%s/memory.events", w->path) < 0 ||
            inotify_add_watch(w->fd, events, IN_MODIFY) < 0) {
            r = error_sys(err, errno, "watch %s/memory.events", w->path);
            cgroup_oom_watch_free(w);
            return r;
        }
    } else {
        /* cgroup.event_control takes "<eventfd> <fd of memory.oom_control>" */
        w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        _cleanup_close_ int ctl = openat(w->dirfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
        char line[64];
        int n = snprintf(line, sizeof(line), "%d %d", w->fd, ctl);
        if (w->fd < 0 || ctl < 0 ||
            (r = write_file_at(w->dirfd, "cgroup.event_control", line, (size_t)n, 0, 0)) < 0) {
            r = error_sys(err, w->fd < 0 || ctl < 0 ? errno : -r, "register for OOM events on %s", w->path);
            cgroup_oom_watch_free(w);
            return r;
        }
    }
    *out = w;
    return 0;
}

int cgroup_oom_watch_fd(const struct cgroup_oom_watch *w)
{
    return w->fd;
}

int cgroup_oom_watch_read(struct cgroup_oom_watch *w, uint64_t *events, struct error **err)
{
    *events = 0;
    uint64_t wakeups = 0;
    if (w->v2) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;
        while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
            for (char *p = buf; p < buf + n;) {
                const struct inotify_event *ev = (const struct inotify_event *)p;
                /* IN_IGNORED: the file went with its cgroup */
                if (ev->mask & IN_IGNORED)
                    return -ENOENT;
                p += sizeof(*ev) + ev->len;
            }
        }
    } else {
        /* v1 also signals the eventfd when the cgroup is removed */
        if (read(w->fd, &wakeups, sizeof(wakeups)) < 0 && errno != EAGAIN)
            return error_sys(err, errno, "read the OOM eventfd of %s", w->path);
    }
    if (faccessat(w->dirfd, ".", F_OK, 0) < 0 || faccessat(w->dirfd, "cgroup.procs", F_OK, 0) < 0)
        return -ENOENT;
    uint64_t now = 0;
    if (w->have_counter && read_counter(w, &now) == 0) {
        *events = now > w->kills ? now - w->kills : 0;
        w->kills = now;
    } else if (!w->v2) {
        *events = wakeups;
    }
    return 0;
}
