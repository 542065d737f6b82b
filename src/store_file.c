/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `file` store: encrypted credentials in one JSON file per namespace.
 *
 *   <dir>/<namespace>.json   {"version": 1, "entries": {"<canonical key>":
 *                              {"server": "<ServerURL as stored>", "data": "<base64>"}}}
 *   <dir>/<namespace>.lock   flock taken by every writer
 *   <key file>               32 random bytes (or their base64), mode 0600
 *
 * "data" is AES-256-GCM (nonce || ciphertext || tag) of {"Username","Secret"},
 * with "dockhand-file-v1\0<namespace>\0<key>\0<server>" as associated data, so
 * an entry moved to another registry or namespace fails to authenticate.
 * Readers never lock: writers replace the file atomically.  Unknown fields in
 * the file and in entries are kept.  See docs/file-store.md.
 */
#include "dockhand/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/crypto.h"
#include "dockhand/fsutil.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/regurl.h"
#include "dockhand/xdg.h"

#define FILE_STORE_VERSION 1
#define FILE_STORE_MAX     (16u << 20)
#define KEY_FILE_MAX       256
#define LOCK_TIMEOUT_MS    30000
#define AAD_PREFIX         "dockhand-file-v1"

struct file_store {
    struct dh_store base;
    char *dir;
    char *key_path;
    char *data_path;
    char *lock_path;
    uint8_t key[DH_AEAD_KEY_LEN];
    bool have_key;
};

static void file_close(struct dh_store *s)
{
    struct file_store *fs = (struct file_store *)s;

    dh_wipe(fs->key, sizeof(fs->key));
    free(fs->dir);
    free(fs->key_path);
    free(fs->data_path);
    free(fs->lock_path);
    free(fs->base.namespace);
    free(fs);
}

/* Parses key material: 32 raw bytes, or the base64 of 32 bytes (trailing whitespace ignored). */
static int parse_key(struct file_store *fs, const struct dh_buf *raw, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf dec = DH_BUF_INIT_SECRET(64);
    size_t n = raw->len;

    if (n == DH_AEAD_KEY_LEN) {
        memcpy(fs->key, raw->data, DH_AEAD_KEY_LEN);
        fs->have_key = true;
        return 0;
    }
    while (n && (raw->data[n - 1] == '\n' || raw->data[n - 1] == '\r' || raw->data[n - 1] == ' '))
        n--;
    if (dh_base64_decode(raw->data, n, &dec, NULL) == 0 && dec.len == DH_AEAD_KEY_LEN) {
        memcpy(fs->key, dec.data, DH_AEAD_KEY_LEN);
        fs->have_key = true;
        return 0;
    }
    return dh_error_make(err, EINVAL, "key file '%s' must hold 32 bytes or their base64 encoding",
                         fs->key_path);
}

/* Loads the key.  Returns 1 when it does not exist and create is false. */
static int load_key(struct file_store *fs, bool create, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT_SECRET(KEY_FILE_MAX);
    _cleanup_error_ struct dh_error *e = NULL;
    struct stat st;

    if (fs->have_key)
        return 0;
    if (dh_read_file(fs->key_path, &raw, &e) == 0) {
        if (stat(fs->key_path, &st) == 0 && (st.st_mode & 077) && st.st_uid == getuid())
            dh_log_warn("key file '%s' is accessible by other users (mode %04o)", fs->key_path,
                        (unsigned)(st.st_mode & 07777));
        return parse_key(fs, &raw, err);
    }
    if (e->status != ENOENT) {
        dh_error_move(err, &e);
        return -1;
    }
    if (!create)
        return 1;

    /* Create it race-free: write a temporary file, then link() it into place. */
    _cleanup_free_ char *keydir = dh_dirname(fs->key_path);
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int fd = -1;
    uint8_t fresh[DH_AEAD_KEY_LEN];

    if (dh_mkdir_p(keydir, 0700, err) < 0)
        return -1;
    tmp = dh_xasprintf("%s/.key.tmp.XXXXXX", keydir);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return dh_error_sys(err, errno, "cannot create key file in '%s'", keydir);
    if (dh_random_bytes(fresh, sizeof(fresh), err) < 0) {
        (void)unlink(tmp);
        return -1;
    }
    if (fchmod(fd, 0600) < 0 || write(fd, fresh, sizeof(fresh)) != (ssize_t)sizeof(fresh) ||
        fsync(fd) < 0) {
        int e2 = errno;
        dh_wipe(fresh, sizeof(fresh));
        (void)unlink(tmp);
        return dh_error_sys(err, e2, "cannot write key file '%s'", fs->key_path);
    }
    if (link(tmp, fs->key_path) == 0) {
        (void)unlink(tmp);
        memcpy(fs->key, fresh, sizeof(fresh));
        dh_wipe(fresh, sizeof(fresh));
        fs->have_key = true;
        return 0;
    }
    int e3 = errno;
    dh_wipe(fresh, sizeof(fresh));
    (void)unlink(tmp);
    if (e3 != EEXIST)
        return dh_error_sys(err, e3, "cannot create key file '%s'", fs->key_path);
    /* Another process created it first: use theirs. */
    return load_key(fs, false, err);
}

/* Loads the data file.  A missing file gives an empty document (and *ret_exists false). */
static int load_doc(struct file_store *fs, json_t **ret, bool *ret_exists, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf raw = DH_BUF_INIT(FILE_STORE_MAX);
    _cleanup_error_ struct dh_error *e = NULL;
    json_error_t jerr;
    json_t *doc, *version, *entries;

    if (dh_read_file(fs->data_path, &raw, &e) < 0) {
        if (e->status != ENOENT) {
            dh_error_move(err, &e);
            return -1;
        }
        *ret = json_pack("{s:i, s:{}}", "version", FILE_STORE_VERSION, "entries");
        if (ret_exists)
            *ret_exists = false;
        return 0;
    }
    doc = json_loadb(raw.data, raw.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return dh_error_make(err, EINVAL, "store file '%s' is not valid JSON (line %d): %s",
                             fs->data_path, jerr.line, jerr.text);
    version = json_object_get(doc, "version");
    entries = json_object_get(doc, "entries");
    if (!json_is_object(doc) || !json_is_integer(version) || !json_is_object(entries)) {
        json_decref(doc);
        return dh_error_make(err, EINVAL, "store file '%s' is not a dockhand file store",
                             fs->data_path);
    }
    if (json_integer_value(version) != FILE_STORE_VERSION) {
        json_int_t v = json_integer_value(version);
        json_decref(doc);
        return dh_error_make(err, EINVAL,
                             "store file '%s' has version %lld; this dockhand reads %d",
                             fs->data_path, (long long)v, FILE_STORE_VERSION);
    }
    *ret = doc;
    if (ret_exists)
        *ret_exists = true;
    return 0;
}

static char *make_aad(const char *ns, const char *key, const char *server, size_t *ret_len)
{
    struct dh_buf b = DH_BUF_INIT(SIZE_MAX - 1);

    dh_buf_append(&b, AAD_PREFIX, sizeof(AAD_PREFIX), NULL);
    dh_buf_append(&b, ns, strlen(ns) + 1, NULL);
    dh_buf_append(&b, key, strlen(key) + 1, NULL);
    dh_buf_append(&b, server, strlen(server), NULL);
    return dh_buf_steal(&b, ret_len);
}

/* Finds the best entry for a query; returns the borrowed key or NULL. */
static const char *find_entry(json_t *entries, const struct dh_regurl *q, const char *qkey)
{
    const char *k, *best = NULL;
    json_t *v;
    int best_rank = -1;

    if (json_object_get(entries, qkey))
        return json_object_iter_key(json_object_iter_at(entries, qkey));
    json_object_foreach (entries, k, v) {
        struct dh_regurl stored;
        int rank;

        if (dh_regurl_parse(k, &stored, NULL) < 0)
            continue;
        rank = dh_regurl_match_rank(&stored, q);
        dh_regurl_release(&stored);
        if (rank > best_rank || (rank == best_rank && rank >= 0 && strcmp(k, best) < 0)) {
            best_rank = rank;
            best = k;
        }
    }
    return best_rank >= 0 ? best : NULL;
}

static int decrypt_entry(struct file_store *fs, const char *key, json_t *entry,
                         struct dh_cred **ret, struct dh_error **err)
{
    const char *server = json_string_value(json_object_get(entry, "server"));
    const char *data = json_string_value(json_object_get(entry, "data"));
    _cleanup_buf_ struct dh_buf sealed = DH_BUF_INIT(FILE_STORE_MAX);
    _cleanup_buf_ struct dh_buf plain = DH_BUF_INIT_SECRET(FILE_STORE_MAX);
    _cleanup_free_ char *aad = NULL;
    size_t aadlen;
    json_error_t jerr;
    json_t *pt;
    const char *user, *secret;

    if (!server || !data)
        return dh_error_make(err, EINVAL, "entry '%s' in '%s' is malformed", key, fs->data_path);
    if (dh_base64_decode(data, strlen(data), &sealed, err) < 0)
        return dh_error_wrap(err, "entry '%s' in '%s' is corrupted", server, fs->data_path);
    aad = make_aad(fs->base.namespace, key, server, &aadlen);
    if (dh_aead_open(fs->key, aad, aadlen, sealed.data, sealed.len, &plain, err) < 0)
        return dh_error_wrap(err, "cannot decrypt the entry for '%s' in '%s'", server,
                             fs->data_path);
    pt = json_loadb(plain.data, plain.len, 0, &jerr);
    user = json_string_value(json_object_get(pt, "Username"));
    secret = json_string_value(json_object_get(pt, "Secret"));
    if (!user || !secret) {
        json_decref(pt);
        return dh_error_make(err, EINVAL, "entry '%s' in '%s' has malformed contents", server,
                             fs->data_path);
    }
    *ret = dh_cred_new(server, user, secret);
    json_decref(pt);
    return 0;
}

static int file_get(struct dh_store *s, const char *server_url, struct dh_cred **ret,
                    struct dh_error **err)
{
    struct file_store *fs = (struct file_store *)s;
    json_auto_t *doc = NULL;
    struct dh_regurl q;
    _cleanup_free_ char *qkey = NULL;
    const char *key;
    bool exists;
    int r;

    *ret = NULL;
    if (dh_regurl_parse(server_url, &q, NULL) < 0)
        return 0; /* nothing can be stored under an invalid URL */
    qkey = dh_regurl_key(&q);
    r = load_doc(fs, &doc, &exists, err);
    if (r == 0 && exists) {
        key = find_entry(json_object_get(doc, "entries"), &q, qkey);
        if (key) {
            r = load_key(fs, false, err);
            if (r == 1)
                r = dh_error_make(err, ENOENT, "key file '%s' is missing; cannot read '%s'",
                                  fs->key_path, fs->data_path);
            if (r == 0)
                r = decrypt_entry(fs, key, json_object_get(json_object_get(doc, "entries"), key),
                                  ret, err);
        }
    }
    dh_regurl_release(&q);
    return r;
}

static int save_doc(struct file_store *fs, json_t *doc, struct dh_error **err)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    int r;

    if (!text)
        dh_oom();
    r = dh_write_file_atomic(fs->data_path, text, strlen(text), 0600, false, err);
    dh_str_free_wipe(text);
    return r;
}

static int file_store_cred(struct dh_store *s, const struct dh_cred *cred, struct dh_error **err)
{
    struct file_store *fs = (struct file_store *)s;
    _cleanup_lock_ struct dh_lock lock = DH_LOCK_INIT;
    json_auto_t *doc = NULL;
    json_auto_t *pt = NULL;
    _cleanup_buf_ struct dh_buf sealed = DH_BUF_INIT(FILE_STORE_MAX);
    _cleanup_free_ char *qkey = NULL, *aad = NULL, *b64 = NULL;
    struct dh_regurl q;
    size_t aadlen;
    char *ptext;
    json_t *entries, *entry;
    int r;

    if (dh_regurl_parse(cred->server_url, &q, err) < 0)
        return -1;
    qkey = dh_regurl_key(&q);
    dh_regurl_release(&q);
    if (dh_mkdir_p(fs->dir, 0700, err) < 0 ||
        dh_lock_acquire(fs->lock_path, LOCK_TIMEOUT_MS, &lock, err) < 0 ||
        load_key(fs, true, err) < 0 || load_doc(fs, &doc, NULL, err) < 0)
        return -1;

    pt = json_pack("{s:s, s:s}", "Username", cred->username, "Secret", cred->secret);
    if (!pt)
        return dh_error_make(err, EINVAL, "username or secret is not valid UTF-8");
    ptext = json_dumps(pt, JSON_COMPACT);
    if (!ptext)
        dh_oom();
    aad = make_aad(fs->base.namespace, qkey, cred->server_url, &aadlen);
    r = dh_aead_seal(fs->key, aad, aadlen, ptext, strlen(ptext), &sealed, err);
    dh_str_free_wipe(ptext);
    if (r < 0)
        return -1;
    b64 = dh_base64_encode(sealed.data, sealed.len, false);

    entries = json_object_get(doc, "entries");
    entry = json_object_get(entries, qkey);
    if (!json_is_object(entry)) {
        entry = json_object();
        json_object_set_new(entries, qkey, entry);
    }
    json_object_set_new(entry, "server", json_string(cred->server_url));
    json_object_set_new(entry, "data", json_string(b64));
    return save_doc(fs, doc, err);
}

static int file_erase(struct dh_store *s, const char *server_url, struct dh_error **err)
{
    struct file_store *fs = (struct file_store *)s;
    _cleanup_lock_ struct dh_lock lock = DH_LOCK_INIT;
    json_auto_t *doc = NULL;
    _cleanup_free_ char *qkey = NULL, *victim = NULL;
    struct dh_regurl q;
    const char *key;
    bool exists;

    if (dh_regurl_parse(server_url, &q, NULL) < 0)
        return 0;
    qkey = dh_regurl_key(&q);
    if (access(fs->data_path, F_OK) < 0 && errno == ENOENT) {
        dh_regurl_release(&q);
        return 0;
    }
    if (dh_lock_acquire(fs->lock_path, LOCK_TIMEOUT_MS, &lock, err) < 0 ||
        load_doc(fs, &doc, &exists, err) < 0) {
        dh_regurl_release(&q);
        return -1;
    }
    key = exists ? find_entry(json_object_get(doc, "entries"), &q, qkey) : NULL;
    dh_regurl_release(&q);
    if (!key)
        return 0;
    victim = dh_xstrdup(key);
    json_object_del(json_object_get(doc, "entries"), victim);
    return save_doc(fs, doc, err);
}

static int file_list(struct dh_store *s, json_t *out, struct dh_error **err)
{
    struct file_store *fs = (struct file_store *)s;
    json_auto_t *doc = NULL;
    const char *key;
    json_t *entry;
    bool exists;
    int r;

    if (load_doc(fs, &doc, &exists, err) < 0)
        return -1;
    if (!exists || json_object_size(json_object_get(doc, "entries")) == 0)
        return 0;
    r = load_key(fs, false, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return dh_error_make(err, ENOENT, "key file '%s' is missing; cannot read '%s'",
                             fs->key_path, fs->data_path);
    json_object_foreach (json_object_get(doc, "entries"), key, entry) {
        _cleanup_error_ struct dh_error *e = NULL;
        struct dh_cred *c = NULL;

        if (decrypt_entry(fs, key, entry, &c, &e) < 0) {
            dh_log_warn("%s, skipping it", e->msg);
            continue;
        }
        json_object_set_new(out, c->server_url, json_string(c->username));
        dh_cred_free(c);
    }
    return 0;
}

static const struct dh_store_ops file_ops = {
        .type = "file",
        .get = file_get,
        .store = file_store_cred,
        .erase = file_erase,
        .list = file_list,
        .close = file_close,
};

int dh_store_file_open(const char *arg DH_UNUSED, const char *ns, const struct dh_config *cfg,
                       struct dh_store **ret, struct dh_error **err)
{
    struct file_store *fs;
    char *dir = NULL;

    if (cfg && cfg->file_dir) {
        dir = dh_xstrdup(cfg->file_dir);
    } else {
        _cleanup_free_ char *base = NULL;
        if (dh_xdg_dir(DH_XDG_DATA, &base, err) < 0)
            return -1;
        dir = dh_xasprintf("%s/file", base);
    }
    fs = dh_xcalloc(1, sizeof(*fs));
    fs->base.ops = &file_ops;
    fs->base.namespace = dh_xstrdup(ns);
    fs->dir = dir;
    fs->key_path = cfg && cfg->file_key_file ? dh_xstrdup(cfg->file_key_file)
                                             : dh_xasprintf("%s/key", dir);
    fs->data_path = dh_xasprintf("%s/%s.json", dir, ns);
    fs->lock_path = dh_xasprintf("%s/%s.lock", dir, ns);
    *ret = &fs->base;
    return 0;
}
