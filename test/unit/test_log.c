/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: logging levels, text and JSON-lines formats. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/cleanup.h"
#include "dockhand/log.h"

#include "t.h"

/* Captures what fn writes to stderr. */
static char *capture(void (*fn)(void))
{
    static char out[4096];
    int p[2], saved;
    ssize_t n;

    fflush(stderr);
    if (pipe(p) < 0 || (saved = dup(STDERR_FILENO)) < 0)
        abort();
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = read(p[0], out, sizeof(out) - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void emit(void)
{
    dh_log_error("bad '%s'", "thing");
    dh_log_warn("careful");
    dh_log_info("fyi");
    dh_log_debug("details");
}

static void test_levels_text(void)
{
    char *out;

    dh_log_set_format(DH_LOG_TEXT);
    dh_log_set_level(DH_LOG_WARN);
    out = capture(emit);
    T_EQ_STR(out, "test_log: error: bad 'thing'\ntest_log: warn: careful\n");
    dh_log_set_level(DH_LOG_DEBUG);
    out = capture(emit);
    T_ASSERT(strstr(out, "test_log: debug: details\n") != NULL);
    T_ASSERT(strstr(out, "test_log: info: fyi\n") != NULL);
    dh_log_set_level(DH_LOG_ERROR);
    out = capture(emit);
    T_EQ_STR(out, "test_log: error: bad 'thing'\n");
}

static void emit_json(void)
{
    dh_log_warn("quote \" backslash \\ newline \n tab \t ctl \x01 done");
}

static void test_json_lines(void)
{
    json_auto_t *j = NULL;
    char *out;

    dh_log_set_format(DH_LOG_JSON);
    dh_log_set_level(DH_LOG_WARN);
    out = capture(emit_json);
    T_ASSERT(strchr(out, '\n') == out + strlen(out) - 1); /* exactly one line */
    j = json_loads(out, 0, NULL);
    T_REQUIRE(j);
    T_EQ_STR(json_string_value(json_object_get(j, "level")), "warn");
    T_EQ_STR(json_string_value(json_object_get(j, "prog")), "test_log");
    T_EQ_STR(json_string_value(json_object_get(j, "msg")),
             "quote \" backslash \\ newline \n tab \t ctl \x01 done");
    T_ASSERT(strlen(json_string_value(json_object_get(j, "time"))) == 24);
    dh_log_set_format(DH_LOG_TEXT);
}

static void test_parse_and_env(void)
{
    enum dh_log_level l;
    enum dh_log_format f;

    T_EQ_INT(dh_log_parse_level("WARNING", &l), 0);
    T_EQ_INT(l, DH_LOG_WARN);
    T_EQ_INT(dh_log_parse_level("loud", &l), -1);
    T_EQ_INT(dh_log_parse_format("json", &f), 0);
    T_EQ_INT(f, DH_LOG_JSON);
    T_EQ_INT(dh_log_parse_format("xml", &f), -1);
    setenv("DOCKHAND_LOG_LEVEL", "debug", 1);
    setenv("DOCKHAND_LOG_FORMAT", "json", 1);
    dh_log_init("/usr/bin/test_log");
    T_EQ_INT(dh_log_current_level, DH_LOG_DEBUG);
    T_ASSERT(dh_log_level_from_env() && dh_log_format_from_env());
    dh_log_set_format(DH_LOG_TEXT);
}

int main(void)
{
    unsetenv("DOCKHAND_LOG_LEVEL");
    unsetenv("DOCKHAND_LOG_FORMAT");
    dh_log_init("test_log");
    T_RUN(test_levels_text);
    T_RUN(test_json_lines);
    T_RUN(test_parse_and_env);
    return t_done();
}
