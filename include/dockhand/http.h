/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP client: the only module that talks to libcurl.
 *
 * libcurl is loaded with dlopen("libcurl.so.4") at the first request, so
 * programs that never make a request (the helper answering from a local store)
 * never load it or its ~35 dependent libraries.  A machine without libcurl gets
 * a clear error at that point.
 *
 * Security defaults:
 *  - https only; plain http only with allow_http (an explicitly insecure registry,
 *    a loopback test server, the metadata endpoints);
 *  - redirects are never followed: a 3xx is returned to the caller, who decides
 *    (credentials must not follow a redirect to another host);
 *  - total and connect time-outs always set, plus a low-speed limit;
 *  - the response body is capped (max_body), and the transfer aborted past it;
 *  - header values and bodies may hold secrets: the module copies nothing into
 *    logs; the debug log (DOCKHAND_LOG_LEVEL=debug) shows method, URL without
 *    query, status and timings only.
 */
#ifndef DOCKHAND_HTTP_H
#define DOCKHAND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_HTTP_DEFAULT_TIMEOUT_MS         30000
#define DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DH_HTTP_DEFAULT_MAX_BODY           ((size_t)16 << 20)

/* Called with each chunk of the response body when set (the body is then not
   buffered).  Return 0 to go on, -1 (with *err set) to abort the transfer. */
typedef int (*dh_http_body_cb)(void *arg, const char *data, size_t len, struct dh_error **err);

struct dh_http_request {
    const char *method;         /* NULL = "GET" */
    const char *url;            /* required */
    const char *const *headers; /* NULL-terminated "Name: value" strings, or NULL */
    const void *body;           /* request body, or NULL */
    size_t body_len;
    long timeout_ms;             /* 0 = DH_HTTP_DEFAULT_TIMEOUT_MS (whole transfer) */
    long connect_timeout_ms;     /* 0 = DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    size_t max_body;             /* 0 = DH_HTTP_DEFAULT_MAX_BODY */
    bool allow_http;             /* permit http:// URLs */
    bool insecure_skip_verify;   /* do not verify the server certificate (explicit opt-in) */
    const char *ca_file;         /* PEM bundle path replacing the system CAs, or NULL */
    const char *ca_pem;          /* PEM bundle in memory (NUL-terminated), or NULL */
    const char *client_cert_pem; /* client certificate, PEM in memory, or NULL */
    const char *client_key_pem;  /* its private key, PEM in memory (a secret), or NULL */
    const char *unix_socket;     /* connect to this unix socket instead of TCP, or NULL */
    dh_http_body_cb on_body;     /* stream the body instead of buffering it */
    void *on_body_arg;
    /* Fields below were added after the first version of this header (append only). */
    /* The response body is a secret (a token): resp->body is then a secret dh_buf, wiped
       when released.  Default false. */
    bool secret_body;
    /* Ignore http_proxy/https_proxy/all_proxy from the environment: for metadata
       endpoints, whose answers are credentials a proxy must not see.  Default false. */
    bool no_proxy;
    /* Speak HTTP/2 from the first byte (h2c "prior knowledge", no Upgrade), as gRPC
       servers on a unix socket expect; plain http only.  ENOTSUP when the loaded
       libcurl has no HTTP/2.  Trailers (HTTP/2 HEADERS after the body, e.g.
       grpc-status) are appended to resp->headers after the response headers.  Each
       such request opens its own connection and closes it: libcurl 7.88 (Debian 12)
       fails a second request on a reused h2c connection.  When the server ends the
       stream before libcurl sent the request body (an answer decided on the headers
       alone, e.g. gRPC's unknown method), libcurl 7.88 loses that answer: the request
       then fails with ECONNABORTED, and the server never got the body (safe to retry). */
    bool http2_prior_knowledge;
    /* Do not abort a transfer that is silent for 30 s: for calls whose answer comes
       only at the end (a gRPC PullImage); timeout_ms still bounds the whole call. */
    bool no_low_speed_limit;
};

struct dh_http_header {
    char *name;  /* as received */
    char *value; /* leading/trailing white space trimmed */
};

struct dh_http_response {
    long status;                    /* HTTP status code */
    struct dh_buf body;             /* the body (unless on_body was set), NUL-terminated */
    struct dh_http_header *headers; /* headers of the final response, in order (then trailers) */
    size_t n_headers;
};

/* Performs the request.  A response with any status (4xx, 5xx, 3xx) is a success
   here: check resp->status.  Errors are transport failures (DNS, connect, TLS,
   time-out, body too large, libcurl missing), with the host named.  *resp must
   be released with dh_http_response_release() after success and after failure;
   dh_http_do() initialises it first (do not pass one still holding a response).
   After a failure it holds nothing (no partial body or headers).

   Error status (errno-style) by kind, for callers that retry: EINVAL a bad
   request struct or URL, EPERM plain http without allow_http, EPROTONOSUPPORT
   another URL scheme, ENOENT libcurl missing or unusable, ENOTSUP a feature the
   loaded libcurl lacks, EHOSTUNREACH name resolution, ECONNREFUSED
   connect, ETIMEDOUT a time-out or stalled transfer, EPROTO TLS, ECONNRESET
   connection lost mid-way, E2BIG body or headers too large, EIO anything else;
   an error returned by on_body is passed through as it is.

   Details:
    - method is one of GET HEAD POST PUT PATCH DELETE (else EINVAL).  POST, PUT
      and PATCH always send a body (empty when body is NULL) with Content-Length;
      GET and DELETE send one only when body is set.  No Content-Type is added:
      pass one in headers.  Bodies over 1 MiB are sent after "Expect:
      100-continue" (pass "Expect:" to turn that off).
    - headers are "Name: value" on one line (CR/LF rejected); curl's forms
      "Name:" (remove a header curl adds, e.g. "Accept:") and "Name;" (send it
      empty) work.  The User-Agent is dockhand/<version>; no Accept-Encoding is
      sent (bodies arrive as the server stores them).
    - max_body also caps a body streamed to on_body; set it as large as the
      caller accepts (a blob download).  Response headers are capped at 256 KiB.
    - a transfer slower than 1 byte/s for 30 s is aborted (ETIMEDOUT), besides
      timeout_ms: a long watch needs a server that sends something (bookmarks).
    - ca_file and ca_pem are exclusive and replace the system CAs.
    - proxies: the usual environment variables apply unless no_proxy is set;
      a unix_socket request never uses a proxy.
    - errors and the debug log name scheme, host[:port] and path only: never the
      query, userinfo, header values or bodies.
    - thread-safe: one connection-reusing handle is shared, and a call made while
      it is busy (another thread, or from inside on_body) gets its own handle. */
int dh_http_do(const struct dh_http_request *req, struct dh_http_response *resp,
               struct dh_error **err);
void dh_http_response_release(struct dh_http_response *resp);
/* Case-insensitive look-up of the first header with this name; borrowed, or NULL. */
const char *dh_http_header(const struct dh_http_response *resp, const char *name);
/* True when libcurl has been loaded in this process (tests check `get` never loads it). */
bool dh_http_loaded(void);

/* ---- Parallel transfers (blob downloads) ----

   A dh_http_multi runs many GETs at once over one libcurl multi handle:
   at most max_concurrent transfers in flight, at most max_host_connections
   connections per host; HTTP/2 is negotiated (ALPN) on https and streams are
   multiplexed on one connection (CURLOPT_PIPEWAIT); connections are reused
   between transfers.  Every request behaves like dh_http_do's (https only
   unless allow_http, redirects never followed, proxies, TLS options) plus:

    - range_start > 0 sends "Range: bytes=N-"; a 206 must carry a Content-Range
      starting at N (else EPROTO); a 200 (range ignored) is accepted and its
      first N bytes are skipped, so on_body always sees the bytes from N on;
    - the body of a 2xx response goes to on_body (never buffered); the body of
      any other status is kept in result->body (at most 64 KiB) for messages;
    - max_body caps the bytes passed to on_body (E2BIG past it): the size the
      caller expects, e.g. a descriptor's size minus range_start;
    - timeout_ms 0 means no limit on the whole transfer (blobs can be large):
      the low-speed limit (low_speed_bytes per second over low_speed_seconds,
      defaults 1024 B/s over 30 s) and the connect time-out still apply.

   dh_http_multi_run() returns when every queued transfer has finished; each
   finished transfer is handed to the done callback, which may queue new ones
   (retries, redirects re-issued without Authorization, resumes with a range)
   with dh_http_multi_add/_add_delayed.  The callback returning -1 stops the
   run: transfers in flight are aborted and the error is returned.  One multi
   handle belongs to one thread at a time. */

struct dh_http_multi_options {
    unsigned max_concurrent;       /* 0 = 4 */
    unsigned max_host_connections; /* 0 = max_concurrent */
    bool no_http2;                 /* stay on HTTP/1.1 */
};

struct dh_http_multi_request {
    const char *url;
    const char *const *headers; /* as in dh_http_request; copied (and wiped) when queued */
    int64_t range_start;        /* > 0: ask for the bytes from here on */
    size_t max_body;            /* cap on bytes given to on_body; 0 = DH_HTTP_DEFAULT_MAX_BODY */
    long timeout_ms;            /* 0 = no limit */
    long connect_timeout_ms;    /* 0 = DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long low_speed_bytes;       /* 0 = 1024 */
    long low_speed_seconds;     /* 0 = 30 */
    bool allow_http;
    bool insecure_skip_verify;
    const char *ca_file; /* copied */
    bool no_proxy;
    dh_http_body_cb on_body; /* 2xx bodies */
    void *on_body_arg;
    /* Added later (append only): as in dh_http_request; copied when queued (the key wiped). */
    const char *ca_pem; /* exclusive with ca_file */
    const char *client_cert_pem;
    const char *client_key_pem; /* a secret */
};

struct dh_http_multi_result {
    void *tag;                    /* the caller's, from dh_http_multi_add */
    struct dh_error *err;         /* transport error (as dh_http_do's), or NULL */
    struct dh_http_response resp; /* status, headers; body only for non-2xx */
    int64_t delivered;            /* bytes passed to on_body */
    bool range_ignored;           /* asked for a range, got a 200 */
    long new_connections;         /* connections opened for it (0: one was reused) */
    long http_version;            /* 1 (1.x) or 2 */
    long elapsed_ms;
};

struct dh_http_multi;
/* Returns 0 to go on, -1 (with *err) to stop the run.  The result is released
   after the callback returns (take result->err with dh_error_move to keep it). */
typedef int (*dh_http_multi_done_cb)(void *arg, struct dh_http_multi_result *result,
                                     struct dh_error **err);

int dh_http_multi_new(const struct dh_http_multi_options *opt, struct dh_http_multi **ret,
                      struct dh_error **err);
void dh_http_multi_free(struct dh_http_multi *m);
/* Queues a request; tag comes back in its result.  Checks the URL (scheme, allow_http)
   at once (EINVAL/EPERM/EPROTONOSUPPORT). */
int dh_http_multi_add(struct dh_http_multi *m, const struct dh_http_multi_request *req, void *tag,
                      struct dh_error **err);
/* The same, started no earlier than delay_ms from now (a Retry-After). */
int dh_http_multi_add_delayed(struct dh_http_multi *m, const struct dh_http_multi_request *req,
                              void *tag, long delay_ms, struct dh_error **err);
int dh_http_multi_run(struct dh_http_multi *m, dh_http_multi_done_cb done, void *arg,
                      struct dh_error **err);
/* Transfers queued or running. */
size_t dh_http_multi_pending(const struct dh_http_multi *m);

/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date (IMF-fixdate, RFC 850,
   asctime), relative to now (time(NULL) when 0).  Milliseconds to wait (0 for a date in
   the past), or -1 when the value is not valid. */
long dh_http_retry_after_ms(const char *value, long long now);
/* Resolves a Location value against the URL it came from.  New string, or NULL with
 *err when either is not a valid URL. */
char *dh_http_resolve_url(const char *base, const char *location, struct dh_error **err);
/* True when both URLs have the same scheme, host and port (default ports filled in):
   credentials may follow a redirect only then. */
bool dh_http_same_origin(const char *a, const char *b);

#endif
