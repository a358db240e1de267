/* A stand-in for systemd's D-Bus Manager, enough for krunc's --systemd-cgroup on a machine where
 * systemd is not PID 1: StartTransientUnit (a scope: its cgroup made in CGROOT below its slice,
 * the PIDs moved in), StopUnit (processes killed, cgroup removed), GetUnit, the scope's
 * ControlGroup property, Subscribe, and the JobRemoved signal. It owns org.freedesktop.systemd1
 * on the bus that DBUS_SYSTEM_BUS_ADDRESS names. Every call is logged to LOG, one line each.
 *
 *   fake-systemd CGROOT LOG        (prints "ready" once it owns the name)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

static const char *cgroot;
static FILE *logf;
static uint32_t next_job = 1;

struct unit {
    char *name, *cgroup;    /* cgroup: below cgroot, "/system.slice/x.scope" */
};
static struct unit units[64];

static struct unit *find_unit(const char *name)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (units[i].name && !strcmp(units[i].name, name))
            return &units[i];
    return NULL;
}

static void mkdir_below_root(const char *rel)
{
    char *p = NULL;
    if (asprintf(&p, "%s%s", cgroot, rel) < 0)
        return;
    for (char *s = p + strlen(cgroot) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    mkdir(p, 0755);
    free(p);
}

static int job_done(sd_bus_message *m, const char *unit)
{
    char job[64];
    uint32_t id = next_job++;
    snprintf(job, sizeof(job), "/org/freedesktop/systemd1/job/%u", id);
    int r = sd_bus_reply_method_return(m, "o", job);
    if (r < 0)
        return r;
    return sd_bus_emit_signal(sd_bus_message_get_bus(m), "/org/freedesktop/systemd1",
                              "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", id, job, unit, "done");
}

static int method_start(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)ud;
    const char *name, *mode;
    int r = sd_bus_message_read(m, "ss", &name, &mode);
    if (r < 0)
        return r;
    char *name_copy = strdup(name), *slice = strdup("-.slice");
    int delegate = -1;
    uint32_t pids[32];
    size_t npids = 0;
    fprintf(logf, "StartTransientUnit %s mode=%s", name, mode);
    if ((r = sd_bus_message_enter_container(m, 'a', "(sv)")) < 0)
        return r;
    while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
        const char *prop;
        if ((r = sd_bus_message_read(m, "s", &prop)) < 0)
            return r;
        if (!strcmp(prop, "Slice")) {
            const char *s;
            if ((r = sd_bus_message_read(m, "v", "s", &s)) < 0)
                return r;
            free(slice);
            slice = strdup(s);
            fprintf(logf, " Slice=%s", s);
        } else if (!strcmp(prop, "Delegate")) {
            if ((r = sd_bus_message_read(m, "v", "b", &delegate)) < 0)
                return r;
            fprintf(logf, " Delegate=%d", delegate);
        } else if (!strcmp(prop, "PIDs")) {
            if ((r = sd_bus_message_enter_container(m, 'v', "au")) < 0 ||
                (r = sd_bus_message_enter_container(m, 'a', "u")) < 0)
                return r;
            uint32_t p;
            while ((r = sd_bus_message_read(m, "u", &p)) > 0)
                if (npids < 32)
                    pids[npids++] = p;
            if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                return r;
            fprintf(logf, " PIDs=%zu", npids);
        } else {
            fprintf(logf, " %s", prop);
            if ((r = sd_bus_message_skip(m, "v")) < 0)
                return r;
        }
        if ((r = sd_bus_message_exit_container(m)) < 0)
            return r;
    }
    if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0 || (r = sd_bus_message_skip(m, "a(sa(sv))")) < 0)
        return r;
    fprintf(logf, "\n");
    fflush(logf);
    if (find_unit(name_copy))
        return sd_bus_error_setf(e, "org.freedesktop.systemd1.UnitExists", "Unit %s already exists.", name_copy);
    /* "a-b.slice" lives at /a.slice/a-b.slice */
    char rel[1024] = "";
    size_t len = strlen(slice) - 6;
    if (strcmp(slice, "-.slice"))
        for (size_t i = 0; i <= len; i++)
            if (i == len || slice[i] == '-')
                snprintf(rel + strlen(rel), sizeof(rel) - strlen(rel), "/%.*s.slice", (int)i, slice);
    snprintf(rel + strlen(rel), sizeof(rel) - strlen(rel), "/%s", name_copy);
    mkdir_below_root(rel);
    for (size_t i = 0; i < npids; i++) {
        char path[1200], pid[16];
        snprintf(path, sizeof(path), "%s%s/cgroup.procs", cgroot, rel);
        FILE *f = fopen(path, "w");
        snprintf(pid, sizeof(pid), "%u", pids[i]);
        if (!f || fputs(pid, f) < 0 || fclose(f) != 0)
            return sd_bus_error_setf(e, "org.freedesktop.DBus.Error.Failed", "move %s into %s failed", pid, path);
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!units[i].name) {
            units[i].name = name_copy;
            units[i].cgroup = strdup(rel);
            break;
        }
    free(slice);
    return job_done(m, name);
}

static int method_stop(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)ud;
    const char *name, *mode;
    int r = sd_bus_message_read(m, "ss", &name, &mode);
    if (r < 0)
        return r;
    fprintf(logf, "StopUnit %s mode=%s\n", name, mode);
    fflush(logf);
    struct unit *u = find_unit(name);
    if (!u)
        return sd_bus_error_setf(e, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", name);
    char path[1200];
    snprintf(path, sizeof(path), "%s%s", cgroot, u->cgroup);
    for (int i = 0; i < 2000 && rmdir(path) < 0 && errno == EBUSY; i++) {
        char procs[1300];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
        FILE *f = fopen(procs, "r");
        int pid;
        while (f && fscanf(f, "%d", &pid) == 1)
            kill(pid, SIGKILL);
        if (f)
            fclose(f);
        usleep(1000);
    }
    /* the slices it made, while empty */
    char *slash;
    while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > strlen(cgroot)) {
        *slash = '\0';
        if (rmdir(path) < 0)
            break;
    }
    char *n = strdup(name);
    free(u->name);
    free(u->cgroup);
    u->name = u->cgroup = NULL;
    r = job_done(m, n);
    free(n);
    return r;
}

static int method_get_unit(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)ud;
    const char *name;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0)
        return r;
    if (!find_unit(name))
        return sd_bus_error_setf(e, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", name);
    char *path = NULL;
    if ((r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", name, &path)) < 0)
        return r;
    r = sd_bus_reply_method_return(m, "o", path);
    free(path);
    return r;
}

static int method_subscribe(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)ud;
    (void)e;
    return sd_bus_reply_method_return(m, "");
}

static int get_control_group(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                             void *ud, sd_bus_error *e)
{
    (void)bus;
    (void)iface;
    (void)prop;
    (void)ud;
    char *name = NULL;
    if (sd_bus_path_decode(path, "/org/freedesktop/systemd1/unit", &name) <= 0)
        return sd_bus_error_setf(e, "org.freedesktop.systemd1.NoSuchUnit", "no unit at %s", path);
    struct unit *u = find_unit(name);
    free(name);
    return sd_bus_message_append(reply, "s", u ? u->cgroup : "");
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o", method_start, 0),
    SD_BUS_METHOD("StopUnit", "ss", "o", method_stop, 0),
    SD_BUS_METHOD("GetUnit", "s", "o", method_get_unit, 0),
    SD_BUS_METHOD("Subscribe", "", "", method_subscribe, 0),
    SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
    SD_BUS_VTABLE_END,
};

static const sd_bus_vtable scope_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("ControlGroup", "s", get_control_group, 0, 0),
    SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fake-systemd CGROOT LOG\n");
        return 2;
    }
    cgroot = argv[1];
    logf = fopen(argv[2], "a");
    sd_bus *bus = NULL;
    int r;
    if (!logf || (r = sd_bus_open_system(&bus)) < 0 ||
        (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                      manager_vtable, NULL)) < 0 ||
        (r = sd_bus_add_fallback_vtable(bus, NULL, "/org/freedesktop/systemd1/unit", "org.freedesktop.systemd1.Scope",
                                        scope_vtable, NULL, NULL)) < 0 ||
        (r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0)) < 0) {
        fprintf(stderr, "fake-systemd: set-up failed: %s\n", strerror(logf ? -r : errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        r = sd_bus_process(bus, NULL);
        if (r < 0) {
            fprintf(stderr, "fake-systemd: %s\n", strerror(-r));
            return 1;
        }
        if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
            return 1;
    }
}
