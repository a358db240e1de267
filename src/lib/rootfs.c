/* PLACEHOLDER: minimal; replaced by the full rootfs work. */
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
#include "spec.h"

int rootfs_prepare(const struct spec *spec, struct error **err)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return error_sys(err, errno, "make / rslave");
    if (mount(spec->root_path, spec->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return error_sys(err, errno, "bind mount rootfs \"%s\"", spec->root_path);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct spec_mount *m = &spec->mounts[i];
        _cleanup_free_ char *dest = NULL;
        if (asprintf(&dest, "%s%s", spec->root_path, m->destination) < 0)
            return error_set(err, ENOMEM, "out of memory");
        mkdir(dest, 0755);
        const char *type = m->type ? m->type : "none";
        unsigned long flags = 0;
        for (size_t j = 0; j < m->n_options; j++)
            if (!strcmp(m->options[j], "bind") || !strcmp(m->options[j], "rbind"))
                flags |= MS_BIND | MS_REC;
        if (mount(m->source, dest, type, flags, NULL) < 0 && m->type && strcmp(m->type, "cgroup") && strcmp(m->type, "mqueue"))
            return error_sys(err, errno, "mount \"%s\" on \"%s\"", m->source ? m->source : "", m->destination);
    }
    return 0;
}

int rootfs_pivot(const struct spec *spec, bool no_pivot, struct error **err)
{
    (void)no_pivot;
    if (chdir(spec->root_path) < 0)
        return error_sys(err, errno, "chdir rootfs");
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return error_sys(err, errno, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return error_sys(err, errno, "detach old root");
    if (chdir("/") < 0)
        return error_sys(err, errno, "chdir /");
    return 0;
}

int rootfs_finalize(const struct spec *spec, struct error **err)
{
    (void)spec; (void)err;
    return 0;
}
