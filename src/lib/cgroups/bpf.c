/* The v2 device controller is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE). */
#include <errno.h>

#include "internal.h"

int cg_bpf_devices_load(const struct cg_device_rule *rules, size_t n, int *prog_fd, struct error **err)
{
    (void)rules; (void)n; *prog_fd = -1;
    return error_set(err, ENOTSUP, "device rules on cgroup v2: not written yet");
}

int cg_bpf_devices_attach(int cgroup_fd, int prog_fd, const char *dir, struct error **err)
{
    (void)cgroup_fd; (void)prog_fd; (void)dir;
    return error_set(err, ENOTSUP, "device rules on cgroup v2: not written yet");
}
