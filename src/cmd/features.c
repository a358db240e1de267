/* features: what this build of krunc supports, as the OCI features document. */
#include <stdio.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../lib/executor.h"
#include "../lib/spec.h"
#include "cmd.h"

static json_t *strings(const char *const *v)
{
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static const char *const mount_options[] = {
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev",
    "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "rbind",
    "relatime", "remount", "ro", "rprivate", "rro", "rrw", "rshared", "rslave", "runbindable", "rw", "shared",
    "slave", "strictatime", "suid", "sync", "unbindable", NULL,
};

static int run_features(const struct runtime_opts *ro, int argc, char **argv)
{
    (void)ro;
    int o;
    while ((o = cmd_getopt(&cmd_features, argc, argv, "", NULL)) != -1)
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
    if (cmd_expect_args(&cmd_features, argc, 0, 0))
        return 1;

    json_t *hooks = json_array();
    for (int k = 0; k < HOOK__MAX; k++)
        json_array_append_new(hooks, json_string(hook_kind_name(k)));
    json_t *ns = json_array();
    for (int t = 0; t < NS__MAX; t++)
        json_array_append_new(ns, json_string(ns_type_name(t)));

    json_t *annotations = json_object();
    _cleanup_free_ char *names = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&names, &len);
    for (size_t i = 0; executors[i]; i++) {
        fprintf(f, "%s%s", i ? "," : "", executors[i]->name);
        const char *const *a = executors[i]->annotations;
        for (; a && *a; a++) {
            char *key = NULL;
            if (asprintf(&key, "org.krunc.executor.%s.annotation", executors[i]->name) >= 0) {
                json_t *prev = json_object_get(annotations, key);
                char *joined = NULL;
                if (asprintf(&joined, "%s%s%s", prev ? json_string_value(prev) : "", prev ? "," : "", *a) >= 0)
                    json_object_set_new(annotations, key, json_string(joined));
                free(joined);
                free(key);
            }
        }
    }
    fclose(f);
    json_object_set_new(annotations, "org.krunc.executors", json_string(names));
    json_object_set_new(annotations, "org.krunc.version", json_string(KRUNC_VERSION));
    json_object_set_new(annotations, HANDLER_ANNOTATION, json_string("krun"));

    _cleanup_json_ json_t *doc = json_pack(
        "{s:s, s:s, s:o, s:o, s:{s:o, s:{s:b, s:b, s:b, s:b, s:b}, s:{s:b}}, s:o}",
        "ociVersionMin", "1.0.0", "ociVersionMax", "1.2.0", "hooks", hooks, "mountOptions", strings(mount_options),
        "linux", "namespaces", ns, "cgroup", "v1", 1, "v2", 1, "systemd", 1, "systemdUser", 0, "rdma", 1,
        "intelRdt", "enabled", 0, "annotations", annotations);
    json_dumpf(doc, stdout, JSON_INDENT(4));
    putchar('\n');
    return 0;
}

const struct command cmd_features = {
    .name = "features", .args = "", .run = run_features,
    .summary = "Print the features this krunc supports, as the OCI features JSON.",
};
