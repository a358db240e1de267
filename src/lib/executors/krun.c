/* The krun executor: the container's process runs in a KVM microVM made by
 * libkrun, whose VMM is the container's init.
 *
 * Runtime process (pre_exec): annotations checked, the device nodes checked
 * and added to the spec, libkrun loaded, its context created (that loads
 * libkrunfw, whose path does not resolve after pivot_root),
 * rootfs/.krun_config.json written for the guest init. Container init,
 * after pivot_root: the VM configured (check, so a bad configuration fails
 * `create`), then krun_start_enter in place of execve (exec). The init is a
 * clone of the runtime process: it sees the state kept in ctx->data. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../cleanup.h"
#include "../executor.h"
#include "../log.h"
#include "../spec.h"
#include "krun.h"

struct krun_data {
    void *handle;
    const char *library;
    struct krun_api api;
    int32_t ctx;
    int32_t max_vcpus;          /* KVM's limit, asked on the host side; <= 0: unknown */
    struct krun_opts opts;
    struct krun_passt passt;
    bool debug;
    bool configured;
};

static bool krun_can_handle(const struct spec *spec)
{
    const char *h = spec_annotation(spec, HANDLER_ANNOTATION);
    return h && strcmp(h, "krun") == 0;
}

static int check_device(const char *dev, const char *why, dev_t *rdev, struct error **err)
{
    struct stat st;
    if (stat(dev, &st) < 0) {
        if (errno == ENOENT)
            return error_set(err, ENODEV, "%s does not exist: %s, and needs this device (is virtualization enabled "
                             "and its kernel module loaded on this host?)", dev, why);
        return error_sys(err, errno, "%s (%s)", dev, why);
    }
    if (!S_ISCHR(st.st_mode))
        return error_set(err, ENODEV, "%s is not a character device: %s, and needs this device", dev, why);
    if (access(dev, R_OK | W_OK) < 0)
        return error_sys(err, errno, "%s cannot be opened for reading and writing (%s)", dev, why);
    *rdev = st.st_rdev;
    return 0;
}

/* Each device node the variant's VMM opens: on the host, then in the spec. */
static int add_devices(const struct krun_variant_info *vi, struct spec *spec, struct error **err)
{
    for (const char *const *dev = vi->devices; *dev; dev++) {
        dev_t rdev = 0;
        int r = check_device(*dev, vi->device_why, &rdev, err);
        if (r < 0 || (r = krun_add_device(spec, *dev, rdev, err)) < 0)
            return r;
    }
    return 0;
}

/* A file the VM needs from the image (TEE config, root disk), looked up
 * inside the rootfs as the container will see it. */
static int check_rootfs_file(int rootfd, const char *key, const char *path, struct error **err)
{
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    if (fd < 0)
        return error_sys(err, errno, "annotations.\"%s\": \"%s\" in the container's rootfs", key, path);
    close(fd);
    return 0;
}

/* A feature asked for by annotation needs its function in the library. */
static int need(const struct krun_data *d, const void *fn, const char *what, const char *symbol, struct error **err)
{
    if (fn)
        return 0;
    return error_set(err, ENOTSUP, "%s needs %s, which %s does not export (an older libkrun, or one built without "
                     "that feature)", what, symbol, d->library);
}

static int check_features(struct krun_data *d, const struct spec *spec, struct error **err)
{
    const struct krun_opts *o = &d->opts;
    const struct krun_api *a = &d->api;
    int r;
    if (o->nested_virt) {
        if ((r = need(d, a->set_nested_virt, "annotations.\"" KRUN_ANN_NESTED "\"", "krun_set_nested_virt", err)) < 0)
            return r;
        if (a->check_nested_virt && a->check_nested_virt() == 0)
            return error_set(err, ENOTSUP, "annotations.\"%s\": this host's KVM does not allow nested virtualization "
                             "(see /sys/module/kvm_intel/parameters/nested or kvm_amd)", KRUN_ANN_NESTED);
    }
    if (o->has_gpu_flags &&
        (r = need(d, a->set_gpu_options, "annotations.\"" KRUN_ANN_GPU "\" (virtio-gpu)", "krun_set_gpu_options", err)) < 0)
        return r;
    if (o->has_port_map &&
        (r = need(d, a->set_port_map, "annotations.\"" KRUN_ANN_PORT_MAP "\"", "krun_set_port_map", err)) < 0)
        return r;
    if (o->use_passt && (r = need(d, a->add_net_unixstream ? (void *)a->add_net_unixstream : (void *)a->set_passt_fd,
                                  "annotations.\"" KRUN_ANN_PASST "\"", "krun_add_net_unixstream", err)) < 0)
        return r;
    if (spec->process.n_rlimits &&
        (r = need(d, a->set_rlimits, "process.rlimits (the guest does not read them from the config)",
                  "krun_set_rlimits", err)) < 0)
        return r;
    /* here, where the host's KVM device is sure to be reachable */
    d->max_vcpus = a->get_max_vcpus && o->variant != KRUN_VARIANT_NITRO ? a->get_max_vcpus() : 0;
    if (o->cpus && d->max_vcpus > 0 && o->cpus > (unsigned)d->max_vcpus)
        return error_set(err, EINVAL, "annotations.\"%s\": %u vCPUs, but KVM allows at most %d on this host",
                         KRUN_ANN_CPUS, o->cpus, (int)d->max_vcpus);
    return 0;
}

static void data_free(struct krun_data *d)
{
    if (!d)
        return;
    /* Only the runtime's copy of the context: the init is a separate
     * process with its own. The library stays loaded: libkrun is a Rust
     * library, and unloading one is not reliably safe. */
    if (d->ctx >= 0 && d->api.free_ctx)
        d->api.free_ctx((uint32_t)d->ctx);
    krun_passt_close(&d->passt);
    krun_opts_free(&d->opts);
    free(d);
}

static int krun_pre_exec(struct executor_ctx *ctx, struct spec *spec, const char *bundle, struct error **err)
{
    (void)bundle;
    struct krun_data *d = calloc(1, sizeof(*d));
    if (!d)
        return error_set(err, ENOMEM, "out of memory");
    d->ctx = -1;
    d->passt = (struct krun_passt){ .vm_fd = -1, .ctl_fd = -1 };
    d->debug = ctx->debug;
    _cleanup_json_ json_t *doc = NULL;
    _cleanup_close_ int rootfd = -1;
    int r;
    /* Everything that can be checked, before anything is created. The
     * spec changes first: the guest config's limits count the device. */
    if ((r = krun_opts_parse(spec, &d->opts, err)) < 0)
        goto fail;
    const struct krun_variant_info *vi = krun_variant_info(d->opts.variant);
    if ((r = add_devices(vi, spec, err)) < 0 ||
        (r = krun_config_document(spec->json, &doc, err)) < 0)
        goto fail;
    rootfd = open(spec->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        r = error_sys(err, errno, "root.path \"%s\"", spec->root_path);
        goto fail;
    }
    if (d->opts.tee_config && ((r = check_rootfs_file(rootfd, KRUN_ANN_TEE_CONFIG, d->opts.tee_config, err)) < 0 ||
                               (r = check_rootfs_file(rootfd, KRUN_ANN_ROOT_DISK, d->opts.root_disk, err)) < 0))
        goto fail;
    if ((r = krun_api_load(ctx->library, d->opts.variant, &d->handle, &d->api, &d->library, err)) < 0 ||
        (r = check_features(d, spec, err)) < 0)
        goto fail;

    /* on the host: libkrun loads libkrunfw here */
    int32_t id = d->api.create_ctx();
    if (id < 0) {
        r = error_set(err, -id, "krun_create_ctx: %s", krun_strerror(id));
        goto fail;
    }
    d->ctx = id;
    if (d->opts.use_passt && (r = krun_passt_prepare(&d->passt, err)) < 0)
        goto fail;
    if ((r = krun_config_write(rootfd, doc, err)) < 0)
        goto fail;
    log_debug("krun: %s loaded, context %d", d->library, (int)id);
    ctx->data = d;
    return 0;
fail:
    data_free(d);
    return r;
}

static int set_rlimits(struct krun_data *d, const struct spec *spec, struct error **err)
{
    size_t n = spec->process.n_rlimits;
    _cleanup_strv_ char **v = calloc(n + 1, sizeof(char *));
    if (!v)
        return error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct spec_rlimit *l = &spec->process.rlimits[i];
        if (asprintf(&v[i], "%d=%llu:%llu", l->resource, (unsigned long long)l->soft, (unsigned long long)l->hard) < 0)
            return error_set(err, ENOMEM, "out of memory");
    }
    int32_t r = d->api.set_rlimits((uint32_t)d->ctx, (const char *const *)v);
    return r < 0 ? error_set(err, -r, "krun_set_rlimits (process.rlimits): %s", krun_strerror(r)) : 0;
}

/* The MAC libkrun itself uses when none is given. */
static uint8_t passt_mac[6] = { 0x5a, 0x94, 0xef, 0xe4, 0x0c, 0xee };
/* virtio-net CSUM, GUEST_CSUM, GUEST_TSO4, GUEST_UFO, HOST_TSO4, HOST_UFO */
#define COMPAT_NET_FEATURES ((1u << 0) | (1u << 1) | (1u << 7) | (1u << 10) | (1u << 11) | (1u << 14))

#define CALL(call, fmt, ...) do { \
        int32_t _r = (call); \
        if (_r < 0) \
            return error_set(err, -_r, fmt ": %s", ##__VA_ARGS__, krun_strerror(_r)); \
    } while (0)

/* In the init, after pivot_root: everything but starting the VM. */
static int configure(struct krun_data *d, const struct spec *spec, struct error **err)
{
    const struct krun_api *a = &d->api;
    const struct krun_opts *o = &d->opts;
    uint32_t c = (uint32_t)d->ctx;
    int r;
    if (d->configured)
        return 0;
    d->configured = true;
    /* process-wide, and only once: a second call panics inside libkrun */
    a->set_log_level(o->log_level >= 0 ? (uint32_t)o->log_level : d->debug ? 4 : 1);

    unsigned cpus = o->cpus;
    if (!cpus)
        cpus = o->variant == KRUN_VARIANT_TDX ? 1 : krun_default_vcpus(d->max_vcpus);
    uint32_t ram = o->ram_mib ? o->ram_mib : krun_default_ram_mib(spec->linux.resources);
    if (o->variant == KRUN_VARIANT_TDX && ram > KRUN_TDX_MAX_RAM_MIB)
        ram = KRUN_TDX_MAX_RAM_MIB;
    CALL(a->set_vm_config(c, (uint8_t)cpus, ram), "krun_set_vm_config (%u vCPUs, %u MiB)", cpus, ram);

    switch (o->variant) {
    case KRUN_VARIANT_DEFAULT:
        CALL(a->set_root(c, "/"), "krun_set_root");
        break;
    case KRUN_VARIANT_SEV:
    case KRUN_VARIANT_TDX:
        CALL(a->set_root_disk(c, o->root_disk), "krun_set_root_disk (%s \"%s\")", KRUN_ANN_ROOT_DISK, o->root_disk);
        CALL(a->set_tee_config_file(c, o->tee_config), "krun_set_tee_config_file (%s \"%s\")", KRUN_ANN_TEE_CONFIG,
             o->tee_config);
        break;
    case KRUN_VARIANT_NITRO:
        /* no shared root: the enclave gets the command, its output comes back on stdout */
        CALL(a->set_exec(c, spec->process.args[0], spec->process.args + 1, spec->process.env), "krun_set_exec");
        CALL(a->set_console_output(c, "/dev/stdout"), "krun_set_console_output");
        break;
    }
    if (spec->process.n_rlimits && (r = set_rlimits(d, spec, err)) < 0)
        return r;
    if (o->nested_virt)
        CALL(a->set_nested_virt(c, true), "krun_set_nested_virt (%s)", KRUN_ANN_NESTED);
    if (o->has_gpu_flags)
        CALL(a->set_gpu_options(c, o->gpu_flags), "krun_set_gpu_options (%s %#x)", KRUN_ANN_GPU, o->gpu_flags);
    if (o->use_passt) {
        if ((r = krun_passt_start(&d->passt, err)) < 0)
            return r;
        if (a->add_net_unixstream)
            CALL(a->add_net_unixstream(c, NULL, d->passt.vm_fd, passt_mac, COMPAT_NET_FEATURES, 0),
                 "krun_add_net_unixstream (%s)", KRUN_ANN_PASST);
        else
            CALL(a->set_passt_fd(c, d->passt.vm_fd), "krun_set_passt_fd (%s)", KRUN_ANN_PASST);
    }
    if (o->has_port_map)
        CALL(a->set_port_map(c, (const char *const *)o->port_map), "krun_set_port_map (%s)", KRUN_ANN_PORT_MAP);
    return 0;
}

static int krun_check(struct executor_ctx *ctx, const struct spec *spec, struct error **err)
{
    return configure(ctx->data, spec, err);
}

static int krun_exec(struct executor_ctx *ctx, const struct spec *spec, struct error **err)
{
    struct krun_data *d = ctx->data;
    int r = configure(d, spec, err);
    if (r < 0)
        return r;
    /* Becomes the VMM; on success it exits with the workload's code. */
    int32_t ret = d->api.start_enter((uint32_t)d->ctx);
    if (ret >= 0 && d->opts.variant == KRUN_VARIANT_NITRO) {
        /* the Nitro flow returns the enclave's exit code */
        fflush(NULL);
        _exit(ret & 0xff);
    }
    if (ret >= 0)
        return error_set(err, EIO, "krun_start_enter returned %d without running the VM", (int)ret);
    return error_set(err, -ret, "libkrun could not start the VM: %s", krun_strerror(ret));
}

static int krun_cleanup(const struct spec *spec, struct error **err)
{
    _cleanup_close_ int rootfd = open(spec->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return errno == ENOENT ? 0 : error_sys(err, errno, "root.path \"%s\"", spec->root_path);
    return krun_config_remove(rootfd, err);
}

static void krun_release(struct executor_ctx *ctx)
{
    data_free(ctx->data);
    ctx->data = NULL;
}

const struct executor executor_krun = {
    .name = "krun",
    .uses_dlopen = true,
    .annotations = (const char *const[]){ KRUN_ANN_VARIANT, KRUN_ANN_CPUS, KRUN_ANN_RAM, KRUN_ANN_LOG_LEVEL,
                                          KRUN_ANN_NESTED, KRUN_ANN_GPU, KRUN_ANN_PORT_MAP, KRUN_ANN_PASST,
                                          KRUN_ANN_TEE_CONFIG, KRUN_ANN_ROOT_DISK, NULL },
    .exec_refusal = "it runs as a microVM (krun executor): a process started by exec would run beside the VM on the "
                    "host kernel, outside the VM's isolation",
    .can_handle = krun_can_handle,
    .pre_exec = krun_pre_exec,
    .check = krun_check,
    .exec = krun_exec,
    .cleanup = krun_cleanup,
    .release = krun_release,
};
