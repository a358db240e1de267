/* The krun executor's parts: the libkrun API table, the annotations, the
 * guest init's config file, passt. Internal to executors/krun*.c and the
 * unit tests. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../error.h"

struct spec;

enum krun_variant { KRUN_VARIANT_DEFAULT, KRUN_VARIANT_SEV, KRUN_VARIANT_TDX, KRUN_VARIANT_NITRO };

struct krun_variant_info {
    const char *name;       /* the krun.variant value; "" for the default */
    const char *soname;
    const char *devices[3]; /* the host device nodes the VMM opens, NULL-terminated */
    const char *device_why;
};
const struct krun_variant_info *krun_variant_info(enum krun_variant v);

/* Guest init limits (libkrun's C init, up to 1.19): a config file with more
 * JSON tokens is ignored as a whole; older inits read at most 32 args. */
#define KRUN_CONFIG_MAX_TOKENS 16384
#define KRUN_CONFIG_MAX_ARGS 32
/* libkrunfw's guest kernel has historically supported at most 16 vCPUs. */
#define KRUN_DEFAULT_MAX_VCPUS 16
#define KRUN_DEFAULT_RAM_MIB 1024
/* OCI memory limits at or below this are not used as the VM size. */
#define KRUN_MIN_LIMIT_RAM_MIB 128
#define KRUN_TDX_MAX_RAM_MIB 3072
#define KRUN_CONFIG_FILE ".krun_config.json"

/* Annotations read by the krun executor. */
#define KRUN_ANN_VARIANT "krun.variant"
#define KRUN_ANN_CPUS "krun.cpus"
#define KRUN_ANN_RAM "krun.ram_mib"
#define KRUN_ANN_LOG_LEVEL "krun.log_level"
#define KRUN_ANN_NESTED "krun.nested_virt"
#define KRUN_ANN_GPU "krun.gpu_flags"
#define KRUN_ANN_PORT_MAP "krun.port_map"
#define KRUN_ANN_PASST "krun.use_passt"
#define KRUN_ANN_TEE_CONFIG "krun.tee_config"
#define KRUN_ANN_ROOT_DISK "krun.root_disk"

/* Every annotation value, checked. */
struct krun_opts {
    enum krun_variant variant;
    unsigned cpus;              /* 0: from the affinity mask */
    uint32_t ram_mib;           /* 0: from the memory limit, else 1024 */
    int log_level;              /* -1: errors only, debug with --debug */
    bool nested_virt;
    bool has_gpu_flags;
    uint32_t gpu_flags;
    bool has_port_map;
    char **port_map;            /* NULL-terminated; may be empty */
    bool use_passt;
    char *tee_config;           /* sev/tdx: path in the rootfs */
    char *root_disk;            /* sev/tdx: path in the rootfs */
};

int krun_opts_parse(const struct spec *spec, struct krun_opts *o, struct error **err);
void krun_opts_free(struct krun_opts *o);

/* The number of tokens the guest init's JSON tokenizer makes of j (every
 * object, array, key and scalar is one). */
size_t krun_json_tokens(json_t *j);
/* The document for rootfs/.krun_config.json: the config with `process`
 * first; an error when the guest init would ignore or cut it. */
int krun_config_document(json_t *config, json_t **out, struct error **err);
/* Write it relative to rootfd: O_NOFOLLOW | O_EXCL, mode 0444; a regular
 * file already there is replaced, anything else is an error. */
int krun_config_write(int rootfd, json_t *doc, struct error **err);
int krun_config_remove(int rootfd, struct error **err);

/* Add the device node at path (its major/minor from the host) to
 * linux.devices (json and parsed) unless present, with an allow rule in a
 * non-empty linux.resources.devices. */
int krun_add_device(struct spec *spec, const char *path, dev_t rdev, struct error **err);

/* The VM size when no annotation says. */
unsigned krun_default_vcpus(long max_vcpus);
uint32_t krun_default_ram_mib(json_t *resources);

/* libkrun's functions, resolved with dlsym; NULL when the library lacks one. */
struct krun_api {
    int32_t (*set_log_level)(uint32_t level);
    int32_t (*create_ctx)(void);
    int32_t (*free_ctx)(uint32_t ctx);
    int32_t (*set_vm_config)(uint32_t ctx, uint8_t vcpus, uint32_t ram_mib);
    int32_t (*get_max_vcpus)(void);
    int32_t (*set_root)(uint32_t ctx, const char *path);
    int32_t (*set_rlimits)(uint32_t ctx, const char *const rlimits[]);
    int32_t (*set_exec)(uint32_t ctx, const char *path, const char *const argv[], const char *const envp[]);
    int32_t (*set_console_output)(uint32_t ctx, const char *path);
    int32_t (*set_nested_virt)(uint32_t ctx, bool enabled);
    int32_t (*check_nested_virt)(void);
    int32_t (*set_gpu_options)(uint32_t ctx, uint32_t virgl_flags);
    int32_t (*set_port_map)(uint32_t ctx, const char *const port_map[]);
    int32_t (*add_net_unixstream)(uint32_t ctx, const char *path, int fd, uint8_t *const mac, uint32_t features,
                                  uint32_t flags);
    int32_t (*set_passt_fd)(uint32_t ctx, int fd);
    int32_t (*set_root_disk)(uint32_t ctx, const char *path);
    int32_t (*set_tee_config_file)(uint32_t ctx, const char *path);
    int32_t (*start_enter)(uint32_t ctx);
};

/* Load the library (library: the operator's override, else the variant's
 * soname) and resolve the symbols. */
int krun_api_load(const char *library, enum krun_variant v, void **handle, struct krun_api *api,
                  const char **loaded, struct error **err);
/* A sentence for a negative errno returned by libkrun. */
const char *krun_strerror(int32_t r);

/* passt: started by a helper on the host side, in the container's network
 * namespace once the init says so. */
struct krun_passt {
    int vm_fd;      /* the VMM's end of the stream socket */
    int ctl_fd;     /* init -> helper: "I am in the namespace now" */
};
int krun_passt_prepare(struct krun_passt *p, struct error **err);
/* In the init: have the helper start passt in our network namespace. */
int krun_passt_start(struct krun_passt *p, struct error **err);
void krun_passt_close(struct krun_passt *p);
