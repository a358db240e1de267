/* rootfs/.krun_config.json for libkrun's guest init, and the KVM device in
 * the spec. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../cleanup.h"
#include "../spec.h"
#include "../util.h"
#include "krun.h"

size_t krun_json_tokens(json_t *j)
{
    size_t n = 1;
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
            n += 1 + krun_json_tokens(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            n += krun_json_tokens(v);
    }
    return n;
}

/* The released guest init scans the whole document for the first `args`,
 * `env` and `cwd` keys in any object, so `process` goes first: otherwise
 * hooks' args and env could be taken for the workload's. */
int krun_config_document(json_t *config, json_t **out, struct error **err)
{
    json_t *process = json_object_get(config, "process");
    if (!json_is_object(process))
        return error_set(err, EINVAL, "process: the krun executor needs a process to run in the VM");
    json_t *args = json_object_get(process, "args");
    if (json_array_size(args) > KRUN_CONFIG_MAX_ARGS)
        return error_set(err, E2BIG, "process.args has %zu arguments; libkrun's guest init reads at most %d",
                         json_array_size(args), KRUN_CONFIG_MAX_ARGS);
    _cleanup_json_ json_t *doc = json_object();
    if (!doc)
        return error_set(err, ENOMEM, "out of memory");
    if (!json_object_get(process, "env")) {
        /* without one here, a hook's env later in the file would be used */
        json_t *copy = json_copy(process);
        if (!copy || json_object_set_new(copy, "env", json_array()) < 0 || json_object_set_new(doc, "process", copy) < 0)
            return error_set(err, ENOMEM, "out of memory");
    } else if (json_object_set(doc, "process", process) < 0) {
        return error_set(err, ENOMEM, "out of memory");
    }
    const char *key;
    json_t *v;
    json_object_foreach(config, key, v)
        if (strcmp(key, "process") && json_object_set(doc, key, v) < 0)
            return error_set(err, ENOMEM, "out of memory");
    size_t tokens = krun_json_tokens(doc);
    if (tokens > KRUN_CONFIG_MAX_TOKENS)
        return error_set(err, E2BIG, "the config for libkrun's guest init (%s) would have %zu JSON tokens; the guest "
                         "init ignores a config with more than %d (make process.env, hooks, mounts or annotations "
                         "shorter)", KRUN_CONFIG_FILE, tokens, KRUN_CONFIG_MAX_TOKENS);
    *out = TAKE_PTR(doc);
    return 0;
}

int krun_config_write(int rootfd, json_t *doc, struct error **err)
{
    _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        return error_set(err, ENOMEM, "out of memory");
    struct stat st;
    if (fstatat(rootfd, KRUN_CONFIG_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        /* left by an earlier container, or planted: never write through it */
        if (!S_ISREG(st.st_mode))
            return error_set(err, EEXIST, "rootfs/%s exists and is not a regular file (%s); refusing to write "
                             "the guest config through it", KRUN_CONFIG_FILE,
                             S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file");
        if (unlinkat(rootfd, KRUN_CONFIG_FILE, 0) < 0 && errno != ENOENT)
            return error_sys(err, errno, "remove the old rootfs/%s", KRUN_CONFIG_FILE);
    } else if (errno != ENOENT) {
        return error_sys(err, errno, "stat rootfs/%s", KRUN_CONFIG_FILE);
    }
    /* 0444: the VMM may serve the rootfs as a non-root container user */
    _cleanup_close_ int fd = openat(rootfd, KRUN_CONFIG_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd < 0)
        return error_sys(err, errno, "create rootfs/%s", KRUN_CONFIG_FILE);
    int r = 0;
    if (fchmod(fd, 0444) < 0)
        r = -errno;
    if (r == 0)
        r = write_all(fd, text, strlen(text));
    if (r == 0 && close(TAKE_FD(fd)) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(rootfd, KRUN_CONFIG_FILE, 0);
        return error_sys(err, -r, "write rootfs/%s", KRUN_CONFIG_FILE);
    }
    return 0;
}

int krun_config_remove(int rootfd, struct error **err)
{
    struct stat st;
    if (fstatat(rootfd, KRUN_CONFIG_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : error_sys(err, errno, "stat rootfs/%s", KRUN_CONFIG_FILE);
    if (!S_ISREG(st.st_mode))
        return 0;   /* not ours */
    if (unlinkat(rootfd, KRUN_CONFIG_FILE, 0) < 0 && errno != ENOENT)
        return error_sys(err, errno, "remove rootfs/%s", KRUN_CONFIG_FILE);
    return 0;
}

static int json_child(json_t *parent, const char *key, json_type type, json_t **out)
{
    json_t *c = json_object_get(parent, key);
    if (!c) {
        c = type == JSON_ARRAY ? json_array() : json_object();
        if (!c || json_object_set_new(parent, key, c) < 0)
            return -ENOMEM;
    }
    *out = c;
    return json_typeof(c) == type ? 0 : -EINVAL;
}

int krun_add_device(struct spec *spec, const char *path, dev_t rdev, struct error **err)
{
    int64_t major = major(rdev), minor = minor(rdev);
    bool present = false;
    for (size_t i = 0; i < spec->linux.n_devices && !present; i++)
        present = !strcmp(spec->linux.devices[i].path, path);
    if (!present) {
        json_t *lx, *devs;
        if (json_child(spec->json, "linux", JSON_OBJECT, &lx) < 0 || json_child(lx, "devices", JSON_ARRAY, &devs) < 0)
            return error_set(err, EINVAL, "linux.devices: cannot add %s", path);
        json_t *d = json_pack("{s:s, s:s, s:I, s:I, s:i}", "path", path, "type", "c", "major", (json_int_t)major,
                              "minor", (json_int_t)minor, "fileMode", 0666);
        if (!d || json_array_append_new(devs, d) < 0)
            return error_set(err, ENOMEM, "out of memory");
        struct spec_device *nd = spec_alloc(spec, (spec->linux.n_devices + 1) * sizeof(*nd));
        if (spec->linux.n_devices)
            memcpy(nd, spec->linux.devices, spec->linux.n_devices * sizeof(*nd));
        nd[spec->linux.n_devices] = (struct spec_device){
            .path = spec_strdup(spec, path), .type = 'c', .major = major, .minor = minor, .has_mode = true, .mode = 0666,
        };
        spec->linux.devices = nd;
        spec->linux.n_devices++;
    }
    /* The device cgroup denies everything but a few default nodes whether
     * or not the config lists rules (as runc does), so the VMM's device gets
     * its rule even when there is no list. Appended last, it wins over an
     * earlier deny-all. */
    json_t *lx, *res, *rules;
    if (json_child(spec->json, "linux", JSON_OBJECT, &lx) < 0 || json_child(lx, "resources", JSON_OBJECT, &res) < 0 ||
        json_child(res, "devices", JSON_ARRAY, &rules) < 0)
        return error_set(err, EINVAL, "linux.resources.devices: cannot add a rule for %s", path);
    spec->linux.resources = res;
    json_t *allow = json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", "c", "major", (json_int_t)major,
                              "minor", (json_int_t)minor, "access", "rwm");
    if (!allow)
        return error_set(err, ENOMEM, "out of memory");
    size_t n = json_array_size(rules);
    if (n && json_equal(json_array_get(rules, n - 1), allow)) {
        json_decref(allow);     /* already the last word */
        return 0;
    }
    if (json_array_append_new(rules, allow) < 0)
        return error_set(err, ENOMEM, "out of memory");
    return 0;
}
