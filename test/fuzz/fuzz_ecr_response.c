/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: ECR / ECR Public GetAuthorizationToken answers.  The first byte picks
 * the flavour (odd: ECR Public's single object, even: ECR's array); the rest is the
 * body.  A token that parses must have a user name and an expiry after the epoch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/ecr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_token *tok = NULL;
    struct dh_error *err = NULL;
    bool is_public;

    if (size == 0)
        return 0;
    is_public = data[0] & 1;
    if (dh_ecr_parse_response((const char *)data + 1, size - 1, is_public, NULL, NULL, &tok,
                              &err) == 0) {
        if (err || !tok || !tok->username || !*tok->username || !tok->secret ||
            tok->expires_at <= 0)
            abort();
        dh_token_free(tok);
    } else if (!err || !err->msg) {
        abort();
    }
    dh_error_free(&err);
    return 0;
}
