/* Shared libraries opened at run time: libkrun (the krun executor) and
 * libsystemd (--systemd-cgroup). krunc links neither.
 *
 * The default build links krunc statically (static-pie): it maps far less
 * than a dynamically linked program, but glibc cannot dlopen from it. That
 * build also makes krunc-dynamic, the same program linked dynamically, and
 * dynload_prepare replaces the static krunc with it (execve, same arguments,
 * same pid) when a command is about to need dlopen. Built with -Dstatic=false,
 * krunc is dynamic itself and dynload_prepare does nothing.
 *
 * Two implementations, one linked into each program: dynload.c (dlopen) and
 * dynload_static.c (re-exec). */
#pragma once
#include "error.h"

/* main's argv, before any option parsing reorders it: what krunc-dynamic gets */
void dynload_init(char **argv);

/* Make dlopen usable in this process. Call it before the command has made
 * anything (state dir, process, cgroup, file): in the static build it does not
 * return on success, and krunc-dynamic runs the whole command again. Returns
 * 0 when this process can dlopen, or an error naming what is missing. */
int dynload_prepare(struct error **err);

/* dlopen(name, RTLD_NOW | RTLD_LOCAL), dlsym, dlclose, dlerror */
void *dynload_open(const char *name);
void *dynload_sym(void *handle, const char *symbol);
void dynload_close(void *handle);
const char *dynload_error(void);

/* How this krunc loads shared libraries, for --version. */
const char *dynload_describe(void);
