/* Device nodes in the rootfs. Outside a user namespace they are made with
 * mknod; inside one (or wherever mknod is refused) the host's node is
 * bind-mounted onto an empty file, as runc does. */
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounts.h"
#include "spec.h"

static const struct spec_device default_devices[] = {
    { .path = "/dev/null", .type = 'c', .major = 1, .minor = 3, .has_mode = true, .mode = 0666 },
    { .path = "/dev/zero", .type = 'c', .major = 1, .minor = 5, .has_mode = true, .mode = 0666 },
    { .path = "/dev/full", .type = 'c', .major = 1, .minor = 7, .has_mode = true, .mode = 0666 },
    { .path = "/dev/random", .type = 'c', .major = 1, .minor = 8, .has_mode = true, .mode = 0666 },
    { .path = "/dev/urandom", .type = 'c', .major = 1, .minor = 9, .has_mode = true, .mode = 0666 },
    { .path = "/dev/tty", .type = 'c', .major = 5, .minor = 0, .has_mode = true, .mode = 0666 },
};

static const struct {
    const char *name, *target;
} dev_links[] = {
    { "fd", "/proc/self/fd" },
    { "stdin", "/proc/self/fd/0" },
    { "stdout", "/proc/self/fd/1" },
    { "stderr", "/proc/self/fd/2" },
};

bool devices_need_setup(const struct spec *spec)
{
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct spec_mount *m = &spec->mounts[i];
        _cleanup_free_ char *dest = path_clean(m->destination);
        if (dest && strcmp(dest, "/dev") == 0 && mount_is_bind(m))
            return false;
    }
    return true;
}

static bool same_path(const char *a, const char *b)
{
    _cleanup_free_ char *ca = path_clean(a), *cb = path_clean(b);
    return ca && cb && strcmp(ca, cb) == 0;
}

static int bind_host_device(const struct spec_device *d, int parent, const char *base, struct error **err)
{
    _cleanup_close_ int fd = openat(parent, base, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0000);
    if (fd < 0)
        return error_sys(err, errno, "create \"%s\" to bind the host's device on", d->path);
    char p[FD_PATH_SIZE];
    if (mount(d->path, fd_path(fd, p), NULL, MS_BIND, NULL) < 0)
        return error_sys(err, errno, "mount \"%s\" on \"%s\"", d->path, d->path);
    return 0;
}

static int create_device(int root_fd, const struct spec_device *d, bool *use_bind, struct error **err)
{
    _cleanup_close_ int parent = -1;
    _cleanup_free_ char *base = NULL;
    int r = inroot_parent(root_fd, d->path, &parent, &base);
    if (r < 0)
        return error_sys(err, -r, "device \"%s\": create its directory in the rootfs", d->path);
    /* An existing path is replaced. */
    if (unlinkat(parent, base, 0) < 0 && errno != ENOENT)
        return error_sys(err, errno, "device \"%s\": remove what is there", d->path);

    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    mode_t perm = d->has_mode ? d->mode : 0666;
    if (type != S_IFIFO && *use_bind)
        return bind_host_device(d, parent, base, err);
    dev_t dev = type == S_IFIFO ? 0 : makedev((unsigned)d->major, (unsigned)d->minor);
    if (mknodat(parent, base, type | perm, dev) < 0) {
        if (errno == EPERM && type != S_IFIFO) {
            *use_bind = true;
            return bind_host_device(d, parent, base, err);
        }
        return error_sys(err, errno, "mknod \"%s\" (%c %lld:%lld)", d->path, d->type, (long long)d->major,
                         (long long)d->minor);
    }
    /* mknod's mode went through the umask; fchmodat makes it exact. */
    if (fchmodat(parent, base, perm, 0) < 0)
        return error_sys(err, errno, "chmod \"%s\"", d->path);
    if (fchownat(parent, base, d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0, AT_SYMLINK_NOFOLLOW) < 0)
        return error_sys(err, errno, "chown \"%s\"", d->path);
    return 0;
}

int devices_setup(int root_fd, const struct spec *spec, struct error **err)
{
    if (!devices_need_setup(spec))
        return 0;
    bool use_bind = spec->linux.ns[NS_USER].enabled;
    int r;
    for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
        bool overridden = false;
        for (size_t j = 0; j < spec->linux.n_devices && !overridden; j++)
            overridden = same_path(spec->linux.devices[j].path, default_devices[i].path);
        if (!overridden && (r = create_device(root_fd, &default_devices[i], &use_bind, err)) < 0)
            return r;
    }
    for (size_t i = 0; i < spec->linux.n_devices; i++)
        if ((r = create_device(root_fd, &spec->linux.devices[i], &use_bind, err)) < 0)
            return r;

    _cleanup_close_ int dev = -1;
    if ((r = inroot_mkdir_p(root_fd, "/dev", 0755, false, &dev)) < 0)
        return error_sys(err, -r, "create /dev in the rootfs");
    /* /dev/ptmx is the devpts instance's own. */
    if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
        return error_sys(err, errno, "remove /dev/ptmx");
    if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
        return error_sys(err, errno, "symlink /dev/ptmx");
    for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
        if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0 && errno != EEXIST)
            return error_sys(err, errno, "symlink /dev/%s", dev_links[i].name);
    if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", dev, "core") < 0 && errno != EEXIST)
        return error_sys(err, errno, "symlink /dev/core");
    /* Where no mount provides them, the usual directories still exist. */
    if (mkdirat(dev, "pts", 0755) < 0 && errno != EEXIST)
        return error_sys(err, errno, "mkdir /dev/pts");
    if (mkdirat(dev, "shm", 01777) < 0 && errno != EEXIST)
        return error_sys(err, errno, "mkdir /dev/shm");
    return 0;
}
