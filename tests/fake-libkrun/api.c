/* The 67 functions of the libkrun C API: argument checks, context state, call log.
 *
 * Checks and error codes follow libkrun's behaviour as described in
 * /work/shared/LIBKRUN-API.md: unknown context -> -ENOENT, bad argument or a string
 * that is not UTF-8 -> -EINVAL, and the per-function rules noted below. Where the real
 * library would dereference a NULL pointer and crash, the double aborts with a message
 * (fk_crash) so that a caller bug shows up as a crash in tests too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "fk.h"

extern char **environ;

#define J(x) ((json_int_t)(x))
#define LOG(ret, ...) fk_log_call(__func__, json_pack(__VA_ARGS__), true, (ret), NULL)
#define NEED(ptr, what)                                                                                              \
    do {                                                                                                             \
        if (!(ptr))                                                                                                  \
            fk_crash(__func__, what " is NULL");                                                                     \
    } while (0)

/* ---- the context table ------------------------------------------------------------------ */

static pthread_mutex_t ctx_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct fk_ctx **ctx_table;
static size_t ctx_count;
static int32_t next_ctx_id;
static int krunfw_found = -1; /* decided once per process, on the first krun_create_ctx */

void fk_lock(void) { pthread_mutex_lock(&ctx_mutex); }
void fk_unlock(void) { pthread_mutex_unlock(&ctx_mutex); }

struct fk_ctx *fk_ctx_get(uint32_t id)
{
    for (size_t i = 0; i < ctx_count; i++)
        if (ctx_table[i]->id == id)
            return ctx_table[i];
    return NULL;
}

struct fk_ctx *fk_ctx_take(uint32_t id)
{
    for (size_t i = 0; i < ctx_count; i++) {
        if (ctx_table[i]->id == id) {
            struct fk_ctx *c = ctx_table[i];
            ctx_table[i] = ctx_table[--ctx_count];
            return c;
        }
    }
    return NULL;
}

static void fs_free(struct fk_fs *fs)
{
    free(fs->tag);
    free(fs->path);
    for (size_t i = 0; i < fs->nvfiles; i++) {
        free(fs->vfiles[i].path);
        free(fs->vfiles[i].data);
    }
    free(fs->vfiles);
}

void fk_ctx_free(struct fk_ctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nfs; i++)
        fs_free(&c->fs[i]);
    free(c->fs);
    for (size_t i = 0; i < c->ndisks; i++) {
        free(c->disks[i].block_id);
        free(c->disks[i].path);
    }
    free(c->disks);
    char **strs[] = {&c->root_disk,       &c->data_disk,    &c->block_root_device, &c->block_root_fstype,
                     &c->block_root_options, &c->exec_path, &c->workdir,           &c->rlimits,
                     &c->env,             &c->args,         &c->kernel_path,       &c->kernel_cmdline,
                     &c->firmware,        &c->tee_config_file, &c->console_output, &c->kernel_console,
                     &c->legacy_net};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    json_decref(c->port_map);
    json_decref(c->nics);
    json_decref(c->vsock_ports);
    json_decref(c->consoles);
    json_decref(c->smbios);
    free(c);
}

/* Replace an owned string. */
static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? fk_xstrdup(v) : NULL;
}

/* A NULL string is UB in libkrun (CStr::from_ptr); a non-UTF-8 one is -EINVAL. */
#define STR_OR_EINVAL(s, what)                                                                                      \
    do {                                                                                                             \
        NEED(s, what);                                                                                               \
        if (!fk_utf8_valid(s)) {                                                                                     \
            ret = -EINVAL;                                                                                           \
            goto out;                                                                                                \
        }                                                                                                            \
    } while (0)

#define GET_CTX(c, id)                                                                                               \
    struct fk_ctx *c;                                                                                                \
    fk_lock();                                                                                                       \
    c = fk_ctx_get(id);                                                                                              \
    if (!c) {                                                                                                        \
        ret = -ENOENT;                                                                                               \
        goto out_unlock;                                                                                             \
    }

/* `"a" "b"`: how libkrun collapses argv/envp arrays into the kernel command line. */
static int collapse(const char *const *arr, char **out)
{
    size_t cap = 1, n;
    for (n = 0; n < FK_MAX_ARRAY && arr[n]; n++) {
        if (!fk_utf8_valid(arr[n]))
            return -EINVAL;
        cap += strlen(arr[n]) + 3;
    }
    char *s = fk_xmalloc(cap);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "%s\"%s\"", i ? " " : "", arr[i]);
    s[o] = '\0';
    *out = s;
    return 0;
}

/* envp == NULL: libkrun copies the caller's whole environment as ` KEY="VALUE"`. */
static char *env_from_environ(void)
{
    size_t cap = 1;
    for (char **e = environ; e && *e; e++)
        cap += strlen(*e) + 4;
    char *s = fk_xmalloc(cap);
    size_t o = 0;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e)
            continue;
        o += (size_t)sprintf(s + o, " %.*s=\"%s\"", (int)(eq - *e), *e, eq + 1);
    }
    s[o] = '\0';
    return s;
}

/* ---- core lifecycle --------------------------------------------------------------------- */

API_CORE int32_t krun_set_log_level(uint32_t level)
{
    if (fk_logger_installed()) {
        fk_log_call(__func__, json_pack("{s:I}", "level", J(level)), false, 0, NULL);
        fk_logger_panic(__func__);
    }
    fk_logger_install(__func__, -1, level, true);
    LOG(0, "{s:I}", "level", J(level));
    return 0;
}

API_OPT int32_t krun_init_log(int target_fd, uint32_t level, uint32_t style, uint32_t options)
{
    int32_t ret = 0;
    if (target_fd < -1 || target_fd == 0 || style > KRUN_LOG_STYLE_NEVER ||
        (options != 0 && options != KRUN_LOG_OPTION_NO_ENV)) {
        ret = -EINVAL;
    } else if (fk_logger_installed()) {
        fk_log_call(__func__,
                    json_pack("{s:i,s:I,s:I,s:I}", "target_fd", target_fd, "level", J(level), "style", J(style),
                              "options", J(options)),
                    false, 0, NULL);
        fk_logger_panic(__func__);
    } else {
        fk_logger_install(__func__, target_fd, level, options == 0);
    }
    LOG(ret, "{s:i,s:I,s:I,s:I}", "target_fd", target_fd, "level", J(level), "style", J(style), "options",
        J(options));
    return ret;
}

API_CORE int32_t krun_create_ctx(void)
{
    struct fk_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    fk_lock();
    if (krunfw_found < 0) {
        /* libkrun dlopens libkrunfw here, once per process. */
        const char *no = fk_knob("FAKE_KRUN_NO_KRUNFW");
        krunfw_found = !(no && strcmp(no, "1") == 0);
    }
    c->krunfw = krunfw_found;
    c->id = (uint32_t)next_ctx_id++;
    c->vcpus = 1;
    c->ram_mib = 128;
    c->nics = json_array();
    c->vsock_ports = json_array();
    c->consoles = json_array();
    struct fk_ctx **nt = realloc(ctx_table, (ctx_count + 1) * sizeof(*nt));
    if (!nt)
        abort();
    ctx_table = nt;
    ctx_table[ctx_count++] = c;
    int32_t id = (int32_t)c->id;
    fk_unlock();
    fk_log_call(__func__, json_object(), true, id, NULL);
    return id;
}

API_CORE int32_t krun_free_ctx(uint32_t ctx_id)
{
    fk_lock();
    struct fk_ctx *c = fk_ctx_take(ctx_id);
    fk_unlock();
    int32_t ret = c ? 0 : -ENOENT;
    fk_ctx_free(c);
    LOG(ret, "{s:I}", "ctx_id", J(ctx_id));
    return ret;
}

API_CORE int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    if (num_vcpus == 0 || ram_mib == 0) {
        ret = -EINVAL;
    } else if (FK_VARIANT == FK_V_TDX && (num_vcpus > 1 || ram_mib > 3072)) {
        /* libkrun-tdx: one vCPU and at most 3072 MiB. */
        ret = -EINVAL;
    } else {
        c->vm_config_set = true;
        c->vcpus = num_vcpus;
        c->ram_mib = ram_mib;
    }
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:I,s:I}", "ctx_id", J(ctx_id), "num_vcpus", J(num_vcpus), "ram_mib", J(ram_mib));
    return ret;
}

API_OPT int32_t krun_get_max_vcpus(void)
{
    int32_t ret;
    const char *knob = fk_knob("FAKE_KRUN_MAX_VCPUS");
    if (knob && *knob) {
        ret = (int32_t)strtol(knob, NULL, 10);
    } else {
        /* KVM_CAP_MAX_VCPUS from /dev/kvm, as libkrun asks it. */
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            fk_logger_error("Error retrieving max vcpu count: %s", strerror(errno));
            ret = -EINVAL;
        } else {
            int v = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
            if (v <= 0)
                v = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
            ret = v > 0 ? v : 4;
            close(fd);
        }
    }
    fk_log_call(__func__, json_object(), true, ret, NULL);
    return ret;
}

API_OPT int32_t krun_has_feature(uint64_t feature)
{
    int32_t ret;
    switch (feature) {
    case KRUN_FEATURE_NET: ret = FK_NET; break;
    case KRUN_FEATURE_BLK: ret = FK_BLK; break;
    case KRUN_FEATURE_GPU: ret = FK_GPU; break;
    case KRUN_FEATURE_INPUT: ret = 0; break;
    case KRUN_FEATURE_TEE: ret = FK_TEE; break;
    case KRUN_FEATURE_AMD_SEV: ret = FK_VARIANT == FK_V_SEV; break;
    case KRUN_FEATURE_INTEL_TDX: ret = FK_VARIANT == FK_V_TDX; break;
    case KRUN_FEATURE_AWS_NITRO: ret = FK_NITRO; break;
    case KRUN_FEATURE_VIRGL_RESOURCE_MAP2: ret = 0; break;
    case KRUN_FEATURE_INIT_BLOB: ret = FK_INIT_BLOB; break;
    default: ret = -EINVAL; break;
    }
    LOG(ret, "{s:I}", "feature", J(feature));
    return ret;
}

API_CORE int32_t krun_start_enter(uint32_t ctx_id)
{
    /* Logs itself: on success it never comes back. */
    return fk_start_enter(ctx_id);
}

/* ---- root filesystem and shared directories --------------------------------------------- */

static struct fk_fs *add_fs(struct fk_ctx *c, const char *tag, const char *path, uint64_t shm, bool ro)
{
    struct fk_fs *nf = realloc(c->fs, (c->nfs + 1) * sizeof(*nf));
    if (!nf)
        abort();
    c->fs = nf;
    struct fk_fs *fs = &c->fs[c->nfs++];
    *fs = (struct fk_fs){.tag = fk_xstrdup(tag), .path = path ? fk_xstrdup(path) : NULL, .shm_size = shm,
                         .read_only = ro};
    /* The built-in init appears as /init.krun in the root share. */
    if (FK_INIT_BLOB && strcmp(tag, KRUN_FS_ROOT_TAG) == 0 && !c->disable_implicit_init) {
        fs->vfiles = fk_xmalloc(sizeof(*fs->vfiles));
        fs->vfiles[0] = (struct fk_vfile){.path = fk_xstrdup("init.krun"), .mode = 0755};
        fs->nvfiles = 1;
    }
    return fs;
}

API_ROOT int32_t krun_set_root(uint32_t ctx_id, const char *root_path)
{
    int32_t ret = 0;
    STR_OR_EINVAL(root_path, "root_path");
    {
        GET_CTX(c, ctx_id);
        add_fs(c, KRUN_FS_ROOT_TAG, root_path, 1ull << 29, false);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "root_path", fk_jstr(root_path));
    return ret;
}

static int32_t add_virtiofs(const char *fn, uint32_t ctx_id, const char *tag, const char *path, uint64_t shm,
                            bool ro, json_t *args)
{
    int32_t ret = 0;
    if (!tag || !fk_utf8_valid(tag) || (path && !fk_utf8_valid(path))) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        add_fs(c, tag, path, shm, ro);
    out_unlock:
        fk_unlock();
    }
out:
    fk_log_call(fn, args, true, ret, NULL);
    return ret;
}

API_VFS int32_t krun_add_virtiofs(uint32_t ctx_id, const char *c_tag, const char *c_path)
{
    NEED(c_path, "c_path");
    return add_virtiofs(__func__, ctx_id, c_tag, c_path, 0, false,
                        json_pack("{s:I,s:o,s:o}", "ctx_id", J(ctx_id), "tag", fk_jstr(c_tag), "path", fk_jstr(c_path)));
}

API_VFS int32_t krun_add_virtiofs2(uint32_t ctx_id, const char *c_tag, const char *c_path, uint64_t shm_size)
{
    NEED(c_path, "c_path");
    return add_virtiofs(__func__, ctx_id, c_tag, c_path, shm_size, false,
                        json_pack("{s:I,s:o,s:o,s:I}", "ctx_id", J(ctx_id), "tag", fk_jstr(c_tag), "path",
                                  fk_jstr(c_path), "shm_size", J(shm_size)));
}

API_VFS int32_t krun_add_virtiofs3(uint32_t ctx_id, const char *c_tag, const char *c_path, uint64_t shm_size,
                                   bool read_only)
{
    /* A NULL path is allowed here: a virtual-only filesystem. */
    return add_virtiofs(__func__, ctx_id, c_tag, c_path, shm_size, read_only,
                        json_pack("{s:I,s:o,s:o,s:I,s:b}", "ctx_id", J(ctx_id), "tag", fk_jstr(c_tag), "path",
                                  fk_jstr(c_path), "shm_size", J(shm_size), "read_only", read_only));
}

API_NOTEE int32_t krun_set_mapped_volumes(uint32_t ctx_id, const char *const mapped_volumes[])
{
    /* No longer supported: always -EINVAL, without even looking at the context. */
    LOG(-EINVAL, "{s:I,s:o}", "ctx_id", J(ctx_id), "mapped_volumes", fk_jstrv(mapped_volumes));
    return -EINVAL;
}

/* Resolve "a/b/c" in a share's virtual entries: the parents must exist and be dirs. */
static int32_t overlay_add(uint32_t ctx_id, const char *fs_tag, const char *path, bool is_dir, const uint8_t *data,
                           size_t len, uint32_t mode)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    struct fk_fs *fs = NULL;
    for (size_t i = 0; i < c->nfs; i++)
        if (strcmp(c->fs[i].tag, fs_tag) == 0)
            fs = &c->fs[i];
    if (!fs) {
        ret = -ENOENT;
        goto out_unlock;
    }
    while (*path == '/')
        path++;
    const char *leaf = strrchr(path, '/');
    leaf = leaf ? leaf + 1 : path;
    if (*leaf == '\0') {
        ret = -EINVAL;
        goto out_unlock;
    }
    for (const char *p = path; p < leaf - 1 || (p == path && leaf != path); ) {
        const char *slash = strchr(p, '/');
        if (!slash || slash >= leaf)
            break;
        _fk_free_ char *prefix = fk_xstrndup(path, (size_t)(slash - path));
        struct fk_vfile *found = NULL;
        for (size_t i = 0; i < fs->nvfiles; i++)
            if (strcmp(fs->vfiles[i].path, prefix) == 0)
                found = &fs->vfiles[i];
        if (!found) {
            ret = -ENOENT;
            goto out_unlock;
        }
        if (!found->is_dir) {
            ret = -ENOTDIR;
            goto out_unlock;
        }
        p = slash + 1;
    }
    struct fk_vfile *nv = realloc(fs->vfiles, (fs->nvfiles + 1) * sizeof(*nv));
    if (!nv)
        abort();
    fs->vfiles = nv;
    uint8_t *copy = NULL;
    if (len) {
        copy = fk_xmalloc(len);
        memcpy(copy, data, len);
    }
    fs->vfiles[fs->nvfiles++] =
        (struct fk_vfile){.path = fk_xstrdup(path), .is_dir = is_dir, .data = copy, .len = len, .mode = mode};
out_unlock:
    fk_unlock();
    return ret;
}

API_VFS int32_t krun_fs_add_overlay_file(uint32_t ctx_id, const char *fs_tag, const char *path, const uint8_t *data,
                                         size_t data_len, uint32_t mode, bool one_shot)
{
    int32_t ret;
    if (!fs_tag || !path || !fk_utf8_valid(fs_tag) || !fk_utf8_valid(path) || (data_len && !data))
        ret = -EINVAL;
    else
        ret = overlay_add(ctx_id, fs_tag, path, false, data, data_len, mode);
    LOG(ret, "{s:I,s:o,s:o,s:I,s:I,s:b}", "ctx_id", J(ctx_id), "fs_tag", fk_jstr(fs_tag), "path", fk_jstr(path),
        "data_len", J(data_len), "mode", J(mode), "one_shot", one_shot);
    return ret;
}

API_VFS int32_t krun_fs_add_overlay_dir(uint32_t ctx_id, const char *fs_tag, const char *path, uint32_t mode)
{
    int32_t ret;
    if (!fs_tag || !path || !fk_utf8_valid(fs_tag) || !fk_utf8_valid(path))
        ret = -EINVAL;
    else
        ret = overlay_add(ctx_id, fs_tag, path, true, NULL, 0, mode);
    LOG(ret, "{s:I,s:o,s:o,s:I}", "ctx_id", J(ctx_id), "fs_tag", fk_jstr(fs_tag), "path", fk_jstr(path), "mode",
        J(mode));
    return ret;
}

API_VFS int32_t krun_disable_implicit_init(uint32_t ctx_id)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->disable_implicit_init = true;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I}", "ctx_id", J(ctx_id));
    return ret;
}

static const uint8_t fake_init_blob[] = "#!/fake-libkrun/init.krun\n";

API_VFS int32_t krun_get_default_init(const uint8_t **data_out, size_t *len_out)
{
    int32_t ret = 0;
    if (!data_out || !len_out) {
        ret = -EINVAL;
    } else if (!FK_INIT_BLOB) {
        ret = -ENOTSUP;
    } else {
        *data_out = fake_init_blob;
        *len_out = sizeof(fake_init_blob) - 1;
    }
    fk_log_call(__func__, json_object(), true, ret, NULL);
    return ret;
}

/* ---- block devices ---------------------------------------------------------------------- */

static int32_t add_disk(const char *fn, uint32_t ctx_id, const char *block_id, const char *disk_path,
                        uint32_t format, bool ro, bool direct, uint32_t sync, json_t *args)
{
    int32_t ret = 0;
    NEED(disk_path, "disk_path");
    NEED(block_id, "block_id");
    if (!fk_utf8_valid(disk_path) || !fk_utf8_valid(block_id) || format > KRUN_DISK_FORMAT_VMDK ||
        sync > KRUN_SYNC_FULL) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        struct fk_disk *nd = realloc(c->disks, (c->ndisks + 1) * sizeof(*nd));
        if (!nd)
            abort();
        c->disks = nd;
        c->disks[c->ndisks++] = (struct fk_disk){.block_id = fk_xstrdup(block_id), .path = fk_xstrdup(disk_path),
                                                 .format = format, .read_only = ro, .direct_io = direct,
                                                 .sync_mode = sync};
    out_unlock:
        fk_unlock();
    }
out:
    fk_log_call(fn, args, true, ret, NULL);
    return ret;
}

API_BLK int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path, bool read_only)
{
    return add_disk(__func__, ctx_id, block_id, disk_path, KRUN_DISK_FORMAT_RAW, read_only, false, KRUN_SYNC_FULL,
                    json_pack("{s:I,s:o,s:o,s:b}", "ctx_id", J(ctx_id), "block_id", fk_jstr(block_id), "disk_path",
                              fk_jstr(disk_path), "read_only", read_only));
}

API_BLK int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path, uint32_t disk_format,
                               bool read_only)
{
    return add_disk(__func__, ctx_id, block_id, disk_path, disk_format, read_only, false, KRUN_SYNC_FULL,
                    json_pack("{s:I,s:o,s:o,s:I,s:b}", "ctx_id", J(ctx_id), "block_id", fk_jstr(block_id),
                              "disk_path", fk_jstr(disk_path), "disk_format", J(disk_format), "read_only",
                              read_only));
}

API_BLK int32_t krun_add_disk3(uint32_t ctx_id, const char *block_id, const char *disk_path, uint32_t disk_format,
                               bool read_only, bool direct_io, uint32_t sync_mode)
{
    return add_disk(__func__, ctx_id, block_id, disk_path, disk_format, read_only, direct_io, sync_mode,
                    json_pack("{s:I,s:o,s:o,s:I,s:b,s:b,s:I}", "ctx_id", J(ctx_id), "block_id", fk_jstr(block_id),
                              "disk_path", fk_jstr(disk_path), "disk_format", J(disk_format), "read_only",
                              read_only, "direct_io", direct_io, "sync_mode", J(sync_mode)));
}

static int32_t set_legacy_disk(const char *fn, uint32_t ctx_id, const char *disk_path, bool root)
{
    int32_t ret = 0;
    STR_OR_EINVAL(disk_path, "disk_path");
    {
        GET_CTX(c, ctx_id);
        set_str(root ? &c->root_disk : &c->data_disk, disk_path);
    out_unlock:
        fk_unlock();
    }
out:
    fk_log_call(fn, json_pack("{s:I,s:o}", "ctx_id", J(ctx_id), "disk_path", fk_jstr(disk_path)), true, ret, NULL);
    return ret;
}

API_BLK int32_t krun_set_root_disk(uint32_t ctx_id, const char *disk_path)
{
    return set_legacy_disk(__func__, ctx_id, disk_path, true);
}

API_BLK int32_t krun_set_data_disk(uint32_t ctx_id, const char *disk_path)
{
    return set_legacy_disk(__func__, ctx_id, disk_path, false);
}

API_BLKROOT int32_t krun_set_root_disk_remount(uint32_t ctx_id, const char *device, const char *fstype,
                                               const char *options)
{
    int32_t ret = 0;
    STR_OR_EINVAL(device, "device");
    if ((fstype && !fk_utf8_valid(fstype)) || (options && !fk_utf8_valid(options))) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        for (size_t i = 0; i < c->nfs; i++) {
            if (strcmp(c->fs[i].tag, KRUN_FS_ROOT_TAG) == 0) {
                fk_logger_error("Root filesystem already configured");
                ret = -EINVAL;
                goto out_unlock;
            }
        }
        if (c->ndisks == 0) {
            fk_logger_error("No block devices configured");
            ret = -EINVAL;
            goto out_unlock;
        }
        /* A dummy root share (no host directory) that only serves the init. */
        add_fs(c, KRUN_FS_ROOT_TAG, NULL, 1ull << 29, false);
        set_str(&c->block_root_device, device);
        set_str(&c->block_root_fstype, fstype && strcmp(fstype, "auto") != 0 ? fstype : NULL);
        set_str(&c->block_root_options, options);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o,s:o,s:o}", "ctx_id", J(ctx_id), "device", fk_jstr(device), "fstype", fk_jstr(fstype),
        "options", fk_jstr(options));
    return ret;
}

/* ---- workload --------------------------------------------------------------------------- */

API_CORE int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char *const argv[],
                               const char *const envp[])
{
    int32_t ret = 0;
    _fk_free_ char *args = NULL, *env = NULL;
    STR_OR_EINVAL(exec_path, "exec_path");
    if (argv) {
        if ((ret = collapse(argv, &args)) < 0)
            goto out;
    } else {
        args = fk_xstrdup("");
    }
    if (envp) {
        if ((ret = collapse(envp, &env)) < 0)
            goto out;
    } else {
        env = env_from_environ();
    }
    {
        GET_CTX(c, ctx_id);
        set_str(&c->exec_path, exec_path);
        set_str(&c->args, args);
        set_str(&c->env, env);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o,s:o,s:o}", "ctx_id", J(ctx_id), "exec_path", fk_jstr(exec_path), "argv", fk_jstrv(argv),
        "envp", fk_jstrv(envp));
    return ret;
}

API_CORE int32_t krun_set_env(uint32_t ctx_id, const char *const envp[])
{
    int32_t ret = 0;
    _fk_free_ char *env = NULL;
    if (envp) {
        if ((ret = collapse(envp, &env)) < 0)
            goto out;
    } else {
        env = env_from_environ();
    }
    {
        GET_CTX(c, ctx_id);
        set_str(&c->env, env);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "envp", fk_jstrv(envp));
    return ret;
}

API_CORE int32_t krun_set_workdir(uint32_t ctx_id, const char *workdir_path)
{
    int32_t ret = 0;
    STR_OR_EINVAL(workdir_path, "workdir_path");
    {
        GET_CTX(c, ctx_id);
        set_str(&c->workdir, workdir_path);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "workdir_path", fk_jstr(workdir_path));
    return ret;
}

API_CORE int32_t krun_set_rlimits(uint32_t ctx_id, const char *const rlimits[])
{
    int32_t ret = 0;
    _fk_free_ char *joined = NULL;
    if (!rlimits) {
        ret = -EINVAL;
        goto out;
    }
    {
        size_t cap = 3, n;
        for (n = 0; n < FK_MAX_ARRAY && rlimits[n]; n++) {
            if (!fk_utf8_valid(rlimits[n])) {
                ret = -EINVAL;
                goto out;
            }
            cap += strlen(rlimits[n]) + 1;
        }
        /* Stored as libkrun puts it on the command line: KRUN_RLIMITS="a,b,c". */
        joined = fk_xmalloc(cap);
        size_t o = 0;
        joined[o++] = '"';
        for (size_t i = 0; i < n; i++)
            o += (size_t)sprintf(joined + o, "%s%s", i ? "," : "", rlimits[i]);
        joined[o++] = '"';
        joined[o] = '\0';
    }
    {
        GET_CTX(c, ctx_id);
        set_str(&c->rlimits, joined);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "rlimits", fk_jstrv(rlimits));
    return ret;
}

/* ---- networking ------------------------------------------------------------------------- */

#define NET_FEATURE_ALL                                                                                              \
    ((1u << 0) | (1u << 1) | (1u << 7) | (1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 14))
#define NET_FEATURE_GUEST_CSUM (1u << 1)
#define NET_FEATURE_GUEST_OFFLOADS ((1u << 7) | (1u << 8) | (1u << 10))

/* Rust's u16::from_str: an optional '+', then digits only. */
static bool parse_port(const char *s, size_t n, uint16_t *out)
{
    if (n && s[0] == '+') {
        s++;
        n--;
    }
    if (n == 0)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > 65535)
            return false;
    }
    *out = (uint16_t)v;
    return true;
}

API_OPT int32_t krun_set_port_map(uint32_t ctx_id, const char *const port_map[])
{
    int32_t ret = 0;
    json_t *map = NULL;
    if (port_map) {
        map = json_array();
        uint16_t hosts[FK_MAX_ARRAY], guests[FK_MAX_ARRAY];
        size_t n = 0;
        for (size_t i = 0; i < FK_MAX_ARRAY && port_map[i]; i++) {
            const char *s = port_map[i];
            const char *colon = strchr(s, ':');
            uint16_t h, gp;
            if (!fk_utf8_valid(s) || !colon || strchr(colon + 1, ':') || !parse_port(s, (size_t)(colon - s), &h) ||
                !parse_port(colon + 1, strlen(colon + 1), &gp)) {
                ret = -EINVAL;
                goto out;
            }
            for (size_t k = 0; k < n; k++) {
                if (guests[k] == gp || hosts[k] == h) {
                    ret = -EINVAL;
                    goto out;
                }
            }
            hosts[n] = h;
            guests[n++] = gp;
            json_array_append_new(map, json_pack("{s:i,s:i}", "host", h, "guest", gp));
        }
    }
    {
        GET_CTX(c, ctx_id);
        if (c->vsock == FK_VSOCK_DISABLED) {
            ret = -ENODEV;
        } else if (c->net_index != 0) {
            /* The header documents -ENOTSUP; the code returns -EINVAL. */
            ret = -EINVAL;
        } else {
            json_decref(c->port_map);
            c->port_map = map ? json_incref(map) : json_null();
            c->port_map_set = true;
        }
    out_unlock:
        fk_unlock();
    }
out:
    json_decref(map);
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "port_map", fk_jstrv(port_map));
    return ret;
}

static int32_t add_nic(const char *fn, uint32_t ctx_id, const char *kind, const char *path, int fd,
                       const uint8_t *mac, uint32_t features, uint32_t flags, uint32_t allowed_flags, json_t *args)
{
    int32_t ret = 0;
    /* A path that is not UTF-8 counts as no path at all. */
    const char *p = path && fk_utf8_valid(path) ? path : NULL;
    if ((fd >= 0 && p) || (fd < 0 && !p)) {
        ret = -EINVAL;
        goto out;
    }
    NEED(mac, "c_mac");
    if ((flags & ~allowed_flags) || (features & ~NET_FEATURE_ALL)) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        json_array_append_new(c->nics, json_pack("{s:s,s:o,s:i,s:o,s:I,s:I}", "kind", kind, "path", fk_jstr(p), "fd",
                                                 fd, "mac", fk_jmac(mac), "features", J(features), "flags",
                                                 J(flags)));
        c->net_index++;
    out_unlock:
        fk_unlock();
    }
out:
    fk_log_call(fn, args, true, ret, NULL);
    return ret;
}

API_NET int32_t krun_add_net_unixstream(uint32_t ctx_id, const char *c_path, int fd, uint8_t *const c_mac,
                                        uint32_t features, uint32_t flags)
{
    return add_nic(__func__, ctx_id, "unixstream", c_path, fd, c_mac, features, flags, NET_FLAG_DHCP_CLIENT,
                   json_pack("{s:I,s:o,s:i,s:o,s:I,s:I}", "ctx_id", J(ctx_id), "path", fk_jstr(c_path), "fd", fd,
                             "mac", fk_jmac(c_mac), "features", J(features), "flags", J(flags)));
}

API_NET int32_t krun_add_net_unixgram(uint32_t ctx_id, const char *c_path, int fd, uint8_t *const c_mac,
                                      uint32_t features, uint32_t flags)
{
    return add_nic(__func__, ctx_id, "unixgram", c_path, fd, c_mac, features, flags,
                   NET_FLAG_VFKIT | NET_FLAG_DHCP_CLIENT,
                   json_pack("{s:I,s:o,s:i,s:o,s:I,s:I}", "ctx_id", J(ctx_id), "path", fk_jstr(c_path), "fd", fd,
                             "mac", fk_jmac(c_mac), "features", J(features), "flags", J(flags)));
}

API_NET int32_t krun_add_net_tap(uint32_t ctx_id, char *c_tap_name, uint8_t *const c_mac, uint32_t features,
                                 uint32_t flags)
{
    int32_t ret = 0;
    STR_OR_EINVAL(c_tap_name, "c_tap_name");
    NEED(c_mac, "c_mac");
    if ((features & ~NET_FEATURE_ALL) ||
        ((features & NET_FEATURE_GUEST_OFFLOADS) && !(features & NET_FEATURE_GUEST_CSUM)) ||
        (flags & ~NET_FLAG_DHCP_CLIENT)) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        json_array_append_new(c->nics, json_pack("{s:s,s:o,s:o,s:I,s:I}", "kind", "tap", "tap_name",
                                                 fk_jstr(c_tap_name), "mac", fk_jmac(c_mac), "features", J(features),
                                                 "flags", J(flags)));
        c->net_index++;
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o,s:o,s:I,s:I}", "ctx_id", J(ctx_id), "tap_name", fk_jstr(c_tap_name), "mac", fk_jmac(c_mac),
        "features", J(features), "flags", J(flags));
    return ret;
}

API_NET int32_t krun_set_passt_fd(uint32_t ctx_id, int fd)
{
    int32_t ret = 0;
    if (fd < 0) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        if (c->net_index != 0) {
            /* The legacy interface supports a single NIC only. */
            ret = -EINVAL;
            goto out_unlock;
        }
        free(c->legacy_net);
        c->legacy_net = fk_xasprintf("passt:%d", fd);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:i}", "ctx_id", J(ctx_id), "fd", fd);
    return ret;
}

API_NET int32_t krun_set_gvproxy_path(uint32_t ctx_id, char *c_path)
{
    int32_t ret = 0;
    STR_OR_EINVAL(c_path, "c_path");
    {
        GET_CTX(c, ctx_id);
        if (c->net_index != 0) {
            ret = -EINVAL;
            goto out_unlock;
        }
        free(c->legacy_net);
        c->legacy_net = fk_xasprintf("gvproxy:%s", c_path);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "path", fk_jstr(c_path));
    return ret;
}

API_NET int32_t krun_set_net_mac(uint32_t ctx_id, uint8_t *const c_mac)
{
    int32_t ret = 0;
    NEED(c_mac, "c_mac");
    {
        GET_CTX(c, ctx_id);
        memcpy(c->legacy_mac, c_mac, 6);
        c->legacy_mac_set = true;
    out_unlock:
        fk_unlock();
    }
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "mac", fk_jmac(c_mac));
    return ret;
}

static int32_t add_vsock_port(const char *fn, uint32_t ctx_id, uint32_t port, const char *filepath, bool listen,
                              json_t *args)
{
    int32_t ret = 0;
    if (FK_NITRO && listen) {
        ret = -EINVAL;
        goto out;
    }
    STR_OR_EINVAL(filepath, "c_filepath");
    if (listen) {
        struct stat st;
        if (lstat(filepath, &st) == 0) {
            ret = -EEXIST;
            goto out;
        }
        if (errno != ENOENT) {
            ret = -EINVAL;
            goto out;
        }
    }
    {
        GET_CTX(c, ctx_id);
        if (c->vsock == FK_VSOCK_DISABLED) {
            ret = -ENODEV;
            goto out_unlock;
        }
        json_array_append_new(c->vsock_ports,
                              json_pack("{s:I,s:o,s:b}", "port", J(port), "path", fk_jstr(filepath), "listen", listen));
    out_unlock:
        fk_unlock();
    }
out:
    fk_log_call(fn, args, true, ret, NULL);
    return ret;
}

API_OPT int32_t krun_add_vsock_port(uint32_t ctx_id, uint32_t port, const char *c_filepath)
{
    return add_vsock_port(__func__, ctx_id, port, c_filepath, false,
                          json_pack("{s:I,s:I,s:o}", "ctx_id", J(ctx_id), "port", J(port), "filepath",
                                    fk_jstr(c_filepath)));
}

API_OPT int32_t krun_add_vsock_port2(uint32_t ctx_id, uint32_t port, const char *c_filepath, bool listen)
{
    return add_vsock_port(__func__, ctx_id, port, c_filepath, listen,
                          json_pack("{s:I,s:I,s:o,s:b}", "ctx_id", J(ctx_id), "port", J(port), "filepath",
                                    fk_jstr(c_filepath), "listen", listen));
}

API_OPT int32_t krun_disable_implicit_vsock(uint32_t ctx_id)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->vsock = FK_VSOCK_DISABLED;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I}", "ctx_id", J(ctx_id));
    return ret;
}

API_OPT int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features)
{
    int32_t ret = 0;
    if (tsi_features & ~(KRUN_TSI_HIJACK_INET | KRUN_TSI_HIJACK_UNIX)) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        if (c->vsock != FK_VSOCK_DISABLED) {
            /* Only after krun_disable_implicit_vsock, and only once. */
            ret = -EEXIST;
            goto out_unlock;
        }
        c->vsock = FK_VSOCK_EXPLICIT;
        c->tsi_features = tsi_features;
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:I}", "ctx_id", J(ctx_id), "tsi_features", J(tsi_features));
    return ret;
}

/* ---- GPU, display, input, other devices ------------------------------------------------- */

API_OPT int32_t krun_set_gpu_options(uint32_t ctx_id, uint32_t virgl_flags)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->gpu_set = true;
    c->virgl_flags = virgl_flags;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:I}", "ctx_id", J(ctx_id), "virgl_flags", J(virgl_flags));
    return ret;
}

API_OPT int32_t krun_set_gpu_options2(uint32_t ctx_id, uint32_t virgl_flags, uint64_t shm_size)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->gpu_set = true;
    c->virgl_flags = virgl_flags;
    c->gpu_shm_size = shm_size;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:I,s:I}", "ctx_id", J(ctx_id), "virgl_flags", J(virgl_flags), "shm_size", J(shm_size));
    return ret;
}

API_OPT int32_t krun_add_display(uint32_t ctx_id, uint32_t width, uint32_t height)
{
    int32_t ret;
    if (!FK_GPU) {
        ret = -ENOTSUP;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        if (c->ndisplays >= KRUN_MAX_DISPLAYS)
            ret = -ENOMEM;
        else
            ret = (int32_t)c->ndisplays++;
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:I,s:I}", "ctx_id", J(ctx_id), "width", J(width), "height", J(height));
    return ret;
}

/* mode: 0 edid, 1 dpi, 2 physical size/refresh rate */
static int32_t display_op(uint32_t ctx_id, uint32_t display_id, int mode)
{
    int32_t ret = 0;
    if (!FK_GPU)
        return -ENOTSUP;
    GET_CTX(c, ctx_id);
    if (display_id >= c->ndisplays)
        ret = -EINVAL;
    else if (mode == 0)
        c->display_edid[display_id] = true;
    else if (c->display_edid[display_id])
        ret = mode == 1 ? -EINVAL : -EALREADY;
out_unlock:
    fk_unlock();
    return ret;
}

API_OPT int32_t krun_display_set_edid(uint32_t ctx_id, uint32_t display_id, const uint8_t *edid_blob,
                                      size_t blob_size)
{
    int32_t ret = display_op(ctx_id, display_id, 0);
    if (ret == 0 && !edid_blob)
        ret = -EINVAL;
    LOG(ret, "{s:I,s:I,s:I}", "ctx_id", J(ctx_id), "display_id", J(display_id), "blob_size", J(blob_size));
    return ret;
}

API_OPT int32_t krun_display_set_dpi(uint32_t ctx_id, uint32_t display_id, uint32_t dpi)
{
    int32_t ret = display_op(ctx_id, display_id, 1);
    LOG(ret, "{s:I,s:I,s:I}", "ctx_id", J(ctx_id), "display_id", J(display_id), "dpi", J(dpi));
    return ret;
}

API_OPT int32_t krun_display_set_physical_size(uint32_t ctx_id, uint32_t display_id, uint16_t width_mm,
                                               uint16_t height_mm)
{
    int32_t ret = display_op(ctx_id, display_id, 2);
    LOG(ret, "{s:I,s:I,s:I,s:I}", "ctx_id", J(ctx_id), "display_id", J(display_id), "width_mm", J(width_mm),
        "height_mm", J(height_mm));
    return ret;
}

API_OPT int32_t krun_display_set_refresh_rate(uint32_t ctx_id, uint32_t display_id, uint32_t refresh_rate)
{
    int32_t ret = display_op(ctx_id, display_id, 2);
    LOG(ret, "{s:I,s:I,s:I}", "ctx_id", J(ctx_id), "display_id", J(display_id), "refresh_rate", J(refresh_rate));
    return ret;
}

API_OPT int32_t krun_set_display_backend(uint32_t ctx_id, const void *display_backend, size_t backend_size)
{
    int32_t ret = 0;
    if (!FK_GPU) {
        ret = -ENOTSUP;
        goto out;
    }
    if (!display_backend || backend_size == 0) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        c->display_backend = true;
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:I}", "ctx_id", J(ctx_id), "backend_size", J(backend_size));
    return ret;
}

/* Built without the "input" feature: both input calls report -ENOTSUP. */
API_OPT int krun_add_input_device(uint32_t ctx_id, const void *config_backend, size_t config_backend_size,
                                  const void *events_backend, size_t events_backend_size)
{
    (void)config_backend;
    (void)events_backend;
    LOG(-ENOTSUP, "{s:I,s:I,s:I}", "ctx_id", J(ctx_id), "config_backend_size", J(config_backend_size),
        "events_backend_size", J(events_backend_size));
    return -ENOTSUP;
}

API_OPT int krun_add_input_device_fd(uint32_t ctx_id, int input_fd)
{
    LOG(-ENOTSUP, "{s:I,s:i}", "ctx_id", J(ctx_id), "input_fd", input_fd);
    return -ENOTSUP;
}

/* Built without vhost-user. */
API_OPT int32_t krun_add_vhost_user_device(uint32_t ctx_id, uint32_t device_type, const char *socket_path,
                                           const char *name, uint16_t num_queues, const uint16_t *queue_sizes)
{
    (void)queue_sizes;
    LOG(-ENOTSUP, "{s:I,s:I,s:o,s:o,s:I}", "ctx_id", J(ctx_id), "device_type", J(device_type), "socket_path",
        fk_jstr(socket_path), "name", fk_jstr(name), "num_queues", J(num_queues));
    return -ENOTSUP;
}

API_OPT int32_t krun_set_smbios_oem_strings(uint32_t ctx_id, const char *const oem_strings[])
{
    int32_t ret = 0;
    if (!oem_strings) {
        ret = -EINVAL;
        goto out;
    }
    for (size_t i = 0; i < FK_MAX_ARRAY && oem_strings[i]; i++) {
        if (!fk_utf8_valid(oem_strings[i])) {
            ret = -EINVAL;
            goto out;
        }
    }
    {
        GET_CTX(c, ctx_id);
        json_decref(c->smbios);
        c->smbios = oem_strings[0] ? fk_jstrv(oem_strings) : NULL;
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "oem_strings", fk_jstrv(oem_strings));
    return ret;
}

/* ---- console ---------------------------------------------------------------------------- */

API_OPT int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath)
{
    int32_t ret = 0;
    STR_OR_EINVAL(c_filepath, "c_filepath");
    {
        GET_CTX(c, ctx_id);
        if (c->console_output)
            ret = -EINVAL; /* only once per context */
        else
            c->console_output = fk_xstrdup(c_filepath);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "filepath", fk_jstr(c_filepath));
    return ret;
}

API_OPT int32_t krun_disable_implicit_console(uint32_t ctx_id)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->disable_implicit_console = true;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I}", "ctx_id", J(ctx_id));
    return ret;
}

API_OPT int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd, int err_fd)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    json_array_append_new(c->consoles,
                          json_pack("{s:s,s:i,s:i,s:i}", "kind", "default", "in", input_fd, "out", output_fd, "err",
                                    err_fd));
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:i,s:i,s:i}", "ctx_id", J(ctx_id), "input_fd", input_fd, "output_fd", output_fd, "err_fd",
        err_fd);
    return ret;
}

API_OPT int32_t krun_add_serial_console_default(uint32_t ctx_id, int input_fd, int output_fd)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    (void)c;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:i,s:i}", "ctx_id", J(ctx_id), "input_fd", input_fd, "output_fd", output_fd);
    return ret;
}

API_OPT int32_t krun_add_virtio_console_multiport(uint32_t ctx_id)
{
    int32_t ret;
    {
        GET_CTX(c, ctx_id);
        /* The id is the index among all virtio consoles. */
        ret = (int32_t)json_array_size(c->consoles);
        json_array_append_new(c->consoles, json_pack("{s:s,s:[]}", "kind", "multiport", "ports"));
    out_unlock:
        fk_unlock();
    }
    LOG(ret, "{s:I}", "ctx_id", J(ctx_id));
    return ret;
}

static int32_t add_console_port(uint32_t ctx_id, uint32_t console_id, json_t *port)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    json_t *con = json_array_get(c->consoles, console_id);
    if (!con || strcmp(json_string_value(json_object_get(con, "kind")), "multiport") != 0) {
        ret = -EINVAL;
        goto out_unlock;
    }
    json_array_append(json_object_get(con, "ports"), port);
out_unlock:
    fk_unlock();
    json_decref(port);
    return ret;
}

API_OPT int32_t krun_add_console_port_tty(uint32_t ctx_id, uint32_t console_id, const char *name, int tty_fd)
{
    int32_t ret;
    if (tty_fd < 0 || (name && !fk_utf8_valid(name)))
        ret = -EINVAL;
    else if (!isatty(tty_fd))
        ret = -ENOTTY;
    else
        ret = add_console_port(ctx_id, console_id, json_pack("{s:o,s:i}", "name", fk_jstr(name ? name : ""), "tty", tty_fd));
    LOG(ret, "{s:I,s:I,s:o,s:i}", "ctx_id", J(ctx_id), "console_id", J(console_id), "name", fk_jstr(name), "tty_fd",
        tty_fd);
    return ret;
}

API_OPT int32_t krun_add_console_port_inout(uint32_t ctx_id, uint32_t console_id, const char *name, int input_fd,
                                            int output_fd)
{
    int32_t ret;
    if (name && !fk_utf8_valid(name))
        ret = -EINVAL;
    else
        ret = add_console_port(ctx_id, console_id,
                               json_pack("{s:o,s:i,s:i}", "name", fk_jstr(name ? name : ""), "in", input_fd, "out",
                                         output_fd));
    LOG(ret, "{s:I,s:I,s:o,s:i,s:i}", "ctx_id", J(ctx_id), "console_id", J(console_id), "name", fk_jstr(name),
        "input_fd", input_fd, "output_fd", output_fd);
    return ret;
}

API_OPT int32_t krun_set_kernel_console(uint32_t ctx_id, const char *console_id)
{
    int32_t ret = 0;
    STR_OR_EINVAL(console_id, "console_id");
    {
        GET_CTX(c, ctx_id);
        set_str(&c->kernel_console, console_id);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "console_id", fk_jstr(console_id));
    return ret;
}

/* ---- kernel, firmware, CPU, process ----------------------------------------------------- */

API_OPT int32_t krun_set_kernel(uint32_t ctx_id, const char *kernel_path, uint32_t kernel_format,
                                const char *initramfs, const char *cmdline)
{
    int32_t ret = 0;
    if (FK_TEE) {
        /* TEE builds cannot boot a caller-supplied kernel. */
        ret = -EOPNOTSUPP;
        goto out;
    }
    STR_OR_EINVAL(kernel_path, "kernel_path");
    if (kernel_format > 5) {
        ret = -EINVAL;
        goto out;
    }
#if defined(__x86_64__)
    if (kernel_format == 0) {
        /* A raw kernel is mapped into the process right away. */
        int fd = open(kernel_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fk_logger_error("Error opening external kernel: %s", strerror(errno));
            ret = -EINVAL;
            goto out;
        }
        close(fd);
    }
#endif
    if (initramfs) {
        struct stat st;
        if (!fk_utf8_valid(initramfs) || stat(initramfs, &st) != 0) {
            fk_logger_error("Can't read initramfs metadata");
            ret = -EINVAL;
            goto out;
        }
    }
    if (cmdline && !fk_utf8_valid(cmdline)) {
        ret = -EINVAL;
        goto out;
    }
    {
        GET_CTX(c, ctx_id);
        set_str(&c->kernel_path, kernel_path);
        c->kernel_format = kernel_format;
        set_str(&c->kernel_cmdline, cmdline);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o,s:I,s:o,s:o}", "ctx_id", J(ctx_id), "kernel_path", fk_jstr(kernel_path), "kernel_format",
        J(kernel_format), "initramfs", fk_jstr(initramfs), "cmdline", fk_jstr(cmdline));
    return ret;
}

API_FIRMWARE int32_t krun_set_firmware(uint32_t ctx_id, const char *firmware_path)
{
    int32_t ret = 0;
    STR_OR_EINVAL(firmware_path, "firmware_path");
    {
        GET_CTX(c, ctx_id);
        set_str(&c->firmware, firmware_path);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "firmware_path", fk_jstr(firmware_path));
    return ret;
}

API_OPT int32_t krun_set_nested_virt(uint32_t ctx_id, bool enabled)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->nested_virt = enabled;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:b}", "ctx_id", J(ctx_id), "enabled", enabled);
    return ret;
}

static bool nested_param_on(const char *path)
{
    _fk_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *s = buf;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strcspn(s, " \t\r\n");
    return (l == 1 && (s[0] == '1' || s[0] == 'Y' || s[0] == 'y'));
}

API_OPT int32_t krun_check_nested_virt(void)
{
    int32_t ret;
    const char *knob = fk_knob("FAKE_KRUN_NESTED_VIRT");
    if (knob && *knob)
        ret = strcmp(knob, "1") == 0;
    else
        ret = nested_param_on("/sys/module/kvm_intel/parameters/nested") ||
              nested_param_on("/sys/module/kvm_amd/parameters/nested");
    fk_log_call(__func__, json_object(), true, ret, NULL);
    return ret;
}

API_OPT int32_t krun_split_irqchip(uint32_t ctx_id, bool enable)
{
    int32_t ret = 0;
#if !defined(__x86_64__)
    if (enable) {
        ret = -EINVAL;
        goto out;
    }
#endif
    {
        GET_CTX(c, ctx_id);
        c->split_irqchip = enable;
    out_unlock:
        fk_unlock();
    }
#if !defined(__x86_64__)
out:
#endif
    LOG(ret, "{s:I,s:b}", "ctx_id", J(ctx_id), "enable", enable);
    return ret;
}

API_OPT int32_t krun_setuid(uint32_t ctx_id, uid_t uid)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->has_uid = true;
    c->uid = uid;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:I}", "ctx_id", J(ctx_id), "uid", J(uid));
    return ret;
}

API_OPT int32_t krun_setgid(uint32_t ctx_id, gid_t gid)
{
    int32_t ret = 0;
    GET_CTX(c, ctx_id);
    c->has_gid = true;
    c->gid = gid;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I,s:I}", "ctx_id", J(ctx_id), "gid", J(gid));
    return ret;
}

API_OPT int32_t krun_get_shutdown_eventfd(uint32_t ctx_id)
{
    int32_t ret;
    GET_CTX(c, ctx_id);
    (void)c;
    /* Only macOS/aarch64 creates the eventfd. */
    ret = -EINVAL;
out_unlock:
    fk_unlock();
    LOG(ret, "{s:I}", "ctx_id", J(ctx_id));
    return ret;
}

/* ---- confidential computing ------------------------------------------------------------- */

API_TEE int32_t krun_set_tee_config_file(uint32_t ctx_id, const char *filepath)
{
    int32_t ret = 0;
    STR_OR_EINVAL(filepath, "filepath");
    {
        GET_CTX(c, ctx_id);
        set_str(&c->tee_config_file, filepath);
    out_unlock:
        fk_unlock();
    }
out:
    LOG(ret, "{s:I,s:o}", "ctx_id", J(ctx_id), "filepath", fk_jstr(filepath));
    return ret;
}
