/* runc-compatible logging: --log FILE, --log-format text|json, --debug. */
#pragma once
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* path may be NULL (log to stderr); format "text" or "json". Returns 0 or -errno. */
int log_init(const char *path, const char *format, bool debug);
bool log_debug_enabled(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error the command ends with: to the log, and to stderr as a plain line. */
void log_fatal(const char *msg);

#define log_debug(...) do { if (log_debug_enabled()) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
