/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the server-URL parser: parse, build the key, re-parse the
 * key and check that it is a fixed point; rank the URL against itself and
 * against the part after the first newline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/mem.h"
#include "dockhand/regurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_one(const char *s)
{
    struct dh_regurl u = {0}, u2 = {0};
    struct dh_error *err = NULL;
    char *key, *key2;

    if (dh_regurl_parse(s, &u, &err) < 0) {
        if (!err || !err->msg || u.scheme || u.host || u.path)
            abort();
        dh_error_free(&err);
        return;
    }
    if (err || !u.scheme || !u.host || !u.path)
        abort();
    key = dh_regurl_key(&u);
    if (strlen(key) > DH_REGURL_MAX)
        abort();
    if (dh_regurl_parse(key, &u2, &err) < 0)
        abort();
    key2 = dh_regurl_key(&u2);
    if (strcmp(key, key2) != 0)
        abort();
    if (dh_regurl_match_rank(&u, &u2) != DH_REGURL_RANK_EXACT ||
        dh_regurl_match_rank(&u2, &u) != DH_REGURL_RANK_EXACT)
        abort();
    if (dh_regurl_match_rank_str(s, key) != DH_REGURL_RANK_EXACT)
        abort();
    free(key);
    free(key2);
    dh_regurl_release(&u);
    dh_regurl_release(&u2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s, *nl;
    int r1, r2;

    if (size > 3 * DH_REGURL_MAX)
        return 0;
    s = dh_xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    check_one(s);
    nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        check_one(s);
        check_one(nl + 1);
        /* ranks are -1 or positive, and a mutual prefix match means equal */
        r1 = dh_regurl_match_rank_str(s, nl + 1);
        r2 = dh_regurl_match_rank_str(nl + 1, s);
        if (r1 == 0 || r1 < -1 || r2 == 0 || r2 < -1)
            abort();
        if ((r1 == DH_REGURL_RANK_EXACT) != (r2 == DH_REGURL_RANK_EXACT))
            abort();
        if (r1 >= DH_REGURL_RANK_PREFIX && r1 != DH_REGURL_RANK_EXACT &&
            r2 >= DH_REGURL_RANK_PREFIX && r2 != DH_REGURL_RANK_EXACT)
            abort();
    }
    free(s);
    return 0;
}
