/* --systemd-cgroup: the cgroup is a transient scope unit made by systemd. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../cleanup.h"
#include "cgroups.h"
#include "internal.h"

/* systemd's own test (sd_booted): it made /run/systemd/system when it started as PID 1. */
static bool systemd_running(void)
{
    struct stat st;
    return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

/* runc's form "slice:prefix:name", e.g. "system.slice:krunc:abc" -> unit "krunc-abc.scope" in
 * system.slice. An empty slice means "system.slice"; a name ending in ".slice" names a slice. */
struct systemd_path {
    char *slice, *unit;
};

static void systemd_path_free(struct systemd_path *p)
{
    free(p->slice);
    free(p->unit);
}

static int parse_systemd_path(const char *cgroups_path, const char *id, struct systemd_path *out, struct error **err)
{
    memset(out, 0, sizeof(*out));
    const char *path = cgroups_path && *cgroups_path ? cgroups_path : NULL;
    _cleanup_free_ char *def = NULL;
    if (!path) {
        if (asprintf(&def, "system.slice:krunc:%s", id) < 0)
            return error_set(err, ENOMEM, "out of memory");
        path = def;
    }
    const char *c1 = strchr(path, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strchr(c2 + 1, ':'))
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\" is not in the systemd form \"slice:prefix:name\"", path);
    _cleanup_free_ char *slice = strndup(path, (size_t)(c1 - path));
    _cleanup_free_ char *prefix = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
    const char *name = c2 + 1;
    if (!slice || !prefix)
        return error_set(err, ENOMEM, "out of memory");
    if (!*name || strchr(name, '/') || strchr(prefix, '/') || strchr(slice, '/'))
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\": slice, prefix and name must not hold '/', and name must not be empty",
                         path);
    if (*slice && (strlen(slice) < 7 || strcmp(slice + strlen(slice) - 6, ".slice")))
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\": the slice must end in \".slice\"", path);
    out->slice = strdup(*slice ? slice : "system.slice");
    size_t nl = strlen(name);
    if (nl > 6 && !strcmp(name + nl - 6, ".slice"))
        out->unit = strdup(name);
    else if (asprintf(&out->unit, "%s%s%s.scope", prefix, *prefix ? "-" : "", name) < 0)
        out->unit = NULL;
    if (!out->slice || !out->unit) {
        systemd_path_free(out);
        return error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

int cg_systemd_create(const char *cgroups_path, json_t *resources, const struct cgroup_opts *opts, pid_t pid,
                      json_t **state_out, struct error **err)
{
    (void)resources;
    (void)pid;
    *state_out = NULL;
    struct systemd_path sp;
    int r = parse_systemd_path(cgroups_path, opts->id, &sp, err);
    if (r < 0)
        return r;
    systemd_path_free(&sp);
    if (!systemd_running())
        return error_set(err, ENOTSUP, "--systemd-cgroup: systemd is not running (not PID 1)");
    return error_set(err, ENOTSUP, "--systemd-cgroup: this krunc was built without sd-bus (libsystemd)");
}

bool cg_systemd_state(json_t *state)
{
    return state && json_is_true(json_object_get(state, "systemd"));
}

int cg_systemd_destroy(json_t *state, struct error **err)
{
    (void)state;
    return error_set(err, ENOTSUP, "--systemd-cgroup: this krunc was built without sd-bus (libsystemd)");
}
