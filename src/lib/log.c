#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;         /* -1: stderr, without a file */
static bool log_json;
static bool log_debug_on;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int log_init(const char *path, const char *format, bool debug)
{
    log_debug_on = debug;
    log_json = format && strcmp(format, "json") == 0;
    if (path && *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        log_fd = fd;
    }
    return 0;
}

bool log_debug_enabled(void) { return log_debug_on; }

static void log_write(enum log_level level, const char *msg)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

    char *line = NULL;
    int n;
    if (log_json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "level", level_names[level], "msg", msg, "time", when);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        n = s ? asprintf(&line, "%s\n", s) : -1;
        free(s);
    } else {
        json_t *q = json_string(msg);   /* quote msg the way logrus does */
        char *s = q ? json_dumps(q, JSON_ENCODE_ANY) : NULL;
        json_decref(q);
        n = s ? asprintf(&line, "time=\"%s\" level=%s msg=%s\n", when, level_names[level], s) : -1;
        free(s);
    }
    if (n > 0) {
        ssize_t w = write(log_fd >= 0 ? log_fd : STDERR_FILENO, line, (size_t)n);
        (void)w;
    }
    free(line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    log_write(level, msg);
    free(msg);
}

void log_fatal(const char *msg)
{
    if (log_fd >= 0)
        log_write(LOG_LEVEL_ERROR, msg);
    dprintf(STDERR_FILENO, "krunc: %s\n", msg);
}
