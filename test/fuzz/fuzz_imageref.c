/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for image references: a parsed reference's canonical string
 * parses again to the same string, its parts obey the grammar limits, and
 * strict parsing of the canonical string agrees with the normalised parse.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/imageref.h"
#include "dockhand/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool first_component_is_domain_like(const struct dh_imageref *r)
{
    size_t n = strcspn(r->path, "/");

    return !strcmp(r->domain, "docker.io") && r->path[n] == '/' &&
           (memchr(r->path, '.', n) || memchr(r->path, ':', n) ||
            (n == 9 && !strncmp(r->path, "localhost", 9)));
}

static void check(const char *s)
{
    struct dh_imageref r, r2, r3;
    struct dh_error *err = NULL;
    char *str, *str2, *fam, *reg, *scope;

    if (dh_imageref_parse_strict(s, &r, &err) < 0) {
        if (!err || r.path || r.domain)
            abort();
        dh_error_free(&err);
    } else {
        str = dh_imageref_string(&r);
        if (strcmp(str, s) != 0) /* String() gives a strict parse back verbatim */
            abort();
        free(str);
        dh_imageref_release(&r);
    }

    if (dh_imageref_parse(s, &r, &err) < 0) {
        if (!err || !err->msg || r.path || r.domain || r.tag || r.digest)
            abort();
        dh_error_free(&err);
        return;
    }
    if (!r.domain || !*r.domain || !r.path || (!r.tag && !r.digest))
        abort();
    if (strlen(r.domain) + 1 + strlen(r.path) > DH_IMAGEREF_NAME_MAX)
        abort();
    if (r.tag && strlen(r.tag) > DH_IMAGEREF_TAG_MAX)
        abort();
    str = dh_imageref_string(&r);
    fam = dh_imageref_familiar(&r);
    reg = dh_imageref_registry(&r);
    scope = dh_imageref_scope(&r);
    if (dh_imageref_parse(str, &r2, &err) < 0)
        abort();
    str2 = dh_imageref_string(&r2);
    if (strcmp(str, str2) != 0)
        abort();
    if (dh_imageref_parse_strict(str, &r3, &err) < 0 || strcmp(r3.domain, r.domain) != 0 ||
        strcmp(r3.path, r.path) != 0)
        abort();
    /* the familiar form normalises back to the same reference, except for Docker Hub
       paths whose first component looks like a domain ("docker.io/a.b/c" is familiar
       "a.b/c", which names registry a.b: docker's own ambiguity) */
    free(str2);
    str2 = NULL;
    dh_imageref_release(&r2);
    if (!first_component_is_domain_like(&r)) {
        if (dh_imageref_parse(fam, &r2, &err) < 0)
            abort();
        str2 = dh_imageref_string(&r2);
        if (strcmp(str, str2) != 0)
            abort();
    }
    free(str);
    free(str2);
    free(fam);
    free(reg);
    free(scope);
    dh_imageref_release(&r);
    dh_imageref_release(&r2);
    dh_imageref_release(&r3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size > 4096)
        return 0;
    s = dh_xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    check(s);
    free(s);
    return 0;
}
