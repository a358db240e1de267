/* The container's root filesystem: mounts, devices, pivot_root, masks. */
#pragma once
#include <stdbool.h>
#include "error.h"

struct spec;

/* In the container init, in its new mount namespace, before pivot_root:
 * rootfs propagation, the rootfs bind mount, every spec mount, devices. */
int rootfs_prepare(const struct spec *spec, struct error **err);
/* pivot_root (or chroot-like move with no_pivot) into spec->root_path. */
int rootfs_pivot(const struct spec *spec, bool no_pivot, struct error **err);
/* After pivot_root: maskedPaths, readonlyPaths, root.readonly, propagation. */
int rootfs_finalize(const struct spec *spec, struct error **err);
