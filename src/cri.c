/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRI runtime.v1 image client: see include/dockhand/cri.h and docs/cri.md.
 */
#include "dockhand/cri.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/grpc.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/protobuf.h"

#define RPC_VERSION      "/runtime.v1.RuntimeService/Version"
#define RPC_PULL_IMAGE   "/runtime.v1.ImageService/PullImage"
#define RPC_IMAGE_STATUS "/runtime.v1.ImageService/ImageStatus"
#define RPC_LIST_IMAGES  "/runtime.v1.ImageService/ListImages"
#define RPC_REMOVE_IMAGE "/runtime.v1.ImageService/RemoveImage"

/* Our requests: an image reference and a few credentials, far below this. */
#define MAX_REQUEST ((size_t)4 << 20)

const char *const dh_cri_default_endpoints[] = {
        "unix:///run/containerd/containerd.sock",
        "unix:///run/crio/crio.sock",
        "unix:///var/run/cri-dockerd.sock",
        NULL,
};

/* ---- release ---- */

static void kv_array_free(struct dh_cri_kv *kv, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void str_array_free(char **a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void dh_cri_image_spec_release(struct dh_cri_image_spec *s)
{
    if (!s)
        return;
    free(s->image);
    kv_array_free(s->annotations, s->n_annotations);
    free(s->user_specified_image);
    free(s->runtime_handler);
    free(s->image_ref);
    memset(s, 0, sizeof(*s));
}

void dh_cri_auth_release(struct dh_cri_auth *a)
{
    if (!a)
        return;
    dh_str_free_wipe(a->username);
    dh_str_free_wipe(a->password);
    dh_str_free_wipe(a->auth);
    dh_str_free_wipe(a->server_address);
    dh_str_free_wipe(a->identity_token);
    dh_str_free_wipe(a->registry_token);
    memset(a, 0, sizeof(*a));
}

void dh_cri_image_release(struct dh_cri_image *img)
{
    if (!img)
        return;
    free(img->id);
    str_array_free(img->repo_tags, img->n_repo_tags);
    str_array_free(img->repo_digests, img->n_repo_digests);
    free(img->username);
    dh_cri_image_spec_release(&img->spec);
    memset(img, 0, sizeof(*img));
}

void dh_cri_version_release(struct dh_cri_version *v)
{
    if (!v)
        return;
    free(v->version);
    free(v->runtime_name);
    free(v->runtime_version);
    free(v->runtime_api_version);
    memset(v, 0, sizeof(*v));
}

void dh_cri_image_status_release(struct dh_cri_image_status *s)
{
    if (!s)
        return;
    dh_cri_image_release(&s->image);
    kv_array_free(s->info, s->n_info);
    memset(s, 0, sizeof(*s));
}

void dh_cri_image_list_release(struct dh_cri_image_list *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->n_images; i++)
        dh_cri_image_release(&l->images[i]);
    free(l->images);
    memset(l, 0, sizeof(*l));
}

int dh_cri_auth_from_credential(const char *username, const char *secret, struct dh_cri_auth *ret,
                                struct dh_error **err)
{
    memset(ret, 0, sizeof(*ret));
    if (!secret || !*secret)
        return dh_error_make(err, EINVAL, "credential has no secret");
    if (username && !strcmp(username, "<token>")) {
        ret->identity_token = dh_xstrdup(secret);
        return 0;
    }
    if (!username || !*username)
        return dh_error_make(err, EINVAL, "credential has no username");
    ret->username = dh_xstrdup(username);
    ret->password = dh_xstrdup(secret);
    return 0;
}

/* ---- encoding ---- */

int dh_cri_encode_image_spec(const struct dh_cri_image_spec *spec, struct dh_buf *out,
                             struct dh_error **err)
{
    size_t i;

    if (dh_pb_put_string(out, 1, spec->image, err) < 0)
        return -1;
    for (i = 0; i < spec->n_annotations; i++) {
        if (dh_pb_put_map_entry(out, 2, spec->annotations[i].key, spec->annotations[i].value, err) <
            0)
            return -1;
    }
    if (dh_pb_put_string(out, 18, spec->user_specified_image, err) < 0 ||
        dh_pb_put_string(out, 19, spec->runtime_handler, err) < 0 ||
        dh_pb_put_string(out, 20, spec->image_ref, err) < 0)
        return -1;
    return 0;
}

/* Appends field `field` = ImageSpec(spec). */
static int put_image_spec(struct dh_buf *out, uint32_t field, const struct dh_cri_image_spec *spec,
                          struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf sub = DH_BUF_INIT(MAX_REQUEST);

    if (dh_cri_encode_image_spec(spec, &sub, err) < 0)
        return -1;
    return dh_pb_put_message(out, field, &sub, err);
}

static int check_spec(const struct dh_cri_image_spec *spec, struct dh_error **err)
{
    if (!spec || !spec->image || !*spec->image)
        return dh_error_make(err, EINVAL, "no image given");
    return 0;
}

int dh_cri_encode_version_request(const char *version, struct dh_buf *out, struct dh_error **err)
{
    return dh_pb_put_string(out, 1, version, err);
}

int dh_cri_encode_pull_image_request(const struct dh_cri_image_spec *spec,
                                     const struct dh_cri_auth *auth, struct dh_buf *out,
                                     struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf a = DH_BUF_INIT_SECRET(MAX_REQUEST);

    if (check_spec(spec, err) < 0 || put_image_spec(out, 1, spec, err) < 0)
        return -1;
    if (!auth)
        return 0;
    if (dh_pb_put_string(&a, 1, auth->username, err) < 0 ||
        dh_pb_put_string(&a, 2, auth->password, err) < 0 ||
        dh_pb_put_string(&a, 3, auth->auth, err) < 0 ||
        dh_pb_put_string(&a, 4, auth->server_address, err) < 0 ||
        dh_pb_put_string(&a, 5, auth->identity_token, err) < 0 ||
        dh_pb_put_string(&a, 6, auth->registry_token, err) < 0)
        return -1;
    return dh_pb_put_message(out, 2, &a, err);
}

int dh_cri_encode_image_status_request(const struct dh_cri_image_spec *spec, bool verbose,
                                       struct dh_buf *out, struct dh_error **err)
{
    if (check_spec(spec, err) < 0 || put_image_spec(out, 1, spec, err) < 0)
        return -1;
    return dh_pb_put_bool(out, 2, verbose, err);
}

int dh_cri_encode_list_images_request(const struct dh_cri_image_spec *filter, struct dh_buf *out,
                                      struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf f = DH_BUF_INIT(MAX_REQUEST);

    if (!filter)
        return 0;
    if (put_image_spec(&f, 1, filter, err) < 0)
        return -1;
    return dh_pb_put_message(out, 1, &f, err);
}

int dh_cri_encode_remove_image_request(const struct dh_cri_image_spec *spec, struct dh_buf *out,
                                       struct dh_error **err)
{
    if (check_spec(spec, err) < 0)
        return -1;
    return put_image_spec(out, 1, spec, err);
}

/* ---- decoding ---- */

static int get_string(const struct dh_pb_field *f, char **ret, struct dh_error **err)
{
    return dh_pb_field_string(f, DH_CRI_MAX_STRING, ret, err);
}

static int append_string(const struct dh_pb_field *f, char ***arr, size_t *n, struct dh_error **err)
{
    char *s = NULL;

    if (get_string(f, &s, err) < 0)
        return -1;
    *arr = dh_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = s;
    return 0;
}

/* A map<string,string> entry appended to *arr. */
static int append_map_entry(const struct dh_pb_field *f, struct dh_cri_kv **arr, size_t *n,
                            struct dh_error **err)
{
    struct dh_pb_reader r;
    struct dh_pb_field e;
    struct dh_cri_kv kv = {NULL, NULL};
    int k;

    dh_pb_reader_init(&r, f->data, f->len);
    while ((k = dh_pb_next(&r, &e, err)) > 0) {
        if (e.wire != DH_PB_LEN || (e.number != 1 && e.number != 2))
            continue;
        if (get_string(&e, e.number == 1 ? &kv.key : &kv.value, err) < 0) {
            k = -1;
            break;
        }
    }
    if (k < 0) {
        free(kv.key);
        free(kv.value);
        return -1;
    }
    if (!kv.key)
        kv.key = dh_xstrdup("");
    if (!kv.value)
        kv.value = dh_xstrdup("");
    *arr = dh_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = kv;
    return 0;
}

/* Merges an ImageSpec message into *spec (strings replaced, annotations appended). */
static int decode_image_spec(const uint8_t *data, size_t len, struct dh_cri_image_spec *spec,
                             struct dh_error **err)
{
    struct dh_pb_reader r;
    struct dh_pb_field f;
    int k;

    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        char **dst = NULL;

        if (f.wire != DH_PB_LEN)
            continue;
        switch (f.number) {
        case 1:
            dst = &spec->image;
            break;
        case 2:
            if (append_map_entry(&f, &spec->annotations, &spec->n_annotations, err) < 0)
                return -1;
            continue;
        case 18:
            dst = &spec->user_specified_image;
            break;
        case 19:
            dst = &spec->runtime_handler;
            break;
        case 20:
            dst = &spec->image_ref;
            break;
        default:
            continue;
        }
        if (get_string(&f, dst, err) < 0)
            return -1;
    }
    return k < 0 ? -1 : 0;
}

/* Int64Value { int64 value = 1; } */
static int decode_int64_value(const uint8_t *data, size_t len, int64_t *ret, struct dh_error **err)
{
    struct dh_pb_reader r;
    struct dh_pb_field f;
    int k;

    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        if (f.number == 1 && f.wire == DH_PB_VARINT)
            *ret = (int64_t)f.value;
    }
    return k < 0 ? -1 : 0;
}

/* Merges an Image message into *img. */
static int decode_image(const uint8_t *data, size_t len, struct dh_cri_image *img,
                        struct dh_error **err)
{
    struct dh_pb_reader r;
    struct dh_pb_field f;
    int k;

    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        int rc = 0;

        if (f.wire == DH_PB_VARINT) {
            if (f.number == 4)
                img->size = f.value;
            else if (f.number == 8)
                img->pinned = f.value != 0;
            continue;
        }
        if (f.wire != DH_PB_LEN)
            continue;
        switch (f.number) {
        case 1:
            rc = get_string(&f, &img->id, err);
            break;
        case 2:
            rc = append_string(&f, &img->repo_tags, &img->n_repo_tags, err);
            break;
        case 3:
            rc = append_string(&f, &img->repo_digests, &img->n_repo_digests, err);
            break;
        case 5:
            img->has_uid = true;
            rc = decode_int64_value(f.data, f.len, &img->uid, err);
            break;
        case 6:
            rc = get_string(&f, &img->username, err);
            break;
        case 7:
            img->has_spec = true;
            rc = decode_image_spec(f.data, f.len, &img->spec, err);
            break;
        default:
            break;
        }
        if (rc < 0)
            return -1;
    }
    if (k < 0)
        return -1;
    if (!img->id)
        img->id = dh_xstrdup("");
    return 0;
}

int dh_cri_decode_version_response(const void *data, size_t len, struct dh_cri_version *ret,
                                   struct dh_error **err)
{
    struct dh_cri_version v = {0};
    struct dh_pb_reader r;
    struct dh_pb_field f;
    int k;

    memset(ret, 0, sizeof(*ret));
    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        char **dst;

        if (f.wire != DH_PB_LEN || f.number < 1 || f.number > 4)
            continue;
        dst = f.number == 1   ? &v.version
              : f.number == 2 ? &v.runtime_name
              : f.number == 3 ? &v.runtime_version
                              : &v.runtime_api_version;
        if (get_string(&f, dst, err) < 0) {
            k = -1;
            break;
        }
    }
    if (k < 0) {
        dh_cri_version_release(&v);
        return dh_error_wrap(err, "invalid VersionResponse");
    }
    if (!v.version)
        v.version = dh_xstrdup("");
    if (!v.runtime_name)
        v.runtime_name = dh_xstrdup("");
    if (!v.runtime_version)
        v.runtime_version = dh_xstrdup("");
    if (!v.runtime_api_version)
        v.runtime_api_version = dh_xstrdup("");
    *ret = v;
    return 0;
}

int dh_cri_decode_pull_image_response(const void *data, size_t len, char **ret_image_ref,
                                      struct dh_error **err)
{
    _cleanup_free_ char *ref = NULL;
    struct dh_pb_reader r;
    struct dh_pb_field f;
    int k;

    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        if (f.number == 1 && f.wire == DH_PB_LEN && get_string(&f, &ref, err) < 0) {
            k = -1;
            break;
        }
    }
    if (k < 0)
        return dh_error_wrap(err, "invalid PullImageResponse");
    *ret_image_ref = ref ? TAKE_PTR(ref) : dh_xstrdup("");
    return 0;
}

int dh_cri_decode_image_status_response(const void *data, size_t len,
                                        struct dh_cri_image_status *ret, struct dh_error **err)
{
    struct dh_cri_image_status s = {0};
    struct dh_pb_reader r;
    struct dh_pb_field f;
    int k;

    memset(ret, 0, sizeof(*ret));
    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        if (f.wire != DH_PB_LEN)
            continue;
        if (f.number == 1) {
            s.present = true;
            if (decode_image(f.data, f.len, &s.image, err) < 0) {
                k = -1;
                break;
            }
        } else if (f.number == 2) {
            if (append_map_entry(&f, &s.info, &s.n_info, err) < 0) {
                k = -1;
                break;
            }
        }
    }
    if (k < 0) {
        dh_cri_image_status_release(&s);
        return dh_error_wrap(err, "invalid ImageStatusResponse");
    }
    *ret = s;
    return 0;
}

int dh_cri_decode_list_images_response(const void *data, size_t len, struct dh_cri_image_list *ret,
                                       struct dh_error **err)
{
    struct dh_cri_image_list l = {0};
    struct dh_pb_reader r;
    struct dh_pb_field f;
    size_t cap = 0;
    int k;

    memset(ret, 0, sizeof(*ret));
    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        if (f.number != 1 || f.wire != DH_PB_LEN)
            continue;
        if (l.n_images == cap) {
            cap = cap ? 2 * cap : 16;
            l.images = dh_xrealloc(l.images, cap * sizeof(*l.images));
        }
        memset(&l.images[l.n_images], 0, sizeof(l.images[0]));
        l.n_images++;
        if (decode_image(f.data, f.len, &l.images[l.n_images - 1], err) < 0) {
            k = -1;
            break;
        }
    }
    if (k < 0) {
        dh_cri_image_list_release(&l);
        return dh_error_wrap(err, "invalid ListImagesResponse");
    }
    *ret = l;
    return 0;
}

int dh_cri_decode_remove_image_response(const void *data, size_t len, struct dh_error **err)
{
    struct dh_pb_reader r;
    struct dh_pb_field f;
    int k;

    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0)
        ;
    return k < 0 ? dh_error_wrap(err, "invalid RemoveImageResponse") : 0;
}

/* ---- endpoints ---- */

char *dh_cri_endpoint_path(const char *endpoint, struct dh_error **err)
{
    const char *p = endpoint, *sep;

    if (!endpoint || !*endpoint) {
        dh_error_make(err, EINVAL, "empty runtime endpoint");
        return NULL;
    }
    if (!strncmp(endpoint, "unix://", 7)) {
        p = endpoint + 7;
    } else if ((sep = strstr(endpoint, "://"))) {
        dh_error_make(err, EPROTONOSUPPORT,
                      "unsupported runtime endpoint scheme '%.*s' (expected unix:///path)",
                      (int)(sep - endpoint > 32 ? 32 : sep - endpoint), endpoint);
        return NULL;
    }
    if (p[0] != '/') {
        dh_error_make(err, EINVAL, "invalid runtime endpoint '%s': expected unix:///absolute/path",
                      endpoint);
        return NULL;
    }
    if (strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        dh_error_make(err, ENAMETOOLONG, "runtime endpoint '%s': socket path too long", endpoint);
        return NULL;
    }
    return dh_xstrdup(p);
}

/* True when something accepts connections on the unix socket at path. */
static bool socket_answers(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    _cleanup_close_ int fd = -1;

    if (strlen(path) >= sizeof(sa.sun_path))
        return false;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/* ---- client ---- */

struct dh_cri_client {
    char *endpoint;
    char *path;
    long call_ms;
    long pull_ms;
    int last_code;
};

int dh_cri_open(const char *endpoint, struct dh_cri_client **ret, struct dh_error **err)
{
    struct dh_cri_client *c;
    char *path = NULL;
    size_t i;

    if (!endpoint || !*endpoint) {
        const char *env = secure_getenv(DH_CRI_ENV_ENDPOINT);

        if (env && *env)
            endpoint = env;
    }
    if (endpoint && *endpoint) {
        path = dh_cri_endpoint_path(endpoint, err);
        if (!path)
            return -1;
    } else {
        for (i = 0; dh_cri_default_endpoints[i]; i++) {
            const char *p = dh_cri_default_endpoints[i] + 7;

            if (socket_answers(p)) {
                endpoint = dh_cri_default_endpoints[i];
                path = dh_xstrdup(p);
                break;
            }
            dh_log_debug("cri: no runtime answers on '%s'", dh_cri_default_endpoints[i]);
        }
        if (!path)
            return dh_error_make(
                    err, ENOENT,
                    "no container runtime found at %s, %s or %s; set --runtime-endpoint "
                    "or " DH_CRI_ENV_ENDPOINT,
                    dh_cri_default_endpoints[0], dh_cri_default_endpoints[1],
                    dh_cri_default_endpoints[2]);
    }
    c = dh_xcalloc(1, sizeof(*c));
    c->endpoint = !strncmp(endpoint, "unix://", 7) ? dh_xstrdup(endpoint)
                                                   : dh_xasprintf("unix://%s", path);
    c->path = path;
    c->call_ms = DH_CRI_DEFAULT_TIMEOUT_MS;
    c->pull_ms = DH_CRI_PULL_TIMEOUT_MS;
    c->last_code = -1;
    *ret = c;
    return 0;
}

void dh_cri_close(struct dh_cri_client *c)
{
    if (!c)
        return;
    free(c->endpoint);
    free(c->path);
    free(c);
}

const char *dh_cri_endpoint(const struct dh_cri_client *c)
{
    return c->endpoint;
}

void dh_cri_set_timeouts(struct dh_cri_client *c, long call_ms, long pull_ms)
{
    c->call_ms = call_ms > 0 ? call_ms : DH_CRI_DEFAULT_TIMEOUT_MS;
    c->pull_ms = pull_ms > 0 ? pull_ms : DH_CRI_PULL_TIMEOUT_MS;
}

int dh_cri_last_code(const struct dh_cri_client *c)
{
    return c->last_code;
}

static int call(struct dh_cri_client *c, const char *method, const struct dh_buf *req,
                long timeout_ms, struct dh_buf *ret_reply, struct dh_error **err)
{
    struct dh_grpc_call gc = {
            .unix_socket = c->path,
            .method = method,
            .request = req->data,
            .request_len = req->len,
            .request_secret = req->secret,
            .timeout_ms = timeout_ms,
    };
    int r = dh_grpc_unary(&gc, ret_reply, &c->last_code, err);

    if (r < 0 && c->last_code < 0)
        dh_error_wrap(err, "runtime endpoint '%s'", c->endpoint);
    return r;
}

int dh_cri_call(struct dh_cri_client *c, const char *method, const void *request, size_t len,
                long timeout_ms, struct dh_buf *ret_reply, struct dh_error **err)
{
    struct dh_buf req = {.data = (char *)(uintptr_t)request, .len = len, .max = len};

    return call(c, method, &req, timeout_ms > 0 ? timeout_ms : c->call_ms, ret_reply, err);
}

int dh_cri_version(struct dh_cri_client *c, struct dh_cri_version *ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf req = DH_BUF_INIT(MAX_REQUEST);
    _cleanup_buf_ struct dh_buf reply = DH_BUF_INIT(0);

    /* The CRI version the client speaks ("v1"), as kubelet and crictl send. */
    if (dh_cri_encode_version_request("v1", &req, err) < 0 ||
        call(c, RPC_VERSION, &req, c->call_ms, &reply, err) < 0)
        return -1;
    return dh_cri_decode_version_response(reply.data, reply.len, ret, err);
}

int dh_cri_pull_image(struct dh_cri_client *c, const struct dh_cri_image_spec *spec,
                      const struct dh_cri_auth *auth, char **ret_image_ref, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf req = DH_BUF_INIT_SECRET(MAX_REQUEST);
    _cleanup_buf_ struct dh_buf reply = DH_BUF_INIT(0);

    if (dh_cri_encode_pull_image_request(spec, auth, &req, err) < 0 ||
        call(c, RPC_PULL_IMAGE, &req, c->pull_ms, &reply, err) < 0)
        return -1;
    return dh_cri_decode_pull_image_response(reply.data, reply.len, ret_image_ref, err);
}

int dh_cri_image_status(struct dh_cri_client *c, const struct dh_cri_image_spec *spec, bool verbose,
                        struct dh_cri_image_status *ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf req = DH_BUF_INIT(MAX_REQUEST);
    _cleanup_buf_ struct dh_buf reply = DH_BUF_INIT(0);

    if (dh_cri_encode_image_status_request(spec, verbose, &req, err) < 0 ||
        call(c, RPC_IMAGE_STATUS, &req, c->call_ms, &reply, err) < 0)
        return -1;
    return dh_cri_decode_image_status_response(reply.data, reply.len, ret, err);
}

int dh_cri_list_images(struct dh_cri_client *c, const struct dh_cri_image_spec *filter,
                       struct dh_cri_image_list *ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf req = DH_BUF_INIT(MAX_REQUEST);
    _cleanup_buf_ struct dh_buf reply = DH_BUF_INIT(0);

    if (dh_cri_encode_list_images_request(filter, &req, err) < 0 ||
        call(c, RPC_LIST_IMAGES, &req, c->call_ms, &reply, err) < 0)
        return -1;
    return dh_cri_decode_list_images_response(reply.data, reply.len, ret, err);
}

int dh_cri_remove_image(struct dh_cri_client *c, const struct dh_cri_image_spec *spec,
                        struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf req = DH_BUF_INIT(MAX_REQUEST);
    _cleanup_buf_ struct dh_buf reply = DH_BUF_INIT(0);

    if (dh_cri_encode_remove_image_request(spec, &req, err) < 0 ||
        call(c, RPC_REMOVE_IMAGE, &req, c->call_ms, &reply, err) < 0)
        return -1;
    return dh_cri_decode_remove_image_response(reply.data, reply.len, err);
}
