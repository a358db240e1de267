/* A small test driver: dlopen()s a libkrun (the double, found like krunc finds it, via
 * LD_LIBRARY_PATH) and runs a sequence of calls given on the command line.
 *
 *   driver [-l LIBNAME] OP ARGS... [, OP ARGS...]...
 *
 * OP is a libkrun function name without the "krun_" prefix (set_vm_config 0 2 512),
 * or one of the driver's own ops:
 *   sym NAME          is krun_NAME / NAME exported?   libpath    path of the loaded library
 *   setenv K V        unsetenv K                      pid        the driver's pid
 *   chroot DIR        chroot(DIR) + chdir("/")        unshare-mnt / unshare-uts
 *   mount-proc DIR    after unshare-mnt: make every mount private, mount proc on DIR
 * Argument syntax: numbers; strings ("NULL" = NULL pointer); arrays "[ a b c ]" or NULL;
 * MAC addresses "5a:94:ef:e4:0c:ee" or NULL; data "text" (pointer + length).
 *
 * Each op prints one line "@driver {json}" on stderr, flushed before the next op runs
 * (krun_start_enter does not come back). Exit status: 0 after the last op, 98 usage,
 * 99 dlopen failure; a start_enter that runs a workload exits with its code instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "krun_api.h"

static char **cur, **end;

static _Noreturn void usage(const char *why)
{
    fprintf(stderr, "driver: %s\n", why);
    exit(98);
}

static const char *next(void)
{
    if (cur >= end)
        usage("missing argument");
    return *cur++;
}

static uint64_t num(void)
{
    const char *s = next();
    char *e;
    errno = 0;
    uint64_t v = (*s == '-') ? (uint64_t)strtoll(s, &e, 0) : strtoull(s, &e, 0);
    if (errno || *e || e == s)
        usage("bad number");
    return v;
}

#define U32() ((uint32_t)num())
#define I32() ((int)num())
#define U64() (num())
#define U8() ((uint8_t)num())
#define U16() ((uint16_t)num())

static bool boolean(void)
{
    const char *s = next();
    if (!strcmp(s, "1") || !strcmp(s, "true"))
        return true;
    if (!strcmp(s, "0") || !strcmp(s, "false"))
        return false;
    usage("bad bool");
}

static const char *str(void)
{
    const char *s = next();
    return strcmp(s, "NULL") == 0 ? NULL : s;
}

static const char *const *arr(void)
{
    const char *s = next();
    if (!strcmp(s, "NULL"))
        return NULL;
    if (strcmp(s, "["))
        usage("array must start with [");
    size_t n = 0;
    const char **a = calloc(1, sizeof(*a));
    for (;;) {
        const char *item = next();
        if (!strcmp(item, "]"))
            break;
        a = realloc(a, (n + 2) * sizeof(*a));
        a[n++] = item;
        a[n] = NULL;
    }
    return a;
}

static uint8_t *mac(void)
{
    const char *s = next();
    if (!strcmp(s, "NULL"))
        return NULL;
    uint8_t *m = malloc(6);
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        usage("bad mac");
    for (int i = 0; i < 6; i++)
        m[i] = (uint8_t)v[i];
    return m;
}

static void report(const char *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(const char *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "@driver {\"op\":\"%s\",", op);
    vfprintf(stderr, fmt, ap);
    fputs("}\n", stderr);
    va_end(ap);
    fflush(stderr);
    fflush(stdout);
}

static void json_string_out(const char *s)
{
    fputc('"', stderr);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(stderr, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(stderr, "\\u%04x", *s);
        else
            fputc(*s, stderr);
    }
    fputc('"', stderr);
}

#define F(name) ((__typeof__(&krun_##name))fn)
#define CALL(name, ...)                                                                                              \
    do {                                                                                                             \
        if (fn)                                                                                                      \
            ret = F(name)(__VA_ARGS__);                                                                              \
    } while (0)

/* Runs one libkrun op; returns false if the name is unknown. */
static bool api_op(void *h, const char *op)
{
    char *symname;
    if (asprintf(&symname, "krun_%s", op) < 0)
        abort();
    void *fn = dlsym(h, symname);
    free(symname);
    int32_t ret = 0;
    static const uint8_t dummy_backend[64];

#define OP(n) else if (!strcmp(op, #n))
    if (0) {
    }
    OP(set_log_level) { uint32_t a = U32(); CALL(set_log_level, a); }
    OP(init_log) { int a = I32(); uint32_t b = U32(), c = U32(), d = U32(); CALL(init_log, a, b, c, d); }
    OP(create_ctx) { CALL(create_ctx); }
    OP(free_ctx) { uint32_t a = U32(); CALL(free_ctx, a); }
    OP(set_vm_config) { uint32_t a = U32(); uint8_t b = U8(); uint32_t c = U32(); CALL(set_vm_config, a, b, c); }
    OP(get_max_vcpus) { CALL(get_max_vcpus); }
    OP(has_feature) { uint64_t a = U64(); CALL(has_feature, a); }
    OP(start_enter) { uint32_t a = U32(); fflush(NULL); CALL(start_enter, a); }
    OP(set_root) { uint32_t a = U32(); const char *b = str(); CALL(set_root, a, b); }
    OP(add_virtiofs) { uint32_t a = U32(); const char *b = str(), *c = str(); CALL(add_virtiofs, a, b, c); }
    OP(add_virtiofs2) {
        uint32_t a = U32(); const char *b = str(), *c = str(); uint64_t d = U64();
        CALL(add_virtiofs2, a, b, c, d);
    }
    OP(add_virtiofs3) {
        uint32_t a = U32(); const char *b = str(), *c = str(); uint64_t d = U64(); bool e = boolean();
        CALL(add_virtiofs3, a, b, c, d, e);
    }
    OP(set_mapped_volumes) { uint32_t a = U32(); const char *const *b = arr(); CALL(set_mapped_volumes, a, b); }
    OP(fs_add_overlay_file) {
        uint32_t a = U32(); const char *b = str(), *c = str(), *d = str(); uint32_t e = U32(); bool f = boolean();
        CALL(fs_add_overlay_file, a, b, c, (const uint8_t *)d, d ? strlen(d) : 0, e, f);
    }
    OP(fs_add_overlay_dir) {
        uint32_t a = U32(); const char *b = str(), *c = str(); uint32_t d = U32();
        CALL(fs_add_overlay_dir, a, b, c, d);
    }
    OP(disable_implicit_init) { uint32_t a = U32(); CALL(disable_implicit_init, a); }
    OP(get_default_init) {
        const uint8_t *data = NULL; size_t len = 0;
        CALL(get_default_init, &data, &len);
    }
    OP(set_root_disk) { uint32_t a = U32(); const char *b = str(); CALL(set_root_disk, a, b); }
    OP(set_data_disk) { uint32_t a = U32(); const char *b = str(); CALL(set_data_disk, a, b); }
    OP(add_disk) { uint32_t a = U32(); const char *b = str(), *c = str(); bool d = boolean(); CALL(add_disk, a, b, c, d); }
    OP(add_disk2) {
        uint32_t a = U32(); const char *b = str(), *c = str(); uint32_t d = U32(); bool e = boolean();
        CALL(add_disk2, a, b, c, d, e);
    }
    OP(add_disk3) {
        uint32_t a = U32(); const char *b = str(), *c = str(); uint32_t d = U32(); bool e = boolean(), f = boolean();
        uint32_t g = U32();
        CALL(add_disk3, a, b, c, d, e, f, g);
    }
    OP(set_root_disk_remount) {
        uint32_t a = U32(); const char *b = str(), *c = str(), *d = str();
        CALL(set_root_disk_remount, a, b, c, d);
    }
    OP(set_exec) {
        uint32_t a = U32(); const char *b = str(); const char *const *c = arr(); const char *const *d = arr();
        CALL(set_exec, a, b, c, d);
    }
    OP(set_env) { uint32_t a = U32(); const char *const *b = arr(); CALL(set_env, a, b); }
    OP(set_workdir) { uint32_t a = U32(); const char *b = str(); CALL(set_workdir, a, b); }
    OP(set_rlimits) { uint32_t a = U32(); const char *const *b = arr(); CALL(set_rlimits, a, b); }
    OP(set_port_map) { uint32_t a = U32(); const char *const *b = arr(); CALL(set_port_map, a, b); }
    OP(add_net_unixstream) {
        uint32_t a = U32(); const char *b = str(); int c = I32(); uint8_t *d = mac(); uint32_t e = U32(), f = U32();
        CALL(add_net_unixstream, a, b, c, d, e, f);
    }
    OP(add_net_unixgram) {
        uint32_t a = U32(); const char *b = str(); int c = I32(); uint8_t *d = mac(); uint32_t e = U32(), f = U32();
        CALL(add_net_unixgram, a, b, c, d, e, f);
    }
    OP(add_net_tap) {
        uint32_t a = U32(); char *b = (char *)str(); uint8_t *c = mac(); uint32_t d = U32(), e = U32();
        CALL(add_net_tap, a, b, c, d, e);
    }
    OP(set_passt_fd) { uint32_t a = U32(); int b = I32(); CALL(set_passt_fd, a, b); }
    OP(set_gvproxy_path) { uint32_t a = U32(); char *b = (char *)str(); CALL(set_gvproxy_path, a, b); }
    OP(set_net_mac) { uint32_t a = U32(); uint8_t *b = mac(); CALL(set_net_mac, a, b); }
    OP(add_vsock_port) { uint32_t a = U32(), b = U32(); const char *c = str(); CALL(add_vsock_port, a, b, c); }
    OP(add_vsock_port2) {
        uint32_t a = U32(), b = U32(); const char *c = str(); bool d = boolean();
        CALL(add_vsock_port2, a, b, c, d);
    }
    OP(disable_implicit_vsock) { uint32_t a = U32(); CALL(disable_implicit_vsock, a); }
    OP(add_vsock) { uint32_t a = U32(), b = U32(); CALL(add_vsock, a, b); }
    OP(set_gpu_options) { uint32_t a = U32(), b = U32(); CALL(set_gpu_options, a, b); }
    OP(set_gpu_options2) { uint32_t a = U32(), b = U32(); uint64_t c = U64(); CALL(set_gpu_options2, a, b, c); }
    OP(add_display) { uint32_t a = U32(), b = U32(), c = U32(); CALL(add_display, a, b, c); }
    OP(display_set_edid) {
        uint32_t a = U32(), b = U32(); const char *c = str();
        CALL(display_set_edid, a, b, (const uint8_t *)c, c ? strlen(c) : 0);
    }
    OP(display_set_dpi) { uint32_t a = U32(), b = U32(), c = U32(); CALL(display_set_dpi, a, b, c); }
    OP(display_set_physical_size) {
        uint32_t a = U32(), b = U32(); uint16_t c = U16(), d = U16();
        CALL(display_set_physical_size, a, b, c, d);
    }
    OP(display_set_refresh_rate) { uint32_t a = U32(), b = U32(), c = U32(); CALL(display_set_refresh_rate, a, b, c); }
    OP(set_display_backend) {
        uint32_t a = U32(); size_t b = (size_t)U64();
        CALL(set_display_backend, a, b ? dummy_backend : NULL, b);
    }
    OP(add_input_device) {
        uint32_t a = U32(); size_t b = (size_t)U64(), c = (size_t)U64();
        CALL(add_input_device, a, dummy_backend, b, dummy_backend, c);
    }
    OP(add_input_device_fd) { uint32_t a = U32(); int b = I32(); CALL(add_input_device_fd, a, b); }
    OP(add_vhost_user_device) {
        uint32_t a = U32(), b = U32(); const char *c = str(), *d = str(); uint16_t e = U16();
        CALL(add_vhost_user_device, a, b, c, d, e, NULL);
    }
    OP(set_smbios_oem_strings) { uint32_t a = U32(); const char *const *b = arr(); CALL(set_smbios_oem_strings, a, b); }
    OP(set_console_output) { uint32_t a = U32(); const char *b = str(); CALL(set_console_output, a, b); }
    OP(disable_implicit_console) { uint32_t a = U32(); CALL(disable_implicit_console, a); }
    OP(add_virtio_console_default) {
        uint32_t a = U32(); int b = I32(), c = I32(), d = I32();
        CALL(add_virtio_console_default, a, b, c, d);
    }
    OP(add_serial_console_default) { uint32_t a = U32(); int b = I32(), c = I32(); CALL(add_serial_console_default, a, b, c); }
    OP(add_virtio_console_multiport) { uint32_t a = U32(); CALL(add_virtio_console_multiport, a); }
    OP(add_console_port_tty) {
        uint32_t a = U32(), b = U32(); const char *c = str(); int d = I32();
        CALL(add_console_port_tty, a, b, c, d);
    }
    OP(add_console_port_inout) {
        uint32_t a = U32(), b = U32(); const char *c = str(); int d = I32(), e = I32();
        CALL(add_console_port_inout, a, b, c, d, e);
    }
    OP(set_kernel_console) { uint32_t a = U32(); const char *b = str(); CALL(set_kernel_console, a, b); }
    OP(set_kernel) {
        uint32_t a = U32(); const char *b = str(); uint32_t c = U32(); const char *d = str(), *e = str();
        CALL(set_kernel, a, b, c, d, e);
    }
    OP(set_firmware) { uint32_t a = U32(); const char *b = str(); CALL(set_firmware, a, b); }
    OP(set_nested_virt) { uint32_t a = U32(); bool b = boolean(); CALL(set_nested_virt, a, b); }
    OP(check_nested_virt) { CALL(check_nested_virt); }
    OP(split_irqchip) { uint32_t a = U32(); bool b = boolean(); CALL(split_irqchip, a, b); }
    OP(setuid) { uint32_t a = U32(), b = U32(); CALL(setuid, a, b); }
    OP(setgid) { uint32_t a = U32(), b = U32(); CALL(setgid, a, b); }
    OP(get_shutdown_eventfd) { uint32_t a = U32(); CALL(get_shutdown_eventfd, a); }
    OP(set_tee_config_file) { uint32_t a = U32(); const char *b = str(); CALL(set_tee_config_file, a, b); }
    else return false;
#undef OP

    if (fn)
        report(op, "\"ret\":%" PRId32, ret);
    else
        report(op, "\"missing\":true");
    return true;
}

int main(int argc, char **argv)
{
    const char *lib = "libkrun.so.1";
    int i = 1;
    if (argc > 2 && !strcmp(argv[1], "-l")) {
        lib = argv[2];
        i = 3;
    }
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "driver: dlopen %s: %s\n", lib, dlerror());
        return 99;
    }
    cur = argv + i;
    end = argv + argc;
    while (cur < end) {
        const char *op = next();
        if (!strcmp(op, ",")) {
            continue;
        } else if (!strcmp(op, "sym")) {
            const char *name = next();
            char *full;
            if (asprintf(&full, "%s%s", strncmp(name, "krun_", 5) ? "krun_" : "", name) < 0)
                abort();
            void *p = dlsym(h, full);
            fprintf(stderr, "@driver {\"op\":\"sym\",\"name\":\"%s\",\"present\":%s}\n", full, p ? "true" : "false");
            free(full);
        } else if (!strcmp(op, "libpath")) {
            struct link_map *lm = NULL;
            if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
                usage("dlinfo failed");
            fputs("@driver {\"op\":\"libpath\",\"path\":", stderr);
            json_string_out(lm->l_name);
            fputs("}\n", stderr);
        } else if (!strcmp(op, "pid")) {
            report(op, "\"pid\":%d", (int)getpid());
        } else if (!strcmp(op, "setenv")) {
            const char *k = next(), *v = next();
            report(op, "\"ret\":%d", setenv(k, v, 1) ? -errno : 0);
        } else if (!strcmp(op, "unsetenv")) {
            const char *k = next();
            report(op, "\"ret\":%d", unsetenv(k) ? -errno : 0);
        } else if (!strcmp(op, "chroot")) {
            const char *dir = next();
            int r = chroot(dir) == 0 && chdir("/") == 0 ? 0 : -errno;
            report(op, "\"ret\":%d", r);
        } else if (!strcmp(op, "mount-proc")) {
            /* Private first, so nothing propagates back to the host's namespace. */
            const char *dir = next();
            int r = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
                            mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0
                        ? 0
                        : -errno;
            report(op, "\"ret\":%d", r);
        } else if (!strcmp(op, "unshare-mnt") || !strcmp(op, "unshare-uts")) {
            int flag = !strcmp(op, "unshare-mnt") ? CLONE_NEWNS : CLONE_NEWUTS;
            report(op, "\"ret\":%d", unshare(flag) ? -errno : 0);
        } else if (!api_op(h, op)) {
            fprintf(stderr, "driver: unknown op %s\n", op);
            return 98;
        }
        fflush(stderr);
    }
    return 0;
}
