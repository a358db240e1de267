/* Mounts inside the container's rootfs: option parsing, in-root path
 * resolution, one spec mount, /proc/self/mountinfo. Internal to rootfs.c,
 * mounts.c and devices.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct spec;
struct spec_mount;

/* ---- mount options ---- */

struct mount_opts {
    unsigned long set;          /* MS_* flags to set on the mount */
    unsigned long clr;          /* MS_* flags asked off ("rw", "suid", ...) */
    bool bind;                  /* bind or rbind */
    bool rec;                   /* rbind */
    bool remount;
    bool atime_given;           /* an atime option was named: replace the atime mode */
    unsigned long *propagation; /* MS_PRIVATE, MS_SHARED|MS_REC, ... in order */
    size_t n_propagation;
    uint64_t attr_set, attr_clr; /* mount_setattr(AT_RECURSIVE) attributes */
    const char *rattr_name;     /* first recursive option, for messages */
    bool tmpcopyup;
    char *data;                 /* unknown options joined with ',', NULL when none */
};

/* Turn an OCI options list into flags, data and extensions. */
int mount_opts_parse(const char *const *options, size_t n, struct mount_opts *out, struct error **err);
void mount_opts_free(struct mount_opts *o);
/* "private" -> MS_PRIVATE, "rslave" -> MS_SLAVE|MS_REC; 0 when unknown. */
unsigned long propagation_from_name(const char *name);

/* ---- paths inside the rootfs ---- */

/* Tests set this to exercise the userspace fallback used when openat2 is missing. */
extern bool inroot_no_openat2;

/* Lexically clean an absolute or relative path: "/a/./b//../c" -> "/a/c"; ".." stops at "/". */
char *path_clean(const char *path);
/* linux.mountLabel as the SELinux context= option, for the file systems
 * that take one (tmpfs, devpts, mqueue). Replaces o->data. 0 or -ENOMEM. */
int mount_opts_add_label(struct mount_opts *o, const char *type, const char *label);
/* Open path as an O_PATH fd, resolving every component (symlinks included)
 * as if root_fd were "/": nothing can lead out of it. */
int inroot_open(int root_fd, const char *path, int *out_fd);
/* Like inroot_open, creating missing components as directories (mode), the
 * last one as an empty file when last_is_file. */
int inroot_mkdir_p(int root_fd, const char *path, mode_t mode, bool last_is_file, int *out_fd);
/* Resolve (creating as directories) the parent of path; *base is its last component. */
int inroot_parent(int root_fd, const char *path, int *parent_fd, char **base);

/* "/proc/self/fd/N": what mount(2) accepts as the target an fd stands for. */
#define FD_PATH_SIZE (sizeof("/proc/self/fd/") + 3 * sizeof(int))
const char *fd_path(int fd, char buf[FD_PATH_SIZE]);

/* ---- mounting ---- */

bool mount_is_bind(const struct spec_mount *m);
/* Mount one spec entry inside the rootfs. */
int mount_entry(int root_fd, const struct spec *spec, const struct spec_mount *m, struct error **err);
/* Bind-remount fd's mount with flags set/cleared, keeping the other per-mount flags
 * (the ones a user namespace locks must be repeated). */
int remount_bind(int fd, unsigned long set, unsigned long clr, bool atime_given);
/* The same by path, for after pivot_root (when /proc may be missing). */
int remount_bind_path(const char *path, unsigned long set, unsigned long clr, bool atime_given);

/* ---- /proc/self/mountinfo ---- */

struct mountinfo {
    char *root, *mountpoint, *options, *optional, *fstype, *source, *superopts;
};
int mountinfo_read(struct mountinfo **out, size_t *n);
void mountinfo_free(struct mountinfo *m, size_t n);
/* True when path is base or lies below it (component-wise). */
bool path_is_under(const char *path, const char *base);
