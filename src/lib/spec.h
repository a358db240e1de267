/* config.json -> typed structs. Every string points into spec->json or the
 * spec's arena; everything is released by spec_free(). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* gnu11 predefines `linux` as 1; the OCI field is named linux. */
#undef linux

enum ns_type { NS_PID, NS_NET, NS_MNT, NS_IPC, NS_UTS, NS_USER, NS_CGROUP, NS_TIME, NS__MAX };

enum hook_kind {
    HOOK_PRESTART,
    HOOK_CREATE_RUNTIME,
    HOOK_CREATE_CONTAINER,
    HOOK_START_CONTAINER,
    HOOK_POSTSTART,
    HOOK_POSTSTOP,
    HOOK__MAX
};

struct spec_namespace {
    bool enabled;
    const char *path;       /* join this one instead of creating it */
};

struct spec_id_map {
    uint32_t container_id, host_id, size;
};

struct spec_mount {
    const char *destination;
    const char *type;       /* may be NULL */
    const char *source;     /* may be NULL */
    const char **options;   /* n_options entries */
    size_t n_options;
};

struct spec_device {
    const char *path;
    char type;              /* 'c', 'b', 'u', 'p' */
    int64_t major, minor;
    bool has_mode, has_uid, has_gid;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

struct spec_rlimit {
    int resource;           /* RLIMIT_* */
    const char *type;       /* "RLIMIT_NOFILE" */
    uint64_t soft, hard;
};

struct spec_user {
    uid_t uid;
    gid_t gid;
    gid_t *additional_gids;
    size_t n_additional_gids;
    bool has_umask;
    mode_t umask;
};

struct spec_hook {
    const char *path;
    const char **args;      /* NULL-terminated; may be NULL */
    const char **env;       /* NULL-terminated; may be NULL */
    int timeout;            /* seconds; 0 = none */
};

struct spec_hook_list {
    struct spec_hook *items;
    size_t n;
};

struct spec_kv {
    const char *key, *value;
};

struct spec_time_offset {
    bool set;
    int64_t secs;
    uint32_t nanosecs;
};

struct process_security;   /* security.c: caps, nnp, apparmor, selinux, scheduler, ioprio, affinity, personality */
struct seccomp_profile;    /* seccomp.c */

struct spec_process {
    bool terminal;
    bool has_console_size;
    unsigned console_height, console_width;
    struct spec_user user;
    const char **args;      /* NULL-terminated, n_args >= 1 */
    size_t n_args;
    const char **env;       /* NULL-terminated */
    size_t n_env;
    const char *cwd;
    struct spec_rlimit *rlimits;
    size_t n_rlimits;
    bool has_oom_score_adj;
    int oom_score_adj;
    bool no_new_privileges;
    struct process_security *security;
};

struct spec_linux {
    struct spec_namespace ns[NS__MAX];
    struct spec_id_map *uid_mappings, *gid_mappings;
    size_t n_uid_mappings, n_gid_mappings;
    struct spec_time_offset time_monotonic, time_boottime;
    struct spec_device *devices;
    size_t n_devices;
    const char *cgroups_path;           /* NULL: default */
    json_t *resources;                  /* borrowed from spec->json; checked by cgroups */
    const char *rootfs_propagation;     /* NULL: default (rslave like runc) */
    const char **masked_paths;
    size_t n_masked_paths;
    const char **readonly_paths;
    size_t n_readonly_paths;
    struct spec_kv *sysctl;
    size_t n_sysctl;
    const char *mount_label;
    struct seccomp_profile *seccomp;    /* NULL: none */
};

struct spec {
    json_t *json;               /* the whole document (owned) */
    const char *bundle;         /* absolute */
    const char *oci_version;
    const char *root_path;      /* absolute */
    bool root_readonly;
    const char *hostname, *domainname;
    struct spec_process process;
    struct spec_mount *mounts;
    size_t n_mounts;
    struct spec_hook_list hooks[HOOK__MAX];
    struct spec_kv *annotations;
    size_t n_annotations;
    struct spec_linux linux;
    struct arena *arena;
};

/* Read and check bundle/config.json. bundle may be relative. */
int spec_load(const char *bundle, struct spec **out, struct error **err);
/* Parse a document already in memory (used for the stored copy and by tests). */
int spec_parse(json_t *doc, const char *bundle, struct spec **out, struct error **err);
void spec_free(struct spec *spec);
static inline void spec_freep(struct spec **s) { spec_free(*s); }
#define _cleanup_spec_ __attribute__((cleanup(spec_freep)))
/* Parse a process object (config.json's, or exec's --process) into p;
 * allocations live in spec's arena. linux_obj: the container's, or NULL. */
int spec_parse_process(struct spec *spec, json_t *process, json_t *linux_obj, struct spec_process *p,
                       struct error **err);

const char *spec_annotation(const struct spec *spec, const char *key);
const char *ns_type_name(enum ns_type t);       /* "pid", "network", ... (OCI names) */
int ns_type_from_name(const char *name);        /* -1 when unknown */
int ns_clone_flag(enum ns_type t);              /* CLONE_NEW* */
const char *hook_kind_name(enum hook_kind k);   /* "prestart", "createRuntime", ... */
int rlimit_from_name(const char *name);         /* -1 when unknown */

/* Allocation that lives as long as the spec. */
void *spec_alloc(struct spec *spec, size_t size);
char *spec_strdup(struct spec *spec, const char *s);

/* Type-checked access for modules that parse their own part of the spec.
 * path is the JSON path of obj ("linux.seccomp"); errors name path.key. */
int json_get_string(json_t *obj, const char *path, const char *key, bool required, const char **out, struct error **err);
int json_get_bool(json_t *obj, const char *path, const char *key, bool *out, struct error **err);
int json_get_int64(json_t *obj, const char *path, const char *key, bool *present, int64_t *out, struct error **err);
int json_get_uint64(json_t *obj, const char *path, const char *key, bool *present, uint64_t *out, struct error **err);
int json_get_uint32(json_t *obj, const char *path, const char *key, bool required, bool *present, uint32_t *out, struct error **err);
/* Returns the member when it has the wanted JSON type, NULL when absent; an error when it has another type. */
int json_get_typed(json_t *obj, const char *path, const char *key, json_type type, json_t **out, struct error **err);
/* An array of strings, NULL-terminated copy in the spec's arena. */
int json_get_strv(struct spec *spec, json_t *obj, const char *path, const char *key, const char ***out, size_t *n, struct error **err);
