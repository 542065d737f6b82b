/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the CRI codec and client (src/cri.c) and the gRPC framing
   (src/grpc.c).  Requests are compared byte for byte with `protoc --encode`
   output, replies are real ones captured from containerd 1.6 (both in
   cri/fixtures.h, made by cri/gen-fixtures.sh). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/cri.h"
#include "dockhand/grpc.h"
#include "dockhand/mem.h"

#include "t.h"

#include "cri/fixtures.h"

#define SAME(b, fix) ((b).len == fix##_len && memcmp((b).data, fix, fix##_len) == 0)

static bool has(char **a, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!strcmp(a[i], s))
            return true;
    }
    return false;
}

/* ---- requests, byte-exact against protoc ---- */

static void test_encode_version(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(1024);
    struct dh_error *err = NULL;

    T_ASSERT(dh_cri_encode_version_request("v1", &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_version));
}

static void test_encode_pull(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT_SECRET(1024);
    struct dh_cri_image_spec spec = {.image = (char[]){FIX_IMAGE}};
    struct dh_cri_kv ann = {(char[]){"a"}, (char[]){"b"}};
    struct dh_cri_image_spec full = {
            .image = (char[]){"registry.example/app:1"},
            .annotations = &ann,
            .n_annotations = 1,
            .user_specified_image = (char[]){"app:1"},
            .runtime_handler = (char[]){"runc"},
            .image_ref = (char[]){"sha256:abc"},
    };
    struct dh_cri_auth auth;
    struct dh_error *err = NULL;

    /* a docker credential becomes {username, password}, server_address empty */
    T_REQUIRE(dh_cri_auth_from_credential("dockhand", "fixture-password", &auth, &err) == 0);
    T_ASSERT(auth.server_address == NULL && auth.identity_token == NULL);
    T_ASSERT(dh_cri_encode_pull_image_request(&spec, &auth, &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_pull));
    dh_cri_auth_release(&auth);
    T_ASSERT(auth.password == NULL);

    /* "<token>" makes the secret an identity token; every ImageSpec field */
    dh_buf_release(&b);
    T_REQUIRE(dh_cri_auth_from_credential("<token>", "refresh-token", &auth, &err) == 0);
    T_ASSERT(auth.username == NULL && auth.password == NULL);
    T_EQ_STR(auth.identity_token, "refresh-token");
    T_ASSERT(dh_cri_encode_pull_image_request(&full, &auth, &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_pull_full));
    dh_cri_auth_release(&auth);

    /* anonymous: no AuthConfig at all */
    dh_buf_release(&b);
    spec.image = (char[]){"docker.io/library/busybox:latest"};
    T_ASSERT(dh_cri_encode_pull_image_request(&spec, NULL, &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_pull_anon));
    /* the reference's example: 36 bytes, ImageSpec of 34 */
    T_EQ_INT(b.len, 36);
    T_ASSERT(memcmp(b.data, "\x0a\x22\x0a\x20", 4) == 0);

    /* errors */
    T_ASSERT(dh_cri_auth_from_credential("u", "", &auth, &err) < 0);
    dh_error_free(&err);
    T_ASSERT(dh_cri_auth_from_credential("", "p", &auth, &err) < 0);
    dh_error_free(&err);
    spec.image = NULL;
    T_ASSERT(dh_cri_encode_pull_image_request(&spec, NULL, &b, &err) < 0);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
}

static void test_encode_status_list_remove(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(1024);
    struct dh_cri_image_spec spec = {.image = (char[]){FIX_IMAGE}};
    struct dh_cri_image_spec other = {.image = (char[]){"registry.example/app:1"}};
    struct dh_error *err = NULL;

    T_ASSERT(dh_cri_encode_image_status_request(&spec, false, &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_status));
    dh_buf_release(&b);
    T_ASSERT(dh_cri_encode_image_status_request(&other, true, &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_status_verbose));
    dh_buf_release(&b);
    T_ASSERT(dh_cri_encode_list_images_request(NULL, &b, &err) == 0);
    T_EQ_INT(fix_req_list_len, 0);
    T_EQ_INT(b.len, 0);
    T_ASSERT(dh_cri_encode_list_images_request(&other, &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_list_filter));
    dh_buf_release(&b);
    T_ASSERT(dh_cri_encode_remove_image_request(&spec, &b, &err) == 0);
    T_ASSERT(SAME(b, fix_req_remove));
}

/* ---- real containerd replies ---- */

static void test_decode_version(void)
{
    struct dh_cri_version v;
    struct dh_error *err = NULL;

    T_REQUIRE(dh_cri_decode_version_response(fix_rep_version, fix_rep_version_len, &v, &err) == 0);
    T_EQ_STR(v.runtime_name, "containerd");
    T_EQ_STR(v.runtime_api_version, "v1");
    T_EQ_STR(v.version, "0.1.0");
    T_ASSERT(!strncmp(v.runtime_version, "1.6.", 4));
    dh_cri_version_release(&v);
}

static void test_decode_pull_and_status(void)
{
    struct dh_cri_image_status st;
    struct dh_error *err = NULL;
    char *ref = NULL, *digest_ref;

    T_REQUIRE(dh_cri_decode_pull_image_response(fix_rep_pull, fix_rep_pull_len, &ref, &err) == 0);
    T_ASSERT(!strncmp(ref, "sha256:", 7) && strlen(ref) == 71);

    T_REQUIRE(dh_cri_decode_image_status_response(fix_rep_status_present,
                                                  fix_rep_status_present_len, &st, &err) == 0);
    T_ASSERT(st.present);
    /* PullImageResponse.image_ref == Image.id (api.proto) */
    T_EQ_STR(st.image.id, ref);
    T_ASSERT(has(st.image.repo_tags, st.image.n_repo_tags, FIX_IMAGE));
    digest_ref = dh_xasprintf("%s/test/hello@%s", FIX_HOST, FIX_DIGEST);
    T_ASSERT(has(st.image.repo_digests, st.image.n_repo_digests, digest_ref));
    T_ASSERT(st.image.size > 0);
    T_EQ_INT(st.image.pinned, 0);
    T_EQ_INT(st.n_info, 0);
    dh_cri_image_status_release(&st);
    free(digest_ref);
    free(ref);

    /* absent: Image nil */
    T_REQUIRE(dh_cri_decode_image_status_response(fix_rep_status_absent, fix_rep_status_absent_len,
                                                  &st, &err) == 0);
    T_EQ_INT(fix_rep_status_absent_len, 0);
    T_ASSERT(!st.present);
    T_ASSERT(st.image.id == NULL);
    dh_cri_image_status_release(&st);

    /* verbose: the info map */
    T_REQUIRE(dh_cri_decode_image_status_response(fix_rep_status_verbose,
                                                  fix_rep_status_verbose_len, &st, &err) == 0);
    T_ASSERT(st.present);
    T_REQUIRE(st.n_info >= 1);
    T_EQ_STR(st.info[0].key, "info");
    T_ASSERT(st.info[0].value[0] == '{');
    dh_cri_image_status_release(&st);
}

static void test_decode_list_remove(void)
{
    struct dh_cri_image_list l;
    struct dh_error *err = NULL;
    char *v2 = dh_xasprintf("%s/test/hello:v2", FIX_HOST);
    size_t i, found = 0;

    T_REQUIRE(dh_cri_decode_list_images_response(fix_rep_list, fix_rep_list_len, &l, &err) == 0);
    T_ASSERT(l.n_images >= 1);
    for (i = 0; i < l.n_images; i++) {
        if (has(l.images[i].repo_tags, l.images[i].n_repo_tags, FIX_IMAGE)) {
            found++;
            /* the same image pushed under two tags: one Image, two repo_tags */
            T_ASSERT(has(l.images[i].repo_tags, l.images[i].n_repo_tags, v2));
        }
    }
    T_EQ_INT(found, 1);
    dh_cri_image_list_release(&l);
    free(v2);
    T_ASSERT(dh_cri_decode_remove_image_response(fix_rep_remove, fix_rep_remove_len, &err) == 0);
    T_ASSERT(dh_cri_decode_remove_image_response("\x08", 1, &err) < 0);
    dh_error_free(&err);
}

/* Every truncation of every captured reply decodes or fails cleanly (ASan checks the
   rest); a truncation inside a length-delimited field always fails. */
static void test_decode_truncated(void)
{
    static const struct {
        const unsigned char *d;
        size_t n;
    } reps[] = {
            {fix_rep_version, sizeof(fix_rep_version)},
            {fix_rep_pull, sizeof(fix_rep_pull)},
            {fix_rep_status_present, sizeof(fix_rep_status_present)},
            {fix_rep_status_verbose, sizeof(fix_rep_status_verbose)},
            {fix_rep_list, sizeof(fix_rep_list)},
    };
    size_t i, cut, failures = 0;

    for (i = 0; i < DH_ARRAY_SIZE(reps); i++) {
        for (cut = 1; cut < reps[i].n; cut++) {
            struct dh_error *err = NULL;
            struct dh_cri_version v;
            struct dh_cri_image_status st;
            struct dh_cri_image_list l;
            char *ref = NULL;
            size_t n = reps[i].n - cut;

            if (dh_cri_decode_version_response(reps[i].d, n, &v, &err) == 0)
                dh_cri_version_release(&v);
            else
                T_ASSERT(err && v.version == NULL);
            dh_error_free(&err);
            if (dh_cri_decode_pull_image_response(reps[i].d, n, &ref, &err) == 0)
                free(ref);
            dh_error_free(&err);
            if (dh_cri_decode_image_status_response(reps[i].d, n, &st, &err) == 0) {
                dh_cri_image_status_release(&st);
            } else {
                T_ASSERT(err && !st.present);
                failures++;
            }
            dh_error_free(&err);
            if (dh_cri_decode_list_images_response(reps[i].d, n, &l, &err) == 0)
                dh_cri_image_list_release(&l);
            else
                T_ASSERT(err && l.images == NULL);
            dh_error_free(&err);
        }
    }
    T_ASSERT(failures > 0);
    /* the status reply is one Image field: any cut but none lands inside it */
    for (cut = 1; cut < sizeof(fix_rep_status_present); cut++) {
        struct dh_cri_image_status st;
        struct dh_error *err = NULL;

        T_ASSERT(dh_cri_decode_image_status_response(fix_rep_status_present,
                                                     sizeof(fix_rep_status_present) - cut, &st,
                                                     &err) < 0);
        dh_error_free(&err);
    }
}

static void test_decode_unknown_and_mistyped(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(4096);
    struct dh_cri_version v;
    struct dh_cri_image_status st;
    struct dh_error *err = NULL;

    /* unknown fields of every wire type around the real reply */
    T_ASSERT(dh_buf_append(&b, "\xf8\x06\x01", 3, &err) == 0); /* 111 varint */
    T_ASSERT(dh_buf_append(&b,
                           "\xf9\x06"
                           "12345678",
                           10, &err) == 0); /* fixed64 */
    T_ASSERT(dh_buf_append(&b, fix_rep_version, fix_rep_version_len, &err) == 0);
    T_ASSERT(dh_buf_append(&b, "\xfa\x06\x03xyz", 6, &err) == 0); /* LEN */
    T_ASSERT(dh_buf_append(&b,
                           "\xfd\x06"
                           "1234",
                           6, &err) == 0); /* fixed32 */
    /* runtime_name (2) as a varint: a mistyped known field is skipped */
    T_ASSERT(dh_buf_append(&b, "\x10\x05", 2, &err) == 0);
    if (dh_cri_decode_version_response(b.data, b.len, &v, &err) < 0) {
        T_FAIL_AT("%s", err->msg);
        dh_error_free(&err);
        return;
    }
    T_EQ_STR(v.runtime_name, "containerd");
    T_EQ_STR(v.runtime_api_version, "v1");
    dh_cri_version_release(&v);

    /* a later occurrence of a singular string wins, repeated fields accumulate, and two
       Image fields merge (protobuf semantics) */
    dh_buf_release(&b);
    T_ASSERT(dh_buf_append(&b,
                           "\x0a\x08\x0a\x01"
                           "a\x12\x03t:1",
                           10, &err) == 0);
    T_ASSERT(dh_buf_append(&b,
                           "\x0a\x0a\x0a\x01"
                           "b\x12\x03t:2\x40\x01",
                           12, &err) == 0);
    T_REQUIRE(dh_cri_decode_image_status_response(b.data, b.len, &st, &err) == 0);
    T_ASSERT(st.present);
    T_EQ_STR(st.image.id, "b");
    T_EQ_INT(st.image.n_repo_tags, 2);
    T_ASSERT(st.image.pinned);
    dh_cri_image_status_release(&st);

    /* uid (Int64Value, negative), username, spec with annotations */
    dh_buf_release(&b);
    T_ASSERT(dh_buf_append(&b,
                           "\x0a\x22"
                           "\x2a\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
                           "\x32\x03"
                           "bob"
                           "\x3a\x0e\x0a\x01x\x12\x09\x0a\x01k\x12\x04v\x00zz",
                           36, &err) == 0);
    /* the NUL inside the annotation value is refused */
    T_ASSERT(dh_cri_decode_image_status_response(b.data, b.len, &st, &err) < 0);
    T_ASSERT(err && err->status == EPROTO);
    dh_error_free(&err);
    b.data[33] = 'w';
    T_REQUIRE(dh_cri_decode_image_status_response(b.data, b.len, &st, &err) == 0);
    T_ASSERT(st.image.has_uid && st.image.uid == -1);
    T_EQ_STR(st.image.username, "bob");
    T_ASSERT(st.image.has_spec);
    T_EQ_STR(st.image.spec.image, "x");
    T_REQUIRE(st.image.spec.n_annotations == 1);
    T_EQ_STR(st.image.spec.annotations[0].key, "k");
    T_EQ_STR(st.image.spec.annotations[0].value, "vwzz");
    T_EQ_STR(st.image.id, "");
    dh_cri_image_status_release(&st);
}

/* ---- endpoints ---- */

static void test_endpoints(void)
{
    struct dh_error *err = NULL;
    struct dh_cri_client *c = NULL;
    char *p, longp[200];
    struct stat sb;
    size_t i;
    bool any = false;

    p = dh_cri_endpoint_path("unix:///run/containerd/containerd.sock", &err);
    T_EQ_STR(p, "/run/containerd/containerd.sock");
    free(p);
    p = dh_cri_endpoint_path("/var/run/crio/crio.sock", &err);
    T_EQ_STR(p, "/var/run/crio/crio.sock");
    free(p);
    T_ASSERT(dh_cri_endpoint_path("tcp://127.0.0.1:1234", &err) == NULL);
    T_ASSERT(err && err->status == EPROTONOSUPPORT);
    dh_error_free(&err);
    T_ASSERT(dh_cri_endpoint_path("npipe:////./pipe/containerd", &err) == NULL);
    dh_error_free(&err);
    T_ASSERT(dh_cri_endpoint_path("unix://relative.sock", &err) == NULL);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    T_ASSERT(dh_cri_endpoint_path("", &err) == NULL);
    dh_error_free(&err);
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    T_ASSERT(dh_cri_endpoint_path(longp, &err) == NULL);
    T_ASSERT(err && err->status == ENAMETOOLONG);
    dh_error_free(&err);

    /* crictl's defaults, in its order */
    T_EQ_STR(dh_cri_default_endpoints[0], "unix:///run/containerd/containerd.sock");
    T_EQ_STR(dh_cri_default_endpoints[1], "unix:///run/crio/crio.sock");
    T_EQ_STR(dh_cri_default_endpoints[2], "unix:///var/run/cri-dockerd.sock");
    T_ASSERT(dh_cri_default_endpoints[3] == NULL);

    /* explicit > $CONTAINER_RUNTIME_ENDPOINT > defaults */
    setenv(DH_CRI_ENV_ENDPOINT, "unix:///tmp/from-env.sock", 1);
    T_REQUIRE(dh_cri_open("/tmp/explicit.sock", &c, &err) == 0);
    T_EQ_STR(dh_cri_endpoint(c), "unix:///tmp/explicit.sock");
    T_EQ_INT(dh_cri_last_code(c), -1);
    dh_cri_close(c);
    T_REQUIRE(dh_cri_open(NULL, &c, &err) == 0);
    T_EQ_STR(dh_cri_endpoint(c), "unix:///tmp/from-env.sock");
    dh_cri_close(c);
    setenv(DH_CRI_ENV_ENDPOINT, "tcp://x:1", 1);
    T_ASSERT(dh_cri_open(NULL, &c, &err) < 0);
    T_ASSERT(err && err->status == EPROTONOSUPPORT);
    dh_error_free(&err);
    unsetenv(DH_CRI_ENV_ENDPOINT);
    for (i = 0; dh_cri_default_endpoints[i]; i++)
        any |= stat(dh_cri_default_endpoints[i] + 7, &sb) == 0 && S_ISSOCK(sb.st_mode);
    if (!any) {
        T_ASSERT(dh_cri_open("", &c, &err) < 0);
        T_ASSERT(err && err->status == ENOENT && strstr(err->msg, "unix:///run/crio/crio.sock"));
        dh_error_free(&err);
    }
}

static void test_call_no_server(void)
{
    struct dh_cri_client *c = NULL;
    struct dh_cri_version v;
    struct dh_error *err = NULL;

    T_REQUIRE(dh_cri_open("unix:///nonexistent/dockhand-test.sock", &c, &err) == 0);
    T_ASSERT(dh_cri_version(c, &v, &err) < 0);
    T_ASSERT(err && err->status == ECONNREFUSED);
    T_ASSERT(err && strstr(err->msg, "runtime.v1.RuntimeService/Version") &&
             strstr(err->msg, "/nonexistent/dockhand-test.sock"));
    T_EQ_INT(dh_cri_last_code(c), -1);
    dh_error_free(&err);
    dh_cri_close(c);
}

/* ---- gRPC framing ---- */

static void test_grpc_frame(void)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(1024);
    struct dh_error *err = NULL;
    const uint8_t *m;
    size_t n;

    T_ASSERT(dh_grpc_frame_encode("abc", 3, &b, &err) == 0);
    T_ASSERT(b.len == 8 && memcmp(b.data, "\0\0\0\0\3abc", 8) == 0);
    T_ASSERT(dh_grpc_frame_decode(b.data, b.len, &m, &n, &err) == 0);
    T_ASSERT(n == 3 && memcmp(m, "abc", 3) == 0);
    dh_buf_release(&b);
    T_ASSERT(dh_grpc_frame_encode(NULL, 0, &b, &err) == 0);
    T_ASSERT(b.len == 5 && memcmp(b.data, "\0\0\0\0\0", 5) == 0);
    T_ASSERT(dh_grpc_frame_decode(b.data, b.len, &m, &n, &err) == 0 && n == 0);
    /* the reference's PullImage example: a 36-byte message */
    dh_buf_release(&b);
    T_ASSERT(dh_grpc_frame_encode(fix_req_pull_anon, fix_req_pull_anon_len, &b, &err) == 0);
    T_ASSERT(memcmp(b.data, "\x00\x00\x00\x00\x24", 5) == 0);

    T_ASSERT(dh_grpc_frame_decode("\0\0\0", 3, &m, &n, &err) < 0); /* short */
    dh_error_free(&err);
    T_ASSERT(dh_grpc_frame_decode("\0\0\0\0\4abc", 8, &m, &n, &err) < 0); /* truncated */
    dh_error_free(&err);
    T_ASSERT(dh_grpc_frame_decode("\0\0\0\0\1ab", 7, &m, &n, &err) < 0); /* two messages */
    dh_error_free(&err);
    T_ASSERT(dh_grpc_frame_decode("\1\0\0\0\1a", 6, &m, &n, &err) < 0); /* compressed */
    T_ASSERT(err && strstr(err->msg, "compressed"));
    dh_error_free(&err);
    T_ASSERT(dh_grpc_frame_decode("\2\0\0\0\1a", 6, &m, &n, &err) < 0); /* bad flag */
    dh_error_free(&err);
    T_ASSERT(dh_grpc_frame_decode("\0\xff\xff\xff\xff", 5, &m, &n, &err) < 0);
    dh_error_free(&err);
}

static void test_grpc_status(void)
{
    char *s;

    T_EQ_INT(dh_grpc_parse_status("0"), 0);
    T_EQ_INT(dh_grpc_parse_status("12"), 12);
    T_EQ_INT(dh_grpc_parse_status("2147483647"), 2147483647);
    T_EQ_INT(dh_grpc_parse_status("2147483648"), -1);
    T_EQ_INT(dh_grpc_parse_status(""), -1);
    T_EQ_INT(dh_grpc_parse_status("-1"), -1);
    T_EQ_INT(dh_grpc_parse_status("1 "), -1);
    T_EQ_INT(dh_grpc_parse_status(NULL), -1);
    T_EQ_STR(dh_grpc_code_name(0), "OK");
    T_EQ_STR(dh_grpc_code_name(2), "Unknown");
    T_EQ_STR(dh_grpc_code_name(5), "NotFound");
    T_EQ_STR(dh_grpc_code_name(12), "Unimplemented");
    T_EQ_STR(dh_grpc_code_name(16), "Unauthenticated");
    T_EQ_STR(dh_grpc_code_name(17), "Code(17)");
    T_EQ_INT(dh_grpc_code_errno(DH_GRPC_NOT_FOUND), ENOENT);
    T_EQ_INT(dh_grpc_code_errno(DH_GRPC_UNAVAILABLE), ECONNREFUSED);
    T_EQ_INT(dh_grpc_code_errno(DH_GRPC_UNKNOWN), EIO);
    T_EQ_INT(dh_grpc_code_from_http(404), DH_GRPC_UNIMPLEMENTED);
    T_EQ_INT(dh_grpc_code_from_http(503), DH_GRPC_UNAVAILABLE);
    T_EQ_INT(dh_grpc_code_from_http(401), DH_GRPC_UNAUTHENTICATED);
    T_EQ_INT(dh_grpc_code_from_http(500), DH_GRPC_UNKNOWN);
    s = dh_grpc_percent_decode("a%20b%25c%zz%4%e2%9C%93");
    T_EQ_STR(s, "a b%c%zz%4\xe2\x9c\x93");
    free(s);
    s = dh_grpc_percent_decode("end%");
    T_EQ_STR(s, "end%");
    free(s);
}

int main(void)
{
    T_RUN(test_encode_version);
    T_RUN(test_encode_pull);
    T_RUN(test_encode_status_list_remove);
    T_RUN(test_decode_version);
    T_RUN(test_decode_pull_and_status);
    T_RUN(test_decode_list_remove);
    T_RUN(test_decode_truncated);
    T_RUN(test_decode_unknown_and_mistyped);
    T_RUN(test_endpoints);
    T_RUN(test_call_no_server);
    T_RUN(test_grpc_frame);
    T_RUN(test_grpc_status);
    return t_done();
}
