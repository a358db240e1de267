/* process.terminal: the pty and --console-socket. */
#pragma once
#include <sys/types.h>
#include "error.h"

struct spec;

/* In the container init, after pivot_root (and the /dev/pts mount): open a pty
 * from the container's devpts (/dev/pts/ptmx, else /dev/ptmx), unlock it, set
 * process.consoleSize, give the slave to process.user.uid, bind it over
 * /dev/console, make it the controlling terminal (setsid + TIOCSCTTY) and
 * stdin/stdout/stderr, and send the master over console_fd with SCM_RIGHTS
 * (payload "/dev/ptmx", as runc sends). console_fd stays the caller's to close;
 * the init keeps no copy of the master. */
int terminal_setup_in_container(const struct spec *spec, int console_fd, struct error **err);
/* The same for a process `exec` starts in a running container (already in its
 * mount namespace): /dev/console is left as it is. */
struct spec_process;
int terminal_setup_exec(const struct spec_process *proc, int console_fd, struct error **err);

/* ---- runtime side ---- */

/* `create`/`run -d`/`exec -d` with --console-socket: connect to the socket;
 * pass *fd to the init as its console_fd. */
int console_socket_connect(const char *path, int *fd, struct error **err);

/* Foreground `run`/`exec` with a terminal: a socket pair standing in for the
 * console socket. Give *init_end to the init as console_fd (close it in the
 * runtime once the init has it), keep *runtime_end. */
int console_socketpair(int *runtime_end, int *init_end, struct error **err);
/* Take the pty master the init sent (blocks until it comes). */
int console_receive_master(int sock, int *master, struct error **err);

/* Foreground: proxy the user's terminal to the container's pty until process
 * pid exits. When stdin is a tty it goes to raw mode (restored on return) and
 * its window size is copied to the pty now and on every SIGWINCH; stdin goes
 * to the master, the master to stdout; EOF on a non-tty stdin sends the pty's
 * EOF character. SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to
 * krunc meanwhile are forwarded to pid. Returns once pid has exited and the
 * master is drained; it does not reap pid (waitpid it afterwards). Closes
 * nothing it was given. */
int terminal_proxy(int master, pid_t pid, struct error **err);
