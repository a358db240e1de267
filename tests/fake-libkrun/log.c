/* Call log, knobs, the emulated Rust logger and small shared helpers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "fk.h"

extern char **environ;

static struct {
    /* FAKE_KRUN_LOG: path, the fd opened at load time and what it refers to. */
    char *log_path;
    int log_fd;
    dev_t log_dev;
    ino_t log_ino;
    bool log_lost_warned;
    /* stat("/") of the process that loaded the library: the host side. */
    bool root_known;
    dev_t root_dev;
    ino_t root_ino;
    /* The UTS namespace of the loading process (sethostname must not touch it). */
    bool uts_known;
    dev_t uts_dev;
    ino_t uts_ino;
    /* FAKE_KRUN_* variables of the environment at load time. */
    struct fk_strv knobs;
} g = {.log_fd = -1};

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

/* ---- helpers ---------------------------------------------------------------------------- */

void *fk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("fake-libkrun: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *fk_xstrdup(const char *s) { return fk_xstrndup(s, strlen(s)); }

char *fk_xstrndup(const char *s, size_t n)
{
    char *p = fk_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *fk_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) {
        fputs("fake-libkrun: out of memory\n", stderr);
        abort();
    }
    return s;
}

int fk_strv_pushn(struct fk_strv *sv, const char *s, size_t len)
{
    char **nv = realloc(sv->v, (sv->n + 2) * sizeof(char *));
    if (!nv)
        return -ENOMEM;
    sv->v = nv;
    sv->v[sv->n++] = fk_xstrndup(s, len);
    sv->v[sv->n] = NULL;
    return 0;
}

int fk_strv_push(struct fk_strv *sv, const char *s) { return fk_strv_pushn(sv, s, strlen(s)); }

void fk_strv_clear(struct fk_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

json_t *fk_strv_json(const struct fk_strv *sv)
{
    json_t *a = json_array();
    for (size_t i = 0; i < sv->n; i++)
        json_array_append_new(a, fk_jstr(sv->v[i]));
    return a;
}

static ssize_t env_find(const struct fk_strv *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < env->n; i++)
        if (strncmp(env->v[i], key, kl) == 0 && env->v[i][kl] == '=')
            return (ssize_t)i;
    return -1;
}

const char *fk_env_get(const struct fk_strv *env, const char *key)
{
    ssize_t i = env_find(env, key);
    return i < 0 ? NULL : env->v[i] + strlen(key) + 1;
}

int fk_env_set(struct fk_strv *env, const char *key, const char *value, bool overwrite)
{
    ssize_t i = env_find(env, key);
    if (i >= 0 && !overwrite)
        return 0;
    char *entry = fk_xasprintf("%s=%s", key, value);
    if (i >= 0) {
        free(env->v[i]);
        env->v[i] = entry;
        return 0;
    }
    int r = fk_strv_push(env, entry);
    free(entry);
    return r;
}

/* Strict UTF-8, as Rust's CStr::to_str() checks it. */
bool fk_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

/* ---- knobs ------------------------------------------------------------------------------ */

const char *fk_knob(const char *name)
{
    const char *v = getenv(name);
    if (v)
        return v;
    return fk_env_get(&g.knobs, name);
}

/* ---- library load ----------------------------------------------------------------------- */

static bool fd_is_log(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == g.log_dev && st.st_ino == g.log_ino;
}

static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    /* Keep clear of the low descriptors a runtime shuffles around. */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    return fd;
}

__attribute__((constructor)) static void fk_load(void)
{
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "FAKE_KRUN_", 10) == 0)
            fk_strv_push(&g.knobs, *e);

    struct stat st;
    const char *host_root = getenv("FAKE_KRUN_HOST_ROOT");
    unsigned long long dev, ino;
    if (host_root && sscanf(host_root, "%llu:%llu", &dev, &ino) == 2) {
        g.root_known = true;
        g.root_dev = (dev_t)dev;
        g.root_ino = (ino_t)ino;
    } else if (stat("/", &st) == 0) {
        g.root_known = true;
        g.root_dev = st.st_dev;
        g.root_ino = st.st_ino;
    }

    if (stat("/proc/self/ns/uts", &st) == 0) {
        g.uts_known = true;
        g.uts_dev = st.st_dev;
        g.uts_ino = st.st_ino;
    }

    const char *path = getenv("FAKE_KRUN_LOG");
    if (path && *path) {
        g.log_path = fk_xstrdup(path);
        g.log_fd = open_log(path);
        if (g.log_fd >= 0 && fstat(g.log_fd, &st) == 0) {
            g.log_dev = st.st_dev;
            g.log_ino = st.st_ino;
        } else {
            fprintf(stderr, "fake-libkrun: cannot open FAKE_KRUN_LOG %s: %s\n", path, strerror(errno));
        }
    }
}

/* ---- the call log ----------------------------------------------------------------------- */

static void log_write(const char *line, size_t len)
{
    if (!g.log_path)
        return;
    pthread_mutex_lock(&log_mutex);
    if (!fd_is_log(g.log_fd)) {
        /* Our descriptor was closed (and maybe reused by the caller: never write into
         * someone else's file). Try the path again; after pivot_root it is gone. */
        int fd = open_log(g.log_path);
        if (fd >= 0 && fd_is_log(fd)) {
            g.log_fd = fd;
        } else {
            if (fd >= 0)
                close(fd);
            g.log_fd = -1;
            if (!g.log_lost_warned)
                fprintf(stderr, "fake-libkrun: call log %s lost: its descriptor was closed and the path no longer resolves\n",
                        g.log_path);
            g.log_lost_warned = true;
            pthread_mutex_unlock(&log_mutex);
            return;
        }
    }
    while (len > 0) {
        ssize_t w = write(g.log_fd, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        line += w;
        len -= (size_t)w;
    }
    pthread_mutex_unlock(&log_mutex);
}

static char *readlink_alloc(const char *path)
{
    for (size_t size = 64; size <= 65536; size *= 2) {
        char *buf = fk_xmalloc(size);
        ssize_t n = readlink(path, buf, size);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if ((size_t)n < size) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
    }
    return NULL;
}

bool fk_uts_is_private(void)
{
    struct stat st;
    if (!g.uts_known || stat("/proc/self/ns/uts", &st) != 0)
        return false;
    return st.st_dev != g.uts_dev || st.st_ino != g.uts_ino;
}

static const char *root_kind(void)
{
    struct stat st;
    if (!g.root_known || stat("/", &st) != 0)
        return "other";
    return st.st_dev == g.root_dev && st.st_ino == g.root_ino ? "host" : "other";
}

void fk_log_call(const char *name, json_t *args, bool has_ret, int64_t ret, json_t *extra)
{
    if (!g.log_path) {
        json_decref(args);
        json_decref(extra);
        return;
    }
    int saved_errno = errno;
    _fk_free_ char *mntns = readlink_alloc("/proc/self/ns/mnt");
    _fk_json_ json_t *line = json_object();
    json_object_set_new(line, "call", json_string(name));
    json_object_set_new(line, "args", args ? args : json_object());
    json_object_set_new(line, "ret", has_ret ? json_integer(ret) : json_null());
    json_object_set_new(line, "pid", json_integer(getpid()));
    json_object_set_new(line, "root", json_string(root_kind()));
    json_object_set_new(line, "mntns", json_string(mntns ? mntns : "?"));
    json_object_set_new(line, "uid", json_integer(getuid()));
    if (extra) {
        json_object_update(line, extra);
        json_decref(extra);
    }
    _fk_free_ char *text = json_dumps(line, JSON_COMPACT);
    if (text) {
        size_t len = strlen(text);
        _fk_free_ char *withnl = fk_xmalloc(len + 2);
        memcpy(withnl, text, len);
        withnl[len] = '\n';
        withnl[len + 1] = '\0';
        log_write(withnl, len + 1);
    }
    errno = saved_errno;
}

/* A string for the log: null for NULL; bytes that are not UTF-8 become U+FFFD. */
json_t *fk_jstr(const char *s)
{
    if (!s)
        return json_null();
    if (fk_utf8_valid(s))
        return json_string(s);
    size_t len = strlen(s);
    _fk_free_ char *out = fk_xmalloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char one[5] = {0};
        size_t n = 1;
        unsigned c = (unsigned char)s[i];
        if (c >= 0xc2 && c <= 0xf4)
            n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (i + n <= len) {
            memcpy(one, s + i, n);
            if (n > 1 && fk_utf8_valid(one)) {
                memcpy(out + o, one, n);
                o += n;
                i += n;
                continue;
            }
        }
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        i++;
    }
    out[o] = '\0';
    return json_string(out);
}

json_t *fk_jstrv(const char *const *arr)
{
    if (!arr)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; i < FK_MAX_ARRAY && arr[i]; i++)
        json_array_append_new(a, fk_jstr(arr[i]));
    return a;
}

json_t *fk_jmac(const uint8_t *mac)
{
    if (!mac)
        return json_null();
    char buf[18];
    snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return json_string(buf);
}

_Noreturn void fk_crash(const char *fn, const char *what)
{
    fk_log_call(fn, NULL, false, 0, json_pack("{s:s}", "crash", what));
    fprintf(stderr, "fake-libkrun: %s: %s; the real libkrun dereferences it and crashes\n", fn, what);
    abort();
}

/* ---- the emulated env_logger ------------------------------------------------------------ */

static struct {
    bool installed;
    int fd;
    int level; /* 0 off .. 5 trace */
} lg = {.fd = 2};

static int level_from_name(const char *s)
{
    static const char *const names[] = {"off", "error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 6; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

bool fk_logger_installed(void) { return lg.installed; }

_Noreturn void fk_logger_panic(const char *fn)
{
    fprintf(stderr,
            "fake-libkrun: %s: a logger is already installed in this process; libkrun's Rust logger "
            "panics here, which aborts the process\n",
            fn);
    abort();
}

void fk_logger_install(const char *fn, int target_fd, uint32_t level, bool use_env)
{
    if (lg.installed)
        fk_logger_panic(fn);
    lg.installed = true;
    lg.fd = target_fd < 0 ? 2 : target_fd;
    lg.level = level > 5 ? 5 : (int)level;
    const char *rust_log = use_env ? getenv("RUST_LOG") : NULL;
    if (rust_log) {
        int l = level_from_name(rust_log);
        if (l >= 0)
            lg.level = l;
    }
}

void fk_logger_error(const char *fmt, ...)
{
    if (!lg.installed || lg.level < 1)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[40];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    _fk_free_ char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    _fk_free_ char *line = fk_xasprintf("[%s.%06ldZ ERROR libkrun] %s\n", stamp, ts.tv_nsec / 1000, msg ? msg : "?");
    ssize_t w = write(lg.fd, line, strlen(line));
    (void)w;
}
