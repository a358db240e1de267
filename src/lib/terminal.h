/* process.terminal: the pty and --console-socket. */
#pragma once
#include "error.h"

struct spec;

/* In the container init, after pivot_root: make a pty, make its slave the
 * stdio and controlling terminal, send the master over console_fd. */
int terminal_setup_in_container(const struct spec *spec, int console_fd, struct error **err);
