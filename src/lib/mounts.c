/* Mounting the spec's mounts inside the rootfs. Every destination is
 * resolved inside the rootfs (openat2 RESOLVE_IN_ROOT, or a userspace walk
 * with the same rules), and mount(2) is pointed at /proc/self/fd/N of the
 * result, so a symlink in the rootfs can never make us mount on the host. */
#include "mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "spec.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

/* Flags a bind remount can change per mount; the rest belong to the superblock. */
#define ATIME_FLAGS (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)
#define PER_MOUNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW | ATIME_FLAGS)

/* ------------------------------------------------------------------ */
/* options                                                             */

struct flag_opt {
    const char *name;
    bool clear;
    unsigned long flag;
    bool atime;
};

static const struct flag_opt flag_opts[] = {
    { "defaults", false, 0, false },
    { "ro", false, MS_RDONLY, false },           { "rw", true, MS_RDONLY, false },
    { "nosuid", false, MS_NOSUID, false },       { "suid", true, MS_NOSUID, false },
    { "nodev", false, MS_NODEV, false },         { "dev", true, MS_NODEV, false },
    { "noexec", false, MS_NOEXEC, false },       { "exec", true, MS_NOEXEC, false },
    { "sync", false, MS_SYNCHRONOUS, false },    { "async", true, MS_SYNCHRONOUS, false },
    { "dirsync", false, MS_DIRSYNC, false },
    { "mand", false, MS_MANDLOCK, false },       { "nomand", true, MS_MANDLOCK, false },
    { "noatime", false, MS_NOATIME, true },      { "atime", true, MS_NOATIME, true },
    { "nodiratime", false, MS_NODIRATIME, true }, { "diratime", true, MS_NODIRATIME, true },
    { "relatime", false, MS_RELATIME, true },    { "norelatime", true, MS_RELATIME, true },
    { "strictatime", false, MS_STRICTATIME, true }, { "nostrictatime", true, MS_STRICTATIME, true },
    { "nosymfollow", false, MS_NOSYMFOLLOW, false }, { "symfollow", true, MS_NOSYMFOLLOW, false },
    { "lazytime", false, MS_LAZYTIME, false },   { "nolazytime", true, MS_LAZYTIME, false },
    { "iversion", false, MS_I_VERSION, false },  { "noiversion", true, MS_I_VERSION, false },
    { "silent", false, MS_SILENT, false },       { "loud", true, MS_SILENT, false },
};

static const struct {
    const char *name;
    unsigned long flag;
} propagation_opts[] = {
    { "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC },
    { "shared", MS_SHARED },         { "rshared", MS_SHARED | MS_REC },
    { "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
    { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* Recursive attributes (mount_setattr). The atime ones are a mode, not bits:
 * each replaces the whole MOUNT_ATTR__ATIME field, as the kernel requires. */
static const struct {
    const char *name;
    uint64_t set, clr;
    bool atime;
} rattr_opts[] = {
    { "rro", MOUNT_ATTR_RDONLY, 0, false },             { "rrw", 0, MOUNT_ATTR_RDONLY, false },
    { "rnosuid", MOUNT_ATTR_NOSUID, 0, false },         { "rsuid", 0, MOUNT_ATTR_NOSUID, false },
    { "rnodev", MOUNT_ATTR_NODEV, 0, false },           { "rdev", 0, MOUNT_ATTR_NODEV, false },
    { "rnoexec", MOUNT_ATTR_NOEXEC, 0, false },         { "rexec", 0, MOUNT_ATTR_NOEXEC, false },
    { "rnodiratime", MOUNT_ATTR_NODIRATIME, 0, false }, { "rdiratime", 0, MOUNT_ATTR_NODIRATIME, false },
    { "rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0, false }, { "rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW, false },
    { "rnoatime", MOUNT_ATTR_NOATIME, 0, true },
    { "ratime", MOUNT_ATTR_RELATIME, 0, true },          /* the kernel's default mode */
    { "rrelatime", MOUNT_ATTR_RELATIME, 0, true },
    { "rnorelatime", MOUNT_ATTR_STRICTATIME, 0, true },
    { "rstrictatime", MOUNT_ATTR_STRICTATIME, 0, true },
    { "rnostrictatime", MOUNT_ATTR_RELATIME, 0, true },
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

unsigned long propagation_from_name(const char *name)
{
    for (size_t i = 0; i < N_ELEMS(propagation_opts); i++)
        if (strcmp(propagation_opts[i].name, name) == 0)
            return propagation_opts[i].flag;
    return 0;
}

static const char *propagation_name(unsigned long flag)
{
    for (size_t i = 0; i < N_ELEMS(propagation_opts); i++)
        if (propagation_opts[i].flag == flag)
            return propagation_opts[i].name;
    return "?";
}

void mount_opts_free(struct mount_opts *o)
{
    free(o->propagation);
    free(o->data);
    *o = (struct mount_opts){ 0 };
}

static void mount_opts_freep(struct mount_opts *o) { mount_opts_free(o); }

static int data_append(char **data, const char *opt)
{
    size_t old = *data ? strlen(*data) : 0, add = strlen(opt);
    char *n = realloc(*data, old + add + 2);
    if (!n)
        return -ENOMEM;
    if (old)
        n[old++] = ',';
    memcpy(n + old, opt, add + 1);
    *data = n;
    return 0;
}

int mount_opts_parse(const char *const *options, size_t n, struct mount_opts *out, struct error **err)
{
    _cleanup_(mount_opts_freep) struct mount_opts o = { 0 };
    if (n > 0) {
        o.propagation = calloc(n, sizeof(*o.propagation));
        if (!o.propagation)
            return error_set(err, ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *opt = options[i];
        bool done = false;
        for (size_t j = 0; j < N_ELEMS(flag_opts) && !done; j++) {
            const struct flag_opt *f = &flag_opts[j];
            if (strcmp(f->name, opt) != 0)
                continue;
            done = true;
            if (f->clear) {
                o.clr |= f->flag;
                o.set &= ~f->flag;
            } else {
                o.set |= f->flag;
                o.clr &= ~f->flag;
            }
            o.atime_given |= f->atime;
        }
        for (size_t j = 0; j < N_ELEMS(propagation_opts) && !done; j++)
            if (strcmp(propagation_opts[j].name, opt) == 0) {
                o.propagation[o.n_propagation++] = propagation_opts[j].flag;
                done = true;
            }
        for (size_t j = 0; j < N_ELEMS(rattr_opts) && !done; j++) {
            if (strcmp(rattr_opts[j].name, opt) != 0)
                continue;
            done = true;
            if (rattr_opts[j].atime) {
                o.attr_set = (o.attr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | rattr_opts[j].set;
                o.attr_clr |= MOUNT_ATTR__ATIME;
            } else {
                o.attr_set = (o.attr_set & ~rattr_opts[j].clr) | rattr_opts[j].set;
                o.attr_clr = (o.attr_clr & ~rattr_opts[j].set) | rattr_opts[j].clr;
            }
            if (!o.rattr_name)
                o.rattr_name = opt;
        }
        if (done)
            continue;
        if (strcmp(opt, "bind") == 0) {
            o.bind = true;
        } else if (strcmp(opt, "rbind") == 0) {
            o.bind = o.rec = true;
        } else if (strcmp(opt, "remount") == 0) {
            o.remount = true;
        } else if (strcmp(opt, "tmpcopyup") == 0) {
            o.tmpcopyup = true;
        } else if (strcmp(opt, "idmap") == 0 || strcmp(opt, "ridmap") == 0) {
            return error_set(err, ENOTSUP, "option \"%s\": id-mapped mounts are not supported", opt);
        } else if (!*opt) {
            return error_set(err, EINVAL, "empty mount option");
        } else if (data_append(&o.data, opt) < 0) {
            return error_set(err, ENOMEM, "out of memory");
        }
    }
    *out = o;
    o = (struct mount_opts){ 0 };
    return 0;
}

/* ------------------------------------------------------------------ */
/* paths inside the rootfs                                             */

bool inroot_no_openat2;
static bool openat2_missing;

const char *fd_path(int fd, char buf[FD_PATH_SIZE])
{
    snprintf(buf, FD_PATH_SIZE, "/proc/self/fd/%d", fd);
    return buf;
}

char *path_clean(const char *path)
{
    size_t len = strlen(path);
    char *out = malloc(len + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    out[o++] = '/';
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchrnul(p, '/');
        size_t n = (size_t)(e - p);
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 1 && out[o - 1] != '/')
                o--;
            if (o > 1)
                o--;
        } else {
            if (o > 1)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p = e;
    }
    out[o] = '\0';
    return out;
}

bool path_is_under(const char *path, const char *base)
{
    size_t n = strlen(base);
    while (n > 1 && base[n - 1] == '/')
        n--;
    if (n == 1 && base[0] == '/')
        return path[0] == '/';
    return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int readlinkat_alloc(int dirfd, const char *name, char **out)
{
    size_t size = 256;
    for (;;) {
        char *buf = malloc(size);
        if (!buf)
            return -ENOMEM;
        ssize_t n = readlinkat(dirfd, name, buf, size);
        if (n < 0) {
            int e = errno;
            free(buf);
            return -e;
        }
        if ((size_t)n < size) {
            buf[n] = '\0';
            *out = buf;
            return 0;
        }
        free(buf);
        size *= 2;
    }
}

static int openat2_in_root(int root_fd, const char *rel, int *out_fd)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    /* EAGAIN: a rename or mount raced the lookup; the kernel asks us to retry. */
    for (int tries = 0; tries < 64; tries++) {
        long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
        if (fd >= 0) {
            *out_fd = (int)fd;
            return 0;
        }
        if (errno != EAGAIN)
            return -errno;
    }
    return -EAGAIN;
}

/* The same rules as RESOLVE_IN_ROOT, walked one component at a time:
 * symlinks are read and restarted from root_fd ("/") or the current
 * directory, ".." never climbs above root_fd. */
static int walk_in_root(int root_fd, const char *rel, int *out_fd)
{
    size_t cap = 16, depth = 0;
    _cleanup_free_ int *stack = malloc(cap * sizeof(int));    /* dirs below root_fd */
    _cleanup_free_ char *rest = strdup(rel);
    if (!stack || !rest)
        return -ENOMEM;
    int r = 0, links = 0;
    size_t pos = 0;
#define TOP (depth ? stack[depth - 1] : root_fd)
    for (;;) {
        while (rest[pos] == '/')
            pos++;
        if (!rest[pos])
            break;
        size_t end = pos;
        while (rest[end] && rest[end] != '/')
            end++;
        _cleanup_free_ char *comp = strndup(rest + pos, end - pos);
        if (!comp) {
            r = -ENOMEM;
            goto out;
        }
        pos = end;
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            if (depth)
                close(stack[--depth]);
            continue;
        }
        int fd = openat(TOP, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            r = -errno;
            goto out;
        }
        struct stat st;
        if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) {
            r = -errno;
            close(fd);
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            _cleanup_free_ char *target = NULL;
            r = ++links > 40 ? -ELOOP : readlinkat_alloc(fd, "", &target);
            close(fd);
            if (r < 0)
                goto out;
            if (target[0] == '/')
                while (depth)
                    close(stack[--depth]);
            char *next = NULL;
            if (asprintf(&next, "%s/%s", target, rest + pos) < 0) {
                r = -ENOMEM;
                goto out;
            }
            free(rest);
            rest = next;
            pos = 0;
            continue;
        }
        if (depth == cap) {
            int *n = realloc(stack, cap * 2 * sizeof(int));
            if (!n) {
                close(fd);
                r = -ENOMEM;
                goto out;
            }
            stack = n;
            cap *= 2;
        }
        stack[depth++] = fd;
        if (!S_ISDIR(st.st_mode)) {
            const char *p = rest + pos;
            while (*p == '/')
                p++;
            if (*p) {
                r = -ENOTDIR;
                goto out;
            }
        }
    }
    if (depth) {
        *out_fd = stack[--depth];
    } else {
        int fd = openat(root_fd, ".", O_PATH | O_CLOEXEC);
        if (fd < 0)
            r = -errno;
        else
            *out_fd = fd;
    }
out:
    while (depth)
        close(stack[--depth]);
    return r;
#undef TOP
}

int inroot_open(int root_fd, const char *path, int *out_fd)
{
    _cleanup_free_ char *clean = path_clean(path);
    if (!clean)
        return -ENOMEM;
    const char *rel = clean[1] ? clean + 1 : ".";
    if (!inroot_no_openat2 && !openat2_missing) {
        int r = openat2_in_root(root_fd, rel, out_fd);
        if (r != -ENOSYS && r != -EPERM)
            return r;
        /* EPERM: a seccomp filter that does not know openat2 */
        if (r == -ENOSYS)
            openat2_missing = true;
    }
    return walk_in_root(root_fd, rel, out_fd);
}

static int mkdir_p_in_root(int root_fd, const char *path, mode_t mode, bool last_is_file, int depth, int *out_fd)
{
    int r = inroot_open(root_fd, path, out_fd);
    if (r != -ENOENT)
        return r;
    _cleanup_free_ char *clean = path_clean(path);
    if (!clean)
        return -ENOMEM;
    _cleanup_close_ int parent = openat(root_fd, ".", O_PATH | O_CLOEXEC);
    if (parent < 0)
        return -errno;
    /* Walk the prefixes; each is resolved from the root again so a symlink
     * met on the way is followed inside the rootfs. */
    char *p = clean + 1;
    while (*p) {
        char *slash = strchrnul(p, '/');
        bool last = *slash == '\0';
        char saved = *slash;
        *slash = '\0';
        int fd;
        r = inroot_open(root_fd, clean, &fd);
        if (r == -ENOENT) {
            if (last && last_is_file) {
                int f = openat(parent, p, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0 && errno != EEXIST)
                    return -errno;
                if (f >= 0)
                    close(f);
            } else if (mkdirat(parent, p, mode) < 0 && errno != EEXIST) {
                return -errno;
            }
            r = inroot_open(root_fd, clean, &fd);
        }
        if (r == -ENOENT) {
            /* A dangling symlink: create what it names, inside the rootfs
             * (relative targets from its own directory). */
            _cleanup_free_ char *target = NULL, *next = NULL;
            if ((r = readlinkat_alloc(parent, p, &target)) < 0)
                return r == -EINVAL ? -ENOENT : r;
            if (++depth > 40)
                return -ELOOP;
            *slash = saved;
            int n = target[0] == '/' ? asprintf(&next, "%s%s", target, slash)
                                     : asprintf(&next, "%.*s/%s%s", (int)(p - clean), clean, target, slash);
            if (n < 0)
                return -ENOMEM;
            return mkdir_p_in_root(root_fd, next, mode, last_is_file, depth, out_fd);
        }
        if (r < 0)
            return r;
        close(parent);
        parent = fd;
        *slash = saved;
        p = last ? slash : slash + 1;
    }
    *out_fd = TAKE_FD(parent);
    return 0;
}

int inroot_mkdir_p(int root_fd, const char *path, mode_t mode, bool last_is_file, int *out_fd)
{
    return mkdir_p_in_root(root_fd, path, mode, last_is_file, 0, out_fd);
}

int inroot_parent(int root_fd, const char *path, int *parent_fd, char **base)
{
    _cleanup_free_ char *clean = path_clean(path);
    if (!clean)
        return -ENOMEM;
    char *slash = strrchr(clean, '/');
    if (!slash[1])
        return -EINVAL;     /* "/" has no parent */
    _cleanup_free_ char *name = strdup(slash + 1);
    if (!name)
        return -ENOMEM;
    slash[slash == clean ? 1 : 0] = '\0';
    int r = inroot_mkdir_p(root_fd, clean, 0755, false, parent_fd);
    if (r < 0)
        return r;
    *base = TAKE_PTR(name);
    return 0;
}

/* ------------------------------------------------------------------ */
/* mountinfo                                                           */

static char *unescape_octal(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

void mountinfo_free(struct mountinfo *m, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++) {
        free(m[i].root);
        free(m[i].mountpoint);
        free(m[i].options);
        free(m[i].optional);
        free(m[i].fstype);
        free(m[i].source);
        free(m[i].superopts);
    }
    free(m);
}

static int mountinfo_parse_line(char *line, struct mountinfo *e)
{
    /* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
    char *fields[6], *save = NULL, *tok;
    size_t nf = 0;
    for (tok = strtok_r(line, " ", &save); tok && nf < 6; tok = strtok_r(NULL, " ", &save))
        fields[nf++] = tok;
    if (nf < 6)
        return -EINVAL;
    size_t optlen = 0;
    char *optional = NULL;
    /* tok is the word after the sixth field */
    for (; tok && strcmp(tok, "-") != 0; tok = strtok_r(NULL, " ", &save)) {
        size_t l = strlen(tok);
        char *n = realloc(optional, optlen + l + 2);
        if (!n) {
            free(optional);
            return -ENOMEM;
        }
        optional = n;
        if (optlen)
            optional[optlen++] = ' ';
        memcpy(optional + optlen, tok, l + 1);
        optlen += l;
    }
    char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
    char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
    char *superopts = source ? strtok_r(NULL, " ", &save) : NULL;
    e->optional = optional ? optional : strdup("");
    e->root = unescape_octal(fields[3]);
    e->mountpoint = unescape_octal(fields[4]);
    e->options = strdup(fields[5]);
    e->fstype = strdup(fstype ? fstype : "");
    e->source = unescape_octal(source ? source : "");
    e->superopts = strdup(superopts ? superopts : "");
    if (!e->optional || !e->root || !e->mountpoint || !e->options || !e->fstype || !e->source || !e->superopts)
        return -ENOMEM;
    return 0;
}

int mountinfo_read(struct mountinfo **out, size_t *n_out)
{
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text, NULL);
    if (r < 0)
        return r;
    size_t n = 0, cap = 64;
    struct mountinfo *v = calloc(cap, sizeof(*v));
    if (!v)
        return -ENOMEM;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            struct mountinfo *nv = realloc(v, cap * 2 * sizeof(*v));
            if (!nv) {
                mountinfo_free(v, n);
                return -ENOMEM;
            }
            v = nv;
            memset(v + cap, 0, cap * sizeof(*v));
            cap *= 2;
        }
        r = mountinfo_parse_line(line, &v[n]);
        n++;
        if (r < 0) {
            mountinfo_free(v, n);
            return r;
        }
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* mounting                                                            */

bool mount_is_bind(const struct spec_mount *m)
{
    if (m->type && strcmp(m->type, "bind") == 0)
        return true;
    for (size_t i = 0; i < m->n_options; i++)
        if (strcmp(m->options[i], "bind") == 0 || strcmp(m->options[i], "rbind") == 0)
            return true;
    return false;
}

static int mount_on_fd(const char *src, int fd, const char *type, unsigned long flags, const char *data)
{
    char p[FD_PATH_SIZE];
    return mount(src, fd_path(fd, p), type, flags, data) < 0 ? -errno : 0;
}

static unsigned long mount_flags_from_statvfs(const struct statvfs *sv)
{
    static const struct { unsigned long st, ms; } map[] = {
        { ST_RDONLY, MS_RDONLY },     { ST_NOSUID, MS_NOSUID },         { ST_NODEV, MS_NODEV },
        { ST_NOEXEC, MS_NOEXEC },     { ST_NOATIME, MS_NOATIME },       { ST_NODIRATIME, MS_NODIRATIME },
        { ST_RELATIME, MS_RELATIME }, { ST_NOSYMFOLLOW, MS_NOSYMFOLLOW },
    };
    unsigned long ms = 0;
    for (size_t i = 0; i < N_ELEMS(map); i++)
        if (sv->f_flag & map[i].st)
            ms |= map[i].ms;
    return ms;
}

static int remount_with(const char *target, unsigned long cur, unsigned long set, unsigned long clr, bool atime_given)
{
    unsigned long want = ((cur & ~clr) | set) & PER_MOUNT_FLAGS;
    if (!atime_given)
        want &= ~ATIME_FLAGS;   /* the kernel keeps the current atime mode */
    if (!atime_given && ((want ^ cur) & PER_MOUNT_FLAGS & ~ATIME_FLAGS) == 0)
        return 0;
    return mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | want, NULL) < 0 ? -errno : 0;
}

int remount_bind(int fd, unsigned long set, unsigned long clr, bool atime_given)
{
    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return -errno;
    char p[FD_PATH_SIZE];
    return remount_with(fd_path(fd, p), mount_flags_from_statvfs(&sv), set, clr, atime_given);
}

int remount_bind_path(const char *path, unsigned long set, unsigned long clr, bool atime_given)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0)
        return -errno;
    return remount_with(path, mount_flags_from_statvfs(&sv), set, clr, atime_given);
}

/* Propagation and recursive attributes on a finished mount. */
static int mount_finish(int mfd, const struct mount_opts *o, const char *dest, struct error **err)
{
    for (size_t i = 0; i < o->n_propagation; i++) {
        int r = mount_on_fd(NULL, mfd, NULL, o->propagation[i], NULL);
        if (r < 0)
            return error_sys(err, -r, "set propagation \"%s\" on \"%s\"", propagation_name(o->propagation[i]), dest);
    }
    if (o->attr_set || o->attr_clr) {
        struct mount_attr attr = { .attr_set = o->attr_set, .attr_clr = o->attr_clr };
        if (syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
            if (errno == ENOSYS)
                return error_set(err, ENOSYS,
                                 "mount option \"%s\" on \"%s\": recursive mount attributes need mount_setattr "
                                 "(Linux 5.12 or newer), which this kernel lacks", o->rattr_name, dest);
            return error_sys(err, errno, "mount option \"%s\" on \"%s\": mount_setattr", o->rattr_name, dest);
        }
    }
    return 0;
}

static int copy_file_data(int in, int out)
{
    size_t size = 64 * 1024;
    _cleanup_free_ char *buf = malloc(size);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t n = read(in, buf, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        int r = write_all(out, buf, (size_t)n);
        if (r < 0)
            return r;
    }
}

/* tmpcopyup: copy what was under the new tmpfs into it, owners and modes kept. */
static int copy_tree(int src, int dst)
{
    int dfd = dup(src);
    if (dfd < 0)
        return -errno;
    _cleanup_closedir_ DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return -errno;
        int r = 0;
        if (S_ISDIR(st.st_mode)) {
            if (mkdirat(dst, name, 0700) < 0)
                return -errno;
            _cleanup_close_ int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            _cleanup_close_ int t = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s < 0 || t < 0)
                return -errno;
            if ((r = copy_tree(s, t)) < 0)
                return r;
        } else if (S_ISREG(st.st_mode)) {
            _cleanup_close_ int s = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (s < 0)
                return -errno;
            _cleanup_close_ int t = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (t < 0)
                return -errno;
            if ((r = copy_file_data(s, t)) < 0)
                return r;
        } else if (S_ISLNK(st.st_mode)) {
            _cleanup_free_ char *target = NULL;
            if ((r = readlinkat_alloc(src, name, &target)) < 0)
                return r;
            if (symlinkat(target, dst, name) < 0)
                return -errno;
        } else if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
            return -errno;
        }
        if (fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            return -errno;
        if (!S_ISLNK(st.st_mode) && fchmodat(dst, name, st.st_mode & 07777, 0) < 0)
            return -errno;
        struct timespec times[2] = { st.st_atim, st.st_mtim };
        if (utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW) < 0)
            return -errno;
    }
    return errno ? -errno : 0;
}

static const char *mount_label(const struct spec_mount *m)
{
    return m->source ? m->source : m->type ? m->type : "none";
}

static int bind_source(const struct spec *spec, const struct spec_mount *m, char **out, struct error **err)
{
    if (!m->source || !*m->source)
        return error_set(err, EINVAL, "bind mount on \"%s\": no source", m->destination);
    if (m->source[0] == '/')
        *out = strdup(m->source);
    else if (asprintf(out, "%s/%s", spec->bundle, m->source) < 0)
        *out = NULL;
    return *out ? 0 : error_set(err, ENOMEM, "out of memory");
}

/* Bind src onto the resolved mount point fd, then give it the asked flags. */
static int bind_onto(const char *src, int fd, int root_fd, const char *dest, const struct mount_opts *o,
                     const char *label, const char *shown_dest, struct error **err)
{
    int r = mount_on_fd(src, fd, NULL, MS_BIND | (o->rec ? MS_REC : 0), NULL);
    if (r < 0)
        return error_sys(err, -r, "mount \"%s\" on \"%s\"", label, shown_dest);
    _cleanup_close_ int mfd = -1;
    if ((r = inroot_open(root_fd, dest, &mfd)) < 0)
        return error_sys(err, -r, "open \"%s\" after mounting it", shown_dest);
    /* The kernel ignores flags on the first bind; they need a remount. */
    if ((r = remount_bind(mfd, o->set, o->clr, o->atime_given)) < 0)
        return error_sys(err, -r, "remount \"%s\" on \"%s\" with its options", label, shown_dest);
    return mount_finish(mfd, o, shown_dest, err);
}

static int mount_bind_entry(int root_fd, const struct spec *spec, const struct spec_mount *m,
                            const struct mount_opts *o, const char *dest, struct error **err)
{
    int r;
    _cleanup_close_ int fd = -1;
    if (o->remount) {
        if ((r = inroot_open(root_fd, dest, &fd)) < 0)
            return error_sys(err, -r, "remount \"%s\"", m->destination);
        if ((r = remount_bind(fd, o->set, o->clr, o->atime_given)) < 0)
            return error_sys(err, -r, "remount \"%s\"", m->destination);
        return mount_finish(fd, o, m->destination, err);
    }
    _cleanup_free_ char *src = NULL;
    if ((r = bind_source(spec, m, &src, err)) < 0)
        return r;
    struct stat st;
    if (stat(src, &st) < 0)
        return error_sys(err, errno, "mount \"%s\" on \"%s\": source", m->source, m->destination);
    if ((r = inroot_mkdir_p(root_fd, dest, 0755, !S_ISDIR(st.st_mode), &fd)) < 0)
        return error_sys(err, -r, "mount \"%s\" on \"%s\": create the mount point in the rootfs", m->source,
                         m->destination);
    return bind_onto(src, fd, root_fd, dest, o, m->source, m->destination, err);
}

static int read_text(const char *path, char **out, struct error **err)
{
    int r = read_file_at(AT_FDCWD, path, out, NULL);
    return r < 0 ? error_sys(err, -r, "read %s", path) : 0;
}

/* Is tok one of the comma-separated words of list? */
static bool csv_has(const char *list, const char *tok, size_t len)
{
    for (const char *p = list;;) {
        const char *e = strchrnul(p, ',');
        if ((size_t)(e - p) == len && strncmp(p, tok, len) == 0)
            return true;
        if (!*e)
            return false;
        p = e + 1;
    }
}

/* Does a cgroup v1 mount's superblock options name every controller in ctrls? */
static bool superopts_have(const char *superopts, const char *ctrls)
{
    for (const char *p = ctrls;;) {
        const char *e = strchrnul(p, ',');
        if (!csv_has(superopts, p, (size_t)(e - p)))
            return false;
        if (!*e)
            return true;
        p = e + 1;
    }
}

/* The directory host hierarchy mi shows for the cgroup path cg of this process. */
static int cgroup_host_dir(const struct mountinfo *mi, const char *cg, char **out)
{
    const char *rel = cg;
    if (strcmp(mi->root, "/") != 0) {
        if (!path_is_under(cg, mi->root))
            return -ENOENT;
        rel = cg + strlen(mi->root);
    }
    if (asprintf(out, "%s%s", mi->mountpoint, strcmp(rel, "/") == 0 ? "" : rel) < 0)
        return -ENOMEM;
    return 0;
}

static const struct mountinfo *find_cgroup_mount(const struct mountinfo *mi, size_t n, const char *ctrls)
{
    for (size_t i = 0; i < n; i++) {
        static const char base[] = "/sys/fs/cgroup/";
        const char *mp = mi[i].mountpoint;
        if (strncmp(mp, base, sizeof(base) - 1) != 0 || !mp[sizeof(base) - 1] || strchr(mp + sizeof(base) - 1, '/'))
            continue;
        if (!*ctrls && strcmp(mi[i].fstype, "cgroup2") == 0)
            return &mi[i];
        if (*ctrls && strcmp(mi[i].fstype, "cgroup") == 0 && superopts_have(mi[i].superopts, ctrls))
            return &mi[i];
    }
    return NULL;
}

/* v1 or hybrid host: a tmpfs with one directory per hierarchy; without a cgroup
 * namespace each is a bind of this process's own cgroup there, with one it
 * is a fresh mount whose root is the namespace's. */
static int mount_cgroup_v1(int root_fd, const struct spec *spec, const struct spec_mount *m,
                           const struct mount_opts *o, const char *dest, int fd, struct error **err)
{
    bool cgns = spec->linux.ns[NS_CGROUP].enabled;
    int r = mount_on_fd("tmpfs", fd, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
    if (r < 0)
        return error_sys(err, -r, "mount \"tmpfs\" on \"%s\"", m->destination);
    _cleanup_close_ int tfd = -1;
    if ((r = inroot_open(root_fd, dest, &tfd)) < 0)
        return error_sys(err, -r, "open \"%s\" after mounting it", m->destination);

    _cleanup_free_ char *cgroups = NULL;
    if ((r = read_text("/proc/self/cgroup", &cgroups, err)) < 0)
        return r;
    struct mountinfo *mi = NULL;
    size_t n_mi = 0;
    if ((r = mountinfo_read(&mi, &n_mi)) < 0)
        return error_sys(err, -r, "read /proc/self/mountinfo");

    char *save = NULL;
    for (char *line = strtok_r(cgroups, "\n", &save); line && r >= 0; line = strtok_r(NULL, "\n", &save)) {
        /* ID:controllers:path */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *cg = c2 + 1;
        const struct mountinfo *h = find_cgroup_mount(mi, n_mi, ctrls);
        if (!h)
            continue;   /* a hierarchy the host does not mount */
        const char *name = strrchr(h->mountpoint, '/') + 1;
        if (mkdirat(tfd, name, 0755) < 0 && errno != EEXIST) {
            r = error_sys(err, errno, "mkdir \"%s/%s\"", m->destination, name);
            break;
        }
        _cleanup_close_ int sfd = openat(tfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0) {
            r = error_sys(err, errno, "open \"%s/%s\"", m->destination, name);
            break;
        }
        if (cgns) {
            bool v2 = strcmp(h->fstype, "cgroup2") == 0;
            r = mount_on_fd(h->fstype, sfd, h->fstype, o->set, v2 ? NULL : ctrls);
            if (r < 0)
                r = error_sys(err, -r, "mount \"%s\" on \"%s/%s\"", h->fstype, m->destination, name);
        } else {
            _cleanup_free_ char *src = NULL;
            r = cgroup_host_dir(h, cg, &src);
            if (r < 0) {
                r = error_sys(err, -r, "cgroup \"%s\" is not visible in %s", cg, h->mountpoint);
                break;
            }
            _cleanup_free_ char *sub = NULL;
            if (asprintf(&sub, "%s/%s", dest, name) < 0) {
                r = error_set(err, ENOMEM, "out of memory");
                break;
            }
            struct mount_opts bo = { .set = o->set, .clr = o->clr, .atime_given = o->atime_given, .rec = true };
            _cleanup_free_ char *shown = NULL;
            if (asprintf(&shown, "%s/%s", m->destination, name) < 0) {
                r = error_set(err, ENOMEM, "out of memory");
                break;
            }
            r = bind_onto(src, sfd, root_fd, sub, &bo, src, shown, err);
        }
        /* A hierarchy with several controllers is also reachable by each name. */
        if (r >= 0 && strchr(name, ',')) {
            _cleanup_free_ char *names = strdup(name);
            char *s2 = NULL;
            for (char *c = names ? strtok_r(names, ",", &s2) : NULL; c; c = strtok_r(NULL, ",", &s2))
                if (!strchr(c, '=') && symlinkat(name, tfd, c) < 0 && errno != EEXIST) {
                    r = error_sys(err, errno, "symlink \"%s/%s\"", m->destination, c);
                    break;
                }
        }
    }
    mountinfo_free(mi, n_mi);
    if (r < 0)
        return r;
    if ((r = remount_bind(tfd, o->set, o->clr, o->atime_given)) < 0)
        return error_sys(err, -r, "remount \"tmpfs\" on \"%s\" with its options", m->destination);
    return mount_finish(tfd, o, m->destination, err);
}

static int own_cgroup2_path(char **out, struct error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = read_text("/proc/self/cgroup", &text, err);
    if (r < 0)
        return r;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, "0::", 3) == 0) {
            *out = strdup(line + 3);
            return *out ? 0 : error_set(err, ENOMEM, "out of memory");
        }
    return error_set(err, ENOENT, "no cgroup v2 entry in /proc/self/cgroup");
}

static int mount_cgroup(int root_fd, const struct spec *spec, const struct spec_mount *m,
                        const struct mount_opts *o, const char *dest, struct error **err)
{
    _cleanup_close_ int fd = -1;
    int r = inroot_mkdir_p(root_fd, dest, 0755, false, &fd);
    if (r < 0)
        return error_sys(err, -r, "mount \"%s\" on \"%s\": create the mount point in the rootfs", mount_label(m),
                         m->destination);
    struct statfs sf;
    if (statfs("/sys/fs/cgroup", &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
        return mount_cgroup_v1(root_fd, spec, m, o, dest, fd, err);

    r = mount_on_fd("cgroup2", fd, "cgroup2", o->set, o->data);
    if (r == -EPERM || r == -EBUSY) {
        /* No right to mount cgroup2 here (a user namespace without its own
         * cgroup namespace): bind our own cgroup from the host instead. */
        _cleanup_free_ char *cg = NULL, *src = NULL;
        if ((r = own_cgroup2_path(&cg, err)) < 0)
            return r;
        if (asprintf(&src, "/sys/fs/cgroup%s", strcmp(cg, "/") == 0 ? "" : cg) < 0)
            return error_set(err, ENOMEM, "out of memory");
        struct mount_opts bo = *o;
        bo.rec = true;
        return bind_onto(src, fd, root_fd, dest, &bo, src, m->destination, err);
    }
    if (r < 0)
        return error_sys(err, -r, "mount \"%s\" on \"%s\"", mount_label(m), m->destination);
    _cleanup_close_ int mfd = -1;
    if ((r = inroot_open(root_fd, dest, &mfd)) < 0)
        return error_sys(err, -r, "open \"%s\" after mounting it", m->destination);
    return mount_finish(mfd, o, m->destination, err);
}

static int mount_fs_entry(int root_fd, const struct spec *spec, const struct spec_mount *m,
                          const struct mount_opts *o, const char *dest, struct error **err)
{
    const char *type = m->type;
    _cleanup_close_ int fd = -1;
    int r = o->remount ? inroot_open(root_fd, dest, &fd) : inroot_mkdir_p(root_fd, dest, 0755, false, &fd);
    if (r < 0)
        return error_sys(err, -r, "mount \"%s\" on \"%s\": %s", mount_label(m), m->destination,
                         o->remount ? "open the mount point" : "create the mount point in the rootfs");
    unsigned long flags = o->set | (o->remount ? MS_REMOUNT : 0);
    /* Read-only comes last where we still write into the new mount:
     * tmpcopyup here, /dev's device nodes in rootfs_prepare. */
    bool late_ro = (flags & MS_RDONLY) && !o->remount && (o->tmpcopyup || strcmp(dest, "/dev") == 0);
    if (late_ro)
        flags &= ~MS_RDONLY;
    const char *src = m->source ? m->source : type;
    r = mount_on_fd(src, fd, type, flags, o->data);
    if (r == -EPERM && !o->remount && !spec->linux.ns[NS_NET].enabled && strcmp(type, "sysfs") == 0) {
        /* sysfs needs a network namespace of our own in a user namespace. */
        struct mount_opts bo = *o;
        bo.rec = true;
        return bind_onto("/sys", fd, root_fd, dest, &bo, "/sys", m->destination, err);
    }
    if (r == -EPERM && !o->remount && strcmp(type, "mqueue") == 0 && access("/dev/mqueue", F_OK) == 0) {
        /* mqueue needs an ipc namespace of our own in a user namespace. */
        struct mount_opts bo = *o;
        bo.rec = true;
        return bind_onto("/dev/mqueue", fd, root_fd, dest, &bo, "/dev/mqueue", m->destination, err);
    }
    if (r < 0)
        return error_sys(err, -r, "mount \"%s\" on \"%s\"", src, m->destination);
    _cleanup_close_ int mfd = -1;
    if ((r = inroot_open(root_fd, dest, &mfd)) < 0)
        return error_sys(err, -r, "open \"%s\" after mounting it", m->destination);
    if (o->tmpcopyup) {
        /* fd still reaches the directory the tmpfs now covers. */
        _cleanup_close_ int from = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int to = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (from < 0 || to < 0)
            return error_sys(err, errno, "tmpcopyup on \"%s\"", m->destination);
        if ((r = copy_tree(from, to)) < 0)
            return error_sys(err, -r, "tmpcopyup on \"%s\"", m->destination);
        if (late_ro && (r = remount_bind(mfd, MS_RDONLY, 0, false)) < 0)
            return error_sys(err, -r, "remount \"%s\" read-only", m->destination);
    }
    return mount_finish(mfd, o, m->destination, err);
}

int mount_opts_add_label(struct mount_opts *o, const char *type, const char *label)
{
    if (!label || !*label || !type ||
        (strcmp(type, "tmpfs") != 0 && strcmp(type, "devpts") != 0 && strcmp(type, "mqueue") != 0))
        return 0;
    char *data = NULL;
    if (asprintf(&data, "%s%scontext=\"%s\"", o->data ? o->data : "", o->data ? "," : "", label) < 0)
        return -ENOMEM;
    free(o->data);
    o->data = data;
    return 0;
}

int mount_entry(int root_fd, const struct spec *spec, const struct spec_mount *m, struct error **err)
{
    _cleanup_(mount_opts_freep) struct mount_opts o = { 0 };
    int r = mount_opts_parse(m->options, m->n_options, &o, err);
    if (r < 0)
        return error_prefix(err, "mount on \"%s\"", m->destination);
    _cleanup_free_ char *dest = path_clean(m->destination);
    if (!dest)
        return error_set(err, ENOMEM, "out of memory");
    if (o.tmpcopyup && (!m->type || strcmp(m->type, "tmpfs") != 0))
        return error_set(err, EINVAL, "mount on \"%s\": tmpcopyup needs type tmpfs", m->destination);
    if (mount_is_bind(m)) {
        o.bind = true;
        return mount_bind_entry(root_fd, spec, m, &o, dest, err);
    }
    if (!m->type || !*m->type)
        return error_set(err, EINVAL, "mount on \"%s\": no type, and not a bind mount", m->destination);
    if (strcmp(m->type, "cgroup") == 0)
        return mount_cgroup(root_fd, spec, m, &o, dest, err);
    /* set only where SELinux is enabled: the spec check refuses it elsewhere */
    if (mount_opts_add_label(&o, m->type, spec->linux.mount_label) < 0)
        return error_set(err, ENOMEM, "out of memory");
    return mount_fs_entry(root_fd, spec, m, &o, dest, err);
}
