/* --systemd-cgroup: the container's cgroup is a transient scope unit that systemd makes
 * (StartTransientUnit over D-Bus, with Delegate=yes and the init's pid), as runc's systemd
 * driver does. The limits are then written to the scope's cgroup files by the same code as
 * without systemd, and the scope's other hierarchies (v1) are joined the same way.
 *
 * sd-bus comes from libsystemd.so.0, opened with dlopen only when --systemd-cgroup is used, so
 * krunc neither links it nor pays for it on every start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../cleanup.h"
#include "cgroups.h"
#include "internal.h"

/* systemd's own test (sd_booted): it made /run/systemd/system when it started as PID 1. */
static bool systemd_running(void)
{
    struct stat st;
    return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

/* runc's form "slice:prefix:name", e.g. "system.slice:krunc:abc" -> unit "krunc-abc.scope" in
 * system.slice. An empty slice means "system.slice". */
struct systemd_path {
    char *slice, *unit;
};

static void systemd_path_free(struct systemd_path *p)
{
    free(p->slice);
    free(p->unit);
}

static int parse_systemd_path(const char *cgroups_path, const char *id, struct systemd_path *out, struct error **err)
{
    memset(out, 0, sizeof(*out));
    const char *path = cgroups_path && *cgroups_path ? cgroups_path : NULL;
    _cleanup_free_ char *def = NULL;
    if (!path) {
        if (asprintf(&def, "system.slice:krunc:%s", id) < 0)
            return error_set(err, ENOMEM, "out of memory");
        path = def;
    }
    const char *c1 = strchr(path, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strchr(c2 + 1, ':'))
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\" is not in the systemd form \"slice:prefix:name\"", path);
    _cleanup_free_ char *slice = strndup(path, (size_t)(c1 - path));
    _cleanup_free_ char *prefix = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
    const char *name = c2 + 1;
    if (!slice || !prefix)
        return error_set(err, ENOMEM, "out of memory");
    if (!*name || strchr(name, '/') || strchr(prefix, '/') || strchr(slice, '/'))
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\": slice, prefix and name must not hold '/', and name must not be empty",
                         path);
    if (*slice && (strlen(slice) < 7 || strcmp(slice + strlen(slice) - 6, ".slice")))
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\": the slice must end in \".slice\"", path);
    size_t nl = strlen(name);
    if (nl > 6 && !strcmp(name + nl - 6, ".slice"))
        return error_set(err, EINVAL, "linux.cgroupsPath: \"%s\": the name must be a scope, not a slice", path);
    out->slice = strdup(*slice ? slice : "system.slice");
    if (asprintf(&out->unit, "%s%s%s.scope", prefix, *prefix ? "-" : "", name) < 0)
        out->unit = NULL;
    if (!out->slice || !out->unit) {
        systemd_path_free(out);
        return error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* "a-b.slice" -> "/a.slice/a-b.slice": where systemd puts a slice in the cgroup tree */
static char *slice_cgroup_path(const char *slice)
{
    if (!strcmp(slice, "-.slice"))
        return strdup("");
    size_t len = strlen(slice) - 6;     /* without ".slice" */
    size_t cap = 1;
    for (size_t i = 0; i <= len; i++)
        if (i == len || slice[i] == '-')
            cap += i + 8;
    char *out = malloc(cap), *w = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        if (i == len || slice[i] == '-')
            w += sprintf(w, "/%.*s.slice", (int)i, slice);
    *w = '\0';
    return out;
}

bool cgroup_uses_systemd(json_t *state)
{
    return state && json_is_object(json_object_get(state, "systemd"));
}

#ifdef KRUNC_HAVE_SD_BUS_H
#include <systemd/sd-bus.h>

#include "../dynload.h"

static struct {
    bool loaded;
    int (*open_system)(sd_bus **);
    sd_bus *(*flush_close_unref)(sd_bus *);
    int (*message_new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *, const char *,
                                   const char *);
    int (*message_append)(sd_bus_message *, const char *, ...);
    int (*message_open_container)(sd_bus_message *, char, const char *);
    int (*message_close_container)(sd_bus_message *);
    int (*message_read)(sd_bus_message *, const char *, ...);
    sd_bus_message *(*message_unref)(sd_bus_message *);
    int (*call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
    int (*call_method)(sd_bus *, const char *, const char *, const char *, const char *, sd_bus_error *,
                       sd_bus_message **, const char *, ...);
    int (*get_property_string)(sd_bus *, const char *, const char *, const char *, const char *, sd_bus_error *,
                               char **);
    int (*match_signal)(sd_bus *, sd_bus_slot **, const char *, const char *, const char *, const char *,
                        sd_bus_message_handler_t, void *);
    int (*process)(sd_bus *, sd_bus_message **);
    int (*wait)(sd_bus *, uint64_t);
    sd_bus_slot *(*slot_unref)(sd_bus_slot *);
    void (*error_free)(sd_bus_error *);
    int (*error_has_name)(const sd_bus_error *, const char *);
} sdb;

static int load_sd_bus(struct error **err)
{
    if (sdb.loaded)
        return 0;
    void *h = dynload_open("libsystemd.so.0");
    if (!h)
        return error_set(err, ENOTSUP, "--systemd-cgroup: cannot load libsystemd.so.0: %s", dynload_error());
    struct { const char *name; void **fn; } const syms[] = {
#define SYM(n) { "sd_bus_" #n, (void **)&sdb.n }
        SYM(open_system), SYM(flush_close_unref), SYM(message_new_method_call), SYM(message_append),
        SYM(message_open_container), SYM(message_close_container), SYM(message_read), SYM(message_unref),
        SYM(call), SYM(call_method), SYM(get_property_string), SYM(match_signal), SYM(process), SYM(wait),
        SYM(slot_unref), SYM(error_free), SYM(error_has_name),
#undef SYM
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        *syms[i].fn = dynload_sym(h, syms[i].name);
        if (!*syms[i].fn)
            return error_set(err, ENOTSUP, "--systemd-cgroup: libsystemd.so.0 has no %s", syms[i].name);
    }
    sdb.loaded = true;
    return 0;
}

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define JOB_TIMEOUT_US (30ULL * 1000000)

struct job_wait {
    char *job;          /* the job's object path, once known */
    char *result;       /* its JobRemoved result, once removed */
    /* JobRemoved signals seen before the job's path was known */
    char *early[16][2];
    size_t n_early;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
    (void)e;
    struct job_wait *w = userdata;
    uint32_t id;
    const char *path, *unit, *result;
    if (sdb.message_read(m, "uoss", &id, &path, &unit, &result) < 0)
        return 0;
    if (w->job) {
        if (!strcmp(path, w->job) && !w->result)
            w->result = strdup(result);
    } else if (w->n_early < 16) {
        w->early[w->n_early][0] = strdup(path);
        w->early[w->n_early][1] = strdup(result);
        w->n_early++;
    }
    return 0;
}

static void job_wait_free(struct job_wait *w)
{
    free(w->job);
    free(w->result);
    for (size_t i = 0; i < w->n_early; i++) {
        free(w->early[i][0]);
        free(w->early[i][1]);
    }
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wait for the JobRemoved of w->job; its result must be "done". */
static int wait_job(sd_bus *bus, struct job_wait *w, const char *what, struct error **err)
{
    for (size_t i = 0; i < w->n_early && !w->result; i++)
        if (w->early[i][0] && !strcmp(w->early[i][0], w->job))
            w->result = strdup(w->early[i][1] ? w->early[i][1] : "");
    uint64_t end = now_us() + JOB_TIMEOUT_US;
    while (!w->result) {
        int r = sdb.process(bus, NULL);
        if (r < 0)
            return error_sys(err, -r, "%s: D-Bus", what);
        if (r > 0)
            continue;
        uint64_t now = now_us();
        if (now >= end)
            return error_set(err, ETIMEDOUT, "%s: systemd did not finish job %s", what, w->job);
        r = sdb.wait(bus, end - now);
        if (r < 0)
            return error_sys(err, -r, "%s: D-Bus", what);
    }
    if (strcmp(w->result, "done"))
        return error_set(err, EIO, "%s: systemd job %s", what, w->result);
    return 0;
}

static int bus_open(sd_bus **bus, sd_bus_slot **slot, struct job_wait *w, struct error **err)
{
    int r = sdb.open_system(bus);
    if (r < 0)
        return error_sys(err, -r, "--systemd-cgroup: connect to the system bus");
    r = sdb.match_signal(*bus, slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, w);
    if (r < 0)
        return error_sys(err, -r, "--systemd-cgroup: watch systemd's jobs");
    /* systemd sends job signals to subscribers */
    sd_bus_error e = SD_BUS_ERROR_NULL;
    r = sdb.call_method(*bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", &e, NULL, "");
    sdb.error_free(&e);
    return 0;
}

static int append_properties(sd_bus_message *m, const char *slice, const char *id, pid_t pid)
{
    int r;
    char desc[256];
    snprintf(desc, sizeof(desc), "krunc container %s", id);
    if ((r = sdb.message_open_container(m, 'a', "(sv)")) < 0 ||
        (r = sdb.message_append(m, "(sv)", "Description", "s", desc)) < 0 ||
        (r = sdb.message_append(m, "(sv)", "Slice", "s", slice)) < 0 ||
        (r = sdb.message_append(m, "(sv)", "Delegate", "b", 1)) < 0 ||
        (r = sdb.message_append(m, "(sv)", "DefaultDependencies", "b", 0)) < 0 ||
        (r = sdb.message_append(m, "(sv)", "MemoryAccounting", "b", 1)) < 0 ||
        (r = sdb.message_append(m, "(sv)", "CPUAccounting", "b", 1)) < 0 ||
        (r = sdb.message_append(m, "(sv)", "TasksAccounting", "b", 1)) < 0 ||
        (r = sdb.message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid)) < 0 ||
        (r = sdb.message_close_container(m)) < 0)
        return r;
    /* no auxiliary units */
    return sdb.message_append(m, "a(sa(sv))", 0);
}

static int start_scope(sd_bus *bus, struct job_wait *w, const char *unit, const char *slice, const char *id, pid_t pid,
                       struct error **err)
{
    sd_bus_message *m = NULL, *reply = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = sdb.message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
    if (r >= 0)
        r = sdb.message_append(m, "ss", unit, "fail");
    if (r >= 0)
        r = append_properties(m, slice, id, pid);
    if (r < 0) {
        sdb.message_unref(m);
        return error_sys(err, -r, "--systemd-cgroup: build the StartTransientUnit call");
    }
    r = sdb.call(bus, m, JOB_TIMEOUT_US, &e, &reply);
    sdb.message_unref(m);
    if (r < 0) {
        int ret = error_set(err, -r, "--systemd-cgroup: start unit %s: %s", unit, e.message ? e.message : strerror(-r));
        sdb.error_free(&e);
        return ret;
    }
    const char *job = NULL;
    r = sdb.message_read(reply, "o", &job);
    if (r >= 0)
        w->job = strdup(job);
    sdb.message_unref(reply);
    if (r < 0 || !w->job)
        return error_set(err, EIO, "--systemd-cgroup: start unit %s: no job in systemd's answer", unit);
    char what[300];
    snprintf(what, sizeof(what), "--systemd-cgroup: start unit %s", unit);
    return wait_job(bus, w, what, err);
}

/* The scope's cgroup as systemd reports it; computed from the slice when it does not say. */
static char *scope_cgroup(sd_bus *bus, const char *unit, const char *slice)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    char *cg = NULL;
    if (sdb.call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &e, &reply, "s", unit) >= 0) {
        const char *obj = NULL;
        if (sdb.message_read(reply, "o", &obj) >= 0 && obj)
            sdb.get_property_string(bus, SD_DEST, obj, "org.freedesktop.systemd1.Scope", "ControlGroup", &e, &cg);
    }
    sdb.message_unref(reply);
    sdb.error_free(&e);
    if (cg && *cg)
        return cg;
    free(cg);
    _cleanup_free_ char *sp = slice_cgroup_path(slice);
    if (!sp || asprintf(&cg, "%s/%s", sp, unit) < 0)
        return NULL;
    return cg;
}

static int stop_unit(sd_bus *bus, struct job_wait *w, const char *unit, struct error **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r = sdb.call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit", &e, &reply, "ss", unit, "replace");
    if (r < 0) {
        /* already gone (a scope ends by itself once empty) */
        bool gone = sdb.error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit");
        int ret = gone ? 0 : error_set(err, -r, "--systemd-cgroup: stop unit %s: %s", unit,
                                       e.message ? e.message : strerror(-r));
        sdb.error_free(&e);
        return ret;
    }
    const char *job = NULL;
    if (sdb.message_read(reply, "o", &job) >= 0 && job)
        w->job = strdup(job);
    sdb.message_unref(reply);
    if (!w->job)
        return 0;
    char what[300];
    snprintf(what, sizeof(what), "--systemd-cgroup: stop unit %s", unit);
    return wait_job(bus, w, what, err);
}

int cg_systemd_create(const char *cgroups_path, json_t *resources, const struct cgroup_opts *opts, pid_t pid,
                      json_t **state_out, struct error **err)
{
    *state_out = NULL;
    struct systemd_path sp;
    int r = parse_systemd_path(cgroups_path, opts->id, &sp, err);
    if (r < 0)
        return r;
    if (!systemd_running()) {
        systemd_path_free(&sp);
        return error_set(err, ENOTSUP, "--systemd-cgroup: systemd is not running (not PID 1)");
    }
    /* check the resources before systemd makes anything */
    r = cg_check_host(resources, err);
    if (r == 0)
        r = load_sd_bus(err);
    if (r < 0) {
        systemd_path_free(&sp);
        return r;
    }
    sd_bus *bus = NULL;
    sd_bus_slot *slot = NULL;
    struct job_wait w = { 0 };
    bool started = false;
    r = bus_open(&bus, &slot, &w, err);
    if (r == 0) {
        r = start_scope(bus, &w, sp.unit, sp.slice, opts->id, pid, err);
        started = r == 0;
    }
    _cleanup_free_ char *cg = NULL;
    if (r == 0 && !(cg = scope_cgroup(bus, sp.unit, sp.slice)))
        r = error_set(err, ENOMEM, "out of memory");
    /* the same as without systemd from here: the other hierarchies, the limits, the pid */
    if (r == 0)
        r = cg_fs_create(cg, opts->id, resources, pid, true, state_out, err);
    if (r == 0) {
        json_t *sd = json_pack("{s:s, s:s}", "unit", sp.unit, "slice", sp.slice);
        if (!sd || json_object_set_new(*state_out, "systemd", sd) < 0)
            r = error_set(err, ENOMEM, "out of memory");
    }
    if (r < 0 && started) {
        json_decref(*state_out);
        *state_out = NULL;
        free(w.job);
        free(w.result);
        w.job = w.result = NULL;
        stop_unit(bus, &w, sp.unit, NULL);
    }
    job_wait_free(&w);
    if (slot)
        sdb.slot_unref(slot);
    if (bus)
        sdb.flush_close_unref(bus);
    systemd_path_free(&sp);
    return r;
}

int cg_systemd_destroy(json_t *state, struct error **err)
{
    const char *unit = json_string_value(json_object_get(json_object_get(state, "systemd"), "unit"));
    if (!unit)
        return error_set(err, EINVAL, "state.json: malformed systemd cgroup description");
    /* what krunc made itself (v1 hierarchies systemd does not manage), and the processes left */
    int r = cg_fs_destroy(state, err);
    if (r < 0)
        return r;
    r = load_sd_bus(err);
    if (r < 0)
        return r;
    sd_bus *bus = NULL;
    sd_bus_slot *slot = NULL;
    struct job_wait w = { 0 };
    r = bus_open(&bus, &slot, &w, err);
    if (r == 0)
        r = stop_unit(bus, &w, unit, err);
    job_wait_free(&w);
    if (slot)
        sdb.slot_unref(slot);
    if (bus)
        sdb.flush_close_unref(bus);
    return r;
}

#else /* no sd-bus headers at build time */

int cg_systemd_create(const char *cgroups_path, json_t *resources, const struct cgroup_opts *opts, pid_t pid,
                      json_t **state_out, struct error **err)
{
    (void)resources;
    (void)pid;
    *state_out = NULL;
    struct systemd_path sp;
    int r = parse_systemd_path(cgroups_path, opts->id, &sp, err);
    if (r < 0)
        return r;
    systemd_path_free(&sp);
    (void)slice_cgroup_path;
    if (!systemd_running())
        return error_set(err, ENOTSUP, "--systemd-cgroup: systemd is not running (not PID 1)");
    return error_set(err, ENOTSUP, "--systemd-cgroup: this krunc was built without sd-bus (libsystemd-dev)");
}

int cg_systemd_destroy(json_t *state, struct error **err)
{
    (void)state;
    return error_set(err, ENOTSUP, "--systemd-cgroup: this krunc was built without sd-bus (libsystemd-dev)");
}

#endif
