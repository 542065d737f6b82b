/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dockhand/mem.h"

enum dh_log_level dh_log_current_level = DH_LOG_WARN;
static enum dh_log_format log_format = DH_LOG_TEXT;
static const char *log_prog = "dockhand";
static bool level_env, format_env;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int dh_log_parse_level(const char *s, enum dh_log_level *ret)
{
    if (!strcasecmp(s, "error"))
        *ret = DH_LOG_ERROR;
    else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
        *ret = DH_LOG_WARN;
    else if (!strcasecmp(s, "info"))
        *ret = DH_LOG_INFO;
    else if (!strcasecmp(s, "debug"))
        *ret = DH_LOG_DEBUG;
    else
        return -1;
    return 0;
}

int dh_log_parse_format(const char *s, enum dh_log_format *ret)
{
    if (!strcasecmp(s, "text"))
        *ret = DH_LOG_TEXT;
    else if (!strcasecmp(s, "json"))
        *ret = DH_LOG_JSON;
    else
        return -1;
    return 0;
}

void dh_log_init(const char *progname)
{
    const char *v;
    enum dh_log_level level;
    enum dh_log_format format;

    if (progname) {
        const char *slash = strrchr(progname, '/');
        log_prog = slash ? slash + 1 : progname;
    }
    v = secure_getenv("DOCKHAND_LOG_LEVEL");
    if (v && *v && dh_log_parse_level(v, &level) == 0) {
        dh_log_current_level = level;
        level_env = true;
    }
    v = secure_getenv("DOCKHAND_LOG_FORMAT");
    if (v && *v && dh_log_parse_format(v, &format) == 0) {
        log_format = format;
        format_env = true;
    }
}

void dh_log_set_level(enum dh_log_level level)
{
    dh_log_current_level = level;
}

void dh_log_set_format(enum dh_log_format format)
{
    log_format = format;
}

bool dh_log_level_from_env(void)
{
    return level_env;
}

bool dh_log_format_from_env(void)
{
    return format_env;
}

static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void dh_log_write(enum dh_log_level level, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = dh_xvasprintf(fmt, ap);
    va_end(ap);
    if (log_format == DH_LOG_JSON) {
        struct timespec ts;
        struct tm tm;
        char when[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        flockfile(stderr);
        fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":\"", when,
                ts.tv_nsec / 1000000, level_names[level]);
        json_escape(stderr, log_prog);
        fputs("\",\"msg\":\"", stderr);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
        funlockfile(stderr);
    } else if (level == DH_LOG_ERROR) {
        fprintf(stderr, "%s: error: %s\n", log_prog, msg);
    } else {
        fprintf(stderr, "%s: %s: %s\n", log_prog, level_names[level], msg);
    }
    free(msg);
}
