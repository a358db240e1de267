/* terminal_setup_in_container in a child with a private mount namespace and
 * its own devpts (as a container has), and the master arriving on the other
 * end of the console socket. Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "spec.h"
#include "terminal.h"
#include "unit.h"
#include "unixsock.h"

static const char config[] =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"terminal\":true,\"consoleSize\":{\"height\":33,\"width\":111},"
    "\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":1234,\"gid\":0}},"
    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";

/* The child: a /dev of its own, then the pty; it reports on its new stdout. */
static void __attribute__((noreturn)) child(const struct spec *spec, int console_fd)
{
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", "/dev", "tmpfs", 0, "mode=755") < 0 || mkdir("/dev/pts", 0755) < 0 ||
        mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0 ||
        symlink("pts/ptmx", "/dev/ptmx") < 0) {
        perror("child setup");
        _exit(10);
    }
    struct error *err = NULL;
    if (terminal_setup_in_container(spec, console_fd, &err) < 0) {
        fprintf(stderr, "terminal_setup_in_container: %s\n", err->msg);
        _exit(11);
    }
    close(console_fd);
    struct stat in, cons;
    const char *name = ttyname(0);
    bool ok_console = stat("/dev/console", &cons) == 0 && fstat(0, &in) == 0 && cons.st_rdev == in.st_rdev;
    struct winsize ws = { 0 };
    ioctl(1, TIOCGWINSZ, &ws);
    printf("tty=%s sid=%d leader=%d fg=%d console=%d size=%dx%d owner=%u fds=%d%d%d\n", name ? name : "none",
           getsid(0) == getpid(), getpid() == getsid(0), tcgetpgrp(0) == getpgrp(), ok_console, ws.ws_row, ws.ws_col,
           (unsigned)in.st_uid, isatty(0), isatty(1), isatty(2));
    fflush(stdout);
    /* wait for a line typed on the master, echo it back */
    char line[64] = "";
    if (fgets(line, sizeof(line), stdin))
        printf("got:%s", line);
    fflush(stdout);
    _exit(0);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root (mount namespace, devpts)\n");
        return 0;
    }
    json_t *doc = json_loads(config, 0, NULL);
    struct spec *spec = NULL;
    struct error *err = NULL;
    CHECK(spec_parse(doc, "/b", &spec, &err) == 0);
    if (!spec)
        UNIT_DONE();

    int runtime_end, init_end;
    CHECK(console_socketpair(&runtime_end, &init_end, &err) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(runtime_end);
        child(spec, init_end);
    }
    close(init_end);

    char *payload = NULL;
    int master = -1;
    CHECK(unix_recv_fd(runtime_end, &payload, &master, &err) == 0);
    CHECK(payload && strcmp(payload, "/dev/ptmx") == 0);
    free(payload);
    CHECK(master >= 0 && isatty(master));

    /* the child echoes what we type */
    const char *typed = "hello\n";
    CHECK(write(master, typed, strlen(typed)) == (ssize_t)strlen(typed));
    char out[4096];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(master, out + used, sizeof(out) - 1 - used);
        if (n <= 0)
            break;      /* EIO once the child has exited */
        used += (size_t)n;
    }
    out[used] = 0;
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_CONTAINS(out, "tty=/dev/pts/0 sid=1 leader=1 fg=1 console=1 size=33x111 owner=1234 fds=111");
    CHECK_CONTAINS(out, "got:hello");

    /* console_receive_master refuses what is not a terminal */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(unix_send_fd(sv[0], "x", 1, devnull, &err) == 0);
    int got = -1;
    CHECK(console_receive_master(sv[1], &got, &err) == -EBADMSG);
    CHECK_CONTAINS(err ? err->msg : NULL, "not a terminal");
    error_free(err);
    err = NULL;
    /* a peer that goes away without sending */
    close(sv[0]);
    CHECK(console_receive_master(sv[1], &got, &err) < 0);
    CHECK_CONTAINS(err ? err->msg : NULL, "closed the socket without sending");
    error_free(err);
    close(sv[1]);
    close(devnull);
    close(master);
    close(runtime_end);
    spec_free(spec);
    UNIT_DONE();
}
