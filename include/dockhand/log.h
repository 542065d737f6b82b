/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr, with levels and an optional JSON-lines format.
 *
 * Library code logs only at debug level (and `warn` for "..., ignoring"
 * conditions); errors are returned, and cmd/ prints them once.  Never pass a
 * secret to these functions.
 *
 * Environment: DOCKHAND_LOG_LEVEL=error|warn|info|debug (default warn),
 * DOCKHAND_LOG_FORMAT=text|json (default text).  The config file may set them
 * too; the environment wins.
 */
#ifndef DOCKHAND_LOG_H
#define DOCKHAND_LOG_H

#include <stdbool.h>

enum dh_log_level {
    DH_LOG_ERROR = 0,
    DH_LOG_WARN = 1,
    DH_LOG_INFO = 2,
    DH_LOG_DEBUG = 3,
};

enum dh_log_format {
    DH_LOG_TEXT = 0,
    DH_LOG_JSON = 1,
};

extern enum dh_log_level dh_log_current_level;

/* Sets the program name and reads DOCKHAND_LOG_LEVEL / DOCKHAND_LOG_FORMAT. */
void dh_log_init(const char *progname);
void dh_log_set_level(enum dh_log_level level);
void dh_log_set_format(enum dh_log_format format);
/* Parses "error", "warn"/"warning", "info", "debug".  Returns 0, or -1 when unknown. */
int dh_log_parse_level(const char *s, enum dh_log_level *ret);
int dh_log_parse_format(const char *s, enum dh_log_format *ret);
/* True when the level/format was set from the environment (the config must not override it). */
bool dh_log_level_from_env(void);
bool dh_log_format_from_env(void);

void dh_log_write(enum dh_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define dh_log(level, ...)                      \
    do {                                        \
        if ((level) <= dh_log_current_level)    \
            dh_log_write((level), __VA_ARGS__); \
    } while (0)
#define dh_log_error(...) dh_log(DH_LOG_ERROR, __VA_ARGS__)
#define dh_log_warn(...)  dh_log(DH_LOG_WARN, __VA_ARGS__)
#define dh_log_info(...)  dh_log(DH_LOG_INFO, __VA_ARGS__)
#define dh_log_debug(...) dh_log(DH_LOG_DEBUG, __VA_ARGS__)

#endif
