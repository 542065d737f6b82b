/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: credential helper stdin.  Runs the bytes through what `store`
 * and `get`/`erase` do with stdin before touching a store (line joining, JSON
 * and UTF-8 checks, field extraction, server URL parsing), then checks that
 * the Go-compatible encoder's answer parses back to the same strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/helper.h"
#include "dockhand/regurl.h"

static void check_roundtrip(const struct dh_cred *c, const char *server)
{
    struct dh_buf out = DH_BUF_INIT((size_t)8 << 20);
    json_t *back;

    if (dh_helper_format_cred(&out, server, c, NULL) < 0)
        abort();
    back = json_loadb(out.data, out.len, 0, NULL);
    if (!back || strcmp(json_string_value(json_object_get(back, "ServerURL")), server) ||
        strcmp(json_string_value(json_object_get(back, "Username")), c->username) ||
        strcmp(json_string_value(json_object_get(back, "Secret")), c->secret))
        abort();
    json_decref(back);
    dh_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_buf in = DH_BUF_INIT_SECRET(DH_HELPER_INPUT_MAX);
    struct dh_cred *c = NULL;
    struct dh_error *err = NULL;
    char *server = NULL;

    if (dh_buf_append(&in, data, size, &err) < 0) {
        dh_error_free(&err);
        dh_buf_release(&in);
        return 0;
    }
    dh_helper_join_lines(&in);

    if (dh_helper_parse_store(in.data, in.len, &c, &err) == 0) {
        struct dh_regurl u;
        if (dh_regurl_parse(c->server_url, &u, &err) == 0) {
            free(dh_regurl_key(&u));
            dh_regurl_release(&u);
        }
        check_roundtrip(c, c->server_url);
        dh_cred_free(c);
    }
    dh_error_free(&err);

    if (dh_helper_parse_server(in.data, in.len, &server, &err) == 0) {
        struct dh_cred *fake = dh_cred_new(server, "<token>", server);
        struct dh_regurl u;

        if (dh_regurl_parse(server, &u, &err) == 0) {
            free(dh_regurl_key(&u));
            dh_regurl_release(&u);
        }
        check_roundtrip(fake, server);
        dh_cred_free(fake);
        free(server);
    }
    dh_error_free(&err);
    dh_buf_release(&in);
    return 0;
}
