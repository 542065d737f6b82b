/* SPDX-License-Identifier: Apache-2.0 */
/* OCI image layout writer and reader (see ocilayout.h). */
#include "dockhand/ocilayout.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/fsutil.h"
#include "dockhand/imageref.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"

#define LAYOUT_FILE     "oci-layout"
#define LAYOUT_CONTENT  "{\"imageLayoutVersion\":\"1.0.0\"}"
#define INDEX_FILE      "index.json"
#define INDEX_MAX       ((size_t)64 << 20)
#define IO_CHUNK        ((size_t)128 << 10)
#define WRITEBACK_CHUNK ((int64_t)8 << 20)
#define WRITE_BUF       ((size_t)128 << 10)

struct dh_oci_blob_writer {
    int fd;
    char *tmp;   /* the partial file */
    char *final; /* blobs/sha256/<hex> */
    char *dir;   /* blobs/sha256 (fsync'ed after the rename) */
    char *digest;
    int64_t size;    /* expected, or -1 */
    int64_t offset;  /* bytes accepted (hashed) so far */
    int64_t written; /* of those, in the file (the rest is in buf) */
    int64_t flushed; /* writeback started up to here (sync_file_range) */
    char *buf;       /* WRITE_BUF bytes, allocated at the first write */
    size_t buf_len;
    struct dh_sha256_ctx hash;
};

static int json_error(struct dh_error **err, const char *path, const json_error_t *j)
{
    return dh_error_make(err, EINVAL, "cannot parse '%s': %s (line %d)", path, j->text, j->line);
}

static int check_layout_file(const char *path, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(64 << 10);
    json_error_t jerr;
    json_t *root, *v;
    int r = 0;

    if (dh_read_file(path, &b, err) < 0)
        return -1;
    root = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
    if (!root)
        return json_error(err, path, &jerr);
    v = json_object_get(root, "imageLayoutVersion");
    if (!json_is_string(v) || strncmp(json_string_value(v), "1.", 2) != 0)
        r = dh_error_make(err, EPROTONOSUPPORT,
                          "'%s': unsupported imageLayoutVersion (expected 1.x)", path);
    json_decref(root);
    return r;
}

int dh_oci_layout_open(const char *dir, bool create, struct dh_oci_layout *l, struct dh_error **err)
{
    _cleanup_free_ char *layout = dh_xasprintf("%s/" LAYOUT_FILE, dir);
    _cleanup_free_ char *blobs = dh_xasprintf("%s/blobs/sha256", dir);
    struct stat st;

    memset(l, 0, sizeof(*l));
    if (create) {
        if (dh_mkdir_p(blobs, 0755, err) < 0)
            return dh_error_wrap(err, "cannot create the OCI layout '%s'", dir);
        if (stat(layout, &st) < 0) {
            if (errno != ENOENT)
                return dh_error_sys(err, errno, "cannot stat '%s'", layout);
            if (dh_write_file_atomic(layout, LAYOUT_CONTENT, strlen(LAYOUT_CONTENT), 0644, false,
                                     err) < 0)
                return -1;
        }
    } else if (stat(blobs, &st) < 0 || !S_ISDIR(st.st_mode)) {
        return dh_error_make(err, ENOENT, "'%s' is not an OCI layout (no blobs/sha256)", dir);
    }
    if (check_layout_file(layout, err) < 0)
        return -1;
    l->dir = dh_xstrdup(dir);
    return 0;
}

void dh_oci_layout_close(struct dh_oci_layout *l)
{
    if (!l)
        return;
    free(l->dir);
    l->dir = NULL;
}

static int check_sha256_digest(const char *digest, struct dh_error **err)
{
    if (dh_digest_validate(digest, err) < 0)
        return dh_error_wrap(err, "invalid blob digest");
    if (strncmp(digest, "sha256:", 7) != 0)
        return dh_error_make(err, EINVAL, "only sha256 blobs can be stored in the OCI layout");
    return 0;
}

char *dh_oci_blob_path(const struct dh_oci_layout *l, const char *digest)
{
    _cleanup_error_ struct dh_error *err = NULL;

    if (dh_digest_validate(digest, &err) < 0)
        return NULL;
    return dh_xasprintf("%s/blobs/%.*s/%s", l->dir, (int)strcspn(digest, ":"), digest,
                        strchr(digest, ':') + 1);
}

bool dh_oci_has_blob(const struct dh_oci_layout *l, const char *digest, int64_t size)
{
    _cleanup_free_ char *p = dh_oci_blob_path(l, digest);
    struct stat st;

    if (!p || stat(p, &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    return size < 0 || (int64_t)st.st_size == size;
}

/* Hashes fd from its start up to EOF; *ret_len is the length. */
static int hash_fd(int fd, const char *path, struct dh_sha256_ctx *h, int64_t *ret_len,
                   struct dh_error **err)
{
    _cleanup_free_ char *buf = dh_xmalloc(IO_CHUNK);
    int64_t total = 0;
    ssize_t n;

    dh_sha256_init(h);
    for (;;) {
        n = pread(fd, buf, IO_CHUNK, total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return dh_error_sys(err, errno, "cannot read '%s'", path);
        }
        if (n == 0)
            break;
        dh_sha256_update(h, buf, (size_t)n);
        total += n;
    }
    *ret_len = total;
    return 0;
}

static char *digest_of(struct dh_sha256_ctx *h)
{
    uint8_t md[DH_SHA256_LEN];
    _cleanup_free_ char *hex = NULL;

    dh_sha256_final(h, md);
    hex = dh_hex(md, sizeof(md));
    return dh_xasprintf("sha256:%s", hex);
}

int dh_oci_blob_verify(const struct dh_oci_layout *l, const char *digest, struct dh_error **err)
{
    _cleanup_free_ char *p = NULL, *got = NULL;
    _cleanup_close_ int fd = -1;
    struct dh_sha256_ctx h;
    int64_t len;

    if (check_sha256_digest(digest, err) < 0)
        return -1;
    p = dh_oci_blob_path(l, digest);
    fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return dh_error_sys(err, errno, "cannot open blob '%s'", p);
    if (hash_fd(fd, p, &h, &len, err) < 0)
        return -1;
    got = digest_of(&h);
    if (strcmp(got, digest) != 0)
        return dh_error_make(err, EBADMSG, "blob '%s' is corrupt: its digest is %s", p, got);
    return 0;
}

int dh_oci_read_blob(const struct dh_oci_layout *l, const char *digest, struct dh_buf *out,
                     struct dh_error **err)
{
    _cleanup_free_ char *p = NULL;
    size_t start = out->len;

    if (check_sha256_digest(digest, err) < 0)
        return -1;
    p = dh_oci_blob_path(l, digest);
    if (dh_read_file(p, out, err) < 0)
        return -1;
    if (dh_digest_check(out->data + start, out->len - start, digest, NULL, NULL, err) < 0) {
        dh_buf_truncate(out, start);
        return dh_error_wrap(err, "blob '%s'", p);
    }
    return 0;
}

/* ---- blob writer ---- */

static void writer_free(struct dh_oci_blob_writer *w, bool unlink_tmp)
{
    if (!w)
        return;
    if (unlink_tmp && w->tmp)
        (void)unlink(w->tmp);
    if (w->fd >= 0)
        (void)close(w->fd); /* drops the flock */
    free(w->tmp);
    free(w->final);
    free(w->dir);
    free(w->digest);
    free(w->buf);
    free(w);
}

int dh_oci_blob_begin(const struct dh_oci_layout *l, const char *digest, int64_t size, bool resume,
                      struct dh_oci_blob_writer **ret, struct dh_error **err)
{
    struct dh_oci_blob_writer *w;
    const char *hex;
    int64_t have = 0;

    *ret = NULL;
    if (check_sha256_digest(digest, err) < 0)
        return -1;
    hex = digest + 7;
    w = dh_xcalloc(1, sizeof(*w));
    w->fd = -1;
    w->size = size;
    w->digest = dh_xstrdup(digest);
    w->tmp = dh_xasprintf("%s/blobs/.partial-sha256-%s", l->dir, hex);
    w->final = dh_xasprintf("%s/blobs/sha256/%s", l->dir, hex);
    w->dir = dh_xasprintf("%s/blobs/sha256", l->dir);
    w->fd = open(w->tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (w->fd < 0) {
        dh_error_sys(err, errno, "cannot create '%s'", w->tmp);
        writer_free(w, false);
        return -1;
    }
    if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        writer_free(w, false);
        if (e == EWOULDBLOCK)
            return dh_error_make(err, EBUSY, "blob %s is being written by another writer", digest);
        return dh_error_sys(err, e, "cannot lock '%s'", digest);
    }
    if (resume) {
        if (hash_fd(w->fd, w->tmp, &w->hash, &have, err) < 0) {
            writer_free(w, false);
            return -1;
        }
        if (size >= 0 && have > size)
            have = -1; /* longer than the blob: start again */
    }
    if (!resume || have < 0) {
        if (ftruncate(w->fd, 0) < 0) {
            dh_error_sys(err, errno, "cannot truncate '%s'", w->tmp);
            writer_free(w, true);
            return -1;
        }
        dh_sha256_init(&w->hash);
        have = 0;
    }
    w->offset = have;
    w->written = have;
    w->flushed = have;
    *ret = w;
    return 0;
}

int64_t dh_oci_blob_offset(const struct dh_oci_blob_writer *w)
{
    return w->offset;
}

/* Writes the buffered bytes to the file. */
static int writer_flush(struct dh_oci_blob_writer *w, struct dh_error **err)
{
    const char *p = w->buf;
    size_t len = w->buf_len;

    while (len) {
        ssize_t n = pwrite(w->fd, p, len, w->written);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return dh_error_sys(err, errno, "cannot write '%s'", w->tmp);
        }
        p += n;
        len -= (size_t)n;
        w->written += n;
    }
    w->buf_len = 0;
#ifdef SYNC_FILE_RANGE_WRITE
    /* start the writeback of every full chunk now, so that the fsync of the commit
       (which blocks the caller's transfer loop) has little left to wait for */
    if (w->written - w->flushed >= WRITEBACK_CHUNK) {
        (void)sync_file_range(w->fd, w->flushed, w->written - w->flushed, SYNC_FILE_RANGE_WRITE);
        w->flushed = w->written;
    }
#endif
    return 0;
}

int dh_oci_blob_write(struct dh_oci_blob_writer *w, const void *data, size_t len,
                      struct dh_error **err)
{
    const char *p = data;

    if (w->size >= 0 && (uint64_t)len > (uint64_t)(w->size - w->offset))
        return dh_error_make(err, E2BIG, "blob %s is larger than its announced %lld bytes",
                             w->digest, (long long)w->size);
    dh_sha256_update(&w->hash, data, len);
    w->offset += (int64_t)len;
    /* HTTP bodies arrive in 16 KiB pieces: gather them into fewer, larger writes */
    while (len) {
        size_t n;

        if (!w->buf)
            w->buf = dh_xmalloc(WRITE_BUF);
        n = WRITE_BUF - w->buf_len < len ? WRITE_BUF - w->buf_len : len;
        memcpy(w->buf + w->buf_len, p, n);
        w->buf_len += n;
        p += n;
        len -= n;
        if (w->buf_len == WRITE_BUF && writer_flush(w, err) < 0)
            return -1;
    }
    return 0;
}

static int fsync_dir(const char *dir, struct dh_error **err)
{
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) < 0)
        return dh_error_sys(err, errno, "cannot sync '%s'", dir);
    return 0;
}

int dh_oci_blob_commit(struct dh_oci_blob_writer *w, struct dh_error **err)
{
    _cleanup_free_ char *got = NULL;
    int r = -1;

    if (w->size >= 0 && w->offset != w->size) {
        dh_error_make(err, EBADMSG, "blob %s is %lld bytes, expected %lld", w->digest,
                      (long long)w->offset, (long long)w->size);
        goto out;
    }
    got = digest_of(&w->hash);
    if (strcmp(got, w->digest) != 0) {
        dh_error_make(err, EBADMSG, "digest mismatch: expected %s, got %s", w->digest, got);
        goto out;
    }
    if (writer_flush(w, err) < 0)
        goto out;
    if (fsync(w->fd) < 0) {
        dh_error_sys(err, errno, "cannot sync '%s'", w->tmp);
        goto out;
    }
    if (rename(w->tmp, w->final) < 0) {
        dh_error_sys(err, errno, "cannot rename '%s' to '%s'", w->tmp, w->final);
        goto out;
    }
    free(w->tmp);
    w->tmp = NULL;
    if (fsync_dir(w->dir, err) < 0)
        goto out;
    r = 0;
out:
    writer_free(w, true);
    return r;
}

void dh_oci_blob_abort(struct dh_oci_blob_writer *w, bool keep_partial)
{
    if (w && keep_partial && w->buf_len)
        (void)writer_flush(w, NULL); /* on failure a resume re-reads what the file holds */
    writer_free(w, !keep_partial);
}

int dh_oci_put_blob(const struct dh_oci_layout *l, const char *digest, const void *data, size_t len,
                    struct dh_error **err)
{
    struct dh_oci_blob_writer *w;

    if (check_sha256_digest(digest, err) < 0)
        return -1;
    if (dh_oci_has_blob(l, digest, (int64_t)len))
        return 0;
    if (dh_oci_blob_begin(l, digest, (int64_t)len, false, &w, err) < 0)
        return -1;
    if (dh_oci_blob_write(w, data, len, err) < 0) {
        dh_oci_blob_abort(w, false);
        return -1;
    }
    return dh_oci_blob_commit(w, err);
}

/* ---- index.json ---- */

static bool ref_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* image-spec: component ("/" component)*, component := alnum+ (sep alnum+)*,
   sep := [-._:@+] | "--" */
static bool ref_name_valid(const char *s)
{
    size_t i = 0;

    if (!*s || strlen(s) > 1024)
        return false;
    for (;;) {
        if (!ref_alnum(s[i]))
            return false;
        while (ref_alnum(s[i]))
            i++;
        if (!s[i])
            return true;
        if (s[i] == '/' || strchr("-._:@+", s[i]))
            i += (s[i] == '-' && s[i + 1] == '-') ? 2 : 1;
        else
            return false;
    }
}

static int load_index(const char *path, json_t **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(INDEX_MAX);
    _cleanup_error_ struct dh_error *e = NULL;
    json_error_t jerr;
    json_t *root, *m;

    *ret = NULL;
    if (dh_read_file(path, &b, &e) < 0) {
        if (e->status != ENOENT) {
            dh_error_move(err, &e);
            return -1;
        }
        root = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", DH_MT_OCI_INDEX,
                         "manifests");
        if (!root)
            dh_oom();
        *ret = root;
        return 0;
    }
    root = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
    if (!root)
        return json_error(err, path, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return dh_error_make(err, EINVAL, "'%s' is not a JSON object", path);
    }
    m = json_object_get(root, "manifests");
    if (!m) {
        json_object_set_new(root, "manifests", json_array());
    } else if (!json_is_array(m)) {
        json_decref(root);
        return dh_error_make(err, EINVAL, "'%s': \"manifests\" is not an array", path);
    }
    *ret = root;
    return 0;
}

static const char *entry_ref_name(json_t *e)
{
    json_t *a = json_object_get(e, "annotations");

    return json_string_value(json_object_get(a, DH_OCI_REF_NAME_ANNOTATION));
}

int dh_oci_layout_add_ref(const struct dh_oci_layout *l, const struct dh_oci_ref *ref,
                          struct dh_error **err)
{
    _cleanup_free_ char *path = dh_xasprintf("%s/" INDEX_FILE, l->dir);
    _cleanup_free_ char *lockpath = dh_xasprintf("%s/" INDEX_FILE ".lock", l->dir);
    _cleanup_lock_ struct dh_lock lock = DH_LOCK_INIT;
    _cleanup_free_ char *text = NULL;
    json_t *root = NULL, *manifests, *entry, *e;
    size_t i;
    int r = -1;

    if (!ref->media_type || !ref->digest || ref->size < 0)
        return dh_error_make(err, EINVAL, "incomplete index.json entry");
    if (dh_digest_validate(ref->digest, err) < 0)
        return dh_error_wrap(err, "invalid manifest digest");
    if (ref->ref_name && !ref_name_valid(ref->ref_name))
        return dh_error_make(err, EINVAL, "invalid OCI reference name '%.128s'", ref->ref_name);
    if (dh_lock_acquire(lockpath, DH_OCI_LAYOUT_LOCK_TIMEOUT_MS, &lock, err) < 0)
        return -1;
    if (load_index(path, &root, err) < 0)
        return -1;
    manifests = json_object_get(root, "manifests");
    /* drop the entries this one replaces */
    for (i = json_array_size(manifests); i-- > 0;) {
        const char *name;

        e = json_array_get(manifests, i);
        name = json_is_object(e) ? entry_ref_name(e) : NULL;
        if (ref->ref_name
                    ? (name && !strcmp(name, ref->ref_name))
                    : (!name && json_is_object(e) &&
                       !strcmp(json_string_value(json_object_get(e, "digest")) ?: "", ref->digest)))
            json_array_remove(manifests, i);
    }
    entry = json_pack("{s:s, s:s, s:I}", "mediaType", ref->media_type, "digest", ref->digest,
                      "size", (json_int_t)ref->size);
    if (!entry)
        dh_oom();
    if (ref->ref_name)
        json_object_set_new(entry, "annotations",
                            json_pack("{s:s}", DH_OCI_REF_NAME_ANNOTATION, ref->ref_name));
    json_array_append_new(manifests, entry);
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        dh_oom();
    r = dh_write_file_atomic(path, text, strlen(text), 0644, false, err);
    json_decref(root);
    return r;
}

int dh_oci_layout_find_ref(const struct dh_oci_layout *l, const char *ref_name, char **ret_digest,
                           char **ret_media_type, int64_t *ret_size, struct dh_error **err)
{
    _cleanup_free_ char *path = dh_xasprintf("%s/" INDEX_FILE, l->dir);
    json_t *root = NULL, *e;
    size_t i;
    int r = -1;

    if (load_index(path, &root, err) < 0)
        return -1;
    json_array_foreach (json_object_get(root, "manifests"), i, e) {
        const char *name = json_is_object(e) ? entry_ref_name(e) : NULL;
        const char *d = json_string_value(json_object_get(e, "digest"));
        const char *mt = json_string_value(json_object_get(e, "mediaType"));
        json_t *size = json_object_get(e, "size");

        if (!name || strcmp(name, ref_name) != 0)
            continue;
        if (!d || !json_is_integer(size)) {
            dh_error_make(err, EINVAL, "'%s': entry '%.128s' has no digest or size", path,
                          ref_name);
            goto out;
        }
        if (ret_digest)
            *ret_digest = dh_xstrdup(d);
        if (ret_media_type)
            *ret_media_type = mt ? dh_xstrdup(mt) : NULL;
        if (ret_size)
            *ret_size = (int64_t)json_integer_value(size);
        r = 0;
        goto out;
    }
    dh_error_make(err, ENOENT, "no image named '%.128s' in '%s'", ref_name, path);
out:
    json_decref(root);
    return r;
}
