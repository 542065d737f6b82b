/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC unary calls over HTTP/2 through src/http.c: see include/dockhand/grpc.h.
 */
#include "dockhand/grpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dockhand/cleanup.h"
#include "dockhand/http.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"

#define DEFAULT_TIMEOUT_MS 30000L
/* The HTTP transfer gets this much longer than the deadline sent to the server, so the
   server's DEADLINE_EXCEEDED (with its message) normally arrives before curl gives up. */
#define TIMEOUT_MARGIN_MS 2000L
/* grpc-message is shown in one-line errors: capped. */
#define MAX_STATUS_MESSAGE 4096
/* Attempts when the stream ends before the request went out (ECONNABORTED from http.c). */
#define MAX_ATTEMPTS 8

static const char *const code_names[] = {
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
};

const char *dh_grpc_code_name(int code)
{
    static __thread char other[24];

    if (code >= 0 && (size_t)code < DH_ARRAY_SIZE(code_names))
        return code_names[code];
    snprintf(other, sizeof(other), "Code(%d)", code);
    return other;
}

int dh_grpc_code_errno(int code)
{
    switch (code) {
    case DH_GRPC_OK:
        return 0;
    case DH_GRPC_NOT_FOUND:
        return ENOENT;
    case DH_GRPC_DEADLINE_EXCEEDED:
        return ETIMEDOUT;
    case DH_GRPC_UNAVAILABLE:
        return ECONNREFUSED;
    case DH_GRPC_UNAUTHENTICATED:
    case DH_GRPC_PERMISSION_DENIED:
        return EACCES;
    case DH_GRPC_UNIMPLEMENTED:
        return ENOSYS;
    case DH_GRPC_INVALID_ARGUMENT:
        return EINVAL;
    case DH_GRPC_RESOURCE_EXHAUSTED:
        return EAGAIN;
    case DH_GRPC_CANCELLED:
        return ECANCELED;
    default:
        return EIO;
    }
}

int dh_grpc_code_from_http(long http_status)
{
    switch (http_status) {
    case 400:
        return DH_GRPC_INTERNAL;
    case 401:
        return DH_GRPC_UNAUTHENTICATED;
    case 403:
        return DH_GRPC_PERMISSION_DENIED;
    case 404:
        return DH_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return DH_GRPC_UNAVAILABLE;
    default:
        return DH_GRPC_UNKNOWN;
    }
}

int dh_grpc_frame_encode(const void *msg, size_t len, struct dh_buf *out, struct dh_error **err)
{
    uint8_t hdr[DH_GRPC_FRAME_HEADER];

    if (len > UINT32_MAX)
        return dh_error_make(err, EINVAL, "grpc message of %zu bytes is too large", len);
    hdr[0] = 0;
    hdr[1] = (uint8_t)(len >> 24);
    hdr[2] = (uint8_t)(len >> 16);
    hdr[3] = (uint8_t)(len >> 8);
    hdr[4] = (uint8_t)len;
    if (dh_buf_append(out, hdr, sizeof(hdr), err) < 0)
        return -1;
    return len ? dh_buf_append(out, msg, len, err) : 0;
}

int dh_grpc_frame_decode(const void *data, size_t len, const uint8_t **ret_msg, size_t *ret_len,
                         struct dh_error **err)
{
    const uint8_t *p = data;
    size_t mlen;

    if (len < DH_GRPC_FRAME_HEADER)
        return dh_error_make(err, EPROTO, "grpc reply holds no message (%zu bytes)", len);
    if (p[0] > 1)
        return dh_error_make(err, EPROTO, "grpc reply: invalid compressed flag %u", p[0]);
    if (p[0] == 1)
        return dh_error_make(err, EPROTO, "grpc reply is compressed, which was not requested");
    mlen = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | (size_t)p[4];
    if (mlen > len - DH_GRPC_FRAME_HEADER)
        return dh_error_make(err, EPROTO, "grpc reply truncated: message of %zu bytes, %zu present",
                             mlen, len - DH_GRPC_FRAME_HEADER);
    if (mlen < len - DH_GRPC_FRAME_HEADER)
        return dh_error_make(err, EPROTO, "grpc reply holds more than one message");
    *ret_msg = p + DH_GRPC_FRAME_HEADER;
    *ret_len = mlen;
    return 0;
}

int dh_grpc_parse_status(const char *s)
{
    long v = 0;

    if (!s || !*s || strlen(s) > 10)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v > 0x7fffffffL ? -1 : (int)v;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dh_grpc_percent_decode(const char *s)
{
    size_t n = strlen(s), i, o = 0;
    char *out = dh_xmalloc(n + 1);

    for (i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] == '%' && i + 2 < n + 1 && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* The server's message made safe for a one-line error: control bytes (and a decoded NUL,
   which ends it) become '?', long ones are cut. */
static char *status_message(const char *raw)
{
    char *m = dh_grpc_percent_decode(raw ? raw : "");
    size_t i, n = strlen(m);

    if (n > MAX_STATUS_MESSAGE) {
        m[MAX_STATUS_MESSAGE] = '\0';
        n = MAX_STATUS_MESSAGE;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
            m[i] = '?';
    }
    return m;
}

static void timeout_header(char *out, size_t size, long timeout_ms)
{
    /* At most 8 digits (the spec's TimeoutValue). */
    if (timeout_ms <= 99999999L)
        snprintf(out, size, "grpc-timeout: %ldm", timeout_ms);
    else
        snprintf(out, size, "grpc-timeout: %ldS", timeout_ms / 1000);
}

int dh_grpc_unary(const struct dh_grpc_call *call, struct dh_buf *ret_msg, int *ret_code,
                  struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf frame = DH_BUF_INIT((size_t)UINT32_MAX + DH_GRPC_FRAME_HEADER);
    _cleanup_free_ char *url = NULL, *message = NULL;
    struct dh_http_response resp;
    struct dh_http_request req = {0};
    char tmo[64];
    const char *headers[6];
    const char *status_s, *ctype;
    const uint8_t *msg;
    size_t msg_len, max_reply = call->max_reply ? call->max_reply : DH_GRPC_DEFAULT_MAX_MSG;
    long timeout = call->timeout_ms > 0 ? call->timeout_ms : DEFAULT_TIMEOUT_MS;
    int code, attempt, r = -1;

    if (ret_code)
        *ret_code = -1;
    dh_buf_init(ret_msg, max_reply);
    if (!call->unix_socket || !call->method || call->method[0] != '/')
        return dh_error_make(err, EINVAL, "grpc call needs a unix socket and a '/service/method'");
    frame.secret = call->request_secret;
    if (dh_grpc_frame_encode(call->request, call->request_len, &frame, err) < 0)
        return -1;
    url = dh_xasprintf("http://%s%s", call->authority ? call->authority : "localhost",
                       call->method);
    timeout_header(tmo, sizeof(tmo), timeout);
    headers[0] = "Content-Type: application/grpc";
    headers[1] = "TE: trailers";
    headers[2] = tmo;
    headers[3] = "Accept:";
    headers[4] = "Expect:";
    headers[5] = NULL;

    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = frame.data;
    req.body_len = frame.len;
    req.timeout_ms = timeout + TIMEOUT_MARGIN_MS;
    req.max_body = max_reply + DH_GRPC_FRAME_HEADER;
    req.allow_http = true;
    req.unix_socket = call->unix_socket;
    req.http2_prior_knowledge = true;
    req.no_low_speed_limit = true;
    for (attempt = 1;; attempt++) {
        _cleanup_error_ struct dh_error *e = NULL;

        if (dh_http_do(&req, &resp, &e) == 0)
            break;
        /* The server answered on the headers alone and libcurl lost the answer (see
           http2_prior_knowledge in http.h): it never saw the request, ask again. */
        if (e->status != ECONNABORTED) {
            dh_error_move(err, &e);
            return dh_error_wrap(err, "%s", call->method + 1);
        }
        if (attempt == MAX_ATTEMPTS)
            return dh_error_make(err, ECONNABORTED,
                                 "%s: the server closed the stream %d times before reading the "
                                 "request (an answer libcurl loses; typically an unknown service "
                                 "or method)",
                                 call->method + 1, MAX_ATTEMPTS);
        dh_log_debug("grpc %s: %s; retrying", call->method + 1, e->msg);
        /* A growing pause (1, 2, 4 ... 64 ms): the race depends on scheduling. */
        (void)nanosleep(
                &(struct timespec){.tv_sec = 0, .tv_nsec = (1L << (attempt - 1)) * 1000000L}, NULL);
    }

    status_s = dh_http_header(&resp, "grpc-status");
    if (status_s) {
        code = dh_grpc_parse_status(status_s);
        if (code < 0) {
            dh_error_make(err, EPROTO, "%s: invalid grpc-status in the reply", call->method + 1);
            goto out;
        }
    } else if (resp.status != 200) {
        code = dh_grpc_code_from_http(resp.status);
        message = dh_xasprintf("HTTP status %ld without grpc-status", resp.status);
    } else {
        code = DH_GRPC_INTERNAL;
        message = dh_xstrdup("the reply ended without a grpc-status");
    }
    if (ret_code)
        *ret_code = code;
    if (code != DH_GRPC_OK) {
        if (!message)
            message = status_message(dh_http_header(&resp, "grpc-message"));
        dh_error_make(err, dh_grpc_code_errno(code), "%s: rpc error: code = %s desc = %s",
                      call->method + 1, dh_grpc_code_name(code), message);
        goto out;
    }
    ctype = dh_http_header(&resp, "content-type");
    if (resp.status != 200 || !ctype || strncmp(ctype, "application/grpc", 16) != 0 ||
        (ctype[16] != '\0' && ctype[16] != '+' && ctype[16] != ';')) {
        if (ret_code)
            *ret_code = DH_GRPC_INTERNAL;
        dh_error_make(err, EPROTO, "%s: the reply is not gRPC (HTTP %ld, content-type '%.64s')",
                      call->method + 1, resp.status, ctype ? ctype : "");
        goto out;
    }
    if (dh_grpc_frame_decode(resp.body.data, resp.body.len, &msg, &msg_len, err) < 0) {
        if (ret_code)
            *ret_code = DH_GRPC_INTERNAL;
        dh_error_wrap(err, "%s", call->method + 1);
        goto out;
    }
    if (dh_buf_append(ret_msg, msg, msg_len, err) < 0)
        goto out;
    r = 0;
out:
    dh_http_response_release(&resp);
    if (r < 0)
        dh_buf_release(ret_msg);
    return r;
}
