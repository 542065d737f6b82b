/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's tiny HTTP/1.1 server (dockhand/metrics.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/mem.h"
#include "dockhand/metrics.h"

struct conn {
    int fd;
    size_t len;
    long long deadline;
    char req[DH_METRICS_MAX_REQUEST + 1];
};

struct dh_metrics_server {
    int fd;
    char bound[80];
    dh_metrics_render_cb render;
    void *arg;
    struct conn *conns[DH_METRICS_MAX_CONNS];
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dh_metrics_listen(const char *address, dh_metrics_render_cb render, void *arg,
                      struct dh_metrics_server **ret, struct dh_error **err)
{
    _cleanup_free_ char *host = NULL;
    const char *colon = strrchr(address, ':'), *port;
    struct addrinfo hints = {0}, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[64], p[16];
    int fd, one = 1, r;
    struct dh_metrics_server *s;

    if (!colon || !colon[1])
        return dh_error_make(err, EINVAL,
                             "invalid metrics address '%s' (want host:port, e.g. 127.0.0.1:9747)",
                             address);
    port = colon + 1;
    if (address[0] == '[') {
        if (colon == address || colon[-1] != ']')
            return dh_error_make(err, EINVAL, "invalid metrics address '%s'", address);
        host = dh_xstrndup(address + 1, (size_t)(colon - address - 2));
    } else {
        host = dh_xstrndup(address, (size_t)(colon - address));
        if (strchr(host, ':'))
            return dh_error_make(err, EINVAL,
                                 "invalid metrics address '%s' (an IPv6 host goes in brackets)",
                                 address);
    }
    if (!strcmp(host, "localhost")) {
        free(host);
        host = dh_xstrdup("127.0.0.1");
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    r = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
    if (r != 0)
        return dh_error_make(err, EINVAL, "invalid metrics address '%s': %s", address,
                             gai_strerror(r));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return dh_error_sys(err, errno, "cannot listen on '%s'", address);
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        freeaddrinfo(ai);
        close(fd);
        return dh_error_sys(err, e, "cannot listen on '%s'", address);
    }
    freeaddrinfo(ai);
    s = dh_xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->render = render;
    s->arg = arg;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(s->bound, sizeof(s->bound), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
    else
        snprintf(s->bound, sizeof(s->bound), "%s", address);
    *ret = s;
    return 0;
}

static void conn_close(struct dh_metrics_server *s, size_t i)
{
    close(s->conns[i]->fd);
    free(s->conns[i]);
    s->conns[i] = NULL;
}

void dh_metrics_close(struct dh_metrics_server *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < DH_METRICS_MAX_CONNS; i++)
        if (s->conns[i])
            conn_close(s, i);
    close(s->fd);
    free(s);
}

const char *dh_metrics_bound(const struct dh_metrics_server *s)
{
    return s->bound;
}

size_t dh_metrics_pollfds(struct dh_metrics_server *s, struct pollfd *fds)
{
    size_t i, n = 0;

    fds[n++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
    for (i = 0; i < DH_METRICS_MAX_CONNS; i++)
        if (s->conns[i])
            fds[n++] = (struct pollfd){.fd = s->conns[i]->fd, .events = POLLIN};
    return n;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) <= 0)
                return; /* a client that does not read gets a cut answer */
            continue;
        }
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(struct dh_metrics_server *s, struct conn *c)
{
    _cleanup_buf_ struct dh_buf body = DH_BUF_INIT(4u << 20);
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(4u << 20);
    char method[8] = "", path[256] = "";
    const char *ctype = "text/plain; charset=utf-8", *sp1, *sp2, *reason;
    int status;
    bool head = false;

    sp1 = memchr(c->req, ' ', c->len);
    sp2 = sp1 ? memchr(sp1 + 1, ' ', c->len - (size_t)(sp1 + 1 - c->req)) : NULL;
    if (!sp1 || !sp2 || (size_t)(sp1 - c->req) >= sizeof(method) ||
        (size_t)(sp2 - sp1 - 1) >= sizeof(path) || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        status = 400;
        (void)dh_buf_puts(&body, "bad request\n", NULL);
    } else {
        memcpy(method, c->req, (size_t)(sp1 - c->req));
        memcpy(path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
        path[strcspn(path, "?#")] = '\0';
        head = !strcmp(method, "HEAD");
        if (strcmp(method, "GET") && !head) {
            status = 405;
            (void)dh_buf_puts(&body, "method not allowed\n", NULL);
        } else {
            status = s->render(s->arg, path, &body, &ctype);
        }
    }
    reason = status == 200   ? "OK"
             : status == 400 ? "Bad Request"
             : status == 404 ? "Not Found"
             : status == 405 ? "Method Not Allowed"
             : status == 431 ? "Request Header Fields Too Large"
                             : "Service Unavailable";
    if (dh_buf_printf(&out, NULL,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n%s\r\n",
                      status, reason, ctype, body.len,
                      status == 405 ? "Allow: GET, HEAD\r\n" : "") < 0)
        return;
    if (!head && body.len && dh_buf_append(&out, body.data, body.len, NULL) < 0)
        return;
    send_all(c->fd, out.data, out.len);
}

int dh_metrics_handle(struct dh_metrics_server *s, const struct pollfd *fds, size_t n)
{
    long long now = now_ms(), next = -1;
    size_t i, k;

    for (k = 0; k < n; k++) {
        if (!fds[k].revents)
            continue;
        if (fds[k].fd == s->fd) {
            for (;;) {
                int cfd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0)
                    break;
                for (i = 0; i < DH_METRICS_MAX_CONNS && s->conns[i]; i++)
                    ;
                if (i == DH_METRICS_MAX_CONNS) {
                    close(cfd); /* full: the client retries */
                    continue;
                }
                s->conns[i] = dh_xcalloc(1, sizeof(struct conn));
                s->conns[i]->fd = cfd;
                s->conns[i]->deadline = now + DH_METRICS_IDLE_MS;
            }
            continue;
        }
        for (i = 0; i < DH_METRICS_MAX_CONNS; i++) {
            struct conn *c = s->conns[i];
            ssize_t r;

            if (!c || c->fd != fds[k].fd)
                continue;
            r = recv(c->fd, c->req + c->len, DH_METRICS_MAX_REQUEST - c->len, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (r <= 0) {
                conn_close(s, i);
                break;
            }
            c->len += (size_t)r;
            c->req[c->len] = '\0';
            if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
                respond(s, c);
                conn_close(s, i);
            } else if (c->len >= DH_METRICS_MAX_REQUEST) {
                static const char too_big[] =
                        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: "
                        "0\r\nConnection: close\r\n\r\n";
                send_all(c->fd, too_big, sizeof(too_big) - 1);
                conn_close(s, i);
            }
            break;
        }
    }
    for (i = 0; i < DH_METRICS_MAX_CONNS; i++) {
        if (!s->conns[i])
            continue;
        if (s->conns[i]->deadline <= now)
            conn_close(s, i);
        else if (next < 0 || s->conns[i]->deadline - now < next)
            next = s->conns[i]->deadline - now;
    }
    return (int)next;
}
