/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP client over libcurl, loaded with dlopen at the first request.
 *
 * Nothing here links against libcurl: every function used is resolved with
 * dlsym into `api`, whose members have the exact types of curl's own
 * declarations (__typeof__ of the prototypes in <curl/curl.h>).  The variadic
 * curl_easy_setopt/getinfo are called through correctly typed variadic
 * pointers; since curl's compile-time type checks do not apply to them, every
 * option goes through set_long/set_ptr/set_off/... below, which fix the type
 * of the value passed.
 *
 * Library choice: "libcurl.so.4" (Debian's libcurl4, OpenSSL), then
 * "libcurl-gnutls.so.4" (libcurl3-gnutls, present wherever git is installed).
 * The GnuTLS build is the same libcurl with another TLS backend: peer and host
 * verification, CA files, protocol restrictions and time-outs behave the same.
 * It lacks in-memory CAs (curl reports it, and so do we) and silently ignores
 * in-memory client certificates in the versions we know, so requests with
 * client_cert_pem are refused up front on GnuTLS.  Every setopt result is
 * checked, so an option a libcurl does not support fails the request instead
 * of being dropped.
 *
 * One easy handle is kept per process and reset between requests, so
 * connections, TLS sessions and DNS answers are reused (curl only reuses a
 * connection whose TLS settings, CA, client certificate and unix socket match
 * the new request).  A request made while the shared handle is busy (another
 * thread, or a request from inside an on_body callback) uses a handle of its
 * own.  A child process after fork() never touches its parent's handle.
 */
#include "dockhand/http.h"

/* CURLOPT_PROTOCOLS (libcurl < 7.85) is deprecated in newer headers. */
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"

#ifndef DH_VERSION
#    define DH_VERSION "unknown"
#endif

#define LIBCURL_SONAME        "libcurl.so.4"
#define LIBCURL_GNUTLS_SONAME "libcurl-gnutls.so.4"

/* Oldest libcurl accepted: CURLOPT_CURLU (7.63.0). */
#define MIN_CURL_VERSION     0x073f00
#define MIN_CURL_VERSION_STR "7.63.0"
/* CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR appeared in 7.85.0. */
#define PROTOCOLS_STR_VERSION 0x075500

/* A transfer that moves less than LOW_SPEED_LIMIT bytes/s for LOW_SPEED_TIME s is aborted. */
#define LOW_SPEED_LIMIT 1L
#define LOW_SPEED_TIME  30L
/* Cap on the headers of one response (curl caps each line at 100 KiB). */
#define MAX_HEADER_BYTES ((size_t)256 << 10)

static struct {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_version_info) *version_info;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_reset) *easy_reset;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_url) *url;
    __typeof__(curl_url_set) *url_set;
    __typeof__(curl_url_get) *url_get;
    __typeof__(curl_url_cleanup) *url_cleanup;
    __typeof__(curl_free) *cfree;
    /* curl multi, for dh_http_multi (parallel transfers) */
    __typeof__(curl_multi_init) *multi_init;
    __typeof__(curl_multi_cleanup) *multi_cleanup;
    __typeof__(curl_multi_setopt) *multi_setopt;
    __typeof__(curl_multi_add_handle) *multi_add_handle;
    __typeof__(curl_multi_remove_handle) *multi_remove_handle;
    __typeof__(curl_multi_perform) *multi_perform;
    __typeof__(curl_multi_wait) *multi_wait;
    __typeof__(curl_multi_info_read) *multi_info_read;
    __typeof__(curl_multi_strerror) *multi_strerror;
} api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;      /* atomic: the library is mapped */
static char *load_error; /* why loading failed, or NULL */
static const char *lib_name;
static unsigned int lib_version_num;
static char lib_version[32];
static bool lib_gnutls; /* TLS backend is GnuTLS */
static bool lib_http2;  /* built with HTTP/2 (nghttp2) */

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *shared_handle; /* guarded by shared_lock */
static pid_t shared_pid;

#define SYM(field, name)                       \
    {                                          \
        offsetof(__typeof__(api), field), name \
    }
static const struct {
    size_t offset;
    const char *name;
} symbols[] = {
        SYM(global_init, "curl_global_init"),
        SYM(version_info, "curl_version_info"),
        SYM(easy_init, "curl_easy_init"),
        SYM(easy_setopt, "curl_easy_setopt"),
        SYM(easy_getinfo, "curl_easy_getinfo"),
        SYM(easy_perform, "curl_easy_perform"),
        SYM(easy_reset, "curl_easy_reset"),
        SYM(easy_cleanup, "curl_easy_cleanup"),
        SYM(easy_strerror, "curl_easy_strerror"),
        SYM(url, "curl_url"),
        SYM(url_set, "curl_url_set"),
        SYM(url_get, "curl_url_get"),
        SYM(url_cleanup, "curl_url_cleanup"),
        SYM(cfree, "curl_free"),
        SYM(multi_init, "curl_multi_init"),
        SYM(multi_cleanup, "curl_multi_cleanup"),
        SYM(multi_setopt, "curl_multi_setopt"),
        SYM(multi_add_handle, "curl_multi_add_handle"),
        SYM(multi_remove_handle, "curl_multi_remove_handle"),
        SYM(multi_perform, "curl_multi_perform"),
        SYM(multi_wait, "curl_multi_wait"),
        SYM(multi_info_read, "curl_multi_info_read"),
        SYM(multi_strerror, "curl_multi_strerror"),
};
#undef SYM

static void load(void)
{
    const curl_version_info_data *vi;
    char *first_error;
    void *lib;
    size_t i;

    lib_name = LIBCURL_SONAME;
    lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        first_error = dh_xstrdup(dlerror());
        lib_name = LIBCURL_GNUTLS_SONAME;
        lib = dlopen(LIBCURL_GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            load_error = dh_xasprintf("cannot load libcurl (%s): %s; install libcurl4",
                                      LIBCURL_SONAME, first_error);
            free(first_error);
            return;
        }
        free(first_error);
    }
    for (i = 0; i < DH_ARRAY_SIZE(symbols); i++) {
        void *sym = dlsym(lib, symbols[i].name);

        if (!sym) {
            load_error = dh_xasprintf(
                    "cannot load libcurl (%s): no symbol '%s'; install libcurl4 %s or newer",
                    lib_name, symbols[i].name, MIN_CURL_VERSION_STR);
            (void)dlclose(lib);
            return;
        }
        /* POSIX guarantees data and function pointers convert (dlsym). */
        memcpy((char *)&api + symbols[i].offset, &sym, sizeof(sym));
    }
    __atomic_store_n(&loaded, true, __ATOMIC_RELEASE);

    vi = api.version_info(CURLVERSION_NOW);
    lib_version_num = vi ? vi->version_num : 0;
    snprintf(lib_version, sizeof(lib_version), "%s", vi && vi->version ? vi->version : "?");
    lib_gnutls = vi && vi->ssl_version && strncasecmp(vi->ssl_version, "GnuTLS", 6) == 0;
    lib_http2 = vi && (vi->features & CURL_VERSION_HTTP2);
    if (lib_version_num < MIN_CURL_VERSION) {
        load_error = dh_xasprintf("libcurl %s (%s) is too old: %s or newer needed", lib_version,
                                  lib_name, MIN_CURL_VERSION_STR);
        return;
    }
    if (!vi || !vi->ssl_version) {
        load_error = dh_xasprintf("libcurl %s (%s) has no TLS support", lib_version, lib_name);
        return;
    }
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        load_error = dh_xasprintf("cannot initialise libcurl %s (%s)", lib_version, lib_name);
}

bool dh_http_loaded(void)
{
    return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE);
}

static int ensure_loaded(struct dh_error **err)
{
    int r = pthread_once(&load_once, load);

    if (r != 0)
        return dh_error_sys(err, r, "cannot load libcurl");
    if (load_error)
        return dh_error_make(err, ENOENT, "%s", load_error);
    return 0;
}

/* ---- handles ---- */

static CURL *handle_acquire(bool *ret_shared)
{
    if (pthread_mutex_trylock(&shared_lock) == 0) {
        if (shared_handle && shared_pid != getpid())
            shared_handle = NULL; /* the parent's: its connections are not ours to use or close */
        if (!shared_handle) {
            shared_handle = api.easy_init();
            shared_pid = getpid();
        }
        if (shared_handle) {
            *ret_shared = true;
            return shared_handle;
        }
        (void)pthread_mutex_unlock(&shared_lock);
        return NULL;
    }
    *ret_shared = false;
    return api.easy_init();
}

static void handle_release(CURL *h, bool shared)
{
    if (!h)
        return;
    if (shared) {
        /* Drops every option (pointers into the finished request included),
           keeps live connections and caches. */
        api.easy_reset(h);
        (void)pthread_mutex_unlock(&shared_lock);
    } else {
        api.easy_cleanup(h);
    }
}

/* ---- URL ---- */

struct url_parts {
    CURLU *u;
    char *scheme;
    char *host;
    char *port;
    char *path;
    char *query;    /* may be secret: only used to keep it out of messages */
    char *userinfo; /* user, then password: the same */
    char *password;
    char *authority; /* host[:port], ours (dh_x*) */
};

static void curl_str_wipe_free(char *s)
{
    if (s) {
        dh_wipe(s, strlen(s));
        api.cfree(s);
    }
}

static void url_parts_release(struct url_parts *p)
{
    if (p->u)
        api.url_cleanup(p->u);
    if (p->scheme)
        api.cfree(p->scheme);
    if (p->host)
        api.cfree(p->host);
    if (p->port)
        api.cfree(p->port);
    if (p->path)
        api.cfree(p->path);
    curl_str_wipe_free(p->query);
    curl_str_wipe_free(p->userinfo);
    curl_str_wipe_free(p->password);
    free(p->authority);
    memset(p, 0, sizeof(*p));
}

static char *url_get(CURLU *u, CURLUPart what)
{
    char *s = NULL;

    if (api.url_get(u, what, &s, 0) != CURLUE_OK)
        return NULL;
    return s;
}

static int url_parse(const char *url, struct url_parts *p, struct dh_error **err)
{
    p->u = api.url();
    if (!p->u)
        dh_oom();
    /* The URL itself is never echoed: it may hold userinfo or a secret query. */
    if (api.url_set(p->u, CURLUPART_URL, url, 0) != CURLUE_OK)
        return dh_error_make(err, EINVAL, "invalid url (expected https://host/path)");
    p->scheme = url_get(p->u, CURLUPART_SCHEME);
    p->host = url_get(p->u, CURLUPART_HOST);
    if (!p->scheme || !p->host || !*p->host)
        return dh_error_make(err, EINVAL, "invalid url (expected https://host/path)");
    p->port = url_get(p->u, CURLUPART_PORT);
    p->path = url_get(p->u, CURLUPART_PATH);
    p->query = url_get(p->u, CURLUPART_QUERY);
    p->userinfo = url_get(p->u, CURLUPART_USER);
    p->password = url_get(p->u, CURLUPART_PASSWORD);
    p->authority = p->port ? dh_xasprintf("%s:%s", p->host, p->port) : dh_xstrdup(p->host);
    return 0;
}

/* ---- request headers ---- */

/* Our own curl_slist nodes over copies we wipe: curl_slist_free_all would not. */
struct header_list {
    struct curl_slist *nodes;
    size_t n;
};

static void header_list_release(struct header_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        dh_str_free_wipe(l->nodes[i].data);
    free(l->nodes);
    l->nodes = NULL;
    l->n = 0;
}

static bool header_name_is(const char *h, const char *name)
{
    size_t n = strlen(name);

    return strncasecmp(h, name, n) == 0 && (h[n] == ':' || h[n] == ';');
}

/* "Name: value", "Name:" (drops a header curl would add) or "Name;" (empty value). */
static bool header_valid(const char *h)
{
    const char *p;

    for (p = h; *p && *p != ':' && *p != ';'; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            return false;
    }
    if (p == h || !*p)
        return false;
    for (; *p; p++) {
        if (*p == '\r' || *p == '\n')
            return false;
    }
    return true;
}

static int header_list_build(const struct dh_http_request *req, bool has_body,
                             struct header_list *l, struct dh_error **err)
{
    size_t n = 0, i;
    bool content_type = false;

    for (n = 0; req->headers && req->headers[n]; n++) {
        if (!header_valid(req->headers[n]))
            return dh_error_make(err, EINVAL,
                                 "invalid request header #%zu (expected 'Name: value' on one line)",
                                 n + 1);
        if (header_name_is(req->headers[n], "Content-Type"))
            content_type = true;
    }
    l->nodes = dh_xcalloc(n + 1, sizeof(*l->nodes));
    for (i = 0; i < n; i++)
        l->nodes[l->n++].data = dh_xstrdup(req->headers[i]);
    /* curl would label a body application/x-www-form-urlencoded: send only what we are given. */
    if (has_body && !content_type)
        l->nodes[l->n++].data = dh_xstrdup("Content-Type:");
    for (i = 0; i + 1 < l->n; i++)
        l->nodes[i].next = &l->nodes[i + 1];
    return 0;
}

/* ---- response ---- */

struct xfer {
    const struct dh_http_request *req;
    struct dh_http_response *resp;
    const char *authority;
    size_t max_body;
    size_t received;
    size_t header_bytes;
    size_t headers_cap;
    struct dh_error *cb_err; /* why a callback aborted the transfer */
};

static void headers_free(struct dh_http_response *resp)
{
    size_t i;

    for (i = 0; i < resp->n_headers; i++) {
        dh_str_free_wipe(resp->headers[i].name);
        dh_str_free_wipe(resp->headers[i].value);
    }
    free(resp->headers);
    resp->headers = NULL;
    resp->n_headers = 0;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    struct dh_http_response *resp = x->resp;
    size_t len = size * nitems, total = len, nlen, vstart;
    const char *colon;

    if (x->cb_err)
        return 0;
    while (len && is_ws(data[len - 1]))
        len--;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue, a proxy CONNECT...): keep only the last one's. */
        headers_free(resp);
        x->headers_cap = 0;
        x->header_bytes = 0;
        return total;
    }
    x->header_bytes += total;
    if (x->header_bytes > MAX_HEADER_BYTES) {
        dh_error_make(&x->cb_err, E2BIG, "response headers from '%s' larger than %zu bytes",
                      x->authority, MAX_HEADER_BYTES);
        return 0;
    }
    if (len == 0)
        return total;
    if (data[0] == ' ' || data[0] == '\t') {
        /* obsolete line folding: continues the previous value */
        if (resp->n_headers) {
            struct dh_http_header *h = &resp->headers[resp->n_headers - 1];
            char *old = h->value;

            for (vstart = 0; vstart < len && is_ws(data[vstart]);)
                vstart++;
            h->value = dh_xasprintf("%s%s%.*s", old, *old ? " " : "", (int)(len - vstart),
                                    data + vstart);
            dh_str_free_wipe(old);
        }
        return total;
    }
    colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return total; /* not a header line: ignored */
    nlen = (size_t)(colon - data);
    for (vstart = nlen + 1; vstart < len && is_ws(data[vstart]);)
        vstart++;
    if (resp->n_headers == x->headers_cap) {
        x->headers_cap = x->headers_cap ? 2 * x->headers_cap : 16;
        resp->headers = dh_xrealloc(resp->headers, x->headers_cap * sizeof(*resp->headers));
    }
    resp->headers[resp->n_headers].name = dh_xstrndup(data, nlen);
    resp->headers[resp->n_headers].value = dh_xstrndup(data + vstart, len - vstart);
    resp->n_headers++;
    return total;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * nmemb;

    if (x->cb_err)
        return 0;
    if (len > x->max_body - x->received) {
        dh_error_make(&x->cb_err, E2BIG, "response from '%s' larger than %zu bytes", x->authority,
                      x->max_body);
        return 0;
    }
    x->received += len;
    if (x->req->on_body) {
        if (x->req->on_body(x->req->on_body_arg, data, len, &x->cb_err) < 0) {
            if (!x->cb_err)
                dh_error_make(&x->cb_err, EIO, "response from '%s' rejected", x->authority);
            return 0;
        }
        return len;
    }
    if (dh_buf_append(&x->resp->body, data, len, &x->cb_err) < 0)
        return 0;
    return len;
}

/* ---- options ---- */

/* The value types curl expects, fixed here since the variadic pointer cannot check them. */
static CURLcode set_long(CURL *h, CURLoption opt, long v)
{
    return api.easy_setopt(h, opt, v);
}
static CURLcode set_str(CURL *h, CURLoption opt, const char *v)
{
    return api.easy_setopt(h, opt, v);
}
static CURLcode set_ptr(CURL *h, CURLoption opt, const void *v)
{
    return api.easy_setopt(h, opt, v);
}
static CURLcode set_off(CURL *h, CURLoption opt, curl_off_t v)
{
    return api.easy_setopt(h, opt, v);
}
static CURLcode set_blob(CURL *h, CURLoption opt, const char *pem)
{
    /* NOCOPY: curl keeps no copy of a private key; the option is dropped by
       curl_easy_reset before the caller's memory goes away. */
    struct curl_blob blob = {
            .data = (void *)(uintptr_t)pem, .len = strlen(pem), .flags = CURL_BLOB_NOCOPY};

    return api.easy_setopt(h, opt, &blob);
}
static CURLcode set_write_cb(CURL *h, CURLoption opt, curl_write_callback cb)
{
    return api.easy_setopt(h, opt, cb);
}

#define SET(fn, opt, val)                        \
    do {                                         \
        CURLcode rc_ = fn(h, opt, val);          \
        if (rc_ != CURLE_OK)                     \
            return setopt_error(err, #opt, rc_); \
    } while (0)

static int setopt_error(struct dh_error **err, const char *opt, CURLcode rc)
{
    if (strncmp(opt, "CURLOPT_", 8) == 0)
        opt += 8;
    return dh_error_make(err, ENOTSUP, "libcurl %s (%s) rejects option '%s': %s", lib_version,
                         lib_name, opt, api.easy_strerror(rc));
}

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

static int configure(CURL *h, const struct dh_http_request *req, const char *method,
                     struct url_parts *u, struct header_list *hl, struct xfer *x, char *errbuf,
                     struct dh_error **err)
{
    bool has_body = req->body || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
                    !strcmp(method, "PATCH");
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : DH_HTTP_DEFAULT_TIMEOUT_MS;
    long connect_timeout = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                       : DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;

    if (header_list_build(req, has_body, hl, err) < 0)
        return -1;

    SET(set_ptr, CURLOPT_ERRORBUFFER, errbuf);
    SET(set_ptr, CURLOPT_CURLU, u->u);
    SET(set_long, CURLOPT_NOSIGNAL, 1L);
    SET(set_str, CURLOPT_USERAGENT, "dockhand/" DH_VERSION);

    /* Protocols and redirects: a 3xx goes back to the caller. */
    if (lib_version_num >= PROTOCOLS_STR_VERSION) {
        const char *protos = req->allow_http ? "http,https" : "https";

        SET(set_str, CURLOPT_PROTOCOLS_STR, protos);
        SET(set_str, CURLOPT_REDIR_PROTOCOLS_STR, protos);
    } else {
        long protos = CURLPROTO_HTTPS | (req->allow_http ? CURLPROTO_HTTP : 0);

        SET(set_long, CURLOPT_PROTOCOLS, protos);
        SET(set_long, CURLOPT_REDIR_PROTOCOLS, protos);
    }
    SET(set_long, CURLOPT_FOLLOWLOCATION, 0L);
    SET(set_long, CURLOPT_MAXREDIRS, 0L);
    SET(set_long, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    if (req->no_proxy)
        SET(set_str, CURLOPT_NOPROXY, "*");
    if (req->unix_socket)
        SET(set_str, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);

    /* Time limits. */
    SET(set_long, CURLOPT_TIMEOUT_MS, timeout);
    SET(set_long, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout);
    if (!req->no_low_speed_limit) {
        SET(set_long, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_LIMIT);
        SET(set_long, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME);
    }
    SET(set_long, CURLOPT_TCP_KEEPALIVE, 1L);
    if (req->http2_prior_knowledge) {
        SET(set_long, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        /* libcurl 7.88 (Debian 12) fails the second request on a reused h2c
           connection ("Error in the HTTP2 framing layer"): one connection each. */
        SET(set_long, CURLOPT_FRESH_CONNECT, 1L);
        SET(set_long, CURLOPT_FORBID_REUSE, 1L);
    }

    /* TLS. */
    SET(set_long, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(set_long, CURLOPT_SSL_VERIFYPEER, req->insecure_skip_verify ? 0L : 1L);
    SET(set_long, CURLOPT_SSL_VERIFYHOST, req->insecure_skip_verify ? 0L : 2L);
    if (req->ca_file || req->ca_pem)
        SET(set_str, CURLOPT_CAPATH, NULL); /* the given CAs replace the system ones */
    if (req->ca_file)
        SET(set_str, CURLOPT_CAINFO, req->ca_file);
    if (req->ca_pem)
        SET(set_blob, CURLOPT_CAINFO_BLOB, req->ca_pem);
    if (req->client_cert_pem) {
        SET(set_blob, CURLOPT_SSLCERT_BLOB, req->client_cert_pem);
        SET(set_str, CURLOPT_SSLCERTTYPE, "PEM");
        SET(set_blob, CURLOPT_SSLKEY_BLOB, req->client_key_pem);
        SET(set_str, CURLOPT_SSLKEYTYPE, "PEM");
    }

    /* Method, headers and body. */
    if (!strcmp(method, "HEAD"))
        SET(set_long, CURLOPT_NOBODY, 1L);
    else if (!strcmp(method, "GET") ? has_body : strcmp(method, "POST") != 0)
        SET(set_str, CURLOPT_CUSTOMREQUEST, method); /* POSTFIELDS alone makes a POST */
    if (has_body) {
        SET(set_off, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
        SET(set_ptr, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
    if (hl->n)
        SET(set_ptr, CURLOPT_HTTPHEADER, hl->nodes);

    /* Response. */
    /* Refuses a too long Content-Length up front; not for HEAD, whose Content-Length
       describes a body that does not come (a blob's size). */
    if (x->max_body <= (size_t)INT64_MAX && strcmp(method, "HEAD") != 0)
        SET(set_off, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
    SET(set_write_cb, CURLOPT_HEADERFUNCTION, header_cb);
    SET(set_ptr, CURLOPT_HEADERDATA, x);
    SET(set_write_cb, CURLOPT_WRITEFUNCTION, write_cb);
    SET(set_ptr, CURLOPT_WRITEDATA, x);
    return 0;
}

/* ---- errors ---- */

static bool is_tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074d00
    case CURLE_SSL_CLIENTCERT:
#endif
        return true;
    default:
        return false;
    }
}

/* curl's detailed message when it is safe to show, else its generic one for rc. */
static const char *reason(CURLcode rc, const char *errbuf, const struct url_parts *u)
{
    const char *const secrets[] = {u->query, u->userinfo, u->password};
    size_t i;

    if (!errbuf[0])
        return api.easy_strerror(rc);
    for (i = 0; i < DH_ARRAY_SIZE(secrets); i++) {
        if (secrets[i] && secrets[i][0] && strstr(errbuf, secrets[i]))
            return api.easy_strerror(rc);
    }
    return errbuf;
}

static int transfer_error(CURL *h, CURLcode rc, const char *errbuf, const struct url_parts *u,
                          const struct dh_http_request *req, long elapsed_ms, struct dh_error **err)
{
    const char *a = u->authority;
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : DH_HTTP_DEFAULT_TIMEOUT_MS;
    long connect_timeout = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                       : DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    curl_off_t pretransfer = 0;
    const char *why;

    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return dh_error_make(err, EHOSTUNREACH, "cannot resolve '%s': %s", u->host,
                             api.easy_strerror(rc));
    case CURLE_COULDNT_RESOLVE_PROXY:
        return dh_error_make(err, EHOSTUNREACH, "cannot resolve the proxy for '%s': %s", a,
                             api.easy_strerror(rc));
    case CURLE_COULDNT_CONNECT:
        if (req->unix_socket)
            return dh_error_make(err, ECONNREFUSED, "cannot connect to '%s' (unix socket '%s'): %s",
                                 a, req->unix_socket, api.easy_strerror(rc));
        /* curl's detail names the address tried: the proxy's, when one is used. */
        return dh_error_make(err, ECONNREFUSED, "cannot connect to '%s': %s", a,
                             reason(rc, errbuf, u));
    case CURLE_OPERATION_TIMEDOUT:
        (void)api.easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
        if (pretransfer == 0)
            return dh_error_make(err, ETIMEDOUT, "timed out after %ld ms connecting to '%s'",
                                 connect_timeout < timeout ? connect_timeout : timeout, a);
        if (elapsed_ms + 100 >= timeout)
            return dh_error_make(err, ETIMEDOUT, "timed out after %ld ms talking to '%s'", timeout,
                                 a);
        return dh_error_make(err, ETIMEDOUT,
                             "transfer with '%s' stalled: less than %ld byte/s for %ld s", a,
                             LOW_SPEED_LIMIT, LOW_SPEED_TIME);
    case CURLE_FILESIZE_EXCEEDED:
        return dh_error_make(err, E2BIG, "response from '%s' larger than %zu bytes", a,
                             req->max_body ? req->max_body : DH_HTTP_DEFAULT_MAX_BODY);
    default:
        break;
    }
    why = reason(rc, errbuf, u);
    if (is_tls_error(rc))
        return dh_error_make(err, EPROTO, "TLS error with '%s': %s", a, why);
    if (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) {
        /* A TLS alert after the handshake (TLS 1.3 rejecting a client certificate) lands here. */
        if (why == errbuf && (strstr(errbuf, "SSL") || strstr(errbuf, "TLS")))
            return dh_error_make(err, EPROTO, "TLS error with '%s': %s", a, why);
        return dh_error_make(err, ECONNRESET, "connection to '%s' failed: %s", a, why);
    }
    if (rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE)
        return dh_error_make(err, ECONNRESET, "connection to '%s' failed: %s", a, why);
    return dh_error_make(err, EIO, "request to '%s' failed: %s", a, why);
}

/* ---- the request ---- */

static long now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_request(const struct dh_http_request *req, const char **ret_method,
                         struct dh_error **err)
{
    const char *method = req->method ? req->method : "GET";
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(methods); i++) {
        if (!strcmp(method, methods[i]))
            break;
    }
    if (i == DH_ARRAY_SIZE(methods))
        return dh_error_make(err, EINVAL, "unsupported http method '%.16s'", method);
    if (!req->url)
        return dh_error_make(err, EINVAL, "no url given");
    if (!req->body && req->body_len)
        return dh_error_make(err, EINVAL, "request body length without a body");
    if (req->body && !strcmp(method, "HEAD"))
        return dh_error_make(err, EINVAL, "a HEAD request cannot have a body");
    if (!req->client_cert_pem != !req->client_key_pem)
        return dh_error_make(err, EINVAL,
                             "a client certificate needs its key, and a key its certificate");
    if (req->ca_file && req->ca_pem)
        return dh_error_make(err, EINVAL, "ca_file and ca_pem are exclusive");
    *ret_method = method;
    return 0;
}

int dh_http_do(const struct dh_http_request *req, struct dh_http_response *resp,
               struct dh_error **err)
{
    _cleanup_error_ struct dh_error *local_err = NULL;
    struct url_parts u = {0};
    struct header_list hl = {0};
    struct xfer x = {0};
    char errbuf[CURL_ERROR_SIZE];
    const char *method = "GET";
    bool shared = false;
    CURL *h = NULL;
    CURLcode rc;
    long start, elapsed;
    int r = -1;

    memset(resp, 0, sizeof(*resp));
    x.max_body = req->max_body ? req->max_body : DH_HTTP_DEFAULT_MAX_BODY;
    if (req->secret_body)
        dh_buf_init_secret(&resp->body, x.max_body);
    else
        dh_buf_init(&resp->body, x.max_body);

    if (check_request(req, &method, err) < 0)
        return -1;
    if (ensure_loaded(err) < 0)
        return -1;
    if (url_parse(req->url, &u, &local_err) < 0)
        goto out;
    if (strcmp(u.scheme, "https") != 0 && strcmp(u.scheme, "http") != 0) {
        dh_error_make(&local_err, EPROTONOSUPPORT, "unsupported url scheme '%s' for '%s'", u.scheme,
                      u.authority);
        goto out;
    }
    if (!strcmp(u.scheme, "http") && !req->allow_http) {
        dh_error_make(&local_err, EPERM, "refusing plain http to '%s': https required",
                      u.authority);
        goto out;
    }
    if (req->http2_prior_knowledge && (strcmp(u.scheme, "http") != 0 || !lib_http2)) {
        dh_error_make(&local_err, ENOTSUP, "%s",
                      !lib_http2 ? "HTTP/2 needs a libcurl built with nghttp2"
                                 : "HTTP/2 with prior knowledge is for plain http only");
        goto out;
    }
    if ((req->client_cert_pem || req->ca_pem) && lib_gnutls) {
        dh_error_make(&local_err, ENOTSUP,
                      "%s in memory need libcurl with OpenSSL ('%s' uses GnuTLS); install libcurl4",
                      req->client_cert_pem ? "client certificates" : "CA certificates", lib_name);
        goto out;
    }

    h = handle_acquire(&shared);
    if (!h) {
        dh_error_make(&local_err, ENOMEM, "cannot create a libcurl handle");
        goto out;
    }
    x.req = req;
    x.resp = resp;
    x.authority = u.authority;
    errbuf[0] = '\0';
    if (configure(h, req, method, &u, &hl, &x, errbuf, &local_err) < 0)
        goto out;

    start = now_ms();
    rc = api.easy_perform(h);
    elapsed = now_ms() - start;
    if (rc != CURLE_OK) {
        dh_log_debug("http %s %s://%s%s failed after %ld ms (curl error %d)", method, u.scheme,
                     u.authority, u.path ? u.path : "/", elapsed, (int)rc);
        if (x.cb_err)
            dh_error_move(&local_err, &x.cb_err);
        else if (rc == CURLE_HTTP2_STREAM && req->http2_prior_knowledge && !resp->n_headers)
            dh_error_make(&local_err, ECONNABORTED,
                          "HTTP/2 stream to '%s' closed before the request was sent: %s",
                          u.authority, reason(rc, errbuf, &u));
        else
            transfer_error(h, rc, errbuf, &u, req, elapsed, &local_err);
        goto out;
    }
    if (api.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK)
        resp->status = 0;
    dh_log_debug("http %s %s://%s%s: %ld in %ld ms", method, u.scheme, u.authority,
                 u.path ? u.path : "/", resp->status, elapsed);
    /* Always NUL-terminated, "" when empty. */
    if (dh_buf_append(&resp->body, "", 0, &local_err) < 0)
        goto out;
    r = 0;
out:
    handle_release(h, shared);
    header_list_release(&hl);
    dh_error_free(&x.cb_err);
    url_parts_release(&u);
    if (r < 0) {
        /* No partial data reaches the caller. */
        dh_http_response_release(resp);
        dh_error_move(err, &local_err);
    }
    return r;
}

void dh_http_response_release(struct dh_http_response *resp)
{
    if (!resp)
        return;
    dh_buf_release(&resp->body);
    headers_free(resp);
    resp->status = 0;
}

const char *dh_http_header(const struct dh_http_response *resp, const char *name)
{
    size_t i;

    for (i = 0; i < resp->n_headers; i++) {
        if (!strcasecmp(resp->headers[i].name, name))
            return resp->headers[i].value;
    }
    return NULL;
}

/* ---- parallel transfers (curl multi) ----

   Each queued request becomes a struct mxfer: copies of the URL, headers and CA
   path (the caller's request may be gone when it starts), a shim dh_http_request
   so that configure() sets every option dh_http_do sets, then the multi-specific
   options on top (HTTP/2, PIPEWAIT, Range, low-speed limits, our write callback).
   Transfers wait in a queue ordered by their start time; at most max_concurrent
   easy handles are in the multi handle at once. */

#define MULTI_ERROR_BODY_MAX      ((size_t)64 << 10)
#define MULTI_DEFAULT_CONCURRENCY 4
#define MULTI_LOW_SPEED_BYTES     1024L
#define MULTI_LOW_SPEED_SECONDS   30L
#define MULTI_BUFFER_SIZE         (256L * 1024)
/* "No limit" on a whole transfer: curl takes 0 as none, configure() takes 0 as its default. */
#define MULTI_NO_TIMEOUT_MS (365L * 24 * 3600 * 1000)

struct mxfer {
    struct xfer x; /* first: the header callback's argument */
    struct mxfer *next;
    struct dh_http_multi_request mreq; /* with our copies below */
    struct dh_http_request req;        /* the shim for configure() */
    char *url;
    char **headers;
    size_t n_headers;
    char *ca_file;
    char *ca_pem;
    char *client_cert_pem;
    char *client_key_pem; /* secret */
    void *tag;
    long start_at_ms; /* not before (monotonic) */
    long started_ms;
    int64_t skip;       /* bytes of a 200 still to drop (range ignored) */
    bool range_checked; /* status and Content-Range looked at */
    bool range_ignored;
    int64_t delivered;
    CURL *h;
    struct url_parts u;
    struct header_list hl;
    char errbuf[CURL_ERROR_SIZE];
    struct dh_http_response resp;
};

struct dh_http_multi {
    CURLM *cm;
    unsigned max_concurrent;
    bool http2;
    struct mxfer *queue; /* waiting, by start_at_ms */
    struct mxfer *running;
    size_t n_running;
    size_t n_queued;
};

static CURLMcode mset_long(CURLM *cm, CURLMoption opt, long v)
{
    return api.multi_setopt(cm, opt, v);
}

static void mxfer_free(struct mxfer *t)
{
    size_t i;

    if (!t)
        return;
    if (t->h)
        api.easy_cleanup(t->h);
    header_list_release(&t->hl);
    if (t->u.u)
        url_parts_release(&t->u);
    dh_error_free(&t->x.cb_err);
    dh_http_response_release(&t->resp);
    dh_str_free_wipe(t->url); /* a URL may hold a secret query */
    for (i = 0; i < t->n_headers; i++)
        dh_str_free_wipe(t->headers[i]);
    free(t->headers);
    free(t->ca_file);
    free(t->ca_pem);
    free(t->client_cert_pem);
    dh_str_free_wipe(t->client_key_pem);
    free(t);
}

int dh_http_multi_new(const struct dh_http_multi_options *opt, struct dh_http_multi **ret,
                      struct dh_error **err)
{
    struct dh_http_multi *m;
    unsigned conc = opt && opt->max_concurrent ? opt->max_concurrent : MULTI_DEFAULT_CONCURRENCY;
    unsigned host = opt && opt->max_host_connections ? opt->max_host_connections : conc;

    *ret = NULL;
    if (ensure_loaded(err) < 0)
        return -1;
    m = dh_xcalloc(1, sizeof(*m));
    m->cm = api.multi_init();
    if (!m->cm) {
        free(m);
        return dh_error_make(err, ENOMEM, "cannot create a libcurl multi handle");
    }
    m->max_concurrent = conc;
    m->http2 = !(opt && opt->no_http2);
    if (mset_long(m->cm, CURLMOPT_MAX_HOST_CONNECTIONS, (long)host) != CURLM_OK ||
        mset_long(m->cm, CURLMOPT_PIPELINING, m->http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING) !=
                CURLM_OK) {
        dh_http_multi_free(m);
        return dh_error_make(err, ENOTSUP, "libcurl %s (%s) rejects a multi option", lib_version,
                             lib_name);
    }
    *ret = m;
    return 0;
}

void dh_http_multi_free(struct dh_http_multi *m)
{
    struct mxfer *t, *next;

    if (!m)
        return;
    for (t = m->running; t; t = next) {
        next = t->next;
        (void)api.multi_remove_handle(m->cm, t->h);
        mxfer_free(t);
    }
    for (t = m->queue; t; t = next) {
        next = t->next;
        mxfer_free(t);
    }
    if (m->cm)
        api.multi_cleanup(m->cm);
    free(m);
}

size_t dh_http_multi_pending(const struct dh_http_multi *m)
{
    return m->n_queued + m->n_running;
}

/* The URL checks of dh_http_do: valid, https (or http when allowed). */
static int check_url(const char *url, bool allow_http, struct url_parts *u, struct dh_error **err)
{
    if (!url)
        return dh_error_make(err, EINVAL, "no url given");
    if (url_parse(url, u, err) < 0)
        return -1;
    if (strcmp(u->scheme, "https") != 0 && strcmp(u->scheme, "http") != 0)
        return dh_error_make(err, EPROTONOSUPPORT, "unsupported url scheme '%s' for '%s'",
                             u->scheme, u->authority);
    if (!strcmp(u->scheme, "http") && !allow_http)
        return dh_error_make(err, EPERM, "refusing plain http to '%s': https required",
                             u->authority);
    return 0;
}

int dh_http_multi_add_delayed(struct dh_http_multi *m, const struct dh_http_multi_request *req,
                              void *tag, long delay_ms, struct dh_error **err)
{
    struct mxfer *t, **pp;
    size_t n = 0, i;

    t = dh_xcalloc(1, sizeof(*t));
    if (check_url(req->url, req->allow_http, &t->u, err) < 0) {
        mxfer_free(t);
        return -1;
    }
    for (n = 0; req->headers && req->headers[n]; n++) {
        if (!header_valid(req->headers[n])) {
            mxfer_free(t);
            return dh_error_make(err, EINVAL,
                                 "invalid request header #%zu (expected 'Name: value' on one line)",
                                 n + 1);
        }
    }
    t->mreq = *req;
    t->url = dh_xstrdup(req->url);
    t->headers = dh_xcalloc(n + 1, sizeof(char *));
    for (i = 0; i < n; i++)
        t->headers[i] = dh_xstrdup(req->headers[i]);
    t->n_headers = n;
    t->ca_file = req->ca_file ? dh_xstrdup(req->ca_file) : NULL;
    t->ca_pem = req->ca_pem ? dh_xstrdup(req->ca_pem) : NULL;
    t->client_cert_pem = req->client_cert_pem ? dh_xstrdup(req->client_cert_pem) : NULL;
    t->client_key_pem = req->client_key_pem ? dh_xstrdup(req->client_key_pem) : NULL;
    t->mreq.url = t->url;
    t->mreq.headers = (const char *const *)t->headers;
    t->mreq.ca_file = t->ca_file;
    t->mreq.ca_pem = t->ca_pem;
    t->mreq.client_cert_pem = t->client_cert_pem;
    t->mreq.client_key_pem = t->client_key_pem;
    t->tag = tag;
    t->start_at_ms = now_ms() + (delay_ms > 0 ? delay_ms : 0);
    for (pp = &m->queue; *pp && (*pp)->start_at_ms <= t->start_at_ms; pp = &(*pp)->next)
        ;
    t->next = *pp;
    *pp = t;
    m->n_queued++;
    return 0;
}

int dh_http_multi_add(struct dh_http_multi *m, const struct dh_http_multi_request *req, void *tag,
                      struct dh_error **err)
{
    return dh_http_multi_add_delayed(m, req, tag, 0, err);
}

/* Status and Content-Range of a ranged transfer, looked at with its first body bytes. */
static int check_range(struct mxfer *t)
{
    long status = 0;

    t->range_checked = true;
    (void)api.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    if (t->mreq.range_start <= 0 || status < 200 || status > 299)
        return 0;
    if (status == 206) {
        const char *cr = dh_http_header(&t->resp, "Content-Range");
        char *end = NULL;
        long long first;

        if (!cr || strncasecmp(cr, "bytes ", 6) != 0)
            return dh_error_make(&t->x.cb_err, EPROTO,
                                 "partial response from '%s' without a valid Content-Range",
                                 t->u.authority);
        errno = 0;
        first = strtoll(cr + 6, &end, 10);
        if (errno || end == cr + 6 || *end != '-' || first != (long long)t->mreq.range_start)
            return dh_error_make(&t->x.cb_err, EPROTO,
                                 "'%s' answered a range from byte %lld with '%.64s'",
                                 t->u.authority, (long long)t->mreq.range_start, cr);
        return 0;
    }
    /* The server ignored the range: drop what we already have. */
    t->range_ignored = true;
    t->skip = t->mreq.range_start;
    return 0;
}

static size_t multi_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct mxfer *t = arg;
    size_t len = size * nmemb, total = len;
    long status = 0;

    if (t->x.cb_err)
        return 0;
    if (!t->range_checked && check_range(t) < 0)
        return 0;
    (void)api.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        /* an error page: kept (capped) for the caller's message */
        size_t room = MULTI_ERROR_BODY_MAX - t->resp.body.len;

        if (len > room)
            len = room;
        if (len && dh_buf_append(&t->resp.body, data, len, &t->x.cb_err) < 0)
            return 0;
        return total;
    }
    if (t->skip) {
        size_t drop = (int64_t)len < t->skip ? len : (size_t)t->skip;

        t->skip -= (int64_t)drop;
        data += drop;
        len -= drop;
        if (!len)
            return total;
    }
    if ((uint64_t)len > (uint64_t)t->x.max_body - (uint64_t)t->delivered) {
        dh_error_make(&t->x.cb_err, E2BIG, "response from '%s' larger than %zu bytes",
                      t->u.authority, t->x.max_body);
        return 0;
    }
    if (t->mreq.on_body) {
        if (t->mreq.on_body(t->mreq.on_body_arg, data, len, &t->x.cb_err) < 0) {
            if (!t->x.cb_err)
                dh_error_make(&t->x.cb_err, EIO, "response from '%s' rejected", t->u.authority);
            return 0;
        }
    }
    t->delivered += (int64_t)len;
    return total;
}

static int mxfer_setup(struct dh_http_multi *m, struct mxfer *t, struct dh_error **err)
{
    CURL *h;
    size_t cap = t->mreq.max_body ? t->mreq.max_body : DH_HTTP_DEFAULT_MAX_BODY;

    t->req = (struct dh_http_request){
            .method = "GET",
            .url = t->url,
            .headers = t->mreq.headers,
            .timeout_ms = t->mreq.timeout_ms > 0 ? t->mreq.timeout_ms : MULTI_NO_TIMEOUT_MS,
            .connect_timeout_ms = t->mreq.connect_timeout_ms,
            .max_body = cap,
            .allow_http = t->mreq.allow_http,
            .insecure_skip_verify = t->mreq.insecure_skip_verify,
            .ca_file = t->ca_file,
            .ca_pem = t->ca_pem,
            .client_cert_pem = t->client_cert_pem,
            .client_key_pem = t->client_key_pem,
            .no_proxy = t->mreq.no_proxy,
    };
    dh_buf_init(&t->resp.body, MULTI_ERROR_BODY_MAX);
    t->x.req = &t->req;
    t->x.resp = &t->resp;
    t->x.authority = t->u.authority;
    /* curl's own cap on Content-Length: what we deliver plus a range the server may ignore */
    t->x.max_body = cap;
    h = t->h = api.easy_init();
    if (!h)
        return dh_error_make(err, ENOMEM, "cannot create a libcurl handle");
    t->errbuf[0] = '\0';
    if (configure(h, &t->req, "GET", &t->u, &t->hl, &t->x, t->errbuf, err) < 0)
        return -1;
    if (t->mreq.range_start > 0) {
        char range[32];

        snprintf(range, sizeof(range), "%lld-", (long long)t->mreq.range_start);
        SET(set_str, CURLOPT_RANGE, range);
        if ((uint64_t)cap + (uint64_t)t->mreq.range_start <= (uint64_t)INT64_MAX)
            SET(set_off, CURLOPT_MAXFILESIZE_LARGE,
                (curl_off_t)cap + (curl_off_t)t->mreq.range_start);
    }
    SET(set_long, CURLOPT_LOW_SPEED_LIMIT,
        t->mreq.low_speed_bytes > 0 ? t->mreq.low_speed_bytes : MULTI_LOW_SPEED_BYTES);
    SET(set_long, CURLOPT_LOW_SPEED_TIME,
        t->mreq.low_speed_seconds > 0 ? t->mreq.low_speed_seconds : MULTI_LOW_SPEED_SECONDS);
    /* larger reads: fewer syscalls and callbacks per blob (curl's default is 16 KiB) */
    SET(set_long, CURLOPT_BUFFERSIZE, MULTI_BUFFER_SIZE);
    SET(set_write_cb, CURLOPT_WRITEFUNCTION, multi_write_cb);
    SET(set_ptr, CURLOPT_WRITEDATA, t);
    SET(set_ptr, CURLOPT_PRIVATE, t);
    if (m->http2 && lib_http2) {
        /* a libcurl without HTTP/2 would refuse the option: it then speaks HTTP/1.1 */
        SET(set_long, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        SET(set_long, CURLOPT_PIPEWAIT, 1L);
    } else {
        SET(set_long, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    return 0;
}

/* Moves due transfers from the queue into the multi handle. */
static int multi_start_due(struct dh_http_multi *m, struct dh_error **err)
{
    long now = now_ms();

    while (m->queue && m->n_running < m->max_concurrent && m->queue->start_at_ms <= now) {
        struct mxfer *t = m->queue;
        CURLMcode mc;

        m->queue = t->next;
        m->n_queued--;
        if (mxfer_setup(m, t, err) < 0) {
            mxfer_free(t);
            return -1;
        }
        mc = api.multi_add_handle(m->cm, t->h);
        if (mc != CURLM_OK) {
            mxfer_free(t);
            return dh_error_make(err, EIO, "cannot start a transfer: %s", api.multi_strerror(mc));
        }
        t->started_ms = now;
        t->next = m->running;
        m->running = t;
        m->n_running++;
    }
    return 0;
}

static void multi_unlink_running(struct dh_http_multi *m, struct mxfer *t)
{
    struct mxfer **pp;

    for (pp = &m->running; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            m->n_running--;
            return;
        }
    }
}

static int multi_finish(struct dh_http_multi *m, struct mxfer *t, CURLcode rc,
                        dh_http_multi_done_cb done, void *arg, struct dh_error **err)
{
    struct dh_http_multi_result res = {0};
    long elapsed = now_ms() - t->started_ms, version = 0;
    int r;

    (void)api.multi_remove_handle(m->cm, t->h);
    multi_unlink_running(m, t);
    res.tag = t->tag;
    res.elapsed_ms = elapsed;
    res.delivered = t->delivered;
    res.range_ignored = t->range_ignored;
    (void)api.easy_getinfo(t->h, CURLINFO_NUM_CONNECTS, &res.new_connections);
    (void)api.easy_getinfo(t->h, CURLINFO_HTTP_VERSION, &version);
    res.http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : 1;
    if (rc == CURLE_OK && !t->range_checked && check_range(t) < 0)
        rc = CURLE_WRITE_ERROR;
    if (rc == CURLE_OK && t->skip) {
        dh_error_make(&t->x.cb_err, ECONNRESET, "response from '%s' ended before byte %lld",
                      t->u.authority, (long long)t->mreq.range_start);
        rc = CURLE_WRITE_ERROR;
    }
    if (rc != CURLE_OK) {
        dh_log_debug("http GET %s://%s%s failed after %ld ms (curl error %d)", t->u.scheme,
                     t->u.authority, t->u.path ? t->u.path : "/", elapsed, (int)rc);
        if (t->x.cb_err)
            dh_error_move(&res.err, &t->x.cb_err);
        else
            transfer_error(t->h, rc, t->errbuf, &t->u, &t->req, elapsed, &res.err);
        /* what arrived is still described: status and headers when there were some */
    }
    (void)api.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->resp.status);
    dh_log_debug("http GET %s://%s%s: %ld in %ld ms, %lld bytes", t->u.scheme, t->u.authority,
                 t->u.path ? t->u.path : "/", t->resp.status, elapsed, (long long)t->delivered);
    (void)dh_buf_append(&t->resp.body, "", 0, NULL);
    res.resp = t->resp;
    memset(&t->resp, 0, sizeof(t->resp));
    r = done ? done(arg, &res, err) : 0;
    dh_http_response_release(&res.resp);
    dh_error_free(&res.err);
    mxfer_free(t);
    return r;
}

int dh_http_multi_run(struct dh_http_multi *m, dh_http_multi_done_cb done, void *arg,
                      struct dh_error **err)
{
    for (;;) {
        CURLMsg *msg;
        CURLMcode mc;
        int still = 0, left = 0;

        if (multi_start_due(m, err) < 0)
            return -1;
        if (!m->n_running && !m->n_queued)
            return 0;
        if (!m->n_running) {
            /* only delayed transfers: sleep until the first is due */
            long wait = m->queue->start_at_ms - now_ms();

            if (wait > 0) {
                struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L};

                (void)nanosleep(&ts, NULL);
            }
            continue;
        }
        mc = api.multi_perform(m->cm, &still);
        if (mc != CURLM_OK)
            return dh_error_make(err, EIO, "transfers failed: %s", api.multi_strerror(mc));
        while ((msg = api.multi_info_read(m->cm, &left))) {
            struct mxfer *t = NULL;

            if (msg->msg != CURLMSG_DONE)
                continue;
            (void)api.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            if (!t)
                continue;
            if (multi_finish(m, t, msg->data.result, done, arg, err) < 0)
                return -1;
        }
        if (still > 0 || m->n_running) {
            int timeout = 1000;

            if (m->queue && m->n_running < m->max_concurrent) {
                long due = m->queue->start_at_ms - now_ms();

                timeout = due < 0 ? 0 : due < timeout ? (int)due : timeout;
            }
            mc = api.multi_wait(m->cm, NULL, 0, timeout, NULL);
            if (mc != CURLM_OK)
                return dh_error_make(err, EIO, "transfers failed: %s", api.multi_strerror(mc));
        }
    }
}

/* ---- Retry-After, redirects ---- */

long dh_http_retry_after_ms(const char *v, long long now)
{
    static const char *const formats[] = {
            "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
            "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
            "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    size_t i;

    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        unsigned long long secs = 0;

        for (; *v >= '0' && *v <= '9'; v++) {
            secs = secs * 10 + (unsigned long long)(*v - '0');
            if (secs > 365ULL * 24 * 3600)
                secs = 365ULL * 24 * 3600; /* a year is plenty; no overflow */
        }
        while (*v == ' ' || *v == '\t')
            v++;
        return *v ? -1 : (long)(secs * 1000);
    }
    if (!now)
        now = (long long)time(NULL);
    for (i = 0; i < DH_ARRAY_SIZE(formats); i++) {
        struct tm tm;
        const char *end;
        long long when;

        memset(&tm, 0, sizeof(tm));
        end = strptime(v, formats[i], &tm);
        if (!end)
            continue;
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end)
            continue;
        when = (long long)timegm(&tm);
        if (when <= now)
            return 0;
        if (when - now > 365LL * 24 * 3600)
            return 365L * 24 * 3600 * 1000;
        return (long)((when - now) * 1000);
    }
    return -1;
}

char *dh_http_resolve_url(const char *base, const char *location, struct dh_error **err)
{
    CURLU *u;
    char *out = NULL, *ret;

    if (ensure_loaded(err) < 0)
        return NULL;
    u = api.url();
    if (!u)
        dh_oom();
    if (api.url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        api.url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
        api.url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        api.url_cleanup(u);
        dh_error_make(err, EINVAL, "invalid redirect location");
        return NULL;
    }
    api.url_cleanup(u);
    ret = dh_xstrdup(out);
    curl_str_wipe_free(out);
    return ret;
}

static char *origin_of(const char *url)
{
    CURLU *u = api.url();
    char *scheme = NULL, *host = NULL, *port = NULL, *ret = NULL;

    if (!u)
        dh_oom();
    if (api.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        api.url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        api.url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        api.url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        ret = dh_xasprintf("%s://%s:%s", scheme, host, port);
        for (char *p = ret; *p; p++) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        }
    }
    if (scheme)
        api.cfree(scheme);
    if (host)
        api.cfree(host);
    if (port)
        api.cfree(port);
    api.url_cleanup(u);
    return ret;
}

bool dh_http_same_origin(const char *a, const char *b)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *oa = NULL, *ob = NULL;

    if (!a || !b || ensure_loaded(&err) < 0)
        return false;
    oa = origin_of(a);
    ob = origin_of(b);
    return oa && ob && !strcmp(oa, ob);
}
