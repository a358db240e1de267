#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int ns_new_flags(const struct spec *spec)
{
    int flags = 0;
    for (int t = 0; t < NS__MAX; t++)
        if (spec->linux.ns[t].enabled && !spec->linux.ns[t].path)
            flags |= ns_clone_flag(t);
    return flags;
}

bool ns_any_joined(const struct spec *spec)
{
    for (int t = 0; t < NS__MAX; t++)
        if (spec->linux.ns[t].enabled && spec->linux.ns[t].path)
            return true;
    return false;
}

int ns_join_ordered(const struct ns_join *v, size_t n, struct error **err)
{
    struct stat self_user;
    if (stat("/proc/self/ns/user", &self_user) < 0)
        return error_sys(err, errno, "stat /proc/self/ns/user");
    bool done[NS__MAX * 2];
    if (n > sizeof(done) / sizeof(done[0]))
        return error_set(err, EINVAL, "too many namespaces to join");
    for (size_t i = 0; i < n; i++)
        done[i] = v[i].fd < 0;
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (done[i])
                continue;
            bool is_user = v[i].flag == CLONE_NEWUSER;
            if (pass == 0) {
                if (is_user)
                    continue;
                int owner = ioctl(v[i].fd, NS_GET_USERNS);
                struct stat o;
                bool ours = owner >= 0 && fstat(owner, &o) == 0 && o.st_ino == self_user.st_ino &&
                            o.st_dev == self_user.st_dev;
                if (owner >= 0)
                    close(owner);
                if (!ours)
                    continue;
            } else if (pass == 1 && !is_user) {
                continue;
            }
            if (setns(v[i].fd, v[i].flag) < 0)
                return error_sys(err, errno, "%s", v[i].what);
            done[i] = true;
        }
    }
    return 0;
}

int ns_join_all(const struct spec *spec, struct error **err)
{
    struct ns_join v[NS__MAX];
    char *what[NS__MAX] = { 0 };
    int r = 0;
    /* open every path first: joining the mount namespace changes what paths mean */
    for (int t = 0; t < NS__MAX; t++) {
        const char *p = spec->linux.ns[t].enabled ? spec->linux.ns[t].path : NULL;
        v[t] = (struct ns_join){ .fd = -1, .flag = ns_clone_flag(t) };
        if (!p)
            continue;
        if ((v[t].fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
            r = error_sys(err, errno, "linux.namespaces: open %s namespace \"%s\"", ns_type_name(t), p);
            goto out;
        }
        if (asprintf(&what[t], "linux.namespaces: join %s namespace \"%s\"", ns_type_name(t), p) < 0) {
            what[t] = NULL;
            r = error_set(err, ENOMEM, "out of memory");
            goto out;
        }
        v[t].what = what[t];
    }
    r = ns_join_ordered(v, NS__MAX, err);
out:
    for (int t = 0; t < NS__MAX; t++) {
        if (v[t].fd >= 0)
            close(v[t].fd);
        free(what[t]);
    }
    return r;
}

static int write_map(pid_t pid, const char *file, const struct spec_id_map *m, size_t n, struct error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
    fclose(f);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int r = write_file(path, buf, len);
    if (r < 0)
        return error_sys(err, -r, "write %s", path);
    return 0;
}

int ns_write_id_maps(const struct spec *spec, pid_t pid, struct error **err)
{
    const struct spec_linux *l = &spec->linux;
    int r = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, err);
    if (r < 0)
        return error_prefix(err, "linux.uidMappings");
    r = write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, err);
    if (r < 0)
        return error_prefix(err, "linux.gidMappings");
    return 0;
}

int ns_write_time_offsets(const struct spec *spec, struct error **err)
{
    char buf[128];
    int n = 0;
    const struct spec_time_offset *mono = &spec->linux.time_monotonic, *boot = &spec->linux.time_boottime;
    if (mono->set)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "monotonic %lld %u\n", (long long)mono->secs, mono->nanosecs);
    if (boot->set)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "boottime %lld %u\n", (long long)boot->secs, boot->nanosecs);
    if (n == 0)
        return 0;
    int r = write_file("/proc/self/timens_offsets", buf, (size_t)n);
    if (r < 0)
        return error_sys(err, -r, "linux.timeOffsets: write /proc/self/timens_offsets");
    return 0;
}
