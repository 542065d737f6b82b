/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: token endpoint answers (dh_registry_token_parse) and registry
 * error bodies (dh_registry_error_message) on the same bytes.  Invariants: a
 * parsed token is non-empty and safe in an HTTP header, its lifetime is within
 * the clamp and expires_at = now + expires_in; an error message is one
 * printable line of at most 200 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW ((int64_t)1700000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_registry_token t = {0};
    struct dh_error *err = NULL;
    char *msg;

    if (dh_registry_token_parse((const char *)data, size, NOW, &t, &err) == 0) {
        if (err || !t.token || !*t.token || t.expires_in < DH_REGISTRY_TOKEN_MIN_LIFETIME ||
            t.expires_in > DH_REGISTRY_TOKEN_MAX_LIFETIME || t.expires_at != NOW + t.expires_in)
            abort();
        for (const char *p = t.token; *p; p++) {
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        }
        if (t.refresh_token && !*t.refresh_token)
            abort();
        dh_registry_token_release(&t);
    } else if (!err || !err->msg || t.token) {
        abort();
    }
    dh_error_free(&err);

    msg = dh_registry_error_message((const char *)data, size);
    if (msg) {
        size_t n = strlen(msg);

        if (n > 200)
            abort();
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
                abort();
        }
        free(msg);
    }
    return 0;
}
