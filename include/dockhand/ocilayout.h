/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI image layout (image-spec image-layout.md) writer and reader:
 *
 *   DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   DIR/index.json            an image index; each image tagged by the annotation
 *                             org.opencontainers.image.ref.name (skopeo's oci:DIR:REF)
 *   DIR/blobs/sha256/<hex>    content-addressed blobs
 *
 * Blobs are written atomically: the bytes go to DIR/blobs/.partial-sha256-<hex>
 * (flock'ed by its writer), hashed while written; commit checks size and
 * sha256, fsyncs, renames into blobs/sha256/ and fsyncs the directory.  A
 * wrong size or digest deletes the temporary file: nothing is left.  A
 * writer can be opened in resume mode: an existing partial file is kept and
 * re-hashed, and the caller continues from dh_oci_blob_offset() (an HTTP Range
 * request).  Only sha256 blobs are accepted (EINVAL otherwise).
 *
 * index.json is rewritten (dh_write_file_atomic, 0644) while DIR/index.json.lock
 * is held, so concurrent writers of one layout do not lose each other's
 * entries; fields of an existing index.json and of its other entries that this
 * module does not know are kept.
 */
#ifndef DOCKHAND_OCILAYOUT_H
#define DOCKHAND_OCILAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_OCI_REF_NAME_ANNOTATION    "org.opencontainers.image.ref.name"
#define DH_OCI_LAYOUT_LOCK_TIMEOUT_MS 30000

struct dh_oci_layout {
    char *dir;
};

/* Opens the layout at dir.  With create, the directory, oci-layout and
   blobs/sha256 are made when missing.  An existing oci-layout must say
   imageLayoutVersion 1.x (else EPROTONOSUPPORT). */
int dh_oci_layout_open(const char *dir, bool create, struct dh_oci_layout *l,
                       struct dh_error **err);
void dh_oci_layout_close(struct dh_oci_layout *l);

/* DIR/blobs/<algo>/<hex> for a valid digest, else NULL.  New string. */
char *dh_oci_blob_path(const struct dh_oci_layout *l, const char *digest);
/* True when the blob exists as a regular file of exactly size bytes (size < 0:
   any size).  The content is not re-hashed (dh_oci_blob_verify does). */
bool dh_oci_has_blob(const struct dh_oci_layout *l, const char *digest, int64_t size);
/* Re-hashes a stored blob: 0 when its sha256 matches, else -1 (EBADMSG / ENOENT). */
int dh_oci_blob_verify(const struct dh_oci_layout *l, const char *digest, struct dh_error **err);
/* Reads a stored blob into out (whose max caps it) and checks its digest. */
int dh_oci_read_blob(const struct dh_oci_layout *l, const char *digest, struct dh_buf *out,
                     struct dh_error **err);
/* Stores an in-memory blob (a manifest, a config) atomically; a present blob is kept. */
int dh_oci_put_blob(const struct dh_oci_layout *l, const char *digest, const void *data, size_t len,
                    struct dh_error **err);

struct dh_oci_blob_writer;
/* Starts writing the blob digest of size bytes (size < 0: unknown).  With resume,
   a partial file left by an earlier attempt is continued (its bytes re-hashed);
   a partial longer than size is discarded.  EBUSY when another writer (thread or
   process) holds the blob. */
int dh_oci_blob_begin(const struct dh_oci_layout *l, const char *digest, int64_t size, bool resume,
                      struct dh_oci_blob_writer **ret, struct dh_error **err);
/* Bytes already in the partial file (where a Range request should start). */
int64_t dh_oci_blob_offset(const struct dh_oci_blob_writer *w);
/* Appends bytes; more than the announced size fails (E2BIG). */
int dh_oci_blob_write(struct dh_oci_blob_writer *w, const void *data, size_t len,
                      struct dh_error **err);
/* Checks size and digest and moves the blob into place; frees w whatever the
   outcome.  On a mismatch (EBADMSG) the partial file is deleted. */
int dh_oci_blob_commit(struct dh_oci_blob_writer *w, struct dh_error **err);
/* Gives up: frees w; keep_partial leaves the partial file for a later resume. */
void dh_oci_blob_abort(struct dh_oci_blob_writer *w, bool keep_partial);

/* An index.json entry. */
struct dh_oci_ref {
    const char *media_type; /* of the manifest or index */
    const char *digest;
    int64_t size;
    const char *ref_name; /* the org.opencontainers.image.ref.name value, or NULL */
};
/* Adds the entry to index.json under the lock, replacing any entry with the same
   ref_name (or, without ref_name, an unnamed entry with the same digest).  The
   manifest blob should be stored first.  ref_name must be a valid OCI ref
   (image-spec: [A-Za-z0-9._:@/+-]+ components), else EINVAL. */
int dh_oci_layout_add_ref(const struct dh_oci_layout *l, const struct dh_oci_ref *ref,
                          struct dh_error **err);
/* Looks up ref_name in index.json; fills digest (new string), media type (new
   string) and size.  ENOENT when absent. */
int dh_oci_layout_find_ref(const struct dh_oci_layout *l, const char *ref_name, char **ret_digest,
                           char **ret_media_type, int64_t *ret_size, struct dh_error **err);

#endif
