/* dynload for a dynamically linked krunc: plain dlopen. */
#include <dlfcn.h>

#include "dynload.h"

void dynload_init(char **argv)
{
    (void)argv;
}

int dynload_prepare(struct error **err)
{
    (void)err;
    return 0;
}

void *dynload_open(const char *name)
{
    return dlopen(name, RTLD_NOW | RTLD_LOCAL);
}

void *dynload_sym(void *handle, const char *symbol)
{
    return dlsym(handle, symbol);
}

void dynload_close(void *handle)
{
    dlclose(handle);
}

const char *dynload_error(void)
{
    return dlerror();
}

const char *dynload_describe(void)
{
    return "dynamic";
}
