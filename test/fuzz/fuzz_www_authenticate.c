/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: WWW-Authenticate header values (dh_auth_challenges_parse).  The
 * input is the header value (cut at the first NUL).  Invariants: success and
 * failure are exclusive and complete; every challenge has a non-empty lowercase
 * scheme and lowercase, non-empty parameter names without duplicates; a failed
 * parse appends nothing; the value of a parameter found by name is the one stored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockhand/mem.h"
#include "dockhand/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lower(const char *s)
{
    if (!s || !*s)
        abort();
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_auth_challenges list = {0};
    struct dh_error *err = NULL;
    char *s = dh_xstrndup((const char *)data, size);
    int r;

    /* one challenge already in the list: a failure must leave it alone */
    if (dh_auth_challenges_parse("Basic realm=\"x\"", &list, &err) < 0 || list.n != 1)
        abort();
    r = dh_auth_challenges_parse(s, &list, &err);
    if (r == 0) {
        if (err)
            abort();
    } else if (r != -1 || !err || !err->msg || list.n != 1) {
        abort();
    }
    for (size_t i = 0; i < list.n; i++) {
        const struct dh_auth_challenge *c = &list.v[i];

        check_lower(c->scheme);
        for (size_t k = 0; k < c->n_params; k++) {
            check_lower(c->params[k].name);
            if (!c->params[k].value)
                abort();
            for (size_t m = 0; m < k; m++) {
                if (!strcasecmp(c->params[m].name, c->params[k].name))
                    abort();
            }
            if (dh_auth_challenge_param(c, c->params[k].name) != c->params[k].value)
                abort();
        }
        if (dh_auth_challenges_find(&list, c->scheme) == NULL)
            abort();
    }
    dh_auth_challenges_release(&list);
    dh_error_free(&err);
    free(s);
    return 0;
}
