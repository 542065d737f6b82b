/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the CredentialProviderRequest the kubelet writes on stdin.  A request
 * that decodes must have a known apiVersion and a non-empty image; its registry host
 * and a response echoing it are computed too (the response must be one line ending in
 * a newline).  Every error is one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/buf.h"
#include "dockhand/kubelet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(struct dh_error *err)
{
    if (!err || !err->msg || strchr(err->msg, '\n'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_kubelet_request *r = NULL;
    struct dh_error *err = NULL;
    char *host = NULL;

    if (dh_kubelet_request_parse((const char *)data, size, &r, &err) < 0) {
        check_error(err);
        dh_error_free(&err);
        return 0;
    }
    if (err || !r || !r->image || !*r->image ||
        strncmp(r->api_version, DH_KUBELET_GROUP "/", sizeof(DH_KUBELET_GROUP)) != 0 ||
        (r->sa_token && !*r->sa_token) || (r->n_annotations && !r->annotations))
        abort();
    for (size_t i = 0; i < r->n_annotations; i++)
        if (!r->annotations[i].key || !*r->annotations[i].key || !r->annotations[i].value ||
            dh_kubelet_request_annotation(r, r->annotations[i].key) == NULL)
            abort();
    if (dh_kubelet_image_registry(r->image, &host, &err) == 0) {
        struct dh_buf out = DH_BUF_INIT_SECRET(1 << 20);
        const struct dh_kubelet_response resp = {
                .api_version = r->api_version,
                .has_cache_duration = true,
                .cache_duration_ms = (int64_t)size * 1000,
                .auth_key = host,
                .username = "u",
                .password = r->sa_token ? r->sa_token : "",
        };

        if (!*host || dh_kubelet_response_encode(&resp, &out, &err) < 0 || !out.len ||
            out.data[out.len - 1] != '\n' || memchr(out.data, '\n', out.len - 1))
            abort();
        dh_buf_release(&out);
        free(host);
    } else {
        check_error(err);
        dh_error_free(&err);
    }
    dh_kubelet_request_free(r);
    return 0;
}
