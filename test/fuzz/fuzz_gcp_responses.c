/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: Google credentials input.  The first byte picks the parser (modulo 4),
 * the rest is its input:
 *
 *   0  a key file (service_account, authorized_user, external_account)
 *   1  a token endpoint answer, HTTP 200
 *   2  an STS token exchange answer, HTTP 200 (expires_in may be left out)
 *   3  an error answer, HTTP 400
 *
 * A key file that parses has an identity; a token that parses is a Bearer token of
 * user oauth2accesstoken expiring 1 s to 7 days from now.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/gcp.h"

#define NOW ((int64_t)1800000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_gcp_source *src = NULL;
    struct dh_token *tok = NULL;
    struct dh_error *err = NULL;
    const char *body;
    size_t len;
    int sel, r;

    if (size == 0)
        return 0;
    body = (const char *)data + 1;
    len = size - 1;
    sel = data[0] % 4;
    if (sel == 0) {
        r = dh_gcp_parse_key_file("/fuzz/key.json", body, len, &src, &err);
        if (r == 0) {
            const char *id = dh_gcp_source_identity(src);
            if (err || !id || !*id)
                abort();
            dh_gcp_source_free(src);
        } else if (!err || !err->msg || src) {
            abort();
        }
        dh_error_free(&err);
        return 0;
    }
    r = dh_gcp_parse_token_response(sel == 3 ? 400 : 200, body, len, NULL,
                                    "https://oauth2.example.test/token?x=1", NOW,
                                    sel == 2 ? 3600 : 0, &tok, &err);
    if (r == 0) {
        if (sel == 3 || err || !tok || strcmp(tok->username, DH_GCP_USERNAME) != 0 ||
            !tok->secret || !*tok->secret || tok->expires_at <= NOW ||
            tok->expires_at > NOW + 7 * 24 * 3600)
            abort();
        dh_token_free(tok);
    } else if (!err || !err->msg || tok) {
        abort();
    }
    dh_error_free(&err);
    return 0;
}
