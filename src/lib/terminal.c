/* PLACEHOLDER: replaced by the process-security work (issue 3). */
#include <errno.h>
#include "terminal.h"

int terminal_setup_in_container(const struct spec *spec, int console_fd, struct error **err)
{
    (void)spec; (void)console_fd;
    return error_set(err, ENOTSUP, "process.terminal: not supported yet");
}
