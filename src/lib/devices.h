/* /dev inside the rootfs: the default devices, linux.devices, the links. */
#pragma once
#include <stdbool.h>
#include "error.h"

struct spec;

/* runc's rule: /dev is populated unless the spec bind-mounts it. */
bool devices_need_setup(const struct spec *spec);
/* Before pivot_root, with root_fd an O_PATH fd of the rootfs. */
int devices_setup(int root_fd, const struct spec *spec, struct error **err);
