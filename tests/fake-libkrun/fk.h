/* Internal header of the libkrun test double ("fk" = fake krun). */
#ifndef FAKE_KRUN_FK_H
#define FAKE_KRUN_FK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "krun_api.h"

/* ---- Build variants -------------------------------------------------------------------
 * FK_VARIANT is set by meson; each value is one library file:
 *   default  libkrun.so.1          NET=1 BLK=1 GPU=1, init blob, no TEE
 *   minimal  libkrun.so.1          only the core symbols (an old/feature-less build)
 *   sev      libkrun-sev.so.1      TEE (AMD SEV), BLK, no virtio-fs root, no NET
 *   tdx      libkrun-tdx.so.1      TEE (Intel TDX), like sev; 1 vCPU, <= 3072 MiB
 *   awsnitro libkrun-awsnitro.so.1 Nitro Enclaves, NET, no BLK, no virtio-fs root
 */
#define FK_V_DEFAULT 1
#define FK_V_MINIMAL 2
#define FK_V_SEV 3
#define FK_V_TDX 4
#define FK_V_NITRO 5

#ifndef FK_VARIANT
#error "FK_VARIANT must be defined by the build"
#endif

#if FK_VARIANT == FK_V_DEFAULT
#define FK_VARIANT_NAME "default"
#define FK_NET 1
#define FK_BLK 1
#define FK_GPU 1
#define FK_TEE 0
#define FK_NITRO 0
#define FK_MINIMAL 0
#define FK_INIT_BLOB 1
#define FK_KRUNFW_NAME "libkrunfw.so.5"
#elif FK_VARIANT == FK_V_MINIMAL
#define FK_VARIANT_NAME "minimal"
#define FK_NET 0
#define FK_BLK 0
#define FK_GPU 0
#define FK_TEE 0
#define FK_NITRO 0
#define FK_MINIMAL 1
#define FK_INIT_BLOB 1
#define FK_KRUNFW_NAME "libkrunfw.so.5"
#elif FK_VARIANT == FK_V_SEV
#define FK_VARIANT_NAME "sev"
#define FK_NET 0
#define FK_BLK 1
#define FK_GPU 0
#define FK_TEE 1
#define FK_NITRO 0
#define FK_MINIMAL 0
#define FK_INIT_BLOB 0
#define FK_KRUNFW_NAME "libkrunfw-sev.so.5"
#elif FK_VARIANT == FK_V_TDX
#define FK_VARIANT_NAME "tdx"
#define FK_NET 0
#define FK_BLK 1
#define FK_GPU 0
#define FK_TEE 1
#define FK_NITRO 0
#define FK_MINIMAL 0
#define FK_INIT_BLOB 0
#define FK_KRUNFW_NAME "libkrunfw-tdx.so.5"
#elif FK_VARIANT == FK_V_NITRO
#define FK_VARIANT_NAME "awsnitro"
#define FK_NET 1
#define FK_BLK 0
#define FK_GPU 0
#define FK_TEE 0
#define FK_NITRO 1
#define FK_MINIMAL 0
#define FK_INIT_BLOB 0
#define FK_KRUNFW_NAME "libkrunfw.so.5"
#else
#error "unknown FK_VARIANT"
#endif

/* ---- Which functions a variant exports ------------------------------------------------
 * The library is built with -fvisibility=hidden; every API function carries one of these
 * markers. A hidden function is still compiled, it just cannot be found with dlsym(). */
#define FK_VISIBLE __attribute__((visibility("default")))
#define FK_HIDDEN __attribute__((visibility("hidden")))

/* In every build, even the minimal one. */
#define API_CORE FK_VISIBLE

/* Optional: every build except minimal. */
#if FK_MINIMAL
#define API_OPT FK_HIDDEN
#else
#define API_OPT FK_VISIBLE
#endif

/* NET=1 builds only. */
#if FK_NET
#define API_NET FK_VISIBLE
#else
#define API_NET FK_HIDDEN
#endif

/* BLK=1 builds only. */
#if FK_BLK
#define API_BLK FK_VISIBLE
#else
#define API_BLK FK_HIDDEN
#endif

/* krun_set_root: not in TEE or Nitro builds (but in minimal). */
#if FK_TEE || FK_NITRO
#define API_ROOT FK_HIDDEN
#else
#define API_ROOT FK_VISIBLE
#endif

/* virtio-fs extras (add_virtiofs*, overlays, implicit init): not TEE, not Nitro, not minimal. */
#if FK_TEE || FK_NITRO || FK_MINIMAL
#define API_VFS FK_HIDDEN
#else
#define API_VFS FK_VISIBLE
#endif

/* krun_set_mapped_volumes: everything but TEE. */
#if FK_TEE
#define API_NOTEE FK_HIDDEN
#else
#define API_NOTEE FK_VISIBLE
#endif

/* krun_set_firmware: not TEE, not minimal. */
#if FK_TEE || FK_MINIMAL
#define API_FIRMWARE FK_HIDDEN
#else
#define API_FIRMWARE FK_VISIBLE
#endif

/* krun_set_tee_config_file: TEE builds only. */
#if FK_TEE
#define API_TEE FK_VISIBLE
#else
#define API_TEE FK_HIDDEN
#endif

/* krun_set_root_disk_remount: BLK, but not TEE / Nitro. */
#if FK_BLK && !FK_TEE && !FK_NITRO
#define API_BLKROOT FK_VISIBLE
#else
#define API_BLKROOT FK_HIDDEN
#endif

/* ---- Small helpers -------------------------------------------------------------------- */
static inline void fk_freep(void *p) { free(*(void **)p); }
static inline void fk_closep(const int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
static inline void fk_json_decrefp(json_t **j) { json_decref(*j); }
#define _fk_free_ __attribute__((cleanup(fk_freep)))
#define _fk_close_ __attribute__((cleanup(fk_closep)))
#define _fk_json_ __attribute__((cleanup(fk_json_decrefp)))

/* libkrun reads at most this many entries of a NULL-terminated string array. */
#define FK_MAX_ARRAY 4096

/* A growable list of owned strings. */
struct fk_strv {
    char **v;
    size_t n;
};
int fk_strv_push(struct fk_strv *sv, const char *s);
int fk_strv_pushn(struct fk_strv *sv, const char *s, size_t len);
void fk_strv_clear(struct fk_strv *sv);
json_t *fk_strv_json(const struct fk_strv *sv);

/* An environment (KEY=VALUE list) with setenv()-like operations. */
const char *fk_env_get(const struct fk_strv *env, const char *key);
int fk_env_set(struct fk_strv *env, const char *key, const char *value, bool overwrite);

bool fk_utf8_valid(const char *s);
/* Allocation failure inside the double is not something the tests exercise. */
void *fk_xmalloc(size_t n);
char *fk_xstrdup(const char *s);
char *fk_xstrndup(const char *s, size_t n);
char *fk_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fk_crash(const char *fn, const char *what);

/* ---- Knobs --------------------------------------------------------------------------- */
/* Value of a FAKE_KRUN_* knob: the current environment if set there, else the value the
 * process environment had when the library was loaded (krunc may replace environ with
 * process.env before it calls krun_start_enter). */
const char *fk_knob(const char *name);

/* True if the process now has a UTS namespace other than the one it loaded the library
 * in: only then does the emulated guest init call sethostname(). */
bool fk_uts_is_private(void);

/* ---- Call log ------------------------------------------------------------------------ */
/* Appends one line for a call; `args` and `extra` are stolen (may be NULL). `ret` is
 * the return value, or has_ret=false for calls that do not return. */
void fk_log_call(const char *name, json_t *args, bool has_ret, int64_t ret, json_t *extra);
json_t *fk_jstr(const char *s);
json_t *fk_jstrv(const char *const *arr);
json_t *fk_jmac(const uint8_t *mac);

/* The emulated Rust logger (env_logger) that krun_set_log_level/krun_init_log install. */
bool fk_logger_installed(void);
/* Installs the logger; a second install aborts the process like the Rust panic does. */
void fk_logger_install(const char *fn, int target_fd, uint32_t level, bool use_env);
_Noreturn void fk_logger_panic(const char *fn);
void fk_logger_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Contexts ------------------------------------------------------------------------ */
struct fk_vfile {
    char *path; /* relative to the share, no leading '/' */
    bool is_dir;
    uint8_t *data;
    size_t len;
    uint32_t mode;
};

struct fk_fs {
    char *tag;
    char *path; /* NULL: virtual-only filesystem */
    uint64_t shm_size;
    bool read_only;
    struct fk_vfile *vfiles;
    size_t nvfiles;
};

struct fk_disk {
    char *block_id;
    char *path;
    uint32_t format;
    bool read_only;
    bool direct_io;
    uint32_t sync_mode;
};

enum fk_vsock { FK_VSOCK_IMPLICIT, FK_VSOCK_DISABLED, FK_VSOCK_EXPLICIT };

struct fk_ctx {
    uint32_t id;
    bool krunfw; /* libkrunfw was found when the context was created */

    bool vm_config_set;
    uint8_t vcpus;
    uint32_t ram_mib;

    struct fk_fs *fs;
    size_t nfs;
    bool disable_implicit_init;

    struct fk_disk *disks; /* krun_add_disk* */
    size_t ndisks;
    char *root_disk; /* deprecated krun_set_root_disk */
    char *data_disk; /* deprecated krun_set_data_disk */
    char *block_root_device, *block_root_fstype, *block_root_options;

    /* What libkrun turns into kernel command-line parameters. */
    char *exec_path; /* KRUN_INIT */
    char *workdir;   /* KRUN_WORKDIR */
    char *rlimits;   /* KRUN_RLIMITS, already quoted */
    char *env;       /* the env part of the command line, NULL if never set */
    char *args;      /* the part after "--", NULL if never set */

    char *kernel_path;
    uint32_t kernel_format;
    char *kernel_cmdline;
    char *firmware;
    char *tee_config_file;
    char *console_output;
    char *kernel_console;

    unsigned net_index; /* NICs added with krun_add_net_* */
    char *legacy_net;   /* "passt:<fd>" or "gvproxy:<path>" */
    uint8_t legacy_mac[6];
    bool legacy_mac_set;
    bool port_map_set;
    json_t *port_map; /* null = expose everything */
    json_t *nics;
    json_t *vsock_ports;
    enum fk_vsock vsock;
    uint32_t tsi_features;

    bool gpu_set;
    uint32_t virgl_flags;
    uint64_t gpu_shm_size;
    size_t ndisplays;
    bool display_edid[KRUN_MAX_DISPLAYS];
    bool display_backend;

    bool nested_virt;
    bool split_irqchip;
    bool has_uid, has_gid;
    uid_t uid;
    gid_t gid;

    bool disable_implicit_console;
    json_t *consoles; /* array: "default", "multiport" entries */
    json_t *smbios;
};

/* Look up a context; the table lock must be held. */
struct fk_ctx *fk_ctx_get(uint32_t id);
/* Remove a context from the table and hand it to the caller; lock must be held. */
struct fk_ctx *fk_ctx_take(uint32_t id);
void fk_ctx_free(struct fk_ctx *c);
void fk_lock(void);
void fk_unlock(void);

/* krun_start_enter's body (vm.c). Returns only on error (negative errno) or, for the
 * Nitro variant, with the workload's exit code. */
int32_t fk_start_enter(uint32_t ctx_id);

/* ---- JSON tokenizer with jsmn's token model (jsontok.c) ------------------------------- */
enum fk_jtype { FK_J_OBJECT = 1, FK_J_ARRAY = 2, FK_J_STRING = 3, FK_J_PRIMITIVE = 4 };
struct fk_jtok {
    enum fk_jtype type;
    size_t start, end; /* strings: without the quotes */
    int size;          /* objects: keys; arrays: elements; keys: 1; others: 0 */
};
/* Tokenizes `js`. Returns the number of tokens, -ENOMEM if more than `max` tokens are
 * needed (max == 0: no limit), -EINVAL if the text is not JSON. *out gets a malloc'ed
 * array. */
long fk_json_tokenize(const char *js, size_t len, size_t max, struct fk_jtok **out);
/* The text of a token, unescaped the way libkrun's C init does it. */
char *fk_json_token_text(const char *js, const struct fk_jtok *t);

#endif
