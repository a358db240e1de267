/* Loading libkrun with dlopen: krunc runs without it until a container asks
 * for a VM, and a missing function only disables what needs it. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "../dynload.h"
#include "krun.h"

static const struct {
    const char *name;
    size_t offset;
} symbols[] = {
#define SYM(field) { "krun_" #field, offsetof(struct krun_api, field) }
    SYM(set_log_level), SYM(create_ctx), SYM(free_ctx), SYM(set_vm_config), SYM(get_max_vcpus), SYM(set_root),
    SYM(set_rlimits), SYM(set_exec), SYM(set_console_output), SYM(set_nested_virt), SYM(check_nested_virt),
    SYM(set_gpu_options), SYM(set_port_map), SYM(add_net_unixstream), SYM(set_passt_fd), SYM(set_root_disk),
    SYM(set_tee_config_file), SYM(start_enter),
#undef SYM
};

#define API_FN(api, off) (*(void **)((char *)(api) + (off)))

static const char *missing(const struct krun_api *api, const char *const *names)
{
    for (; *names; names++)
        for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++)
            if (!strcmp(symbols[i].name, *names) && !API_FN(api, symbols[i].offset))
                return *names;
    return NULL;
}

int krun_api_load(const char *library, enum krun_variant v, void **handle, struct krun_api *api,
                  const char **loaded, struct error **err)
{
    const struct krun_variant_info *vi = krun_variant_info(v);
    const char *name = library ? library : vi->soname;
    *loaded = name;
    /* RTLD_LOCAL: its symbols stay out of the global namespace */
    void *h = dynload_open(name);
    if (!h) {
        const char *why = dynload_error();
        if (v == KRUN_VARIANT_DEFAULT)
            return error_set(err, ENOENT, "cannot load %s: %s; the krun executor needs libkrun (install it, or point "
                             "krunc's --libkrun flag or $KRUNC_LIBKRUN at it)", name, why ? why : "unknown error");
        return error_set(err, ENOENT, "cannot load %s: %s; krun.variant \"%s\" needs %s (install it, or point "
                         "krunc's --libkrun flag or $KRUNC_LIBKRUN at it)", name, why ? why : "unknown error",
                         vi->name, vi->soname);
    }
    memset(api, 0, sizeof(*api));
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++)
        API_FN(api, symbols[i].offset) = dynload_sym(h, symbols[i].name);

    static const char *const core[] = { "krun_create_ctx", "krun_set_vm_config", "krun_set_log_level",
                                        "krun_start_enter", NULL };
    static const char *const by_variant[][3] = {
        [KRUN_VARIANT_DEFAULT] = { "krun_set_root", NULL },
        [KRUN_VARIANT_SEV] = { "krun_set_root_disk", "krun_set_tee_config_file", NULL },
        [KRUN_VARIANT_TDX] = { "krun_set_root_disk", "krun_set_tee_config_file", NULL },
        [KRUN_VARIANT_NITRO] = { "krun_set_exec", "krun_set_console_output", NULL },
    };
    const char *m = missing(api, core);
    if (m) {
        dynload_close(h);
        return error_set(err, ENOSYS, "%s does not export %s, which every libkrun has: it is not a usable libkrun",
                         name, m);
    }
    if ((m = missing(api, by_variant[v]))) {
        dynload_close(h);
        if (v == KRUN_VARIANT_DEFAULT)
            return error_set(err, ENOSYS, "%s does not export %s, which the krun executor needs to share the "
                             "container's rootfs with the VM (is it a TEE or Nitro build of libkrun?)", name, m);
        return error_set(err, ENOSYS, "%s does not export %s, which krun.variant \"%s\" needs", name, m, vi->name);
    }
    *handle = h;
    return 0;
}

const char *krun_strerror(int32_t r)
{
    switch (-r) {
    case ENOENT:
        return "libkrun could not find libkrunfw (the library holding the guest kernel) or lost the VM context";
    case EINVAL:
        return "libkrun rejected the VM configuration (invalid argument)";
    case EPERM:
    case EACCES:
        return "permission denied (opening the KVM device, or switching user)";
    case ENOMEM:
        return "out of memory";
    case EBUSY:
        return "the device is busy";
    case ENODEV:
        return "a device the VM needs is missing or disabled";
    case ENOTSUP:
        return "this libkrun build does not support the requested configuration";
    default:
        return strerror(-r);
    }
}
