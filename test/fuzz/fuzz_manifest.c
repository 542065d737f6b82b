/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for manifests and indexes.  Input: JSON, optionally preceded by
 * one line holding a Content-Type (when the input does not start with '{').
 * A parsed manifest obeys the documented invariants; an index is searched for
 * a few platforms; the digest helpers run over the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/imageref.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_descriptor(const struct dh_descriptor *d)
{
    struct dh_error *err = NULL;

    if (!d->media_type || !d->digest || d->size < 0 || d->size > DH_MANIFEST_MAX_BLOB_SIZE)
        abort();
    if (dh_digest_validate(d->digest, &err) < 0)
        abort();
    if (d->platform && (!d->platform->os || !d->platform->architecture))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const plats[] = {"linux/amd64", "linux/arm64", "linux/arm/v7",
                                        "windows/amd64", "linux/amd64/v3"};
    struct dh_manifest m;
    struct dh_error *err = NULL;
    char *ct = NULL, *d;
    const uint8_t *body = data;
    size_t blen = size, i;

    if (size && data[0] != '{') {
        const uint8_t *nl = memchr(data, '\n', size);

        if (!nl)
            return 0;
        ct = dh_xstrndup((const char *)data, (size_t)(nl - data));
        body = nl + 1;
        blen = size - (size_t)(nl - data) - 1;
    }
    d = dh_digest_sha256(body, blen);
    if (dh_digest_check(body, blen, d, d, NULL, &err) < 0)
        abort();
    free(d);

    if (dh_manifest_parse(body, blen, ct, &m, &err) < 0) {
        if (!err || m.media_type || m.layers || m.manifests)
            abort();
        dh_error_free(&err);
        free(ct);
        return 0;
    }
    if (m.kind == DH_MANIFEST_UNKNOWN || m.kind == DH_MANIFEST_SCHEMA1 || !m.media_type)
        abort();
    if (dh_manifest_kind_of(m.media_type) != m.kind)
        abort();
    if (dh_manifest_kind_is_index(m.kind)) {
        if (m.n_layers || m.config.digest)
            abort();
        for (i = 0; i < m.n_manifests; i++)
            check_descriptor(&m.manifests[i]);
        for (i = 0; i < sizeof(plats) / sizeof(plats[0]); i++) {
            struct dh_platform p;
            long k;

            if (dh_platform_parse(plats[i], &p, &err) < 0)
                abort();
            k = dh_manifest_select(&m, &p, &err);
            if (k < 0) {
                if (!err)
                    abort();
                dh_error_free(&err);
            } else if ((size_t)k >= m.n_manifests || err) {
                abort();
            }
            dh_platform_release(&p);
        }
    } else {
        if (m.n_manifests)
            abort();
        check_descriptor(&m.config);
        for (i = 0; i < m.n_layers; i++)
            check_descriptor(&m.layers[i]);
    }
    dh_manifest_release(&m);
    free(ct);
    return 0;
}
