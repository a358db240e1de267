/* The container's root filesystem: propagation, the rootfs bind mount, the
 * spec's mounts and devices (mounts.c, devices.c), pivot_root, and the masks
 * applied once the rootfs is "/". */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "devices.h"
#include "mounts.h"
#include "spec.h"

/* pivot_root and MS_MOVE refuse a new root whose parent mount is shared. */
static int rootfs_parent_private(const char *root, struct error **err)
{
    struct mountinfo *mi = NULL;
    size_t n = 0;
    int r = mountinfo_read(&mi, &n);
    if (r < 0)
        return error_sys(err, -r, "read /proc/self/mountinfo");
    const struct mountinfo *parent = NULL;
    for (size_t i = 0; i < n; i++)
        if (path_is_under(root, mi[i].mountpoint) &&
            (!parent || strlen(mi[i].mountpoint) >= strlen(parent->mountpoint)))
            parent = &mi[i];
    if (parent && strstr(parent->optional, "shared:") && mount(NULL, parent->mountpoint, NULL, MS_PRIVATE, NULL) < 0)
        r = error_sys(err, errno, "make the rootfs's parent mount \"%s\" private", parent->mountpoint);
    mountinfo_free(mi, n);
    return r;
}

/* /dev was mounted writable so its nodes could be made; now honour "ro". */
static int dev_remount_ro(int root_fd, const struct spec *spec, struct error **err)
{
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct spec_mount *m = &spec->mounts[i];
        _cleanup_free_ char *dest = path_clean(m->destination);
        if (!dest)
            return error_set(err, ENOMEM, "out of memory");
        if (strcmp(dest, "/dev") != 0 || mount_is_bind(m))
            continue;
        struct mount_opts o;
        int r = mount_opts_parse(m->options, m->n_options, &o, err);
        if (r < 0)
            return r;
        bool ro = (o.set & MS_RDONLY) && !o.remount;
        mount_opts_free(&o);
        if (!ro)
            continue;
        _cleanup_close_ int fd = -1;
        if ((r = inroot_open(root_fd, "/dev", &fd)) < 0 || (r = remount_bind(fd, MS_RDONLY, 0, false)) < 0)
            return error_sys(err, -r, "remount \"%s\" read-only", m->destination);
    }
    return 0;
}

static int prepare(const struct spec *spec, struct error **err)
{
    const char *prop_name = spec->linux.rootfs_propagation ? spec->linux.rootfs_propagation : "rslave";
    unsigned long prop = propagation_from_name(prop_name);
    if (!prop)
        return error_set(err, EINVAL, "linux.rootfsPropagation: unknown propagation \"%s\"", prop_name);
    /* An unbindable "/" would refuse the rootfs bind below; that one is
     * applied by rootfs_finalize only. */
    if (prop & MS_UNBINDABLE) {
        prop_name = "rslave";
        prop = MS_SLAVE | MS_REC;
    }
    if (mount(NULL, "/", NULL, prop, NULL) < 0)
        return error_sys(err, errno, "set propagation of \"/\" to \"%s\"", prop_name);

    _cleanup_free_ char *root = realpath(spec->root_path, NULL);
    if (!root)
        return error_sys(err, errno, "rootfs \"%s\"", spec->root_path);
    /* After a recursive slave or private, no mount is shared: nothing to check. */
    bool none_shared = (prop & MS_REC) && (prop & (MS_SLAVE | MS_PRIVATE));
    int r = none_shared ? 0 : rootfs_parent_private(root, err);
    if (r < 0)
        return r;
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
        return error_sys(err, errno, "bind mount the rootfs \"%s\" on itself", root);
    _cleanup_close_ int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return error_sys(err, errno, "open rootfs \"%s\"", root);

    for (size_t i = 0; i < spec->n_mounts; i++)
        if ((r = mount_entry(root_fd, spec, &spec->mounts[i], err)) < 0)
            return r;
    if ((r = devices_setup(root_fd, spec, err)) < 0)
        return r;
    return dev_remount_ro(root_fd, spec, err);
}

int rootfs_prepare(const struct spec *spec, struct error **err)
{
    /* Modes in the spec (mount points, devices) are meant exactly. */
    mode_t old = umask(0);
    int r = prepare(spec, err);
    umask(old);
    return r;
}

/* --no-pivot: chroot alone leaves the host's proc and sysfs reachable in this
 * mount namespace (and the kernel counts them when it checks a new proc
 * mount), so they go first; the unmounts must not reach the host. */
static int hide_host_proc_sys(const char *root, struct error **err)
{
    struct mountinfo *mi = NULL;
    size_t n = 0;
    int r = mountinfo_read(&mi, &n);
    if (r < 0)
        return error_sys(err, -r, "read /proc/self/mountinfo");
    for (size_t i = n; i-- > 0 && r >= 0;) {
        const struct mountinfo *e = &mi[i];
        if (strcmp(e->fstype, "proc") != 0 && strcmp(e->fstype, "sysfs") != 0)
            continue;
        if (path_is_under(e->mountpoint, root))
            continue;
        if (mount(NULL, e->mountpoint, NULL, MS_SLAVE | MS_REC, NULL) < 0 && errno == ENOENT)
            continue;
        if (umount2(e->mountpoint, MNT_DETACH) == 0 || errno == ENOENT)
            continue;
        if (errno != EINVAL && errno != EPERM) {
            r = error_sys(err, errno, "unmount \"%s\"", e->mountpoint);
            break;
        }
        /* Not ours to unmount (a user namespace): cover it. */
        if (mount("tmpfs", e->mountpoint, "tmpfs", MS_RDONLY, NULL) < 0 && errno != ENOENT)
            r = error_sys(err, errno, "cover \"%s\" with a tmpfs", e->mountpoint);
    }
    mountinfo_free(mi, n);
    return r;
}

int rootfs_pivot(const struct spec *spec, bool no_pivot, struct error **err)
{
    _cleanup_free_ char *root = realpath(spec->root_path, NULL);
    if (!root)
        return error_sys(err, errno, "rootfs \"%s\"", spec->root_path);
    if (no_pivot) {
        int r = hide_host_proc_sys(root, err);
        if (r < 0)
            return r;
    }
    if (chdir(root) < 0)
        return error_sys(err, errno, "chdir to the rootfs \"%s\"", root);
    if (no_pivot) {
        if (mount(root, "/", NULL, MS_MOVE, NULL) < 0)
            return error_sys(err, errno, "move the rootfs \"%s\" onto \"/\"", root);
        if (chroot(".") < 0)
            return error_sys(err, errno, "chroot to the rootfs \"%s\"", root);
    } else {
        _cleanup_close_ int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (old_root < 0)
            return error_sys(err, errno, "open the old root");
        /* The old root ends up stacked on the new one. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            return error_sys(err, errno, "pivot_root to \"%s\"", root);
        /* From inside the old root, "." names the old root's mount itself (not
         * the new root's, whose mounts keep their propagation); rslave first
         * so detaching it cannot reach the host. */
        if (fchdir(old_root) < 0)
            return error_sys(err, errno, "chdir to the old root");
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            return error_sys(err, errno, "make the old root rslave");
        if (umount2(".", MNT_DETACH) < 0)
            return error_sys(err, errno, "detach the old root");
    }
    if (chdir("/") < 0)
        return error_sys(err, errno, "chdir to \"/\"");
    return 0;
}

/* After pivot_root "/" is the container's, so plain paths cannot leave it. */
static int readonly_path(const char *path, struct error **err)
{
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        if (errno == ENOENT)
            return 0;
        return error_sys(err, errno, "readonlyPaths: bind mount \"%s\"", path);
    }
    int r = remount_bind_path(path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, false);
    if (r < 0)
        return error_sys(err, -r, "readonlyPaths: remount \"%s\" read-only", path);
    return 0;
}

static int masked_path(const char *path, struct error **err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return error_sys(err, errno, "maskedPaths: \"%s\"", path);
    }
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
            return error_sys(err, errno, "maskedPaths: mount \"tmpfs\" on \"%s\"", path);
    } else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
        return error_sys(err, errno, "maskedPaths: mount \"/dev/null\" on \"%s\"", path);
    }
    return 0;
}

int rootfs_finalize(const struct spec *spec, struct error **err)
{
    const struct spec_linux *l = &spec->linux;
    int r;
    if (l->rootfs_propagation) {
        /* Only now: on the old root, MS_REC would have reached the host's mounts. */
        unsigned long prop = propagation_from_name(l->rootfs_propagation);
        if (mount(NULL, "/", NULL, prop, NULL) < 0)
            return error_sys(err, errno, "set propagation of \"/\" to \"%s\"", l->rootfs_propagation);
    }
    for (size_t i = 0; i < l->n_readonly_paths; i++)
        if ((r = readonly_path(l->readonly_paths[i], err)) < 0)
            return r;
    for (size_t i = 0; i < l->n_masked_paths; i++)
        if ((r = masked_path(l->masked_paths[i], err)) < 0)
            return r;
    if (spec->root_readonly) {
        if ((r = remount_bind_path("/", MS_RDONLY, 0, false)) < 0)
            return error_sys(err, -r, "root.readonly: remount \"/\" read-only");
    }
    return 0;
}
