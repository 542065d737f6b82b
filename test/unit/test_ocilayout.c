/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the OCI layout writer (blobs atomic and verified, resume, index.json kept
   and updated under its lock).  The end-to-end check with skopeo and umoci reading a
   layout written from a real registry is test/cli/85-pull-foundation.bats. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"
#include "dockhand/ocilayout.h"
#include "t.h"

static char tmp[128];

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static char *layout_dir(const char *name)
{
    return dh_xasprintf("%s/%s", tmp, name);
}

static void test_create_and_put(void)
{
    _cleanup_free_ char *dir = layout_dir("a");
    _cleanup_free_ char *d = dh_digest_sha256("hello", 5);
    _cleanup_free_ char *p = NULL, *blobs = NULL, *sha = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(1 << 20);
    struct dh_oci_layout l;

    T_REQUIRE(dh_oci_layout_open(dir, true, &l, &err) == 0);
    p = dh_xasprintf("%s/oci-layout", dir);
    T_REQUIRE(dh_read_file(p, &b, &err) == 0);
    T_EQ_STR(b.data, "{\"imageLayoutVersion\":\"1.0.0\"}");
    T_ASSERT(!dh_oci_has_blob(&l, d, 5));
    T_EQ_INT(dh_oci_put_blob(&l, d, "hello", 5, &err), 0);
    T_ASSERT(dh_oci_has_blob(&l, d, 5));
    T_ASSERT(dh_oci_has_blob(&l, d, -1));
    T_ASSERT(!dh_oci_has_blob(&l, d, 6));
    T_EQ_INT(dh_oci_blob_verify(&l, d, &err), 0);
    dh_buf_release(&b);
    T_EQ_INT(dh_oci_read_blob(&l, d, &b, &err), 0);
    T_EQ_STR(b.data, "hello");
    /* only the blob and sha256/ are left: no temporary file */
    blobs = dh_xasprintf("%s/blobs", dir);
    sha = dh_xasprintf("%s/blobs/sha256", dir);
    T_EQ_INT(count_entries(blobs), 1);
    T_EQ_INT(count_entries(sha), 1);
    /* a second open of an existing layout works, with and without create */
    dh_oci_layout_close(&l);
    T_EQ_INT(dh_oci_layout_open(dir, false, &l, &err), 0);
    dh_oci_layout_close(&l);
    {
        _cleanup_free_ char *nope = layout_dir("nope");

        T_EQ_INT(dh_oci_layout_open(nope, false, &l, &err), -1);
        T_ASSERT(err && err->status == ENOENT);
        dh_error_free(&err);
    }
    /* a future layout version is refused */
    T_REQUIRE(dh_write_file_atomic(p, "{\"imageLayoutVersion\":\"2.0.0\"}", 30, 0644, false,
                                   &err) == 0);
    T_EQ_INT(dh_oci_layout_open(dir, true, &l, &err), -1);
    T_ASSERT(err && err->status == EPROTONOSUPPORT);
}

static void test_wrong_digest_leaves_nothing(void)
{
    _cleanup_free_ char *dir = layout_dir("b");
    _cleanup_free_ char *d = dh_digest_sha256("hello", 5);
    _cleanup_free_ char *blobs = NULL, *sha = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_oci_blob_writer *w;
    struct dh_oci_layout l;

    T_REQUIRE(dh_oci_layout_open(dir, true, &l, &err) == 0);
    blobs = dh_xasprintf("%s/blobs", dir);
    sha = dh_xasprintf("%s/blobs/sha256", dir);
    /* one flipped byte */
    T_REQUIRE(dh_oci_blob_begin(&l, d, 5, false, &w, &err) == 0);
    T_EQ_INT(count_entries(blobs), 2); /* sha256/ and the partial file */
    T_EQ_INT(dh_oci_blob_write(w, "hellp", 5, &err), 0);
    T_EQ_INT(dh_oci_blob_commit(w, &err), -1);
    T_REQUIRE(err);
    T_EQ_INT(err->status, EBADMSG);
    T_ASSERT(strstr(err->msg, "digest mismatch: expected sha256:2cf24dba") != NULL);
    dh_error_free(&err);
    T_EQ_INT(count_entries(blobs), 1);
    T_EQ_INT(count_entries(sha), 0);
    /* too short */
    T_REQUIRE(dh_oci_blob_begin(&l, d, 5, false, &w, &err) == 0);
    T_EQ_INT(dh_oci_blob_write(w, "hell", 4, &err), 0);
    T_EQ_INT(dh_oci_blob_commit(w, &err), -1);
    T_REQUIRE(err);
    T_EQ_STR(err->msg,
             "blob sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 "
             "is 4 bytes, expected 5");
    dh_error_free(&err);
    /* too long: refused at write time */
    T_REQUIRE(dh_oci_blob_begin(&l, d, 5, false, &w, &err) == 0);
    T_EQ_INT(dh_oci_blob_write(w, "hello!", 6, &err), -1);
    T_ASSERT(err && err->status == E2BIG);
    dh_error_free(&err);
    dh_oci_blob_abort(w, false);
    T_EQ_INT(count_entries(blobs), 1);
    T_EQ_INT(count_entries(sha), 0);
    /* only sha256 */
    T_EQ_INT(dh_oci_blob_begin(&l, "sha512:abc", 5, false, &w, &err), -1);
    T_REQUIRE(err);
    dh_error_free(&err);
    /* a corrupted stored blob is detected by verify and read */
    T_REQUIRE(dh_oci_put_blob(&l, d, "hello", 5, &err) == 0);
    {
        _cleanup_free_ char *p = dh_oci_blob_path(&l, d);
        _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(100);

        T_REQUIRE(dh_write_file_atomic(p, "jello", 5, 0644, false, &err) == 0);
        T_EQ_INT(dh_oci_blob_verify(&l, d, &err), -1);
        T_ASSERT(err && err->status == EBADMSG);
        dh_error_free(&err);
        T_EQ_INT(dh_oci_read_blob(&l, d, &b, &err), -1);
        T_ASSERT(err && err->status == EBADMSG);
        T_EQ_INT(b.len, 0);
    }
    dh_oci_layout_close(&l);
}

static void test_resume(void)
{
    _cleanup_free_ char *dir = layout_dir("c");
    _cleanup_free_ char *data = dh_xmalloc(300000);
    _cleanup_free_ char *d = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_oci_blob_writer *w, *w2;
    struct dh_oci_layout l;

    for (int i = 0; i < 300000; i++)
        data[i] = (char)(i * 7 + i / 251);
    d = dh_digest_sha256(data, 300000);
    T_REQUIRE(dh_oci_layout_open(dir, true, &l, &err) == 0);
    T_REQUIRE(dh_oci_blob_begin(&l, d, 300000, true, &w, &err) == 0);
    T_EQ_INT(dh_oci_blob_offset(w), 0);
    T_EQ_INT(dh_oci_blob_write(w, data, 123457, &err), 0);
    /* a second writer of the same blob is refused while the first holds it */
    T_EQ_INT(dh_oci_blob_begin(&l, d, 300000, true, &w2, &err), -1);
    T_ASSERT(err && err->status == EBUSY);
    dh_error_free(&err);
    dh_oci_blob_abort(w, true); /* connection dropped: keep the bytes */
    /* resume: the hash state is rebuilt from the partial file */
    T_REQUIRE(dh_oci_blob_begin(&l, d, 300000, true, &w, &err) == 0);
    T_EQ_INT(dh_oci_blob_offset(w), 123457);
    T_EQ_INT(dh_oci_blob_write(w, data + 123457, 300000 - 123457, &err), 0);
    T_EQ_INT(dh_oci_blob_commit(w, &err), 0);
    T_ASSERT(dh_oci_has_blob(&l, d, 300000));
    T_EQ_INT(dh_oci_blob_verify(&l, d, &err), 0);
    /* without resume, a partial file is started over */
    {
        _cleanup_free_ char *d2 = dh_digest_sha256(data, 1000);

        T_REQUIRE(dh_oci_blob_begin(&l, d2, 1000, false, &w, &err) == 0);
        T_EQ_INT(dh_oci_blob_write(w, data + 1, 500, &err), 0); /* wrong bytes */
        dh_oci_blob_abort(w, true);
        T_REQUIRE(dh_oci_blob_begin(&l, d2, 1000, false, &w, &err) == 0);
        T_EQ_INT(dh_oci_blob_offset(w), 0);
        T_EQ_INT(dh_oci_blob_write(w, data, 1000, &err), 0);
        T_EQ_INT(dh_oci_blob_commit(w, &err), 0);
        /* a partial file longer than the blob is discarded on resume */
        {
            _cleanup_free_ char *d3 = dh_digest_sha256(data, 10);

            T_REQUIRE(dh_oci_blob_begin(&l, d3, 10, false, &w, &err) == 0);
            dh_oci_blob_abort(w, true);
            {
                _cleanup_free_ char *p = dh_xasprintf("%s/blobs/.partial-sha256-%s", dir, d3 + 7);

                T_REQUIRE(dh_write_file_atomic(p, data, 20, 0644, false, &err) == 0);
            }
            T_REQUIRE(dh_oci_blob_begin(&l, d3, 10, true, &w, &err) == 0);
            T_EQ_INT(dh_oci_blob_offset(w), 0);
            T_EQ_INT(dh_oci_blob_write(w, data, 10, &err), 0);
            T_EQ_INT(dh_oci_blob_commit(w, &err), 0);
        }
    }
    dh_oci_layout_close(&l);
}

static json_t *read_json(const char *path)
{
    return json_load_file(path, 0, NULL);
}

static void test_index_refs(void)
{
    _cleanup_free_ char *dir = layout_dir("d");
    _cleanup_free_ char *idx = NULL, *digest = NULL, *mt = NULL;
    _cleanup_error_ struct dh_error *err = NULL;
    const char *d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const char *d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    struct dh_oci_layout l;
    int64_t size = 0;
    json_t *j, *m;

    T_REQUIRE(dh_oci_layout_open(dir, true, &l, &err) == 0);
    idx = dh_xasprintf("%s/index.json", dir);
    /* an existing index.json with fields of its own, and an entry we do not know */
    {
        const char *orig =
                "{\"schemaVersion\":2,\"x-custom\":{\"keep\":true},\"manifests\":[{\"mediaType\":"
                "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
                "3333333333333333333333333333333333333333333333333333333333333333\",\"size\":3,"
                "\"annotations\":{\"org.opencontainers.image.ref.name\":\"other\",\"x\":\"y\"},"
                "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}],"
                "\"annotations\":{\"a\":\"b\"}}";

        T_REQUIRE(dh_write_file_atomic(idx, orig, strlen(orig), 0644, false, &err) == 0);
    }
    struct dh_oci_ref r1 = {DH_MT_OCI_MANIFEST, d1, 100, "v1"};
    struct dh_oci_ref r2 = {DH_MT_DOCKER_MANIFEST, d2, 200, "v2"};

    T_EQ_INT(dh_oci_layout_add_ref(&l, &r1, &err), 0);
    T_EQ_INT(dh_oci_layout_add_ref(&l, &r2, &err), 0);
    j = read_json(idx);
    T_REQUIRE(j);
    T_ASSERT(json_is_true(json_object_get(json_object_get(j, "x-custom"), "keep")));
    T_EQ_STR(json_string_value(json_object_get(json_object_get(j, "annotations"), "a")), "b");
    m = json_object_get(j, "manifests");
    T_EQ_INT(json_array_size(m), 3);
    T_EQ_STR(json_string_value(
                     json_object_get(json_object_get(json_array_get(m, 0), "annotations"), "x")),
             "y");
    T_ASSERT(json_object_get(json_array_get(m, 0), "platform") != NULL);
    json_decref(j);
    /* replacing v1 keeps one v1 entry, now pointing at d2 */
    struct dh_oci_ref r1b = {DH_MT_OCI_MANIFEST, d2, 200, "v1"};

    T_EQ_INT(dh_oci_layout_add_ref(&l, &r1b, &err), 0);
    T_EQ_INT(dh_oci_layout_find_ref(&l, "v1", &digest, &mt, &size, &err), 0);
    T_EQ_STR(digest, d2);
    T_EQ_STR(mt, DH_MT_OCI_MANIFEST);
    T_EQ_INT(size, 200);
    j = read_json(idx);
    T_REQUIRE(j);
    T_EQ_INT(json_array_size(json_object_get(j, "manifests")), 3);
    json_decref(j);
    T_EQ_INT(dh_oci_layout_find_ref(&l, "nope", NULL, NULL, NULL, &err), -1);
    T_ASSERT(err && err->status == ENOENT);
    dh_error_free(&err);
    /* invalid ref names */
    {
        static const char *const bad[] = {"", "-a", "a--", "a b", "a//b", "a/", "a\nb"};
        static const char *const good[] = {
                "latest", "1.0", "docker.io/library/busybox:latest", "a--b", "a@sha256:abc", "A+b"};

        for (size_t i = 0; i < DH_ARRAY_SIZE(bad); i++) {
            struct dh_oci_ref r = {DH_MT_OCI_MANIFEST, d1, 1, bad[i]};

            if (dh_oci_layout_add_ref(&l, &r, &err) != -1)
                T_FAIL_AT("ref name '%s' accepted", bad[i]);
            dh_error_free(&err);
        }
        for (size_t i = 0; i < DH_ARRAY_SIZE(good); i++) {
            struct dh_oci_ref r = {DH_MT_OCI_MANIFEST, d1, 1, good[i]};

            if (dh_oci_layout_add_ref(&l, &r, &err) != 0)
                T_FAIL_AT("ref name '%s' refused: %s", good[i], err ? err->msg : "?");
            dh_error_free(&err);
        }
    }
    /* a fresh layout gets an index with mediaType and schemaVersion */
    {
        _cleanup_free_ char *dir2 = layout_dir("d2");
        _cleanup_free_ char *idx2 = dh_xasprintf("%s/index.json", dir2);
        struct dh_oci_layout l2;
        struct dh_oci_ref r = {DH_MT_OCI_INDEX, d1, 5, NULL};

        T_REQUIRE(dh_oci_layout_open(dir2, true, &l2, &err) == 0);
        T_EQ_INT(dh_oci_layout_add_ref(&l2, &r, &err), 0);
        T_EQ_INT(dh_oci_layout_add_ref(&l2, &r, &err), 0); /* unnamed: no duplicate */
        j = read_json(idx2);
        T_REQUIRE(j);
        T_EQ_INT(json_integer_value(json_object_get(j, "schemaVersion")), 2);
        T_EQ_STR(json_string_value(json_object_get(j, "mediaType")), DH_MT_OCI_INDEX);
        T_EQ_INT(json_array_size(json_object_get(j, "manifests")), 1);
        json_decref(j);
        dh_oci_layout_close(&l2);
    }
    dh_oci_layout_close(&l);
}

/* Processes adding refs at once lose none of them (the index.json lock). */
static void test_concurrent_refs(void)
{
    _cleanup_free_ char *dir = layout_dir("e");
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_oci_layout l;
    pid_t pids[4];
    int status, ok = 1;

    T_REQUIRE(dh_oci_layout_open(dir, true, &l, &err) == 0);
    for (int p = 0; p < 4; p++) {
        pids[p] = fork();
        T_REQUIRE(pids[p] >= 0);
        if (pids[p] == 0) {
            for (int i = 0; i < 10; i++) {
                char name[32];
                struct dh_oci_ref r = {
                        DH_MT_OCI_MANIFEST,
                        "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                        1, name};
                struct dh_error *e = NULL;

                snprintf(name, sizeof(name), "p%d-%d", p, i);
                if (dh_oci_layout_add_ref(&l, &r, &e) < 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < 4; p++) {
        if (waitpid(pids[p], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            ok = 0;
    }
    T_ASSERT(ok);
    {
        _cleanup_free_ char *idx = dh_xasprintf("%s/index.json", dir);
        json_t *j = read_json(idx);

        T_REQUIRE(j);
        T_EQ_INT(json_array_size(json_object_get(j, "manifests")), 40);
        json_decref(j);
    }
    dh_oci_layout_close(&l);
}

int main(void)
{
    if (t_isolate(tmp, sizeof(tmp), "dh-ocilayout") < 0)
        return 1;
    T_RUN(test_create_and_put);
    T_RUN(test_wrong_digest_leaves_nothing);
    T_RUN(test_resume);
    T_RUN(test_index_refs);
    T_RUN(test_concurrent_refs);
    t_rmrf(tmp);
    return t_done();
}
