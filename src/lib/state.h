/* The --root directory: one locked directory per container holding state.json. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include "error.h"

#define STATE_FILE "state.json"
#define EXEC_FIFO "exec.fifo"
#define CONFIG_COPY "config.json"

struct container_state {
    char *id;
    pid_t pid;
    unsigned long long pid_start;   /* to tell a reused pid apart */
    char *bundle, *rootfs, *created, *owner;
    char *executor;
    json_t *annotations;            /* owned, may be NULL */
    json_t *cgroup;                 /* owned, may be NULL */
    int dirfd;                      /* the container's state dir, O_PATH|O_DIRECTORY */
    int lockfd;
};

enum container_status { STATUS_CREATING, STATUS_CREATED, STATUS_RUNNING, STATUS_PAUSED, STATUS_STOPPED };

int state_check_id(const char *id, struct error **err);
/* mkdir root/id (mode 0711) and lock it; fails if it exists. */
int state_dir_create(const char *root, const char *id, int *dirfd, int *lockfd, struct error **err);
/* Open and lock an existing container; exclusive or shared lock. */
int state_load(const char *root, const char *id, bool exclusive, struct container_state **out, struct error **err);
int state_save(const struct container_state *st, struct error **err);
void state_free(struct container_state *st);
int state_remove_dir(const char *root, const char *id, struct error **err);
enum container_status state_status(const struct container_state *st);
const char *status_name(enum container_status s);
/* The OCI state document (ociVersion, id, status, pid, bundle, annotations, ...). */
json_t *state_to_oci(const struct container_state *st, enum container_status status);
/* Ids of the containers under root (sorted). */
int state_list_ids(const char *root, char ***ids, size_t *n, struct error **err);
void state_freep(struct container_state **st);

struct spec;
/* The stored copy of the container's config (as its executor left it). */
int state_read_config(const struct container_state *st, json_t **doc, struct error **err);
int state_load_spec(const struct container_state *st, struct spec **out, struct error **err);
/* Replace the stored config, atomically. */
int state_write_config(int dirfd, const char *id, json_t *doc, struct error **err);
