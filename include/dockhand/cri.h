/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container Runtime Interface (runtime.v1) image client: the messages the
 * pre-puller uses, encoded and decoded by hand (dockhand/protobuf.h), and unary
 * calls to the runtime's unix socket (dockhand/grpc.h, HTTP/2 through libcurl).
 *
 * Field numbers follow kubernetes/cri-api pkg/apis/runtime/v1/api.proto (see
 * docs/cri.md).  Decoding is strict about structure (bounds, wire format) and
 * lenient about content: unknown fields are skipped, so newer runtimes work.
 *
 * Endpoints: "unix:///path/to/sock" or a bare absolute path.  Without one,
 * $CONTAINER_RUNTIME_ENDPOINT, else the first of crictl's defaults that accepts
 * a connection: unix:///run/containerd/containerd.sock,
 * unix:///run/crio/crio.sock, unix:///var/run/cri-dockerd.sock.
 *
 * Credentials (AuthConfig) are wiped when released and never appear in errors or
 * logs; the request frame carrying them is a secret buffer, wiped after the call.
 */
#ifndef DOCKHAND_CRI_H
#define DOCKHAND_CRI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_CRI_ENV_ENDPOINT       "CONTAINER_RUNTIME_ENDPOINT"
#define DH_CRI_DEFAULT_TIMEOUT_MS (30L * 1000)      /* Version, ImageStatus, List, Remove */
#define DH_CRI_PULL_TIMEOUT_MS    (30L * 60 * 1000) /* PullImage */
#define DH_CRI_MAX_STRING         ((size_t)1 << 20) /* one string field in a reply */

extern const char *const dh_cri_default_endpoints[]; /* NULL-terminated, crictl's order */

struct dh_cri_kv {
    char *key;
    char *value;
};

/* ImageSpec: image = 1, annotations = 2 (map), user_specified_image = 18,
   runtime_handler = 19, image_ref = 20. */
struct dh_cri_image_spec {
    char *image;
    struct dh_cri_kv *annotations;
    size_t n_annotations;
    char *user_specified_image;
    char *runtime_handler;
    char *image_ref;
};

/* AuthConfig: username = 1, password = 2, auth = 3, server_address = 4,
   identity_token = 5, registry_token = 6.  Every member is wiped on release. */
struct dh_cri_auth {
    char *username;
    char *password;
    char *auth;
    char *server_address;
    char *identity_token;
    char *registry_token;
};

/* Image: id = 1, repo_tags = 2, repo_digests = 3, size = 4, uid = 5 (Int64Value),
   username = 6, spec = 7, pinned = 8. */
struct dh_cri_image {
    char *id;
    char **repo_tags;
    size_t n_repo_tags;
    char **repo_digests;
    size_t n_repo_digests;
    uint64_t size;
    bool has_uid;
    int64_t uid;
    char *username;
    bool has_spec;
    struct dh_cri_image_spec spec;
    bool pinned;
};

/* VersionResponse: version = 1, runtime_name = 2, runtime_version = 3,
   runtime_api_version = 4. */
struct dh_cri_version {
    char *version;
    char *runtime_name;
    char *runtime_version;
    char *runtime_api_version;
};

/* ImageStatusResponse: image = 1 (absent: present is false), info = 2 (map, verbose). */
struct dh_cri_image_status {
    bool present;
    struct dh_cri_image image;
    struct dh_cri_kv *info;
    size_t n_info;
};

/* ListImagesResponse: images = 1 (repeated). */
struct dh_cri_image_list {
    struct dh_cri_image *images;
    size_t n_images;
};

void dh_cri_image_spec_release(struct dh_cri_image_spec *s);
void dh_cri_auth_release(struct dh_cri_auth *a); /* wipes */
void dh_cri_image_release(struct dh_cri_image *img);
void dh_cri_version_release(struct dh_cri_version *v);
void dh_cri_image_status_release(struct dh_cri_image_status *s);
void dh_cri_image_list_release(struct dh_cri_image_list *l);

/* AuthConfig from a docker credential (helper output): {username, password}, or
   {identity_token = secret} when username is "<token>" (an identity/refresh token,
   which containerd exchanges with grant_type=refresh_token).  server_address stays
   empty: containerd drops credentials whose server_address does not parse to the
   host it contacts (a bare "host:port" never does), and the credential was already
   chosen for this image's registry.  *ret is overwritten (release it after use). */
int dh_cri_auth_from_credential(const char *username, const char *secret, struct dh_cri_auth *ret,
                                struct dh_error **err);

/* ---- codec (requests appended to out; replies decoded into *ret, which is
   initialised first and holds nothing after a failure) ---- */

int dh_cri_encode_version_request(const char *version, struct dh_buf *out, struct dh_error **err);
int dh_cri_encode_image_spec(const struct dh_cri_image_spec *spec, struct dh_buf *out,
                             struct dh_error **err);
/* auth may be NULL (anonymous); out should be a secret buffer when auth is given. */
int dh_cri_encode_pull_image_request(const struct dh_cri_image_spec *spec,
                                     const struct dh_cri_auth *auth, struct dh_buf *out,
                                     struct dh_error **err);
int dh_cri_encode_image_status_request(const struct dh_cri_image_spec *spec, bool verbose,
                                       struct dh_buf *out, struct dh_error **err);
/* filter may be NULL (every image); else ListImagesRequest{filter{image = spec}}. */
int dh_cri_encode_list_images_request(const struct dh_cri_image_spec *filter, struct dh_buf *out,
                                      struct dh_error **err);
int dh_cri_encode_remove_image_request(const struct dh_cri_image_spec *spec, struct dh_buf *out,
                                       struct dh_error **err);

int dh_cri_decode_version_response(const void *data, size_t len, struct dh_cri_version *ret,
                                   struct dh_error **err);
/* *ret_image_ref: new string (may be "" if the runtime sent none). */
int dh_cri_decode_pull_image_response(const void *data, size_t len, char **ret_image_ref,
                                      struct dh_error **err);
int dh_cri_decode_image_status_response(const void *data, size_t len,
                                        struct dh_cri_image_status *ret, struct dh_error **err);
int dh_cri_decode_list_images_response(const void *data, size_t len, struct dh_cri_image_list *ret,
                                       struct dh_error **err);
/* RemoveImageResponse is empty: checks the bytes are a well-formed message. */
int dh_cri_decode_remove_image_response(const void *data, size_t len, struct dh_error **err);

/* ---- endpoints ---- */

/* The socket path of "unix:///path" or "/path": new string; EPROTONOSUPPORT for another
   scheme (tcp://, npipe://), EINVAL for an empty or relative path. */
char *dh_cri_endpoint_path(const char *endpoint, struct dh_error **err);

/* ---- client ---- */

struct dh_cri_client;

/* endpoint NULL or "": $CONTAINER_RUNTIME_ENDPOINT, else the first default endpoint
   accepting a connection (ENOENT naming all three when none does).  An explicit
   endpoint is not contacted here: the first call reports a failure to connect. */
int dh_cri_open(const char *endpoint, struct dh_cri_client **ret, struct dh_error **err);
void dh_cri_close(struct dh_cri_client *c);
/* The endpoint in use ("unix:///..."), borrowed. */
const char *dh_cri_endpoint(const struct dh_cri_client *c);
/* Time limits in ms (0 = the defaults above): call_ms for Version, ImageStatus,
   ListImages, RemoveImage; pull_ms for PullImage. */
void dh_cri_set_timeouts(struct dh_cri_client *c, long call_ms, long pull_ms);

/* Errors carry the RPC and gRPC status: "runtime.v1.ImageService/PullImage: rpc error:
   code = Unknown desc = failed to pull ...: 401 Unauthorized"; *ret_code-like access
   through dh_cri_last_code(). */
int dh_cri_version(struct dh_cri_client *c, struct dh_cri_version *ret, struct dh_error **err);
int dh_cri_pull_image(struct dh_cri_client *c, const struct dh_cri_image_spec *spec,
                      const struct dh_cri_auth *auth, char **ret_image_ref, struct dh_error **err);
int dh_cri_image_status(struct dh_cri_client *c, const struct dh_cri_image_spec *spec, bool verbose,
                        struct dh_cri_image_status *ret, struct dh_error **err);
int dh_cri_list_images(struct dh_cri_client *c, const struct dh_cri_image_spec *filter,
                       struct dh_cri_image_list *ret, struct dh_error **err);
int dh_cri_remove_image(struct dh_cri_client *c, const struct dh_cri_image_spec *spec,
                        struct dh_error **err);
/* Any unary call with an already encoded request (tests, future RPCs). */
int dh_cri_call(struct dh_cri_client *c, const char *method, const void *request, size_t len,
                long timeout_ms, struct dh_buf *ret_reply, struct dh_error **err);
/* gRPC code of the last call on c: DH_GRPC_OK, a code, or -1 (transport failure). */
int dh_cri_last_code(const struct dh_cri_client *c);

#endif
