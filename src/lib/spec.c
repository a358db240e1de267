#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups/cgroups.h"
#include "cleanup.h"
#include "seccomp.h"
#include "security.h"

/* ---- arena: one free for everything the spec points at ---- */

struct arena {
    struct arena *next;
    size_t used, size;
    max_align_t data[];
};

void *spec_alloc(struct spec *spec, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct arena *a = spec->arena;
    if (!a || a->size - a->used < size) {
        size_t cap = size > 4096 ? size : 4096;
        struct arena *n = malloc(sizeof(*n) + cap);
        if (!n)
            abort();    /* the runtime cannot go on without memory */
        n->next = a;
        n->used = 0;
        n->size = cap;
        spec->arena = a = n;
    }
    void *p = (char *)a->data + a->used;
    a->used += size;
    memset(p, 0, size);
    return p;
}

char *spec_strdup(struct spec *spec, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = spec_alloc(spec, n);
    memcpy(d, s, n);
    return d;
}

void spec_free(struct spec *spec)
{
    if (!spec)
        return;
    json_decref(spec->json);
    for (struct arena *a = spec->arena, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    free(spec);
}

/* ---- names ---- */

static const struct { const char *name; int flag; } ns_table[NS__MAX] = {
    [NS_PID] = { "pid", CLONE_NEWPID },
    [NS_NET] = { "network", CLONE_NEWNET },
    [NS_MNT] = { "mount", CLONE_NEWNS },
    [NS_IPC] = { "ipc", CLONE_NEWIPC },
    [NS_UTS] = { "uts", CLONE_NEWUTS },
    [NS_USER] = { "user", CLONE_NEWUSER },
    [NS_CGROUP] = { "cgroup", CLONE_NEWCGROUP },
    [NS_TIME] = { "time", 0x00000080 /* CLONE_NEWTIME */ },
};

const char *ns_type_name(enum ns_type t) { return ns_table[t].name; }
int ns_clone_flag(enum ns_type t) { return ns_table[t].flag; }

int ns_type_from_name(const char *name)
{
    for (int i = 0; i < NS__MAX; i++)
        if (strcmp(ns_table[i].name, name) == 0)
            return i;
    return -1;
}

static const char *const hook_names[HOOK__MAX] = {
    [HOOK_PRESTART] = "prestart",
    [HOOK_CREATE_RUNTIME] = "createRuntime",
    [HOOK_CREATE_CONTAINER] = "createContainer",
    [HOOK_START_CONTAINER] = "startContainer",
    [HOOK_POSTSTART] = "poststart",
    [HOOK_POSTSTOP] = "poststop",
};

const char *hook_kind_name(enum hook_kind k) { return hook_names[k]; }

static const struct { const char *name; int res; } rlimit_table[] = {
    { "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_CPU", RLIMIT_CPU },
    { "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_LOCKS", RLIMIT_LOCKS },
    { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
    { "RLIMIT_NICE", RLIMIT_NICE }, { "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC },
    { "RLIMIT_RSS", RLIMIT_RSS }, { "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
    { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

int rlimit_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(rlimit_table) / sizeof(rlimit_table[0]); i++)
        if (strcmp(rlimit_table[i].name, name) == 0)
            return rlimit_table[i].res;
    return -1;
}

const char *spec_annotation(const struct spec *spec, const char *key)
{
    for (size_t i = 0; i < spec->n_annotations; i++)
        if (strcmp(spec->annotations[i].key, key) == 0)
            return spec->annotations[i].value;
    return NULL;
}

/* ---- typed access ---- */

static const char *json_type_word(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static const char *json_type_expected(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "a value";
    }
}

static const char *dot(const char *path) { return *path ? "." : ""; }

int json_get_typed(json_t *obj, const char *path, const char *key, json_type type, json_t **out, struct error **err)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    bool ok = json_typeof(v) == type || (type == JSON_TRUE && json_is_boolean(v));
    if (!ok)
        return error_set(err, EINVAL, "%s%s%s: expected %s, got %s", path, dot(path), key,
                         json_type_expected(type), json_type_word(v));
    *out = v;
    return 0;
}

int json_get_string(json_t *obj, const char *path, const char *key, bool required, const char **out, struct error **err)
{
    json_t *v;
    int r = json_get_typed(obj, path, key, JSON_STRING, &v, err);
    if (r < 0)
        return r;
    if (!v) {
        if (required)
            return error_set(err, EINVAL, "%s%s%s: missing required string", path, dot(path), key);
        *out = NULL;
        return 0;
    }
    *out = json_string_value(v);
    return 0;
}

int json_get_bool(json_t *obj, const char *path, const char *key, bool *out, struct error **err)
{
    json_t *v;
    int r = json_get_typed(obj, path, key, JSON_TRUE, &v, err);
    if (r < 0)
        return r;
    *out = v ? json_is_true(v) : false;
    return 0;
}

int json_get_int64(json_t *obj, const char *path, const char *key, bool *present, int64_t *out, struct error **err)
{
    json_t *v;
    int r = json_get_typed(obj, path, key, JSON_INTEGER, &v, err);
    if (r < 0)
        return r;
    if (present)
        *present = v != NULL;
    if (v)
        *out = json_integer_value(v);
    return 0;
}

int json_get_uint64(json_t *obj, const char *path, const char *key, bool *present, uint64_t *out, struct error **err)
{
    json_t *v = json_object_get(obj, key);
    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return error_set(err, EINVAL, "%s%s%s: must not be negative", path, dot(path), key);
        *out = (uint64_t)json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) <= 18446744073709551615.0) {
        /* jansson keeps integers beyond INT64_MAX (e.g. 2^64-1 for "unlimited") as reals */
        double d = json_real_value(v);
        *out = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
    } else {
        return error_set(err, EINVAL, "%s%s%s: expected a non-negative integer, got %s", path, dot(path), key,
                         json_type_word(v));
    }
    if (present)
        *present = true;
    return 0;
}

int json_get_uint32(json_t *obj, const char *path, const char *key, bool required, bool *present, uint32_t *out, struct error **err)
{
    bool have = false;
    int64_t v = 0;
    int r = json_get_int64(obj, path, key, &have, &v, err);
    if (r < 0)
        return r;
    if (present)
        *present = have;
    if (!have) {
        if (required)
            return error_set(err, EINVAL, "%s%s%s: missing required integer", path, dot(path), key);
        return 0;
    }
    if (v < 0 || v > UINT32_MAX)
        return error_set(err, EINVAL, "%s%s%s: %lld is out of range", path, dot(path), key, (long long)v);
    *out = (uint32_t)v;
    return 0;
}

int json_get_strv(struct spec *spec, json_t *obj, const char *path, const char *key, const char ***out, size_t *n,
                  struct error **err)
{
    json_t *arr;
    int r = json_get_typed(obj, path, key, JSON_ARRAY, &arr, err);
    if (r < 0)
        return r;
    *out = NULL;
    if (n)
        *n = 0;
    if (!arr)
        return 0;
    size_t len = json_array_size(arr);
    const char **v = spec_alloc(spec, (len + 1) * sizeof(*v));
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_string(e))
            return error_set(err, EINVAL, "%s%s%s[%zu]: expected a string, got %s", path, dot(path), key, i,
                             json_type_word(e));
        v[i] = json_string_value(e);
    }
    *out = v;
    if (n)
        *n = len;
    return 0;
}

/* ---- the parts of the document ---- */

#define TRY(x) do { int _r = (x); if (_r < 0) return _r; } while (0)

static char *pathf(struct spec *spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *pathf(struct spec *spec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? spec_strdup(spec, "?") : spec_strdup(spec, s);
}

static int parse_user(struct spec *spec, json_t *process, struct spec_user *u, struct error **err)
{
    json_t *user;
    TRY(json_get_typed(process, "process", "user", JSON_OBJECT, &user, err));
    if (!user)
        return error_set(err, EINVAL, "process.user: missing required object");
    uint32_t v;
    TRY(json_get_uint32(user, "process.user", "uid", true, NULL, &v, err));
    u->uid = v;
    TRY(json_get_uint32(user, "process.user", "gid", true, NULL, &v, err));
    u->gid = v;
    bool have;
    TRY(json_get_uint32(user, "process.user", "umask", false, &have, &v, err));
    if (have) {
        if (v > 0777)
            return error_set(err, EINVAL, "process.user.umask: %u is not a valid umask", v);
        u->has_umask = true;
        u->umask = v;
    }
    json_t *gids;
    TRY(json_get_typed(user, "process.user", "additionalGids", JSON_ARRAY, &gids, err));
    if (gids) {
        size_t n = json_array_size(gids);
        u->additional_gids = spec_alloc(spec, (n + 1) * sizeof(gid_t));
        for (size_t i = 0; i < n; i++) {
            json_t *g = json_array_get(gids, i);
            if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > UINT32_MAX)
                return error_set(err, EINVAL, "process.user.additionalGids[%zu]: expected a gid (non-negative integer)", i);
            u->additional_gids[i] = (gid_t)json_integer_value(g);
        }
        u->n_additional_gids = n;
    }
    return 0;
}

static int parse_rlimits(struct spec *spec, json_t *process, struct spec_process *p, struct error **err)
{
    json_t *arr;
    TRY(json_get_typed(process, "process", "rlimits", JSON_ARRAY, &arr, err));
    if (!arr)
        return 0;
    size_t n = json_array_size(arr);
    p->rlimits = spec_alloc(spec, (n + 1) * sizeof(*p->rlimits));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        char *path = pathf(spec, "process.rlimits[%zu]", i);
        if (!json_is_object(e))
            return error_set(err, EINVAL, "%s: expected an object", path);
        struct spec_rlimit *rl = &p->rlimits[i];
        TRY(json_get_string(e, path, "type", true, &rl->type, err));
        rl->resource = rlimit_from_name(rl->type);
        if (rl->resource < 0)
            return error_set(err, EINVAL, "%s.type: unknown rlimit \"%s\"", path, rl->type);
        for (size_t j = 0; j < i; j++)
            if (p->rlimits[j].resource == rl->resource)
                return error_set(err, EINVAL, "%s.type: duplicate rlimit \"%s\"", path, rl->type);
        bool have;
        TRY(json_get_uint64(e, path, "soft", &have, &rl->soft, err));
        if (!have)
            return error_set(err, EINVAL, "%s.soft: missing required integer", path);
        TRY(json_get_uint64(e, path, "hard", &have, &rl->hard, err));
        if (!have)
            return error_set(err, EINVAL, "%s.hard: missing required integer", path);
        if (rl->soft > rl->hard)
            return error_set(err, EINVAL, "%s: soft limit %llu is above hard limit %llu", path,
                             (unsigned long long)rl->soft, (unsigned long long)rl->hard);
    }
    p->n_rlimits = n;
    return 0;
}

int spec_parse_process(struct spec *spec, json_t *process, json_t *linux_obj, struct spec_process *p,
                       struct error **err)
{
    memset(p, 0, sizeof(*p));
    TRY(json_get_bool(process, "process", "terminal", &p->terminal, err));
    json_t *cs;
    TRY(json_get_typed(process, "process", "consoleSize", JSON_OBJECT, &cs, err));
    if (cs) {
        p->has_console_size = true;
        TRY(json_get_uint32(cs, "process.consoleSize", "height", true, NULL, &p->console_height, err));
        TRY(json_get_uint32(cs, "process.consoleSize", "width", true, NULL, &p->console_width, err));
    }
    TRY(parse_user(spec, process, &p->user, err));

    json_t *args = json_object_get(process, "args");
    if (!args || !json_is_array(args) || json_array_size(args) == 0)
        return error_set(err, EINVAL, "process.args: must be a non-empty array of strings");
    TRY(json_get_strv(spec, process, "process", "args", &p->args, &p->n_args, err));
    if (!*p->args[0])
        return error_set(err, EINVAL, "process.args[0]: must not be empty");
    TRY(json_get_strv(spec, process, "process", "env", &p->env, &p->n_env, err));
    if (!p->env)
        p->env = spec_alloc(spec, sizeof(char *));
    for (size_t i = 0; i < p->n_env; i++)
        if (!strchr(p->env[i], '='))
            return error_set(err, EINVAL, "process.env[%zu]: \"%s\" is not of the form KEY=VALUE", i, p->env[i]);
    TRY(json_get_string(process, "process", "cwd", true, &p->cwd, err));
    if (p->cwd[0] != '/')
        return error_set(err, EINVAL, "process.cwd: \"%s\" is not an absolute path", p->cwd);
    TRY(parse_rlimits(spec, process, p, err));
    int64_t oom;
    TRY(json_get_int64(process, "process", "oomScoreAdj", &p->has_oom_score_adj, &oom, err));
    if (p->has_oom_score_adj) {
        if (oom < -1000 || oom > 1000)
            return error_set(err, EINVAL, "process.oomScoreAdj: %lld is outside -1000..1000", (long long)oom);
        p->oom_score_adj = (int)oom;
    }
    TRY(json_get_bool(process, "process", "noNewPrivileges", &p->no_new_privileges, err));
    return process_security_parse(spec, process, "process", linux_obj, &p->security, err);
}

static int parse_process(struct spec *spec, json_t *linux_obj, struct error **err)
{
    json_t *process;
    TRY(json_get_typed(spec->json, "", "process", JSON_OBJECT, &process, err));
    if (!process)
        return error_set(err, EINVAL, "process: missing required object");
    return spec_parse_process(spec, process, linux_obj, &spec->process, err);
}

static int parse_mounts(struct spec *spec, struct error **err)
{
    json_t *arr;
    TRY(json_get_typed(spec->json, "", "mounts", JSON_ARRAY, &arr, err));
    if (!arr)
        return 0;
    size_t n = json_array_size(arr);
    spec->mounts = spec_alloc(spec, (n + 1) * sizeof(*spec->mounts));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        char *path = pathf(spec, "mounts[%zu]", i);
        if (!json_is_object(e))
            return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_word(e));
        struct spec_mount *m = &spec->mounts[i];
        TRY(json_get_string(e, path, "destination", true, &m->destination, err));
        if (!*m->destination)
            return error_set(err, EINVAL, "%s.destination: must not be empty", path);
        TRY(json_get_string(e, path, "type", false, &m->type, err));
        TRY(json_get_string(e, path, "source", false, &m->source, err));
        TRY(json_get_strv(spec, e, path, "options", &m->options, &m->n_options, err));
    }
    spec->n_mounts = n;
    return 0;
}

static int parse_hooks(struct spec *spec, struct error **err)
{
    json_t *hooks;
    TRY(json_get_typed(spec->json, "", "hooks", JSON_OBJECT, &hooks, err));
    if (!hooks)
        return 0;
    for (int k = 0; k < HOOK__MAX; k++) {
        json_t *arr;
        TRY(json_get_typed(hooks, "hooks", hook_names[k], JSON_ARRAY, &arr, err));
        if (!arr)
            continue;
        size_t n = json_array_size(arr);
        struct spec_hook_list *l = &spec->hooks[k];
        l->items = spec_alloc(spec, (n + 1) * sizeof(*l->items));
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(arr, i);
            char *path = pathf(spec, "hooks.%s[%zu]", hook_names[k], i);
            if (!json_is_object(e))
                return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_word(e));
            struct spec_hook *h = &l->items[i];
            TRY(json_get_string(e, path, "path", true, &h->path, err));
            if (h->path[0] != '/')
                return error_set(err, EINVAL, "%s.path: \"%s\" is not an absolute path", path, h->path);
            TRY(json_get_strv(spec, e, path, "args", &h->args, NULL, err));
            TRY(json_get_strv(spec, e, path, "env", &h->env, NULL, err));
            bool have;
            int64_t t = 0;
            TRY(json_get_int64(e, path, "timeout", &have, &t, err));
            if (have && (t <= 0 || t > INT32_MAX))
                return error_set(err, EINVAL, "%s.timeout: must be a positive number of seconds", path);
            h->timeout = (int)t;
        }
        l->n = n;
    }
    return 0;
}

static int parse_string_map(struct spec *spec, json_t *parent, const char *ppath, const char *key,
                            struct spec_kv **out, size_t *n_out, struct error **err)
{
    json_t *obj;
    TRY(json_get_typed(parent, ppath, key, JSON_OBJECT, &obj, err));
    if (!obj)
        return 0;
    size_t n = json_object_size(obj), i = 0;
    struct spec_kv *kv = spec_alloc(spec, (n + 1) * sizeof(*kv));
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!json_is_string(v))
            return error_set(err, EINVAL, "%s%s%s.%s: expected a string, got %s", ppath, dot(ppath), key, k,
                             json_type_word(v));
        kv[i].key = k;
        kv[i].value = json_string_value(v);
        i++;
    }
    *out = kv;
    *n_out = n;
    return 0;
}

static int parse_id_mappings(struct spec *spec, json_t *lx, const char *key, struct spec_id_map **out, size_t *n_out,
                             struct error **err)
{
    json_t *arr;
    TRY(json_get_typed(lx, "linux", key, JSON_ARRAY, &arr, err));
    if (!arr)
        return 0;
    size_t n = json_array_size(arr);
    struct spec_id_map *m = spec_alloc(spec, (n + 1) * sizeof(*m));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        char *path = pathf(spec, "linux.%s[%zu]", key, i);
        if (!json_is_object(e))
            return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_word(e));
        TRY(json_get_uint32(e, path, "containerID", true, NULL, &m[i].container_id, err));
        TRY(json_get_uint32(e, path, "hostID", true, NULL, &m[i].host_id, err));
        TRY(json_get_uint32(e, path, "size", true, NULL, &m[i].size, err));
        if (m[i].size == 0)
            return error_set(err, EINVAL, "%s.size: must be positive", path);
    }
    *out = m;
    *n_out = n;
    return 0;
}

static int parse_namespaces(struct spec *spec, json_t *lx, struct error **err)
{
    json_t *arr;
    TRY(json_get_typed(lx, "linux", "namespaces", JSON_ARRAY, &arr, err));
    if (!arr)
        return 0;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char *path = pathf(spec, "linux.namespaces[%zu]", i);
        if (!json_is_object(e))
            return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_word(e));
        const char *type, *nspath;
        TRY(json_get_string(e, path, "type", true, &type, err));
        int t = ns_type_from_name(type);
        if (t < 0)
            return error_set(err, EINVAL, "%s.type: unknown namespace type \"%s\"", path, type);
        if (spec->linux.ns[t].enabled)
            return error_set(err, EINVAL, "%s.type: namespace \"%s\" is listed twice", path, type);
        TRY(json_get_string(e, path, "path", false, &nspath, err));
        if (nspath && nspath[0] != '/')
            return error_set(err, EINVAL, "%s.path: \"%s\" is not an absolute path", path, nspath);
        spec->linux.ns[t].enabled = true;
        spec->linux.ns[t].path = nspath && *nspath ? nspath : NULL;
    }
    return 0;
}

static int parse_devices(struct spec *spec, json_t *lx, struct error **err)
{
    json_t *arr;
    TRY(json_get_typed(lx, "linux", "devices", JSON_ARRAY, &arr, err));
    if (!arr)
        return 0;
    size_t n = json_array_size(arr);
    struct spec_device *d = spec_alloc(spec, (n + 1) * sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        char *path = pathf(spec, "linux.devices[%zu]", i);
        if (!json_is_object(e))
            return error_set(err, EINVAL, "%s: expected an object, got %s", path, json_type_word(e));
        const char *type;
        TRY(json_get_string(e, path, "type", true, &type, err));
        if (strlen(type) != 1 || !strchr("cbup", type[0]))
            return error_set(err, EINVAL, "%s.type: \"%s\" is not one of c, b, u, p", path, type);
        d[i].type = type[0];
        TRY(json_get_string(e, path, "path", true, &d[i].path, err));
        if (d[i].path[0] != '/')
            return error_set(err, EINVAL, "%s.path: \"%s\" is not an absolute path", path, d[i].path);
        bool have_major, have_minor;
        TRY(json_get_int64(e, path, "major", &have_major, &d[i].major, err));
        TRY(json_get_int64(e, path, "minor", &have_minor, &d[i].minor, err));
        if (d[i].type != 'p' && (!have_major || !have_minor))
            return error_set(err, EINVAL, "%s: major and minor are required for type %c", path, d[i].type);
        uint32_t v;
        TRY(json_get_uint32(e, path, "fileMode", false, &d[i].has_mode, &v, err));
        d[i].mode = v & 07777;
        TRY(json_get_uint32(e, path, "uid", false, &d[i].has_uid, &v, err));
        d[i].uid = v;
        TRY(json_get_uint32(e, path, "gid", false, &d[i].has_gid, &v, err));
        d[i].gid = v;
    }
    spec->linux.devices = d;
    spec->linux.n_devices = n;
    return 0;
}

static int parse_time_offsets(struct spec *spec, json_t *lx, struct error **err)
{
    json_t *to;
    TRY(json_get_typed(lx, "linux", "timeOffsets", JSON_OBJECT, &to, err));
    if (!to)
        return 0;
    static const char *const clocks[] = { "monotonic", "boottime" };
    struct spec_time_offset *dst[] = { &spec->linux.time_monotonic, &spec->linux.time_boottime };
    for (int i = 0; i < 2; i++) {
        json_t *c;
        TRY(json_get_typed(to, "linux.timeOffsets", clocks[i], JSON_OBJECT, &c, err));
        if (!c)
            continue;
        char *path = pathf(spec, "linux.timeOffsets.%s", clocks[i]);
        bool have;
        TRY(json_get_int64(c, path, "secs", &have, &dst[i]->secs, err));
        TRY(json_get_uint32(c, path, "nanosecs", false, NULL, &dst[i]->nanosecs, err));
        if (dst[i]->nanosecs >= 1000000000u)
            return error_set(err, EINVAL, "%s.nanosecs: must be below 1000000000", path);
        dst[i]->set = true;
    }
    return 0;
}

static int parse_linux(struct spec *spec, json_t *lx, struct error **err)
{
    struct spec_linux *l = &spec->linux;
    TRY(parse_namespaces(spec, lx, err));
    TRY(parse_id_mappings(spec, lx, "uidMappings", &l->uid_mappings, &l->n_uid_mappings, err));
    TRY(parse_id_mappings(spec, lx, "gidMappings", &l->gid_mappings, &l->n_gid_mappings, err));
    if (l->ns[NS_USER].enabled && !l->ns[NS_USER].path && (!l->n_uid_mappings || !l->n_gid_mappings))
        return error_set(err, EINVAL, "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
    TRY(parse_time_offsets(spec, lx, err));
    if ((l->time_monotonic.set || l->time_boottime.set) && (!l->ns[NS_TIME].enabled || l->ns[NS_TIME].path))
        return error_set(err, EINVAL, "linux.timeOffsets: needs a new time namespace in linux.namespaces");
    TRY(parse_devices(spec, lx, err));
    TRY(json_get_string(lx, "linux", "cgroupsPath", false, &l->cgroups_path, err));
    TRY(json_get_typed(lx, "linux", "resources", JSON_OBJECT, &l->resources, err));
    if (l->resources) {
        int r = cgroup_resources_check(l->resources, err);
        if (r < 0)
            return r;
    }
    TRY(json_get_string(lx, "linux", "rootfsPropagation", false, &l->rootfs_propagation, err));
    if (l->rootfs_propagation) {
        static const char *const ok[] = { "private", "rprivate", "slave", "rslave", "shared", "rshared",
                                          "unbindable", "runbindable" };
        bool found = false;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
            found |= strcmp(ok[i], l->rootfs_propagation) == 0;
        if (!found)
            return error_set(err, EINVAL, "linux.rootfsPropagation: unknown propagation \"%s\"", l->rootfs_propagation);
    }
    TRY(json_get_strv(spec, lx, "linux", "maskedPaths", &l->masked_paths, &l->n_masked_paths, err));
    TRY(json_get_strv(spec, lx, "linux", "readonlyPaths", &l->readonly_paths, &l->n_readonly_paths, err));
    TRY(parse_string_map(spec, lx, "linux", "sysctl", &l->sysctl, &l->n_sysctl, err));
    TRY(json_get_string(lx, "linux", "mountLabel", false, &l->mount_label, err));
    json_t *sc;
    TRY(json_get_typed(lx, "linux", "seccomp", JSON_OBJECT, &sc, err));
    if (sc)
        TRY(seccomp_profile_parse(spec, sc, "linux.seccomp", &l->seccomp, err));
    return 0;
}

int spec_parse(json_t *doc, const char *bundle, struct spec **out, struct error **err)
{
    struct spec *spec = calloc(1, sizeof(*spec));
    if (!spec) {
        json_decref(doc);
        return error_set(err, ENOMEM, "out of memory");
    }
    spec->json = doc;
    int r;
    if (!json_is_object(doc)) {
        r = error_set(err, EINVAL, "config.json: expected an object at the top level");
        goto fail;
    }
    spec->bundle = spec_strdup(spec, bundle);

    if ((r = json_get_string(doc, "", "ociVersion", true, &spec->oci_version, err)) < 0)
        goto fail;
    if (strncmp(spec->oci_version, "1.", 2) != 0) {
        r = error_set(err, EINVAL, "ociVersion: \"%s\" is not supported (need 1.x)", spec->oci_version);
        goto fail;
    }

    json_t *root;
    if ((r = json_get_typed(doc, "", "root", JSON_OBJECT, &root, err)) < 0)
        goto fail;
    if (!root) {
        r = error_set(err, EINVAL, "root: missing required object");
        goto fail;
    }
    const char *rp;
    if ((r = json_get_string(root, "root", "path", true, &rp, err)) < 0 ||
        (r = json_get_bool(root, "root", "readonly", &spec->root_readonly, err)) < 0)
        goto fail;
    if (!*rp) {
        r = error_set(err, EINVAL, "root.path: must not be empty");
        goto fail;
    }
    spec->root_path = rp[0] == '/' ? rp : pathf(spec, "%s/%s", bundle, rp);

    if ((r = json_get_string(doc, "", "hostname", false, &spec->hostname, err)) < 0 ||
        (r = json_get_string(doc, "", "domainname", false, &spec->domainname, err)) < 0)
        goto fail;

    json_t *lx;
    if ((r = json_get_typed(doc, "", "linux", JSON_OBJECT, &lx, err)) < 0)
        goto fail;
    if (lx && (r = parse_linux(spec, lx, err)) < 0)
        goto fail;
    if ((r = parse_process(spec, lx, err)) < 0 ||
        (r = parse_mounts(spec, err)) < 0 ||
        (r = parse_hooks(spec, err)) < 0 ||
        (r = parse_string_map(spec, doc, "", "annotations", &spec->annotations, &spec->n_annotations, err)) < 0)
        goto fail;
    if ((spec->hostname || spec->domainname) && !spec->linux.ns[NS_UTS].enabled) {
        r = error_set(err, EINVAL, "%s: setting it needs a new uts namespace", spec->hostname ? "hostname" : "domainname");
        goto fail;
    }
    *out = spec;
    return 0;
fail:
    spec_free(spec);
    return r;
}

int spec_load(const char *bundle, struct spec **out, struct error **err)
{
    _cleanup_free_ char *abs = realpath(bundle, NULL);
    if (!abs)
        return error_sys(err, errno, "bundle \"%s\"", bundle);
    _cleanup_free_ char *cfg = NULL;
    if (asprintf(&cfg, "%s/config.json", abs) < 0)
        return error_set(err, ENOMEM, "out of memory");
    json_error_t jerr;
    json_t *doc = json_load_file(cfg, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (access(cfg, F_OK) < 0)
            return error_sys(err, errno, "open %s", cfg);
        return error_set(err, EINVAL, "%s: line %d column %d: %s", cfg, jerr.line, jerr.column, jerr.text);
    }
    struct spec *spec;
    int r = spec_parse(doc, abs, &spec, err);
    if (r < 0)
        return r;
    struct stat st;
    if (stat(spec->root_path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        r = error_set(err, ENOENT, "root.path: rootfs \"%s\" is not a directory", spec->root_path);
        spec_free(spec);
        return r;
    }
    *out = spec;
    return 0;
}
