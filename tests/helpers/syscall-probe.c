/* syscall-probe NR...: make each raw syscall with all arguments 0 and print
 * "NR ok" or "NR ERRNO" (the number). For the seccomp tests: which syscalls a
 * filter lets through and with what error it stops the others. Linked
 * statically, so that it runs in a busybox rootfs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        long nr = strtol(argv[i], NULL, 10);
        errno = 0;
        long r = syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L);
        if (r < 0)
            printf("%ld %d\n", nr, errno);
        else
            printf("%ld ok\n", nr);
    }
    return 0;
}
