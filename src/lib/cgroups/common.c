/* Layout detection, the container's cgroup directories, placement, removal, signals and the freezer. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "../cleanup.h"
#include "../spec.h"
#include "../util.h"
#include "cgroups.h"
#include "internal.h"

#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

/* ---- test root ---- */

static char *test_root;

void cgroup_set_root_for_tests(const char *root)
{
    free(test_root);
    test_root = root ? strdup(root) : NULL;
}

const char *cg_test_root(void)
{
    return test_root;
}

/* ---- names ---- */

static const char *const v1_names[CG__MAX] = {
    [CG_CPU] = "cpu", [CG_CPUACCT] = "cpuacct", [CG_CPUSET] = "cpuset", [CG_MEMORY] = "memory",
    [CG_DEVICES] = "devices", [CG_FREEZER] = "freezer", [CG_BLKIO] = "blkio", [CG_PIDS] = "pids",
    [CG_HUGETLB] = "hugetlb", [CG_NET_CLS] = "net_cls", [CG_NET_PRIO] = "net_prio", [CG_RDMA] = "rdma",
    [CG_PERF_EVENT] = "perf_event", [CG_MISC] = "misc",
};

const char *cg_controller_name(enum cg_controller c, bool v2)
{
    if (c >= CG__MAX)
        return "?";
    if (v2 && c == CG_BLKIO)
        return "io";
    return v1_names[c];
}

int cg_controller_from_name(const char *name, size_t len)
{
    if (len == 2 && !strncmp(name, "io", 2))
        return CG_BLKIO;
    for (int c = 0; c < CG__MAX; c++)
        if (strlen(v1_names[c]) == len && !strncmp(v1_names[c], name, len))
            return c;
    return -1;
}

unsigned cg_controllers_parse(const char *s)
{
    unsigned m = 0;
    while (*s) {
        size_t skip = strspn(s, " ,\n\t");
        s += skip;
        size_t len = strcspn(s, " ,\n\t");
        if (!len)
            break;
        int c = cg_controller_from_name(s, len);
        if (c >= 0)
            m |= CG_BIT(c);
        s += len;
    }
    return m;
}

static char *controllers_format(unsigned m, bool v2)
{
    size_t cap = 1;
    for (int c = 0; c < CG__MAX; c++)
        if (m & CG_BIT(c))
            cap += strlen(cg_controller_name(c, v2)) + 1;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (int c = 0; c < CG__MAX; c++)
        if (m & CG_BIT(c))
            p += sprintf(p, "%s%s", p == s ? "" : " ", cg_controller_name(c, v2));
    return s;
}

const char *cg_layout_name(enum cg_layout l)
{
    return l == CG_LAYOUT_V2 ? "v2" : l == CG_LAYOUT_HYBRID ? "hybrid" : "v1";
}

/* ---- detection ---- */

void cg_hosts_free(struct cg_hosts *hosts)
{
    for (size_t i = 0; i < hosts->n; i++) {
        free(hosts->h[i].mount);
        free(hosts->h[i].root);
        free(hosts->h[i].v1_name);
    }
    free(hosts->h);
    hosts->h = NULL;
    hosts->n = 0;
}

static int hosts_add(struct cg_hosts *hosts, const char *mount, const char *root, bool v2, unsigned ctrls,
                     const char *name)
{
    struct cg_hier *n = realloc(hosts->h, (hosts->n + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    hosts->h = n;
    struct cg_hier *h = &n[hosts->n];
    memset(h, 0, sizeof(*h));
    h->mount = strdup(mount);
    h->root = strdup(root ? root : "/");
    h->v1_name = name ? strdup(name) : NULL;
    h->v2 = v2;
    h->ctrls = ctrls;
    h->ctrls_known = !v2;
    hosts->n++;
    if (!h->mount || !h->root || (name && !h->v1_name))
        return -ENOMEM;
    return 0;
}

static void hosts_set_layout(struct cg_hosts *hosts)
{
    bool v1 = false, v2 = false;
    for (size_t i = 0; i < hosts->n; i++) {
        if (hosts->h[i].v2)
            v2 = true;
        else
            v1 = true;
    }
    hosts->layout = v1 && v2 ? CG_LAYOUT_HYBRID : v2 ? CG_LAYOUT_V2 : CG_LAYOUT_V1;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static int detect_mountinfo(struct cg_hosts *hosts, struct error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text, NULL);
    if (r < 0)
        return error_sys(err, -r, "read /proc/self/mountinfo");
    /* the same hierarchy may be mounted twice: keep the first mount of each device */
    _cleanup_free_ char **seen = NULL;
    size_t n_seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        *sep = '\0';
        char *fstype = sep + 3;
        char *src = strchr(fstype, ' ');
        if (!src)
            continue;
        *src++ = '\0';
        bool v2 = !strcmp(fstype, "cgroup2");
        if (!v2 && strcmp(fstype, "cgroup"))
            continue;
        char *opts = strchr(src, ' ');
        opts = opts ? opts + 1 : (char *)"";
        char *f[5] = { 0 };
        char *p = line;
        for (int i = 0; i < 5 && p; i++) {
            f[i] = p;
            p = strchr(p, ' ');
            if (p)
                *p++ = '\0';
        }
        if (!f[4])
            continue;
        bool dup = false;
        for (size_t i = 0; i < n_seen; i++)
            dup |= !strcmp(seen[i], f[2]);
        if (dup)
            continue;
        char **ns = realloc(seen, (n_seen + 1) * sizeof(*ns));
        if (!ns)
            return error_set(err, ENOMEM, "out of memory");
        seen = ns;
        seen[n_seen++] = f[2];
        unescape_octal(f[3]);
        unescape_octal(f[4]);
        unsigned ctrls = 0;
        _cleanup_free_ char *name = NULL;
        if (!v2) {
            ctrls = cg_controllers_parse(opts);
            for (char *o = strtok_r(opts, ",", &p); o; o = strtok_r(NULL, ",", &p))
                if (!strncmp(o, "name=", 5)) {
                    free(name);
                    name = strdup(o + 5);
                }
            if (!ctrls && !name)
                continue;
        }
        if (hosts_add(hosts, f[4], f[3], v2, ctrls, name) < 0)
            return error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* The test tree: TEST_ROOT itself is a v2 hierarchy when it has cgroup.controllers;
 * otherwise each directory in it is a v1 hierarchy named by its controllers
 * ("cpu,cpuacct", "systemd" for name=systemd), or a v2 one when it has cgroup.controllers. */
static int detect_test_root(struct cg_hosts *hosts, struct error **err)
{
    _cleanup_free_ char *probe = NULL;
    if (asprintf(&probe, "%s/cgroup.controllers", test_root) < 0)
        return error_set(err, ENOMEM, "out of memory");
    if (access(probe, F_OK) == 0)
        return hosts_add(hosts, test_root, "/", true, 0, NULL) < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
    _cleanup_closedir_ DIR *d = opendir(test_root);
    if (!d)
        return error_sys(err, errno, "open test cgroup root %s", test_root);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *mount = NULL, *ctl = NULL;
        if (asprintf(&mount, "%s/%s", test_root, de->d_name) < 0 || asprintf(&ctl, "%s/cgroup.controllers", mount) < 0)
            return error_set(err, ENOMEM, "out of memory");
        bool v2 = access(ctl, F_OK) == 0;
        unsigned ctrls = v2 ? 0 : cg_controllers_parse(de->d_name);
        const char *name = !v2 && !ctrls ? de->d_name : NULL;
        if (hosts_add(hosts, mount, "/", v2, ctrls, name) < 0)
            return error_set(err, ENOMEM, "out of memory");
    }
    /* readdir order is arbitrary; sort by mount so results are stable */
    for (size_t i = 1; i < hosts->n; i++)
        for (size_t j = i; j > 0 && strcmp(hosts->h[j - 1].mount, hosts->h[j].mount) > 0; j--) {
            struct cg_hier t = hosts->h[j];
            hosts->h[j] = hosts->h[j - 1];
            hosts->h[j - 1] = t;
        }
    return 0;
}

int cg_detect(struct cg_hosts *hosts, struct error **err)
{
    memset(hosts, 0, sizeof(*hosts));
    int r;
    struct statfs sfs;
    if (test_root)
        r = detect_test_root(hosts, err);
    else if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
        r = hosts_add(hosts, "/sys/fs/cgroup", "/", true, 0, NULL) < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
    else
        r = detect_mountinfo(hosts, err);
    if (r < 0) {
        cg_hosts_free(hosts);
        return r;
    }
    if (hosts->n == 0)
        return error_set(err, ENOENT, "no cgroup hierarchy is mounted");
    hosts_set_layout(hosts);
    return 0;
}

struct cg_hier *cg_hosts_v2(struct cg_hosts *hosts)
{
    for (size_t i = 0; i < hosts->n; i++)
        if (hosts->h[i].v2)
            return &hosts->h[i];
    return NULL;
}

unsigned cg_hier_v2_controllers(struct cg_hier *h)
{
    if (!h->ctrls_known) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = open(h->mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && read_file_at(fd, "cgroup.controllers", &text, NULL) == 0)
            h->ctrls = cg_controllers_parse(text);
        h->ctrls_known = true;
    }
    return h->ctrls;
}

/* ---- the container's set of directories ---- */

void cg_set_free(struct cg_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->dirs[i].path);
        if (set->dirs[i].fd >= 0)
            close(set->dirs[i].fd);
    }
    free(set->dirs);
    free(set->cgroups_path);
    memset(set, 0, sizeof(*set));
}

static void cg_set_freep(struct cg_set *set) { cg_set_free(set); }
#define _cleanup_set_ _cleanup_(cg_set_freep)

static struct cg_dir *set_add(struct cg_set *set)
{
    struct cg_dir *n = realloc(set->dirs, (set->n + 1) * sizeof(*n));
    if (!n)
        return NULL;
    set->dirs = n;
    struct cg_dir *d = &n[set->n++];
    memset(d, 0, sizeof(*d));
    d->fd = -1;
    return d;
}

json_t *cg_set_to_json(const struct cg_set *set)
{
    json_t *dirs = json_array();
    for (size_t i = 0; i < set->n; i++) {
        const struct cg_dir *d = &set->dirs[i];
        _cleanup_free_ char *ctrls = controllers_format(d->ctrls, d->v2);
        json_t *o = json_pack("{s:s, s:b, s:s, s:i}", "path", d->path, "v2", d->v2, "controllers",
                              ctrls ? ctrls : "", "created", d->created);
        if (o && d->own_parent)
            json_object_set_new(o, "own_parent", json_true());
        json_array_append_new(dirs, o);
    }
    return json_pack("{s:s, s:s, s:o}", "layout", cg_layout_name(set->layout), "path",
                     set->cgroups_path ? set->cgroups_path : "", "dirs", dirs);
}

int cg_set_from_json(json_t *state, struct cg_set *set, struct error **err)
{
    memset(set, 0, sizeof(*set));
    if (!state || !json_is_object(state))
        return error_set(err, ENOENT, "the container has no cgroup of its own");
    const char *layout = json_string_value(json_object_get(state, "layout"));
    const char *path = json_string_value(json_object_get(state, "path"));
    json_t *dirs = json_object_get(state, "dirs");
    if (!layout || !json_is_array(dirs))
        return error_set(err, EINVAL, "state.json: malformed cgroup description");
    set->layout = !strcmp(layout, "v2") ? CG_LAYOUT_V2 : !strcmp(layout, "hybrid") ? CG_LAYOUT_HYBRID : CG_LAYOUT_V1;
    set->cgroups_path = strdup(path ? path : "");
    size_t i;
    json_t *o;
    json_array_foreach(dirs, i, o) {
        const char *p = json_string_value(json_object_get(o, "path"));
        if (!p || p[0] != '/') {
            cg_set_free(set);
            return error_set(err, EINVAL, "state.json: malformed cgroup description");
        }
        struct cg_dir *d = set_add(set);
        if (!d || !(d->path = strdup(p))) {
            cg_set_free(set);
            return error_set(err, ENOMEM, "out of memory");
        }
        d->v2 = json_is_true(json_object_get(o, "v2"));
        const char *c = json_string_value(json_object_get(o, "controllers"));
        d->ctrls = c ? cg_controllers_parse(c) : 0;
        d->created = (int)json_integer_value(json_object_get(o, "created"));
        d->own_parent = json_is_true(json_object_get(o, "own_parent"));
    }
    return 0;
}

struct cg_dir *cg_set_v2(struct cg_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->dirs[i].v2)
            return &set->dirs[i];
    return NULL;
}

struct cg_dir *cg_set_dir_for(struct cg_set *set, enum cg_controller c)
{
    for (size_t i = 0; i < set->n; i++)
        if (!set->dirs[i].v2 && (set->dirs[i].ctrls & CG_BIT(c)))
            return &set->dirs[i];
    struct cg_dir *v2 = cg_set_v2(set);
    if (v2 && (c == CG_DEVICES || c == CG_FREEZER || (v2->ctrls & CG_BIT(c))))
        return v2;
    return NULL;
}

/* The directory whose cgroup.procs lists the container's processes. */
static struct cg_dir *set_main_dir(struct cg_set *set)
{
    if (set->layout == CG_LAYOUT_V2)
        return cg_set_v2(set);
    for (size_t i = 0; i < set->n; i++)
        if (!set->dirs[i].v2)
            return &set->dirs[i];
    return set->n ? &set->dirs[0] : NULL;
}

int cg_dir_fd(struct cg_dir *d, struct error **err)
{
    if (d->fd < 0) {
        d->fd = open(d->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (d->fd < 0)
            return error_sys(err, errno, "open cgroup %s", d->path);
    }
    return d->fd;
}

/* ---- files ---- */

int cg_write(struct cg_dir *d, const char *file, const char *value, struct error **err)
{
    int dfd = cg_dir_fd(d, err);
    if (dfd < 0)
        return dfd;
    /* O_TRUNC is a no-op on cgroupfs and keeps a test tree's files clean */
    int r = write_file_at(dfd, file, value, strlen(value), O_TRUNC, 0);
    if (r < 0)
        return error_sys(err, -r, "write \"%s\" to %s/%s", value, d->path, file);
    return 0;
}

int cg_writef(struct cg_dir *d, const char *file, struct error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *v = NULL;
    int n = vasprintf(&v, fmt, ap);
    va_end(ap);
    if (n < 0)
        return error_set(err, ENOMEM, "out of memory");
    return cg_write(d, file, v, err);
}

int cg_read(struct cg_dir *d, const char *file, char **out, struct error **err)
{
    int dfd = cg_dir_fd(d, err);
    if (dfd < 0)
        return dfd;
    int r = read_file_at(dfd, file, out, NULL);
    if (r == -ENOENT)
        return r;
    if (r < 0)
        return error_sys(err, -r, "read %s/%s", d->path, file);
    return 0;
}

bool cg_file_exists(struct cg_dir *d, const char *file)
{
    if (cg_dir_fd(d, NULL) < 0)
        return false;
    return faccessat(d->fd, file, F_OK, 0) == 0;
}

static int parse_u64_value(const char *s, uint64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!strncmp(s, "max", 3)) {
        *out = UINT64_MAX;
        return 0;
    }
    if (!isdigit((unsigned char)*s) && *s != '-')
        return -EINVAL;
    char *end;
    errno = 0;
    if (*s == '-') {
        long long v = strtoll(s, &end, 10);
        *out = v < 0 ? UINT64_MAX : (uint64_t)v;
    } else {
        *out = strtoull(s, &end, 10);
    }
    return errno ? -errno : 0;
}

int cg_read_u64(struct cg_dir *d, const char *file, uint64_t *out, struct error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = cg_read(d, file, &text, err);
    if (r < 0)
        return r;
    if (parse_u64_value(text, out) < 0)
        return error_set(err, EINVAL, "%s/%s: not a number: %s", d->path, file, text);
    return 0;
}

int cg_parse_keyed(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, key, klen) && p[klen] == ' ')
            return parse_u64_value(p + klen + 1, out);
    }
    return -ENOENT;
}

int cg_read_keyed(struct cg_dir *d, const char *file, const char *key, uint64_t *out)
{
    _cleanup_free_ char *text = NULL;
    int r = cg_read(d, file, &text, NULL);
    if (r < 0)
        return r;
    return cg_parse_keyed(text, key, out);
}

/* A write that names the resource it applies; a missing file says what the host lacks. */
int cg_put(struct cg_dir *d, const char *file, const char *value, const char *what, struct error **err)
{
    struct error *e = NULL;
    int r = cg_write(d, file, value, &e);
    if (r == 0)
        return 0;
    if (r == -ENOENT)
        r = error_set(err, ENOTSUP, "%s: not supported by this host (%s/%s does not exist)", what, d->path, file);
    else
        r = error_set(err, e->code, "%s: %s", what, e->msg);
    error_free(e);
    return r;
}

int cg_putf(struct cg_dir *d, const char *file, const char *what, struct error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *v = NULL;
    int n = vasprintf(&v, fmt, ap);
    va_end(ap);
    if (n < 0)
        return error_set(err, ENOMEM, "out of memory");
    return cg_put(d, file, v, what, err);
}

/* ---- resources written the same way on v1 and v2 ---- */

int cg_put_max(struct cg_dir *d, const char *file, int64_t v, const char *what, struct error **err)
{
    if (v < 0)
        return cg_put(d, file, "max", what, err);
    return cg_putf(d, file, what, err, "%" PRId64, v);
}

int cg_apply_cpuset(struct cg_dir *d, const struct cg_resources *r, struct error **err)
{
    if (r->cpu.cpus)
        TRY(cg_put(d, "cpuset.cpus", r->cpu.cpus, "linux.resources.cpu.cpus", err));
    if (r->cpu.mems)
        TRY(cg_put(d, "cpuset.mems", r->cpu.mems, "linux.resources.cpu.mems", err));
    return 0;
}

int cg_apply_hugetlb(struct cg_dir *d, const struct cg_resources *r, const char *limit_file, struct error **err)
{
    for (size_t i = 0; i < r->n_hugepages; i++) {
        char what[64], file[64];
        snprintf(what, sizeof(what), "linux.resources.hugepageLimits[%zu]", i);
        snprintf(file, sizeof(file), "hugetlb.%s.%s", r->hugepages[i].page_size, limit_file);
        if (!cg_file_exists(d, file))
            return error_set(err, ENOTSUP, "%s.pageSize: this host has no %s huge pages (%s/%s does not exist)", what,
                             r->hugepages[i].page_size, d->path, file);
        TRY(cg_putf(d, file, what, err, "%" PRIu64, r->hugepages[i].limit));
    }
    return 0;
}

int cg_apply_rdma(struct cg_dir *d, const struct cg_resources *r, struct error **err)
{
    for (size_t i = 0; i < r->n_rdma; i++) {
        const struct cg_rdma *x = &r->rdma[i];
        char h[32] = "max", o[32] = "max", what[256];
        if (x->handles.set)
            snprintf(h, sizeof(h), "%" PRIu64, x->handles.v);
        if (x->objects.set)
            snprintf(o, sizeof(o), "%" PRIu64, x->objects.v);
        snprintf(what, sizeof(what), "linux.resources.rdma.%s", x->device);
        TRY(cg_putf(d, "rdma.max", what, err, "%s hca_handle=%s hca_object=%s", x->device, h, o));
    }
    return 0;
}

/* ---- paths ---- */

/* "/a//b/" -> "/a/b"; refuses ".." so a path cannot climb out of the hierarchy. */
static int normalize_cgroup_path(const char *in, char **out, struct error **err)
{
    size_t len = strlen(in);
    char *s = malloc(len + 2), *w = s;
    if (!s)
        return error_set(err, ENOMEM, "out of memory");
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if ((n == 2 && !strncmp(p, "..", 2))) {
            free(s);
            return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\" must not contain \"..\"", in);
        }
        if (!(n == 1 && p[0] == '.')) {
            *w++ = '/';
            memcpy(w, p, n);
            w += n;
        }
        p += n;
    }
    *w = '\0';
    if (!*s) {
        free(s);
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\" names the root cgroup", in);
    }
    *out = s;
    return 0;
}

/* This process's own cgroup in hierarchy h, as a path below h's mount point. */
static int own_cgroup(const struct cg_hier *h, const char *proc_cgroup, char **out, struct error **err)
{
    if (test_root || !proc_cgroup) {
        *out = strdup("");
        return *out ? 0 : error_set(err, ENOMEM, "out of memory");
    }
    const char *line = proc_cgroup;
    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        _cleanup_free_ char *l = strndup(line, len);
        line = eol ? eol + 1 : NULL;
        if (!l)
            return error_set(err, ENOMEM, "out of memory");
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *path = c2 + 1;
        bool match;
        if (h->v2) {
            match = !strncmp(l, "0:", 2) && !*ctrls;
        } else {
            const char *name = strstr(ctrls, "name=");
            _cleanup_free_ char *nm = name ? strndup(name + 5, strcspn(name + 5, ",")) : NULL;
            match = *ctrls && cg_controllers_parse(ctrls) == h->ctrls &&
                    ((!nm && !h->v1_name) || (nm && h->v1_name && !strcmp(nm, h->v1_name)));
        }
        if (!match)
            continue;
        size_t rl = strlen(h->root);
        if (rl > 1 && !strncmp(path, h->root, rl) && (path[rl] == '/' || path[rl] == '\0'))
            path += rl;
        if (!strcmp(path, "/"))
            path = "";
        *out = strdup(path);
        return *out ? 0 : error_set(err, ENOMEM, "out of memory");
    }
    *out = strdup("");
    return *out ? 0 : error_set(err, ENOMEM, "out of memory");
}

/* ---- creation ---- */

static int count_components(const char *rel)
{
    int n = 0;
    for (const char *p = rel; *p; p++)
        n += *p == '/';
    return n;
}

/* mkdir path and its missing parents below path[0..base_len); *created is how many
 * trailing components were made here. */
static int make_cgroup_dir(const char *path, size_t base_len, int *created)
{
    int total = count_components(path + base_len);
    *created = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        if (mkdir(path, 0755) == 0) {
            *created += 1;
            return 0;
        }
        if (errno == EEXIST)
            return 0;
        if (errno != ENOENT)
            return -errno;
        /* make the parents; one made by someone else meanwhile is fine, and one removed
         * meanwhile (the last sibling's delete) sends us round again */
        _cleanup_free_ char *p = strdup(path);
        if (!p)
            return -ENOMEM;
        int depth = 0, first_new = 0;
        for (char *s = p + base_len + 1; *s; s++) {
            if (*s != '/')
                continue;
            *s = '\0';
            depth++;
            if (mkdir(p, 0755) == 0) {
                if (!first_new)
                    first_new = depth;
            } else if (errno != EEXIST) {
                return -errno;
            }
            *s = '/';
        }
        *created = first_new ? total - first_new : 0;
    }
    return -ENOENT;
}

static bool blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* A new v1 cpuset cgroup has no cpus and no mems, and refuses tasks until it has both. Copy them
 * from the parent; and set clone_children on the parents krunc makes so that their later
 * children get them from the kernel. */
static int cpuset_init(const char *path, int created, struct error **err)
{
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return error_set(err, ENOMEM, "out of memory");
    /* the topmost directory krunc made */
    char *cut = p + strlen(p);
    for (int i = 1; i < created; i++) {
        while (cut > p && *--cut != '/')
            ;
    }
    for (;;) {
        char saved = *cut;
        *cut = '\0';
        struct cg_dir level = { .path = p, .fd = -1 };
        _cleanup_free_ char *cpus = NULL;
        int r = cg_read(&level, "cpuset.cpus", &cpus, err);
        if (r < 0) {
            if (level.fd >= 0)
                close(level.fd);
            return r == -ENOENT ? error_set(err, ENOENT, "%s/cpuset.cpus: missing", p) : r;
        }
        if (blank(cpus)) {
            char *slash = strrchr(p, '/');
            *slash = '\0';
            struct cg_dir parent = { .path = p, .fd = -1 };
            _cleanup_free_ char *pc = NULL, *pm = NULL;
            r = cg_read(&parent, "cpuset.cpus", &pc, err);
            if (r == 0)
                r = cg_read(&parent, "cpuset.mems", &pm, err);
            if (parent.fd >= 0)
                close(parent.fd);
            *slash = '/';
            if (r == 0)
                r = cg_write(&level, "cpuset.cpus", pc, err);
            if (r == 0)
                r = cg_write(&level, "cpuset.mems", pm, err);
            if (r == 0 && saved)
                r = cg_write(&level, "cgroup.clone_children", "1", err);
        }
        if (level.fd >= 0)
            close(level.fd);
        if (r < 0)
            return r;
        *cut = saved;
        if (!saved)
            return 0;
        /* next level down */
        cut++;
        while (*cut && *cut != '/')
            cut++;
    }
}

/* rmdir a directory tree of cgroups, children first. */
static int rmdir_tree(int parent_fd, const char *name)
{
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    if (errno != EBUSY && errno != ENOTEMPTY)
        return -errno;
    int saved = errno;
    _cleanup_close_ int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -saved;
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d)
        return -errno;
    fd = -1;
    bool had_child = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        had_child = true;
        int r = rmdir_tree(dirfd(d), de->d_name);
        if (r < 0)
            return r;
    }
    if (!had_child)
        return -saved;
    return unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -errno;
}

/* Collect the pids in dir and its sub-cgroups. */
static int collect_pids(int dfd, pid_t **pids, size_t *n, size_t *cap)
{
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(dfd, "cgroup.procs", &text, NULL);
    if (r < 0)
        return r;
    for (char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            pid_t *np = realloc(*pids, nc * sizeof(pid_t));
            if (!np)
                return -ENOMEM;
            *pids = np;
            *cap = nc;
        }
        (*pids)[(*n)++] = (pid_t)v;
        p = end;
        while (*p == '\n')
            p++;
    }
    _cleanup_close_ int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d)
        return 0;
    fd = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        _cleanup_close_ int sub = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sub >= 0) {
            r = collect_pids(sub, pids, n, cap);
            if (r < 0 && r != -ENOENT)
                return r;
        }
    }
    return 0;
}

static int dir_pids(struct cg_dir *d, pid_t **pids, size_t *n, struct error **err)
{
    *pids = NULL;
    *n = 0;
    size_t cap = 0;
    int dfd = cg_dir_fd(d, err);
    if (dfd < 0)
        return dfd;
    int r = collect_pids(dfd, pids, n, &cap);
    if (r < 0) {
        free(*pids);
        *pids = NULL;
        *n = 0;
        return error_sys(err, -r, "read %s/cgroup.procs", d->path);
    }
    return 0;
}

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int freezer_set(struct cg_dir *d, bool frozen, struct error **err);

/* Kill whatever is left in the container's cgroup, and thaw it so the killed can die. */
static void evict_all(struct cg_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (dir_pids(&set->dirs[i], &pids, &n, NULL) == 0)
            for (size_t k = 0; k < n; k++)
                kill(pids[k], SIGKILL);
    }
    struct cg_dir *fz = cg_set_dir_for(set, CG_FREEZER);
    if (fz)
        freezer_set(fz, false, NULL);
}

/* Remove what krunc made of one directory. Processes still inside are killed (once for the
 * whole set); it waits a little for them to leave. */
static int remove_dir(struct cg_set *set, struct cg_dir *d, bool *evicted, struct error **err)
{
    if (d->created <= 0 && !d->own_parent)
        return 0;
    _cleanup_free_ char *p = strdup(d->path);
    if (!p)
        return error_set(err, ENOMEM, "out of memory");
    if (d->created > 0) {
        long wait = 200;
        for (int attempt = 0;; attempt++) {
            char *slash = strrchr(p, '/');
            *slash = '\0';
            _cleanup_close_ int pfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
            *slash = '/';
            int r = pfd < 0 ? (errno == ENOENT ? 0 : -errno) : rmdir_tree(pfd, slash + 1);
            if (r == 0)
                break;
            if ((r != -EBUSY && r != -ENOTEMPTY) || attempt >= 14)
                return error_sys(err, -r, "remove cgroup %s", p);
            if (!*evicted) {
                /* processes left over (no pid namespace, a failed start, a paused container) */
                evict_all(set);
                *evicted = true;
            }
            sleep_us(wait);
            if (wait < 100000)
                wait *= 2;
        }
    }
    /* the parents krunc made, bottom up, while they are empty */
    int parents = d->created > 0 ? d->created - 1 : 0;
    if (d->own_parent && parents < 1)
        parents = 1;
    for (int i = 0; i < parents; i++) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            break;
        *slash = '\0';
        if (rmdir(p) < 0)
            break;
    }
    return 0;
}

static int set_remove(struct cg_set *set, struct error **err)
{
    int ret = 0;
    bool evicted = false;
    for (size_t i = 0; i < set->n; i++) {
        int r = remove_dir(set, &set->dirs[i], &evicted, ret < 0 ? NULL : err);
        if (r < 0 && ret == 0)
            ret = r;
    }
    return ret;
}

static bool is_permission_error(int r)
{
    return r == -EACCES || r == -EPERM || r == -EROFS;
}

static const char *controller_resource(enum cg_controller c)
{
    switch (c) {
    case CG_MEMORY: return "linux.resources.memory";
    case CG_CPU: return "linux.resources.cpu";
    case CG_CPUSET: return "linux.resources.cpu.cpus/mems";
    case CG_PIDS: return "linux.resources.pids";
    case CG_BLKIO: return "linux.resources.blockIO";
    case CG_HUGETLB: return "linux.resources.hugepageLimits";
    case CG_NET_CLS: return "linux.resources.network.classID";
    case CG_NET_PRIO: return "linux.resources.network.priorities";
    case CG_RDMA: return "linux.resources.rdma";
    case CG_DEVICES: return "linux.resources.devices";
    default: return "linux.resources.unified";
    }
}

/* Every resource asked for has a hierarchy that can apply it. */
static int check_routes(struct cg_hosts *hosts, const struct cg_resources *r, struct error **err)
{
    unsigned need = cg_resources_controllers(r);
    struct cg_hier *v2 = cg_hosts_v2(hosts);
    unsigned v1_all = 0;
    for (size_t i = 0; i < hosts->n; i++)
        if (!hosts->h[i].v2)
            v1_all |= hosts->h[i].ctrls;
    if (r->n_unified && !v2)
        return error_set(err, ENOTSUP, "linux.resources.unified.%s: needs cgroup v2, and this host has cgroup v1 only",
                         r->unified[0].key);
    /* a unified key needs its controller on v2, whatever v1 has */
    for (size_t i = 0; i < r->n_unified; i++) {
        const char *k = r->unified[i].key;
        int c = cg_controller_from_name(k, strcspn(k, "."));
        if (c >= 0 && !(cg_hier_v2_controllers(v2) & CG_BIT(c)))
            return error_set(err, ENOTSUP, "linux.resources.unified.%s: the %s controller is not on cgroup v2 on this host (layout %s%s)",
                             k, cg_controller_name(c, true), cg_layout_name(hosts->layout),
                             (v1_all & CG_BIT(c)) ? "; it is on v1" : "");
    }
    for (int c = 0; c < CG__MAX; c++) {
        if (!(need & CG_BIT(c)) || (v1_all & CG_BIT(c)))
            continue;
        if (v2 && (cg_hier_v2_controllers(v2) & CG_BIT(c)))
            continue;
        return error_set(err, ENOTSUP, "%s: this host has no %s controller (cgroup layout %s)", controller_resource(c),
                         cg_controller_name(c, v2 && !v1_all), cg_layout_name(hosts->layout));
    }
    if (r->n_devices && !(v1_all & CG_BIT(CG_DEVICES)) && !v2)
        return error_set(err, ENOTSUP, "linux.resources.devices: this host has no devices controller");
    return 0;
}

/* Not in the initial user namespace: its uid_map is not the identity over every uid. */
static bool in_user_namespace(void)
{
    _cleanup_free_ char *map = NULL;
    if (read_file_at(AT_FDCWD, "/proc/self/uid_map", &map, NULL) < 0)
        return false;
    unsigned long a = 1, b = 1, n = 0;
    return sscanf(map, "%lu %lu %lu", &a, &b, &n) != 3 || a != 0 || b != 0 || n != 4294967295UL;
}

static int apply_devices(struct cg_set *set, const struct cg_resources *r, struct error **err)
{
    struct cg_dir *d = cg_set_dir_for(set, CG_DEVICES);
    if (!d)
        return 0;
    _cleanup_free_ struct cg_device_rule *rules = NULL;
    size_t n = 0;
    if (cg_device_rules_effective(r, &rules, &n) < 0)
        return error_set(err, ENOMEM, "out of memory");
    int ret;
    if (!d->v2) {
        ret = cg_v1_devices_apply(d, rules, n, 1 + r->n_devices, err);
    } else {
        _cleanup_close_ int prog = -1;
        ret = cg_bpf_devices_load(rules, n, &prog, err);
        /* a test tree is no cgroup: the kernel has checked the program, which is what can be tested there */
        if (ret == 0 && !test_root) {
            /* BPF_PROG_ATTACH wants a real descriptor, not an O_PATH one */
            _cleanup_close_ int dfd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            ret = dfd < 0 ? error_sys(err, errno, "open %s", d->path) : cg_bpf_devices_attach(dfd, prog, d->path, err);
        }
    }
    if ((ret == -EPERM || ret == -EACCES) && in_user_namespace()) {
        /* root of a user namespace: device rules are not ours to set (runc skips them too) */
        if (err) {
            error_free(*err);
            *err = NULL;
        }
        return 0;
    }
    if (ret < 0)
        error_prefix(err, "linux.resources.devices");
    return ret;
}

static int apply_all(struct cg_set *set, const struct cg_resources *r, enum cg_apply_mode mode, bool devices,
                     struct error **err)
{
    TRY(cg_v1_apply(set, r, mode, err));
    TRY(cg_v2_apply(set, r, mode, err));
    if (devices)
        TRY(apply_devices(set, r, err));
    return 0;
}

int cg_check_host(json_t *resources, struct error **err)
{
    struct cg_resources res;
    TRY(cg_resources_parse(resources, "linux.resources", &res, err));
    struct cg_hosts hosts;
    int ret = cg_detect(&hosts, err);
    if (ret == 0) {
        ret = check_routes(&hosts, &res, err);
        cg_hosts_free(&hosts);
    }
    cg_resources_free(&res);
    return ret;
}

int cgroup_create_at(const char *cgroups_path, json_t *resources, const struct cgroup_opts *opts, pid_t pid,
                     json_t **state_out, struct error **err)
{
    *state_out = NULL;
    if (opts->systemd)
        return cg_systemd_create(cgroups_path, resources, opts, pid, state_out, err);
    return cg_fs_create(cgroups_path, opts->id, resources, pid, false, state_out, err);
}

int cg_fs_create(const char *cgroups_path, const char *id, json_t *resources, pid_t pid, bool scope,
                 json_t **state_out, struct error **err)
{
    *state_out = NULL;
    struct cg_resources res;
    TRY(cg_resources_parse(resources, "linux.resources", &res, err));
    struct cg_hosts hosts;
    int ret = cg_detect(&hosts, err);
    if (ret < 0) {
        cg_resources_free(&res);
        return ret;
    }
    _cleanup_set_ struct cg_set set = { 0 };
    _cleanup_free_ char *proc_cgroup = NULL;
    set.layout = hosts.layout;

    bool own_parent = false;
    if (!cgroups_path || !*cgroups_path) {
        if (asprintf(&set.cgroups_path, "/krunc/%s", id) < 0)
            set.cgroups_path = NULL;
        own_parent = true;
        if (!set.cgroups_path)
            ret = error_set(err, ENOMEM, "out of memory");
    } else {
        ret = normalize_cgroup_path(cgroups_path, &set.cgroups_path, err);
        if (ret == 0 && cgroups_path[0] != '/' && !test_root) {
            /* relative: below this process's own cgroup, as runc places it */
            int r = read_file_at(AT_FDCWD, "/proc/self/cgroup", &proc_cgroup, NULL);
            if (r < 0)
                ret = error_sys(err, -r, "read /proc/self/cgroup");
        }
    }
    if (ret == 0)
        ret = check_routes(&hosts, &res, err);
    if (ret < 0)
        goto out;

    unsigned need = cg_resources_controllers(&res);
    bool limits = need != 0 || res.n_unified;
    /* rootless: no device rules (as runc), and no cgroup at all when none can be made and no
     * limit was asked for */
    bool rootless = geteuid() != 0;
    for (size_t i = 0; i < hosts.n && ret == 0; i++) {
        struct cg_hier *h = &hosts.h[i];
        _cleanup_free_ char *own = NULL, *path = NULL;
        if (cgroups_path && cgroups_path[0] && cgroups_path[0] != '/') {
            ret = own_cgroup(h, proc_cgroup, &own, err);
            if (ret < 0)
                break;
            /* on v2 the own cgroup holds processes, so a controller cannot be enabled for its
             * children: go one up, as runc does */
            if (h->v2) {
                char *s = strrchr(own, '/');
                if (s)
                    *s = '\0';
            }
        }
        if (asprintf(&path, "%s%s%s", h->mount, own ? own : "", set.cgroups_path) < 0) {
            ret = error_set(err, ENOMEM, "out of memory");
            break;
        }
        int created = 0;
        int r = make_cgroup_dir(path, strlen(h->mount) + (own ? strlen(own) : 0), &created);
        if (r < 0) {
            if (is_permission_error(r) && !limits)
                continue;   /* rootless without limits: run without a cgroup of its own here */
            if (is_permission_error(r))
                ret = error_sys(err, -r, "%s: cannot create cgroup %s (limits need a cgroup krunc can write)",
                                cg_resources_first_limit(&res) ? cg_resources_first_limit(&res) : "linux.resources",
                                path);
            else
                ret = error_sys(err, -r, "create cgroup %s", path);
            break;
        }
        struct cg_dir *d = set_add(&set);
        if (!d) {
            ret = error_set(err, ENOMEM, "out of memory");
            break;
        }
        d->path = TAKE_PTR(path);
        d->v2 = h->v2;
        d->ctrls = h->v2 ? cg_hier_v2_controllers(h) : h->ctrls;
        d->created = created;
        d->own_parent = own_parent;
        if (created == 0 && !scope) {
            /* joining a cgroup that already exists: it must be empty */
            _cleanup_free_ char *procs = NULL;
            if (cg_read(d, "cgroup.procs", &procs, NULL) == 0 && !blank(procs)) {
                ret = error_set(err, EBUSY, "cgroup %s already exists and has processes in it", d->path);
                break;
            }
        }
        if (!h->v2 && (h->ctrls & CG_BIT(CG_CPUSET)) && created > 0)
            ret = cpuset_init(d->path, created, err);
        if (ret == 0 && h->v2) {
            /* the full v2 layout gets every controller (for update and stats); a hybrid's v2
             * mount only what the resources need of it */
            unsigned v1_all = 0;
            for (size_t j = 0; j < hosts.n; j++)
                if (!hosts.h[j].v2)
                    v1_all |= hosts.h[j].ctrls;
            unsigned must = ((need & ~v1_all) | cg_resources_unified_controllers(&res)) & d->ctrls;
            unsigned want = hosts.layout == CG_LAYOUT_V2 ? d->ctrls : must;
            if (want)
                ret = cg_v2_enable_controllers(h->mount, d->path + strlen(h->mount), want, must, err);
        }
    }
    if (ret == 0 && set.n == 0) {
        /* nothing writable and nothing asked for */
        goto out;
    }
    if (ret == 0 && (limits || !rootless))
        ret = apply_all(&set, &res, CG_APPLY_CREATE, !rootless, err);
    for (size_t i = 0; i < set.n && ret == 0 && pid > 0; i++) {
        int r = cg_writef(&set.dirs[i], "cgroup.procs", err, "%d", (int)pid);
        if (r < 0 && !limits && rootless) {
            /* rootless: a cgroup we may make but not move into; leave it */
            if (err) {
                error_free(*err);
                *err = NULL;
            }
            continue;
        }
        ret = r;
    }
    if (ret == 0) {
        *state_out = cg_set_to_json(&set);
        if (!*state_out)
            ret = error_set(err, ENOMEM, "out of memory");
    }
    if (ret < 0)
        set_remove(&set, NULL);
out:
    cg_hosts_free(&hosts);
    cg_resources_free(&res);
    return ret;
}

int cgroup_create(const struct spec *spec, const struct cgroup_opts *opts, pid_t pid, json_t **state_out,
                  struct error **err)
{
    return cgroup_create_at(spec->linux.cgroups_path, spec->linux.resources, opts, pid, state_out, err);
}

int cg_fs_destroy(json_t *state, struct error **err)
{
    _cleanup_set_ struct cg_set set;
    TRY(cg_set_from_json(state, &set, err));
    return set_remove(&set, err);
}

int cgroup_destroy(json_t *state, struct error **err)
{
    if (!state || json_is_null(state))
        return 0;
    if (cgroup_uses_systemd(state))
        return cg_systemd_destroy(state, err);
    return cg_fs_destroy(state, err);
}

int cgroup_pids(json_t *state, pid_t **pids, size_t *n, struct error **err)
{
    *pids = NULL;
    *n = 0;
    _cleanup_set_ struct cg_set set;
    TRY(cg_set_from_json(state, &set, err));
    struct cg_dir *d = set_main_dir(&set);
    if (!d)
        return error_set(err, ENOENT, "the container has no cgroup of its own");
    return dir_pids(d, pids, n, err);
}

bool cgroup_alive(json_t *state)
{
    _cleanup_set_ struct cg_set set;
    if (cg_set_from_json(state, &set, NULL) < 0)
        return false;
    struct cg_dir *d = set_main_dir(&set);
    if (!d)
        return false;
    _cleanup_free_ char *procs = NULL;
    if (asprintf(&procs, "%s/cgroup.procs", d->path) < 0)
        return true;
    return access(procs, F_OK) == 0;
}

/* ---- freezer ---- */

static int freezer_state(struct cg_dir *d, int *frozen, struct error **err)
{
    _cleanup_free_ char *text = NULL;
    if (d->v2) {
        int r = cg_read(d, "cgroup.freeze", &text, err);
        if (r < 0)
            return r == -ENOENT ? error_set(err, ENOTSUP, "%s: no cgroup.freeze (kernel older than 5.2)", d->path) : r;
        *frozen = atoi(text) == 1;
        return 0;
    }
    int r = cg_read(d, "freezer.state", &text, err);
    if (r < 0)
        return r == -ENOENT ? error_set(err, ENOENT, "%s/freezer.state: missing", d->path) : r;
    *frozen = !strncmp(text, "FROZEN", 6) ? 1 : !strncmp(text, "FREEZING", 8) ? 2 : 0;
    return 0;
}

static int freezer_set(struct cg_dir *d, bool frozen, struct error **err)
{
    if (d->v2) {
        TRY(cg_write(d, "cgroup.freeze", frozen ? "1" : "0", err));
        /* cgroup.events says "frozen 1" once every task has stopped */
        long wait = 100;
        for (int i = 0; i < 200; i++) {
            uint64_t v = 0;
            int r = cg_read_keyed(d, "cgroup.events", "frozen", &v);
            if (r < 0 || (v == 1) == frozen)
                return 0;
            sleep_us(wait);
            if (wait < 10000)
                wait *= 2;
        }
        if (frozen)
            cg_write(d, "cgroup.freeze", "0", NULL);
        return error_set(err, EBUSY, "%s: timed out waiting for the cgroup to freeze", d->path);
    }
    long wait = 100;
    for (int i = 0; i < 300; i++) {
        TRY(cg_write(d, "freezer.state", frozen ? "FROZEN" : "THAWED", err));
        int state;
        TRY(freezer_state(d, &state, err));
        if ((state == 1) == frozen)
            return 0;
        sleep_us(wait);
        if (wait < 10000)
            wait *= 2;
    }
    if (frozen)
        cg_write(d, "freezer.state", "THAWED", NULL);
    return error_set(err, EBUSY, "%s: timed out waiting for the cgroup to freeze", d->path);
}

static struct cg_dir *freezer_dir(struct cg_set *set, struct error **err)
{
    struct cg_dir *d = cg_set_dir_for(set, CG_FREEZER);
    if (!d)
        error_set(err, ENOTSUP, "this host has no freezer cgroup (neither v1 freezer nor cgroup v2)");
    return d;
}

int cgroup_freeze(json_t *state, bool frozen, struct error **err)
{
    _cleanup_set_ struct cg_set set;
    TRY(cg_set_from_json(state, &set, err));
    struct cg_dir *d = freezer_dir(&set, err);
    if (!d)
        return -ENOTSUP;
    return freezer_set(d, frozen, err);
}

int cgroup_is_frozen(json_t *state)
{
    _cleanup_set_ struct cg_set set;
    if (cg_set_from_json(state, &set, NULL) < 0)
        return 0;
    struct cg_dir *d = cg_set_dir_for(&set, CG_FREEZER);
    if (!d)
        return 0;
    int frozen = 0;
    int r = freezer_state(d, &frozen, NULL);
    return r < 0 ? r : frozen == 1;
}

/* ---- signals ---- */

int cgroup_kill_all(json_t *state, int sig, struct error **err)
{
    _cleanup_set_ struct cg_set set;
    TRY(cg_set_from_json(state, &set, err));
    struct cg_dir *v2 = cg_set_v2(&set);
    if (sig == SIGKILL && set.layout == CG_LAYOUT_V2 && v2) {
        /* the kernel kills every task, including ones forked meanwhile */
        _cleanup_error_ struct error *e = NULL;
        int r = cg_write(v2, "cgroup.kill", "1", &e);
        if (r == 0)
            return 0;
        if (r != -ENOENT)
            return error_set(err, e->code, "%s", e->msg);
    }
    struct cg_dir *main = set_main_dir(&set);
    if (!main)
        return error_set(err, ENOENT, "the container has no cgroup of its own");
    /* freeze first, so nothing forks past the signal */
    struct cg_dir *fz = cg_set_dir_for(&set, CG_FREEZER);
    int was = 0;
    bool froze = false;
    if (fz && freezer_state(fz, &was, NULL) == 0 && was != 1)
        froze = freezer_set(fz, true, NULL) == 0;
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    int ret = dir_pids(main, &pids, &n, err);
    for (size_t i = 0; ret == 0 && i < n; i++)
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
            ret = error_sys(err, errno, "kill %d", (int)pids[i]);
    /* a frozen v1 task dies only once thawed */
    if (fz && (froze || (sig == SIGKILL && was == 1)))
        freezer_set(fz, false, NULL);
    return ret;
}

/* ---- update and stats ---- */

int cgroup_update(json_t *state, json_t *resources, struct error **err)
{
    _cleanup_set_ struct cg_set set;
    TRY(cg_set_from_json(state, &set, err));
    struct cg_resources res;
    TRY(cg_resources_parse(resources, "linux.resources", &res, err));
    int ret = 0;
    unsigned need = cg_resources_controllers(&res);
    for (int c = 0; c < CG__MAX && ret == 0; c++)
        if ((need & CG_BIT(c)) && !cg_set_dir_for(&set, c))
            ret = error_set(err, ENOTSUP, "%s: the container's cgroup has no %s controller", controller_resource(c),
                            cg_controller_name(c, set.layout == CG_LAYOUT_V2));
    if (ret == 0 && res.n_unified && !cg_set_v2(&set))
        ret = error_set(err, ENOTSUP, "linux.resources.unified.%s: needs cgroup v2, and this host has cgroup v1 only",
                        res.unified[0].key);
    if (ret == 0)
        ret = apply_all(&set, &res, CG_APPLY_UPDATE, res.has_devices, err);
    cg_resources_free(&res);
    return ret;
}

int cgroup_stats(json_t *state, json_t **stats, struct error **err)
{
    *stats = NULL;
    _cleanup_set_ struct cg_set set;
    TRY(cg_set_from_json(state, &set, err));
    _cleanup_json_ json_t *s = json_object();
    if (!s)
        return error_set(err, ENOMEM, "out of memory");
    TRY(cg_stats(&set, s, err));
    *stats = TAKE_PTR(s);
    return 0;
}
