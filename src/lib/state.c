#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "spec.h"
#include "cleanup.h"
#include "util.h"

#define OCI_VERSION "1.2.0"

int state_check_id(const char *id, struct error **err)
{
    if (!id || !*id)
        return error_set(err, EINVAL, "container id must not be empty");
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return error_set(err, EINVAL, "invalid container id \"%s\"", id);
    if (strlen(id) > 1024)
        return error_set(err, EINVAL, "container id is too long");
    for (const char *p = id; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.' || c == '+';
        if (!ok)
            return error_set(err, EINVAL, "invalid container id \"%s\": only letters, digits and _ - . + are allowed", id);
    }
    return 0;
}

static int open_root(const char *root, bool create, struct error **err)
{
    if (create) {
        int r = mkdir_p(root, 0700);
        if (r < 0)
            return error_sys(err, -r, "create state root \"%s\"", root);
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_sys(err, errno, "open state root \"%s\"", root);
    return fd;
}

int state_dir_create(const char *root, const char *id, int *dirfd, int *lockfd, struct error **err)
{
    int r = state_check_id(id, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rootfd = open_root(root, true, err);
    if (rootfd < 0)
        return rootfd;
    if (mkdirat(rootfd, id, 0711) < 0) {
        if (errno == EEXIST)
            return error_set(err, EEXIST, "container %s already exists", id);
        return error_sys(err, errno, "create state dir \"%s/%s\"", root, id);
    }
    /* mkdir obeys the umask; the container's user must be able to search it for the exec fifo */
    fchmodat(rootfd, id, 0711, 0);
    _cleanup_close_ int lfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
        r = error_sys(err, errno, "lock state dir \"%s/%s\"", root, id);
        unlinkat(rootfd, id, AT_REMOVEDIR);
        return r;
    }
    int dfd = openat(rootfd, id, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        r = error_sys(err, errno, "open state dir \"%s/%s\"", root, id);
        unlinkat(rootfd, id, AT_REMOVEDIR);
        return r;
    }
    *dirfd = dfd;
    *lockfd = TAKE_FD(lfd);
    return 0;
}

static char *json_strdup(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? strdup(s) : NULL;
}

void state_free(struct container_state *st)
{
    if (!st)
        return;
    free(st->id);
    free(st->bundle);
    free(st->rootfs);
    free(st->created);
    free(st->owner);
    free(st->executor);
    json_decref(st->annotations);
    json_decref(st->cgroup);
    if (st->dirfd >= 0)
        close(st->dirfd);
    if (st->lockfd >= 0)
        close(st->lockfd);
    free(st);
}

void state_freep(struct container_state **st) { state_free(*st); }

int state_load(const char *root, const char *id, bool exclusive, struct container_state **out, struct error **err)
{
    int r = state_check_id(id, err);
    if (r < 0)
        return r;
    _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_close_ int lfd = rootfd < 0 ? -1 : openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfd < 0) {
        if (errno == ENOENT)
            return error_set(err, ENOENT, "container does not exist: %s", id);
        return error_sys(err, errno, "open state dir of %s", id);
    }
    if (flock(lfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
        return error_sys(err, errno, "lock state dir of %s", id);
    _cleanup_free_ char *buf = NULL;
    r = read_file_at(lfd, STATE_FILE, &buf, NULL);
    if (r == -ENOENT)
        return error_set(err, ENOENT, "container does not exist: %s", id);  /* being created, or half deleted */
    if (r < 0)
        return error_sys(err, -r, "read state of %s", id);
    json_error_t jerr;
    _cleanup_json_ json_t *doc = json_loads(buf, 0, &jerr);
    if (!json_is_object(doc))
        return error_set(err, EINVAL, "state of %s is corrupt: %s", id, jerr.text);

    struct container_state *st = calloc(1, sizeof(*st));
    if (!st)
        return error_set(err, ENOMEM, "out of memory");
    st->dirfd = st->lockfd = -1;
    st->id = strdup(id);
    st->pid = (pid_t)json_integer_value(json_object_get(doc, "pid"));
    st->pid_start = (unsigned long long)json_integer_value(json_object_get(doc, "pid_start"));
    st->bundle = json_strdup(doc, "bundle");
    st->rootfs = json_strdup(doc, "rootfs");
    st->created = json_strdup(doc, "created");
    st->owner = json_strdup(doc, "owner");
    st->executor = json_strdup(doc, "executor");
    st->annotations = json_incref(json_object_get(doc, "annotations"));
    st->cgroup = json_incref(json_object_get(doc, "cgroup"));
    st->dirfd = openat(lfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    st->lockfd = TAKE_FD(lfd);
    *out = st;
    return 0;
}

int state_save(const struct container_state *st, struct error **err)
{
    _cleanup_json_ json_t *doc = json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:s?}",
                                           "id", st->id, "pid", (json_int_t)st->pid,
                                           "pid_start", (json_int_t)st->pid_start, "bundle", st->bundle,
                                           "rootfs", st->rootfs, "created", st->created, "owner", st->owner,
                                           "executor", st->executor);
    if (!doc)
        return error_set(err, ENOMEM, "out of memory");
    if (st->annotations)
        json_object_set(doc, "annotations", st->annotations);
    if (st->cgroup)
        json_object_set(doc, "cgroup", st->cgroup);
    _cleanup_free_ char *s = json_dumps(doc, JSON_COMPACT);
    if (!s)
        return error_set(err, ENOMEM, "out of memory");
    int r = write_file_at(st->dirfd, STATE_FILE ".tmp", s, strlen(s), O_CREAT | O_TRUNC, 0600);
    if (r < 0)
        return error_sys(err, -r, "write state of %s", st->id);
    if (renameat(st->dirfd, STATE_FILE ".tmp", st->dirfd, STATE_FILE) < 0)
        return error_sys(err, errno, "write state of %s", st->id);
    return 0;
}

int state_remove_dir(const char *root, const char *id, struct error **err)
{
    _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return error_sys(err, errno, "open state root \"%s\"", root);
    _cleanup_close_ int dfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        _cleanup_closedir_ DIR *d = fdopendir(TAKE_FD(dfd));
        struct dirent *de;
        while (d && (de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(dirfd(d), de->d_name, 0);
    }
    if (unlinkat(rootfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return error_sys(err, errno, "remove state dir of %s", id);
    return 0;
}

enum container_status state_status(const struct container_state *st)
{
    if (st->pid <= 0 || proc_start_time(st->pid) != st->pid_start)
        return STATUS_STOPPED;
    if (st->dirfd >= 0 && faccessat(st->dirfd, EXEC_FIFO, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return STATUS_CREATED;
    if (st->cgroup && cgroup_is_frozen(st->cgroup) == 1)
        return STATUS_PAUSED;
    return STATUS_RUNNING;
}

const char *status_name(enum container_status s)
{
    static const char *const names[] = { "creating", "created", "running", "paused", "stopped" };
    return names[s];
}

json_t *state_to_oci(const struct container_state *st, enum container_status status)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "ociVersion", OCI_VERSION, "id", st->id,
                          "pid", (json_int_t)(status == STATUS_STOPPED ? 0 : st->pid), "status", status_name(status),
                          "bundle", st->bundle ? st->bundle : "", "rootfs", st->rootfs ? st->rootfs : "",
                          "created", st->created ? st->created : "", "owner", st->owner ? st->owner : "");
    if (o && st->annotations && json_object_size(st->annotations))
        json_object_set(o, "annotations", st->annotations);
    return o;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int state_list_ids(const char *root, char ***ids, size_t *n, struct error **err)
{
    *ids = NULL;
    *n = 0;
    _cleanup_closedir_ DIR *d = opendir(root);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return error_sys(err, errno, "open state root \"%s\"", root);
    }
    size_t cap = 0;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || state_check_id(de->d_name, NULL) < 0)
            continue;
        if (*n + 2 > cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof(*v));
            if (!nv)
                break;
            v = nv;
        }
        v[(*n)++] = strdup(de->d_name);
        v[*n] = NULL;
    }
    if (v)
        qsort(v, *n, sizeof(*v), cmp_str);
    *ids = v;
    return 0;
}

int state_read_config(const struct container_state *st, json_t **doc, struct error **err)
{
    _cleanup_free_ char *buf = NULL;
    int r = read_file_at(st->dirfd, CONFIG_COPY, &buf, NULL);
    if (r < 0)
        return error_sys(err, -r, "read the stored config of %s", st->id);
    json_error_t jerr;
    *doc = json_loads(buf, 0, &jerr);
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        return error_set(err, EINVAL, "the stored config of %s is corrupt: %s", st->id, jerr.text);
    }
    return 0;
}

int state_load_spec(const struct container_state *st, struct spec **out, struct error **err)
{
    json_t *doc;
    int r = state_read_config(st, &doc, err);
    if (r < 0)
        return r;
    return spec_parse(doc, st->bundle ? st->bundle : "/", out, err);
}

int state_write_config(int dirfd, const char *id, json_t *doc, struct error **err)
{
    _cleanup_free_ char *out = json_dumps(doc, JSON_COMPACT);
    if (!out)
        return error_set(err, ENOMEM, "out of memory");
    static const char tmp[] = CONFIG_COPY ".tmp";
    int r = write_file_at(dirfd, tmp, out, strlen(out), O_CREAT | O_TRUNC, 0600);
    if (r == 0 && renameat(dirfd, tmp, dirfd, CONFIG_COPY) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(dirfd, tmp, 0);
        return error_sys(err, -r, "store the config of %s", id);
    }
    return 0;
}
