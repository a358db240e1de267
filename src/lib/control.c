/* update, pause, resume, events: what a running container's cgroup can do. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "cleanup.h"
#include "container.h"
#include "state.h"
#include "util.h"

static void statep(struct container_state **st) { state_freep(st); }
#define _cleanup_st_ __attribute__((cleanup(statep)))

/* Merge src into dst, objects recursively; everything else replaced. */
static void merge(json_t *dst, json_t *src)
{
    const char *key;
    json_t *v;
    json_object_foreach(src, key, v) {
        json_t *old = json_object_get(dst, key);
        if (json_is_object(old) && json_is_object(v))
            merge(old, v);
        else
            json_object_set(dst, key, v);
    }
}

/* Keep the stored config's linux.resources what the container now has, as runc keeps its
 * state: a later update (or anyone reading the config) sees the new values. */
static int store_resources(struct container_state *st, json_t *resources, struct error **err)
{
    if (faccessat(st->dirfd, CONFIG_COPY, F_OK, 0) < 0 && errno == ENOENT)
        return 0;
    _cleanup_json_ json_t *doc = NULL;
    int r = state_read_config(st, &doc, err);
    if (r < 0)
        return r;
    json_t *lx = json_object_get(doc, "linux");
    if (!json_is_object(lx)) {
        lx = json_object();
        json_object_set_new(doc, "linux", lx);
    }
    json_t *res = json_object_get(lx, "resources");
    if (!json_is_object(res)) {
        res = json_object();
        json_object_set_new(lx, "resources", res);
    }
    merge(res, resources);
    return state_write_config(st->dirfd, st->id, doc, err);
}

int container_update(const struct runtime_opts *ro, const char *id, json_t *resources, struct error **err)
{
    _cleanup_st_ struct container_state *st = NULL;
    int r = state_load(ro->root, id, true, &st, err);
    if (r < 0)
        return r;
    if (state_status(st) == STATUS_STOPPED)
        return error_set(err, EINVAL, "container not running: %s", id);
    if (!st->cgroup)
        return error_set(err, ENOTSUP, "container %s has no cgroup of its own (rootless): nothing to update", id);
    r = cgroup_resources_check(resources, err);
    if (r == 0)
        r = cgroup_update(st->cgroup, resources, err);
    if (r == 0)
        r = store_resources(st, resources, err);
    return r;
}

int container_pause(const struct runtime_opts *ro, const char *id, struct error **err)
{
    _cleanup_st_ struct container_state *st = NULL;
    int r = state_load(ro->root, id, true, &st, err);
    if (r < 0)
        return r;
    /* as runc: a created container can be paused too */
    enum container_status s = state_status(st);
    if (s != STATUS_RUNNING && s != STATUS_CREATED)
        return error_set(err, EINVAL, "container not running: %s", id);
    if (!st->cgroup)
        return error_set(err, ENOTSUP, "container %s has no cgroup of its own (rootless): it cannot be paused", id);
    return cgroup_freeze(st->cgroup, true, err);
}

int container_resume(const struct runtime_opts *ro, const char *id, struct error **err)
{
    _cleanup_st_ struct container_state *st = NULL;
    int r = state_load(ro->root, id, true, &st, err);
    if (r < 0)
        return r;
    /* paused, or created and then paused (state says created while the exec fifo waits) */
    if (state_status(st) == STATUS_STOPPED || !st->cgroup || cgroup_is_frozen(st->cgroup) != 1)
        return error_set(err, EINVAL, "container not paused: %s", id);
    return cgroup_freeze(st->cgroup, false, err);
}

static json_t *event(const char *type, const char *id, json_t *data)
{
    json_t *e = json_pack("{s:s, s:s}", "type", type, "id", id);
    if (e && data)
        json_object_set_new(e, "data", data);
    else
        json_decref(data);
    return e;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int container_events(const struct runtime_opts *ro, const char *id, bool stats_once, long interval_ms,
                     int (*emit)(json_t *event, void *data), void *data, struct error **err)
{
    _cleanup_json_ json_t *cgroup = NULL;
    {
        /* read what is needed and let go of the lock: delete must not wait for us */
        _cleanup_st_ struct container_state *st = NULL;
        int r = state_load(ro->root, id, false, &st, err);
        if (r < 0)
            return r;
        if (state_status(st) == STATUS_STOPPED)
            return error_set(err, EINVAL, "container not running: %s", id);
        if (!st->cgroup)
            return error_set(err, ENOTSUP, "container %s has no cgroup of its own (rootless): no events", id);
        cgroup = json_incref(st->cgroup);
    }
    if (stats_once) {
        json_t *stats = NULL;
        int r = cgroup_stats(cgroup, &stats, err);
        if (r < 0)
            return r;
        _cleanup_json_ json_t *e = event("stats", id, stats);
        return emit(e, data);
    }
    if (interval_ms <= 0)
        return error_set(err, EINVAL, "--interval: must be greater than 0");
    /* OOM events when the memory controller allows; stats either way */
    struct cgroup_oom_watch *w = NULL;
    _cleanup_error_ struct error *werr = NULL;
    if (cgroup_oom_watch_open(cgroup, &w, &werr) < 0)
        w = NULL;
    int ret = 0;
    long long next = now_ms() + interval_ms;
    while (ret == 0) {
        long long left = next - now_ms();
        struct pollfd p = { .fd = w ? cgroup_oom_watch_fd(w) : -1, .events = POLLIN };
        int n = poll(&p, 1, left > 0 ? (int)(left > 86400000 ? 86400000 : left) : 0);
        if (n < 0 && errno != EINTR) {
            ret = error_sys(err, errno, "poll");
            break;
        }
        if (n > 0 && w) {
            uint64_t ooms = 0;
            int r = cgroup_oom_watch_read(w, &ooms, err);
            if (r == -ENOENT)
                break;  /* the cgroup is gone: the container was deleted */
            if (r < 0) {
                ret = r;
                break;
            }
            for (uint64_t i = 0; i < ooms && ret == 0; i++) {
                _cleanup_json_ json_t *e = event("oom", id, NULL);
                ret = emit(e, data);
            }
        }
        if (now_ms() >= next) {
            next += interval_ms;
            if (!cgroup_alive(cgroup))
                break;
            json_t *stats = NULL;
            _cleanup_error_ struct error *serr = NULL;
            if (cgroup_stats(cgroup, &stats, &serr) < 0) {
                /* as runc: say so and go on */
                fprintf(stderr, "krunc: events %s: %s\n", id, serr->msg);
                continue;
            }
            _cleanup_json_ json_t *e = event("stats", id, stats);
            ret = emit(e, data);
        }
    }
    cgroup_oom_watch_free(w);
    return ret;
}
