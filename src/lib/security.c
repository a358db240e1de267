/* PLACEHOLDER: replaced by the process-security work (issue 3). */
#include "security.h"
#include "spec.h"

int process_security_parse(struct spec *spec, json_t *process, const char *path, json_t *linux_obj,
                           struct process_security **out, struct error **err)
{
    (void)spec; (void)process; (void)path; (void)linux_obj; (void)err;
    *out = NULL;
    return 0;
}

int process_security_prepare(const struct process_security *sec, struct error **err)
{
    (void)sec; (void)err;
    return 0;
}

int process_security_apply(const struct process_security *sec, bool no_new_privileges, struct error **err)
{
    (void)sec; (void)no_new_privileges; (void)err;
    return 0;
}
