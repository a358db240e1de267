/* Mount option parsing, path cleaning and in-root resolution (openat2 and
 * the userspace walk must agree, and neither may leave the root). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounts.h"
#include "unit.h"

static void test_clean(void)
{
    static const char *const cases[][2] = {
        { "/", "/" },           { "", "/" },           { "/a/b", "/a/b" },     { "a/b", "/a/b" },
        { "//a//b/", "/a/b" },  { "/a/./b", "/a/b" },  { "/a/../b", "/b" },    { "/../../a", "/a" },
        { "/a/b/../../..", "/" }, { "/dev/", "/dev" }, { "./x/.", "/x" },      { "/a/b/..", "/a" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        _cleanup_free_ char *c = path_clean(cases[i][0]);
        if (!c || strcmp(c, cases[i][1]) != 0) {
            fprintf(stderr, "path_clean(\"%s\") = \"%s\", want \"%s\"\n", cases[i][0], c ? c : "(null)", cases[i][1]);
            unit_failed++;
        }
    }
    CHECK(path_is_under("/a/b", "/a"));
    CHECK(path_is_under("/a", "/a"));
    CHECK(path_is_under("/a", "/a/"));
    CHECK(!path_is_under("/ab", "/a"));
    CHECK(path_is_under("/anything", "/"));
}

static void test_options(void)
{
    struct error *err = NULL;
    struct mount_opts o;
    const char *a[] = { "rbind", "ro", "nosuid", "nodev", "noexec", "relatime", "rprivate", "mode=755", "size=65536k" };
    CHECK(mount_opts_parse(a, 9, &o, &err) == 0);
    CHECK(o.bind && o.rec && !o.remount);
    CHECK(o.set == (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME));
    CHECK(o.clr == 0);
    CHECK(o.atime_given);
    CHECK(o.n_propagation == 1 && o.propagation[0] == (MS_PRIVATE | MS_REC));
    CHECK(o.data && strcmp(o.data, "mode=755,size=65536k") == 0);
    mount_opts_free(&o);

    /* the last of two opposite options wins */
    const char *b[] = { "ro", "rw", "suid", "nosuid", "exec", "dev", "bind", "shared", "slave", "unbindable" };
    CHECK(mount_opts_parse(b, 10, &o, &err) == 0);
    CHECK(o.set == MS_NOSUID);
    CHECK(o.clr == (MS_RDONLY | MS_NOEXEC | MS_NODEV));
    CHECK(o.bind && !o.rec && !o.atime_given && !o.data);
    CHECK(o.n_propagation == 3 && o.propagation[0] == MS_SHARED && o.propagation[1] == MS_SLAVE &&
          o.propagation[2] == MS_UNBINDABLE);
    mount_opts_free(&o);

    const char *c[] = { "rro", "rnosuid", "rnoatime", "rrelatime", "rexec", "tmpcopyup", "sync", "dirsync",
                        "nosymfollow", "remount", "strictatime", "norelatime" };
    CHECK(mount_opts_parse(c, 12, &o, &err) == 0);
    CHECK(o.attr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_RELATIME));
    CHECK(o.attr_clr == (MOUNT_ATTR__ATIME | MOUNT_ATTR_NOEXEC));
    CHECK(o.rattr_name && strcmp(o.rattr_name, "rro") == 0);
    CHECK(o.tmpcopyup && o.remount);
    CHECK(o.set == (MS_SYNCHRONOUS | MS_DIRSYNC | MS_NOSYMFOLLOW | MS_STRICTATIME));
    CHECK(o.clr == MS_RELATIME);
    mount_opts_free(&o);

    const char *d[] = { "rnoatime" };
    CHECK(mount_opts_parse(d, 1, &o, &err) == 0);
    CHECK(o.attr_set == MOUNT_ATTR_NOATIME && o.attr_clr == MOUNT_ATTR__ATIME);
    mount_opts_free(&o);

    const char *e[] = { "rbind", "idmap" };
    CHECK(mount_opts_parse(e, 2, &o, &err) == -ENOTSUP);
    CHECK(err && strstr(err->msg, "idmap"));
    error_free(err);
    err = NULL;

    CHECK(propagation_from_name("rslave") == (MS_SLAVE | MS_REC));
    CHECK(propagation_from_name("private") == MS_PRIVATE);
    CHECK(propagation_from_name("bogus") == 0);
}

/* Where did path lead? Answered as a path relative to the root, via /proc. */
static char *where(int root_fd, const char *root, const char *path, bool no_openat2, int *err)
{
    inroot_no_openat2 = no_openat2;
    int fd;
    *err = inroot_open(root_fd, path, &fd);
    if (*err < 0)
        return NULL;
    char p[FD_PATH_SIZE];
    char *target = realpath(fd_path(fd, p), NULL);
    close(fd);
    if (!target)
        return NULL;
    size_t n = strlen(root);
    char *rel = strdup(strncmp(target, root, n) == 0 ? (target[n] ? target + n : "/") : target);
    free(target);
    return rel;
}

static void test_resolve(void)
{
    char tmpl[] = "/tmp/krunc-test-mounts-XXXXXX";
    char *base = mkdtemp(tmpl);
    CHECK(base);
    if (!base)
        return;
    _cleanup_free_ char *root = NULL, *host = NULL;
    CHECK(asprintf(&root, "%s/root", base) > 0 && asprintf(&host, "%s/host", base) > 0);
    CHECK(mkdir(root, 0755) == 0 && mkdir(host, 0755) == 0);
    int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(root_fd >= 0);
    CHECK(mkdirat(root_fd, "etc", 0755) == 0);
    CHECK(mkdirat(root_fd, "real", 0755) == 0);
    CHECK(mkdirat(root_fd, "real/sub", 0755) == 0);
    CHECK(symlinkat("/", root_fd, "etc/toroot") == 0);
    CHECK(symlinkat(host, root_fd, "etc/tohost") == 0);     /* an absolute host path */
    CHECK(symlinkat("../../../../../../..", root_fd, "etc/up") == 0);
    CHECK(symlinkat("../real/sub", root_fd, "etc/rel") == 0);
    CHECK(symlinkat("loop2", root_fd, "loop1") == 0);
    CHECK(symlinkat("loop1", root_fd, "loop2") == 0);
    CHECK(symlinkat("/real", root_fd, "abs") == 0);
    CHECK(symlinkat("/nowhere/deep", root_fd, "dangling") == 0);
    int f = openat(root_fd, "real/file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    CHECK(f >= 0);
    close(f);

    static const char *const cases[][2] = {
        { "/", "/" },
        { "/etc", "/etc" },
        { "/etc/toroot", "/" },
        { "/etc/toroot/etc", "/etc" },
        { "/etc/up", "/" },
        { "/etc/up/real/sub", "/real/sub" },
        { "/etc/rel", "/real/sub" },
        { "/abs/sub", "/real/sub" },
        { "/../../../real", "/real" },
        { "/real/file", "/real/file" },
    };
    for (int mode = 0; mode < 2; mode++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            int e;
            _cleanup_free_ char *w = where(root_fd, root, cases[i][0], mode, &e);
            if (!w || strcmp(w, cases[i][1]) != 0) {
                fprintf(stderr, "resolve(%s, openat2=%s) = %s (%d), want %s\n", cases[i][0], mode ? "no" : "yes",
                        w ? w : "(null)", e, cases[i][1]);
                unit_failed++;
            }
        }
        int e;
        _cleanup_free_ char *w1 = where(root_fd, root, "/etc/tohost", mode, &e);
        if (mode == 0)
            CHECK(!w1 && e == -ENOENT);      /* the host path does not exist inside */
        else
            CHECK(w1 && strcmp(w1, host) == 0);     /* made inside by the first round */
        _cleanup_free_ char *w2 = where(root_fd, root, "/loop1", mode, &e);
        CHECK(!w2 && e == -ELOOP);
        _cleanup_free_ char *w3 = where(root_fd, root, "/real/file/x", mode, &e);
        CHECK(!w3 && e == -ENOTDIR);

        /* mkdir -p through a symlink to a host path creates it inside the root */
        inroot_no_openat2 = mode;
        int fd;
        const char *made = mode ? "/etc/tohost/b" : "/etc/tohost/a";
        CHECK(inroot_mkdir_p(root_fd, made, 0755, false, &fd) == 0);
        if (fd >= 0)
            close(fd);
        _cleanup_free_ char *inside = NULL, *outside = NULL;
        CHECK(asprintf(&inside, "%s%s%s", root, host, made + strlen("/etc/tohost")) > 0);
        CHECK(asprintf(&outside, "%s%s", host, made + strlen("/etc/tohost")) > 0);
        struct stat st;
        CHECK(stat(inside, &st) == 0 && S_ISDIR(st.st_mode));
        CHECK(stat(outside, &st) < 0 && errno == ENOENT);
        /* the last component as a file */
        CHECK(inroot_mkdir_p(root_fd, mode ? "/new/f2" : "/new/f1", 0755, true, &fd) == 0);
        if (fd >= 0)
            close(fd);
        CHECK(fstatat(root_fd, mode ? "new/f2" : "new/f1", &st, 0) == 0 && S_ISREG(st.st_mode));
        /* a dangling symlink is followed inside the root: /dangling -> /nowhere/deep */
        CHECK(inroot_mkdir_p(root_fd, mode ? "/dangling/y" : "/dangling/x", 0755, false, &fd) == 0);
        if (fd >= 0)
            close(fd);
        CHECK(fstatat(root_fd, mode ? "nowhere/deep/y" : "nowhere/deep/x", &st, 0) == 0 && S_ISDIR(st.st_mode));
        CHECK(fstatat(root_fd, "dangling", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode));
        CHECK(inroot_mkdir_p(root_fd, "/loop1/z", 0755, false, &fd) == -ELOOP);
        int pfd;
        _cleanup_free_ char *b = NULL;
        CHECK(inroot_parent(root_fd, "/etc/toroot/dev/null", &pfd, &b) == 0);
        CHECK(b && strcmp(b, "null") == 0);
        if (pfd >= 0)
            close(pfd);
        CHECK(fstatat(root_fd, "dev", &st, 0) == 0 && S_ISDIR(st.st_mode));
    }
    close(root_fd);
    /* remove the scratch tree */
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", base, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
}

static void test_mount_label(void)
{
    const char *opts[] = { "nosuid", "mode=755", "size=64k" };
    struct mount_opts o = { 0 };
    CHECK(mount_opts_parse(opts, 3, &o, NULL) == 0);
    CHECK(mount_opts_add_label(&o, "tmpfs", "system_u:object_r:container_file_t:s0") == 0);
    CHECK(o.data && strcmp(o.data, "mode=755,size=64k,context=\"system_u:object_r:container_file_t:s0\"") == 0);
    mount_opts_free(&o);

    struct mount_opts none = { 0 };
    CHECK(mount_opts_add_label(&none, "devpts", "l") == 0);
    CHECK(none.data && strcmp(none.data, "context=\"l\"") == 0);
    mount_opts_free(&none);

    /* proc, sysfs and binds take no context=; no label, nothing added */
    struct mount_opts p = { 0 };
    CHECK(mount_opts_add_label(&p, "proc", "l") == 0 && p.data == NULL);
    CHECK(mount_opts_add_label(&p, "tmpfs", NULL) == 0 && p.data == NULL);
    CHECK(mount_opts_add_label(&p, "tmpfs", "") == 0 && p.data == NULL);
}

int main(void)
{
    test_mount_label();
    test_clean();
    test_options();
    test_resolve();
    UNIT_DONE();
}
