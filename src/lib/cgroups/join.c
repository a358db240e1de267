/* Put a process into the cgroups of another one (exec joins the init's). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cleanup.h"
#include "../util.h"
#include "cgroups.h"

/* Is every controller of the comma-separated list `want` among the mount's super options? */
static bool has_controllers(const char *super_opts, const char *want)
{
    _cleanup_free_ char *w = strdup(want);
    char *save = NULL;
    for (char *c = strtok_r(w, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        bool found = false;
        const char *p = super_opts;
        size_t n = strlen(c);
        while (p && *p) {
            if (strncmp(p, c, n) == 0 && (p[n] == ',' || p[n] == '\0'))
                found = true;
            p = strchr(p, ',');
            if (p)
                p++;
        }
        if (!found)
            return false;
    }
    return true;
}

/* The mount point of the hierarchy: controllers "" means cgroup2. *root gets its mount root. */
static char *find_mount(const char *mountinfo, const char *controllers, char **root)
{
    const char *line = mountinfo;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        _cleanup_free_ char *l = strndup(line, len);
        line = end ? end + 1 : NULL;
        if (!l)
            return NULL;
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char *sep = strstr(l, " - ");
        if (!sep)
            continue;
        _cleanup_free_ char *fstype = NULL, *super = NULL;
        if (sscanf(sep + 3, "%ms %*s %ms", &fstype, &super) != 2)
            continue;
        bool v2 = strcmp(fstype, "cgroup2") == 0;
        if (!(v2 && !*controllers) && !(strcmp(fstype, "cgroup") == 0 && *controllers && has_controllers(super, controllers)))
            continue;
        _cleanup_free_ char *mroot = NULL, *mpoint = NULL;
        if (sscanf(l, "%*s %*s %*s %ms %ms", &mroot, &mpoint) != 2)
            continue;
        *root = TAKE_PTR(mroot);
        return TAKE_PTR(mpoint);
    }
    return NULL;
}

/* Reads /proc/<pid>/cgroup and /proc/self/mountinfo. */
static int read_cgroup_files(pid_t pid, char **cgroups, char **mountinfo, struct error **err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    int r = read_file_at(AT_FDCWD, path, cgroups, NULL);
    if (r < 0)
        return error_sys(err, -r, "read %s", path);
    if ((r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", mountinfo, NULL)) < 0)
        return error_sys(err, -r, "read /proc/self/mountinfo");
    return 0;
}

/* Splits a /proc/PID/cgroup line "id:controllers:path" in place; false when it is malformed. */
static bool split_cgroup_line(char *line, const char **controllers, const char **cgpath)
{
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return false;
    *c2 = '\0';
    *controllers = c1 + 1;
    *cgpath = c2 + 1;
    return true;
}

/* The mount point of the hierarchy of controllers, or NULL when it is not mounted here;
 * *cgpath is moved past the hierarchy's mount root when it starts with it. */
static char *hierarchy_mount(const char *mountinfo, const char *controllers, const char **cgpath)
{
    _cleanup_free_ char *root = NULL;
    char *mount = find_mount(mountinfo, controllers, &root);
    if (!mount)
        return NULL;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && strncmp(*cgpath, root, rl) == 0)
        *cgpath += rl;
    return mount;
}

int cgroup_join_like(pid_t like, pid_t pid, struct error **err)
{
    _cleanup_free_ char *cgroups = NULL, *mountinfo = NULL;
    int r = read_cgroup_files(like, &cgroups, &mountinfo, err);
    if (r < 0)
        return r;
    char pidbuf[16];
    int n = snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
    char *save = NULL;
    for (char *line = strtok_r(cgroups, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *controllers, *cgpath;
        if (!split_cgroup_line(line, &controllers, &cgpath))
            continue;
        _cleanup_free_ char *mount = hierarchy_mount(mountinfo, controllers, &cgpath);
        if (!mount)
            continue;   /* a hierarchy not mounted here */
        _cleanup_free_ char *procs = NULL;
        if (asprintf(&procs, "%s%s/cgroup.procs", mount, cgpath) < 0)
            return error_set(err, ENOMEM, "out of memory");
        if ((r = write_file_at(AT_FDCWD, procs, pidbuf, (size_t)n, 0, 0)) < 0)
            return error_sys(err, -r, "join cgroup: write %s", procs);
    }
    return 0;
}

int cgroup_join_sub(pid_t pid, const char *arg, struct error **err)
{
    /* "[controller[,controller]:]path", path relative to the cgroups pid is in */
    const char *colon = strchr(arg, ':');
    _cleanup_free_ char *want = colon ? strndup(arg, (size_t)(colon - arg)) : NULL;
    const char *sub = colon ? colon + 1 : arg;
    if (!*sub || strstr(sub, "..") || sub[0] == '/')
        return error_set(err, EINVAL, "--cgroup: \"%s\": the sub-cgroup must be a relative path without \"..\"", arg);
    _cleanup_free_ char *cgroups = NULL, *mountinfo = NULL;
    int r = read_cgroup_files(pid, &cgroups, &mountinfo, err);
    if (r < 0)
        return r;
    char pidbuf[16];
    int n = snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
    bool joined = false;
    char *save = NULL;
    for (char *line = strtok_r(cgroups, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *controllers, *cgpath;
        if (!split_cgroup_line(line, &controllers, &cgpath))
            continue;
        if (want && !(*controllers && has_controllers(controllers, want)))
            continue;
        _cleanup_free_ char *mount = hierarchy_mount(mountinfo, controllers, &cgpath);
        if (!mount)
            continue;
        _cleanup_free_ char *procs = NULL;
        if (asprintf(&procs, "%s%s/%s/cgroup.procs", mount, strcmp(cgpath, "/") ? cgpath : "", sub) < 0)
            return error_set(err, ENOMEM, "out of memory");
        if ((r = write_file_at(AT_FDCWD, procs, pidbuf, (size_t)n, 0, 0)) < 0)
            return error_sys(err, -r, "--cgroup \"%s\": write %s", arg, procs);
        joined = true;
    }
    if (!joined)
        return error_set(err, ENOENT, "--cgroup \"%s\": no cgroup hierarchy%s%s", arg, want ? " with controller " : "",
                         want ? want : "");
    return 0;
}
