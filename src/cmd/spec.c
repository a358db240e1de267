/* spec: write a default config.json */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/util.h"
#include "cmd.h"

/* Runs busybox's sh from ./rootfs with a small set of capabilities. */
static const char default_spec[] =
    "{\"ociVersion\":\"1.2.0\","
    "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],\"cwd\":\"/\","
    "\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],\"noNewPrivileges\":true},"
    "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
    "\"hostname\":\"krunc\","
    "\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
    "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\",\"/proc/timer_list\","
    "\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

/* A user namespace mapping the caller, no cgroup mount, sysfs bound from the host. */
static void make_rootless(json_t *spec)
{
    json_t *lx = json_object_get(spec, "linux");
    json_object_del(lx, "resources");
    json_t *ns = json_object_get(lx, "namespaces");
    json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
    json_object_set_new(lx, "uidMappings", json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", (int)getuid(), "size", 1));
    json_object_set_new(lx, "gidMappings", json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", (int)getgid(), "size", 1));
    json_t *mounts = json_object_get(spec, "mounts");
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m) {
        const char *dest = json_string_value(json_object_get(m, "destination"));
        if (strcmp(dest, "/sys") == 0)
            json_array_set_new(mounts, i, json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}", "destination", "/sys", "type", "none",
                                                    "source", "/sys", "options", "rbind", "nosuid", "noexec", "nodev", "ro"));
        else if (strcmp(dest, "/sys/fs/cgroup") == 0) {
            json_array_remove(mounts, i);
            break;
        }
    }
    json_array_foreach(mounts, i, m) {
        json_t *opts = json_object_get(m, "options");
        size_t j;
        json_t *o;
        json_array_foreach(opts, j, o)
            if (strcmp(json_string_value(o), "gid=5") == 0) {
                json_array_remove(opts, j);
                break;
            }
    }
}

static const struct option spec_long[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "rootless", no_argument, NULL, 'r' },
    { 0 },
};

static int run_spec(const struct runtime_opts *ro, int argc, char **argv)
{
    (void)ro;
    int o;
    const char *bundle = ".";
    bool rootless = false;
    while ((o = cmd_getopt(&cmd_spec, argc, argv, "b:", spec_long)) != -1) {
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
        if (o == 'b')
            bundle = optarg;
        if (o == 'r')
            rootless = true;
    }
    if (cmd_expect_args(&cmd_spec, argc, 0, 0))
        return 1;
    struct error *err = NULL;
    _cleanup_json_ json_t *spec = json_loads(default_spec, 0, NULL);
    if (rootless)
        make_rootless(spec);
    _cleanup_free_ char *json = json_dumps(spec, JSON_INDENT(2));
    _cleanup_free_ char *text = NULL, *path = NULL;
    if (!json || asprintf(&text, "%s\n", json) < 0 || asprintf(&path, "%s/config.json", bundle) < 0)
        return cmd_fail(NULL);
    int r = write_file_at(AT_FDCWD, path, text, strlen(text), O_CREAT | O_EXCL, 0644);
    if (r == -EEXIST) {
        error_set(&err, EEXIST, "File %s exists. Remove it first or use a different bundle with -b", path);
        return cmd_fail(err);
    }
    if (r < 0) {
        error_sys(&err, -r, "write %s", path);
        return cmd_fail(err);
    }
    return 0;
}

const struct command cmd_spec = {
    .name = "spec", .args = "", .run = run_spec,
    .summary = "Write a default config.json that runs busybox's sh from ./rootfs.",
    .options = "   --bundle, -b DIR     write DIR/config.json (default: the current directory)\n"
               "   --rootless           a spec for a container without root (user namespace)\n",
};
