/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for CRI replies (src/cri.c), the protobuf reader (src/protobuf.c)
 * and gRPC reply framing/status (src/grpc.c).  The first byte selects what the
 * rest is: 0 VersionResponse, 1 PullImageResponse, 2 ImageStatusResponse,
 * 3 ListImagesResponse, 4 RemoveImageResponse, 5 a gRPC reply body (frame, then
 * its message as ImageStatusResponse and ListImagesResponse), 6 any protobuf
 * message walked recursively, 7 grpc-status / grpc-message header values.
 * Seeds: real containerd replies (test/unit/cri/gen-fixtures.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/cri.h"
#include "dockhand/grpc.h"
#include "dockhand/mem.h"
#include "dockhand/protobuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_strs(char **a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!a[i])
            abort();
    }
}

static void check_image(const struct dh_cri_image *img)
{
    size_t i;

    if (!img->id)
        abort();
    check_strs(img->repo_tags, img->n_repo_tags);
    check_strs(img->repo_digests, img->n_repo_digests);
    for (i = 0; i < img->spec.n_annotations; i++) {
        if (!img->spec.annotations[i].key || !img->spec.annotations[i].value)
            abort();
    }
}

static void status(const uint8_t *d, size_t n)
{
    struct dh_cri_image_status st;
    struct dh_error *err = NULL;
    size_t i;

    if (dh_cri_decode_image_status_response(d, n, &st, &err) < 0) {
        if (!err || st.present || st.info)
            abort();
        dh_error_free(&err);
        return;
    }
    if (st.present)
        check_image(&st.image);
    else if (st.image.id)
        abort();
    for (i = 0; i < st.n_info; i++) {
        if (!st.info[i].key || !st.info[i].value)
            abort();
    }
    dh_cri_image_status_release(&st);
}

static void list(const uint8_t *d, size_t n)
{
    struct dh_cri_image_list l;
    struct dh_error *err = NULL;
    size_t i;

    if (dh_cri_decode_list_images_response(d, n, &l, &err) < 0) {
        if (!err || l.images || l.n_images)
            abort();
        dh_error_free(&err);
        return;
    }
    for (i = 0; i < l.n_images; i++)
        check_image(&l.images[i]);
    dh_cri_image_list_release(&l);
}

/* Walks every field; LEN fields are tried as nested messages (depth-limited). */
static void walk(const uint8_t *d, size_t n, int depth)
{
    struct dh_pb_reader r;
    struct dh_pb_field f;
    struct dh_error *err = NULL;
    int k;

    dh_pb_reader_init(&r, d, n);
    while ((k = dh_pb_next(&r, &f, &err)) > 0) {
        if (r.off > n)
            abort();
        if (f.wire == DH_PB_LEN) {
            struct dh_pb_reader p;
            uint64_t v;
            char *s = NULL;

            if (f.data < d || f.data + f.len > d + n)
                abort();
            if (depth < 8)
                walk(f.data, f.len, depth + 1);
            dh_pb_reader_init(&p, f.data, f.len);
            while (dh_pb_packed_varint_next(&p, &v, &err) > 0)
                ;
            dh_error_free(&err);
            if (dh_pb_field_string(&f, 1 << 20, &s, &err) == 0) {
                if (strlen(s) != f.len)
                    abort();
                free(s);
            }
            dh_error_free(&err);
        }
    }
    if (k < 0 && !err)
        abort();
    dh_error_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_error *err = NULL;
    const uint8_t *d = data + 1, *m;
    size_t n = size ? size - 1 : 0, mlen;

    if (size < 1)
        return 0;
    switch (data[0]) {
    case 0: {
        struct dh_cri_version v;

        if (dh_cri_decode_version_response(d, n, &v, &err) == 0) {
            if (!v.version || !v.runtime_name || !v.runtime_version || !v.runtime_api_version)
                abort();
            dh_cri_version_release(&v);
        }
        break;
    }
    case 1: {
        char *ref = NULL;

        if (dh_cri_decode_pull_image_response(d, n, &ref, &err) == 0) {
            if (!ref)
                abort();
            free(ref);
        }
        break;
    }
    case 2:
        status(d, n);
        break;
    case 3:
        list(d, n);
        break;
    case 4:
        (void)dh_cri_decode_remove_image_response(d, n, &err);
        break;
    case 5:
        if (dh_grpc_frame_decode(d, n, &m, &mlen, &err) == 0) {
            if (mlen != n - DH_GRPC_FRAME_HEADER || m != d + DH_GRPC_FRAME_HEADER)
                abort();
            status(m, mlen);
            list(m, mlen);
        }
        break;
    case 6:
        walk(d, n, 0);
        break;
    case 7: {
        char *s = dh_xstrndup((const char *)d, n), *dec;
        int code = dh_grpc_parse_status(s);

        if (code < -1)
            abort();
        (void)dh_grpc_code_name(code);
        dec = dh_grpc_percent_decode(s);
        if (strlen(dec) > strlen(s))
            abort();
        free(dec);
        free(s);
        break;
    }
    default:
        break;
    }
    dh_error_free(&err);
    return 0;
}
