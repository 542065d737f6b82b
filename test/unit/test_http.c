/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the libcurl-backed HTTP client against test/fake/httpd.py (HTTPS with a test CA,
 * mutual TLS, plain HTTP and a unix socket). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/http.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"

#include "t.h"

#ifndef DH_VERSION
#    define DH_VERSION "unknown"
#endif

static char tmpdir[] = "/tmp/dockhand-http-XXXXXX";
static bool fake_up;
static pid_t fake_pid = -1;
static int fake_stdin = -1;
static long port_https, port_mtls, port_http;
static char *sock_path;
static char *ca_file, *other_ca_file;
static char *ca_pem, *other_ca_pem, *client_cert_pem, *client_key_pem;

/* ---- helpers ---- */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *url(const char *scheme, long port, const char *path)
{
    static __thread char buf[4][256];
    static __thread int next;
    char *b = buf[next++ % 4];

    snprintf(b, sizeof(buf[0]), "%s://127.0.0.1:%ld%s", scheme, port, path);
    return b;
}

/* Runs the request; on failure prints the error, and hands it over in *ret_err when asked. */
static int run(const struct dh_http_request *req, struct dh_http_response *resp,
               struct dh_error **ret_err)
{
    struct dh_error *err = NULL;
    int r = dh_http_do(req, resp, &err);

    if (r < 0) {
        printf("# %s: error (%d): %s\n", req->url ? req->url : "(no url)", err->status, err->msg);
        if (ret_err)
            *ret_err = err;
        else
            dh_error_free(&err);
    }
    return r;
}

/* The fake's /echo answer, parsed; NULL (test failed) when it is not one. */
static json_t *echo(const struct dh_http_response *resp)
{
    json_t *j;

    if (resp->status != 200 || !resp->body.data) {
        printf("# echo: status %ld\n", resp->status);
        return NULL;
    }
    j = json_loads(resp->body.data, 0, NULL);
    if (!j)
        printf("# echo: not JSON\n");
    return j;
}

/* Value of the request header the fake received, or NULL. */
static const char *echo_header(json_t *j, const char *name)
{
    json_t *h;
    size_t i;

    json_array_foreach (json_object_get(j, "headers"), i, h) {
        if (!strcasecmp(json_string_value(json_array_get(h, 0)), name))
            return json_string_value(json_array_get(h, 1));
    }
    return NULL;
}

static const char *jstr(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static long long jint(json_t *j, const char *key)
{
    return json_integer_value(json_object_get(j, key));
}

static char *read_text(const char *path)
{
    struct dh_buf b = DH_BUF_INIT(1 << 20);

    if (dh_read_file(path, &b, NULL) < 0)
        return NULL;
    return dh_buf_steal(&b, NULL);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static long closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    long port;

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return 1;
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    _cleanup_free_ char *copy = dh_xstrdup(path ? path : "/usr/bin:/bin");
    char *save = NULL, *dir;

    for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *p = dh_xasprintf("%s/%s", dir, prog);

        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

/* The repository root: $DOCKHAND_ROOT, the working directory, or two levels above this binary
   (build/test/test_http). */
static char *find_root(void)
{
    const char *env = getenv("DOCKHAND_ROOT");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env)
        return dh_xstrdup(env);
    if (access("test/fake/httpd.py", R_OK) == 0)
        return dh_xstrdup(".");
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *root, *p;

        exe[n] = '\0';
        for (int up = 0; up < 3 && (p = strrchr(exe, '/')); up++)
            *p = '\0';
        root = dh_xstrdup(exe);
        p = dh_xasprintf("%s/test/fake/httpd.py", root);
        if (access(p, R_OK) == 0) {
            free(p);
            return root;
        }
        free(p);
        free(root);
    }
    return NULL;
}

static void stop_fake(void)
{
    int status;

    if (fake_stdin >= 0)
        close(fake_stdin); /* the fake exits at end of file on its stdin */
    fake_stdin = -1;
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, &status, 0);
    }
    fake_pid = -1;
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            _cleanup_free_ char *p = dh_xasprintf("%s/%s", tmpdir, e->d_name);

            unlink(p);
        }
    }
    closedir(d);
    rmdir(tmpdir);
}

/* ---- tests ---- */

static void test_not_loaded_before_first_request(void)
{
    struct dh_http_request req = {.url = NULL};
    struct dh_http_response resp;
    _cleanup_error_ struct dh_error *err = NULL;

    T_ASSERT(!dh_http_loaded());
    /* A request refused before any I/O does not load libcurl either. */
    T_EQ_INT(dh_http_do(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_http_response_release(&resp);
    T_ASSERT(!dh_http_loaded());
}

static void test_fake_server_starts(void)
{
    _cleanup_free_ char *root = NULL, *script = NULL;
    int in[2], out[2];
    char line[1024];
    size_t len = 0;
    json_t *j;

    if (!in_path("python3"))
        T_FAIL_AT("python3 is not in PATH: install it (hack/install-deps.sh)");
    if (!in_path("openssl"))
        T_FAIL_AT("openssl is not in PATH: install it (hack/install-deps.sh)");
    root = find_root();
    if (!root)
        T_FAIL_AT("cannot find test/fake/httpd.py: set DOCKHAND_ROOT to the repository root");
    T_REQUIRE(root && in_path("python3") && in_path("openssl"));
    script = dh_xasprintf("%s/test/fake/httpd.py", root);
    T_REQUIRE(mkdtemp(tmpdir) != NULL);
    sock_path = dh_xasprintf("%s/sock", tmpdir);
    T_REQUIRE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
    fake_pid = fork();
    T_REQUIRE(fake_pid >= 0);
    if (fake_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execlp("python3", "python3", script, "--certs", tmpdir, "--unix", sock_path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fake_stdin = in[1];
    /* One JSON line with the ports, once every listener is up. */
    for (;;) {
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        ssize_t n;

        if (poll(&pfd, 1, 20000) <= 0)
            break;
        n = read(out[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(line, '\n', len) || len == sizeof(line) - 1)
            break;
    }
    close(out[0]);
    line[len] = '\0';
    j = json_loads(line, 0, NULL);
    if (!j)
        T_FAIL_AT("the fake server did not start (its error is on stderr)");
    T_REQUIRE(j);
    port_https = (long)jint(j, "https");
    port_mtls = (long)jint(j, "mtls");
    port_http = (long)jint(j, "http");
    json_decref(j);
    T_REQUIRE(port_https > 0 && port_mtls > 0 && port_http > 0);

    ca_file = dh_xasprintf("%s/ca.pem", tmpdir);
    other_ca_file = dh_xasprintf("%s/other-ca.pem", tmpdir);
    ca_pem = read_text(ca_file);
    other_ca_pem = read_text(other_ca_file);
    {
        _cleanup_free_ char *c = dh_xasprintf("%s/client.pem", tmpdir);
        _cleanup_free_ char *k = dh_xasprintf("%s/client.key", tmpdir);

        client_cert_pem = read_text(c);
        client_key_pem = read_text(k);
    }
    T_REQUIRE(ca_pem && other_ca_pem && client_cert_pem && client_key_pem);
    fake_up = true;
}

static void test_get_https_with_ca_file(void)
{
    const char *u = url("https", port_https, "/echo?x=1&y=2");
    struct dh_http_request req = {.url = u, .ca_file = ca_file};
    struct dh_http_response resp;
    json_t *j;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_ASSERT(dh_http_loaded());
    j = echo(&resp);
    if (j) {
        T_EQ_STR(jstr(j, "method"), "GET");
        T_EQ_STR(jstr(j, "path"), "/echo");
        T_EQ_STR(jstr(j, "query"), "x=1&y=2");
        T_ASSERT(json_is_true(json_object_get(j, "tls")));
        T_EQ_STR(echo_header(j, "User-Agent"), "dockhand/" DH_VERSION);
        T_ASSERT(echo_header(j, "Accept-Encoding") == NULL);
        T_ASSERT(echo_header(j, "Content-Length") == NULL);
        json_decref(j);
    }
    T_EQ_STR(dh_http_header(&resp, "content-TYPE"), "application/json");
    T_ASSERT(!resp.body.secret);
    T_ASSERT(resp.body.data[resp.body.len] == '\0');
    dh_http_response_release(&resp);
    T_ASSERT(resp.body.data == NULL && resp.headers == NULL && resp.n_headers == 0);
}

static void test_methods_and_bodies(void)
{
    static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE"};
    size_t i;

    T_REQUIRE(fake_up);
    for (i = 0; i < DH_ARRAY_SIZE(methods); i++) {
        _cleanup_free_ char *body = dh_xasprintf("payload of %s\n\x01\xff", methods[i]);
        struct dh_http_request req = {.method = methods[i],
                                      .url = url("https", port_https, "/echo"),
                                      .ca_file = ca_file,
                                      .body = body,
                                      .body_len = strlen(body)};
        struct dh_http_response resp;
        json_t *j;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        j = echo(&resp);
        if (j) {
            T_EQ_STR(jstr(j, "method"), methods[i]);
            T_EQ_INT(jint(j, "body_len"), strlen(body));
            T_ASSERT(!memcmp(jstr(j, "body"), body, strlen(body) - 1)); /* latin-1: ASCII part */
            /* no Content-Type unless given (curl's default would be form-urlencoded) */
            T_ASSERT(echo_header(j, "Content-Type") == NULL);
            json_decref(j);
        }
        dh_http_response_release(&resp);
    }

    /* POST without a body: an empty one, with Content-Length: 0; a given Content-Type is sent. */
    {
        const char *hdrs[] = {"Content-Type: application/json", NULL};
        struct dh_http_request req = {.method = "POST",
                                      .url = url("https", port_https, "/echo"),
                                      .ca_file = ca_file,
                                      .headers = hdrs};
        struct dh_http_response resp;
        json_t *j;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        j = echo(&resp);
        if (j) {
            T_EQ_STR(jstr(j, "method"), "POST");
            T_EQ_STR(echo_header(j, "Content-Length"), "0");
            T_EQ_STR(echo_header(j, "Content-Type"), "application/json");
            json_decref(j);
        }
        dh_http_response_release(&resp);
    }

    /* DELETE and GET without a body send none. */
    {
        struct dh_http_request req = {
                .method = "DELETE", .url = url("https", port_https, "/echo"), .ca_file = ca_file};
        struct dh_http_response resp;
        json_t *j;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        j = echo(&resp);
        if (j) {
            T_EQ_STR(jstr(j, "method"), "DELETE");
            T_EQ_INT(jint(j, "body_len"), 0);
            json_decref(j);
        }
        dh_http_response_release(&resp);
    }

    /* HEAD: the status and headers, no body. */
    {
        struct dh_http_request req = {
                .method = "HEAD", .url = url("https", port_https, "/headers"), .ca_file = ca_file};
        struct dh_http_response resp;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        T_EQ_INT(resp.status, 200);
        T_EQ_INT(resp.body.len, 0);
        T_EQ_STR(resp.body.data, "");
        T_EQ_STR(dh_http_header(&resp, "X-One"), "1");
        dh_http_response_release(&resp);
    }
}

static void test_request_headers(void)
{
    const char *hdrs[] = {"Authorization: Bearer abc.def", "X-Custom:  v1", "Accept:", NULL};
    struct dh_http_request req = {
            .url = url("https", port_https, "/echo"), .ca_file = ca_file, .headers = hdrs};
    struct dh_http_response resp;
    json_t *j;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    j = echo(&resp);
    if (j) {
        T_EQ_STR(echo_header(j, "Authorization"), "Bearer abc.def");
        T_EQ_STR(echo_header(j, "X-Custom"), "v1");
        T_ASSERT(echo_header(j, "Accept") == NULL); /* "Accept:" removed curl's */
        json_decref(j);
    }
    dh_http_response_release(&resp);

    /* Header injection and malformed headers are refused, without echoing them. */
    {
        const char *bad[][2] = {{"X-Ok: 1", "X-Bad: a\r\nX-Injected: secret1"},
                                {"NoColonSecret2", NULL},
                                {": secret3", NULL},
                                {"Bad Name: secret4", NULL}};
        size_t i;

        for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
            const char *h[3] = {bad[i][0], bad[i][1], NULL};
            _cleanup_error_ struct dh_error *err = NULL;

            req.headers = h;
            T_EQ_INT(dh_http_do(&req, &resp, &err), -1);
            T_ASSERT(err && err->status == EINVAL);
            T_ASSERT(err && !strstr(err->msg, "secret"));
            dh_http_response_release(&resp);
        }
    }
}

static void test_response_headers(void)
{
    struct dh_http_request req = {.url = url("https", port_https, "/headers"), .ca_file = ca_file};
    struct dh_http_response resp;
    size_t i, dups = 0;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_EQ_INT(resp.status, 200);
    T_EQ_STR(resp.body.data, "ok");
    T_EQ_STR(dh_http_header(&resp, "x-one"), "1");
    T_EQ_STR(dh_http_header(&resp, "X-Dup"), "a"); /* the first of several */
    T_EQ_STR(dh_http_header(&resp, "X-Padded"), "padded value");
    T_ASSERT(dh_http_header(&resp, "X-Missing") == NULL);
    for (i = 0; i < resp.n_headers; i++) {
        if (!strcmp(resp.headers[i].name, "X-Dup"))
            dups++;
        T_ASSERT(!strchr(resp.headers[i].value, '\r') && !strchr(resp.headers[i].value, '\n'));
    }
    T_EQ_INT(dups, 2);
    dh_http_response_release(&resp);
}

static void test_expect_100_keeps_final_headers(void)
{
    size_t n = (size_t)3 << 19; /* 1.5 MiB: curl sends Expect: 100-continue */
    _cleanup_free_ char *body = dh_xmalloc(n);
    struct dh_http_request req = {.method = "PUT",
                                  .url = url("https", port_https, "/echo"),
                                  .ca_file = ca_file,
                                  .body = body,
                                  .body_len = n};
    struct dh_http_response resp;
    json_t *j;

    T_REQUIRE(fake_up);
    memset(body, 'b', n);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    j = echo(&resp);
    if (j) {
        T_EQ_STR(echo_header(j, "Expect"), "100-continue");
        T_EQ_INT(jint(j, "body_len"), n);
        json_decref(j);
    }
    /* The interim 100 response carried X-Interim: only the final response's headers are kept. */
    T_ASSERT(dh_http_header(&resp, "X-Interim") == NULL);
    T_EQ_STR(dh_http_header(&resp, "Content-Type"), "application/json");
    dh_http_response_release(&resp);
}

static void test_ca_pem(void)
{
    struct dh_http_request req = {.url = url("https", port_https, "/echo"), .ca_pem = ca_pem};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    _cleanup_free_ char *want = dh_xasprintf("TLS error with '127.0.0.1:%ld': ", port_https);

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_EQ_INT(resp.status, 200);
    dh_http_response_release(&resp);

    /* A CA that did not sign the server's certificate. */
    req.ca_pem = other_ca_pem;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EPROTO && !strncmp(err->msg, want, strlen(want)));
    dh_error_free(&err);
    dh_http_response_release(&resp);

    req.ca_pem = NULL;
    req.ca_file = other_ca_file;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EPROTO && !strncmp(err->msg, want, strlen(want)));
    dh_error_free(&err);
    dh_http_response_release(&resp);

    /* Both at once is a caller error. */
    req.ca_pem = ca_pem;
    req.ca_file = ca_file;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    dh_http_response_release(&resp);
}

static void test_unknown_ca_fails(void)
{
    struct dh_http_request req = {.url = url("https", port_https, "/echo")};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    _cleanup_free_ char *want = dh_xasprintf("TLS error with '127.0.0.1:%ld': ", port_https);

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EPROTO && !strncmp(err->msg, want, strlen(want)));
    T_ASSERT(err && strstr(err->msg, "certificate"));
    dh_error_free(&err);
    dh_http_response_release(&resp);
}

static void test_insecure_skip_verify(void)
{
    struct dh_http_request req = {.url = url("https", port_https, "/echo"),
                                  .insecure_skip_verify = true};
    struct dh_http_response resp;
    struct dh_error *err = NULL;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_EQ_INT(resp.status, 200);
    dh_http_response_release(&resp);

    /* The unverified connection is not reused by a verifying request. */
    req.insecure_skip_verify = false;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EPROTO);
    dh_error_free(&err);
    dh_http_response_release(&resp);
}

static void test_http_needs_allow_http(void)
{
    struct dh_http_request req = {.url = url("http", port_http, "/echo?token=secret5")};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    _cleanup_free_ char *want =
            dh_xasprintf("refusing plain http to '127.0.0.1:%ld': https required", port_http);
    json_t *j;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EPERM);
    T_ASSERT(err && !strcmp(err->msg, want));
    dh_error_free(&err);
    dh_http_response_release(&resp);

    req.allow_http = true;
    T_EQ_INT(run(&req, &resp, NULL), 0);
    j = echo(&resp);
    if (j) {
        T_ASSERT(json_is_false(json_object_get(j, "tls")));
        json_decref(j);
    }
    dh_http_response_release(&resp);

    /* Other schemes never. */
    req.url = "ftp://127.0.0.1/x";
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EPROTONOSUPPORT);
    dh_error_free(&err);
    dh_http_response_release(&resp);
}

static void test_redirect_not_followed(void)
{
    struct dh_http_request req = {.url = url("https", port_https, "/redirect"), .ca_file = ca_file};
    struct dh_http_response resp;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_EQ_INT(resp.status, 302);
    T_EQ_STR(dh_http_header(&resp, "Location"), "/echo");
    T_EQ_STR(resp.body.data, "redirecting");
    dh_http_response_release(&resp);
}

static void test_error_statuses_are_returned(void)
{
    static const long statuses[] = {204, 401, 404, 500, 503};
    size_t i;

    T_REQUIRE(fake_up);
    for (i = 0; i < DH_ARRAY_SIZE(statuses); i++) {
        char path[32];
        struct dh_http_request req = {.url = NULL, .ca_file = ca_file};
        struct dh_http_response resp;

        snprintf(path, sizeof(path), "/status/%ld", statuses[i]);
        req.url = url("https", port_https, path);
        T_EQ_INT(run(&req, &resp, NULL), 0);
        T_EQ_INT(resp.status, statuses[i]);
        T_EQ_STR(dh_http_header(&resp, "X-Route"), "status");
        if (statuses[i] != 204) {
            snprintf(path, sizeof(path), "status %ld", statuses[i]);
            T_EQ_STR(resp.body.data, path);
        }
        dh_http_response_release(&resp);
    }
}

static void test_body_cap(void)
{
    static const char *const paths[] = {"/big?n=100000", "/big?n=100000&chunked=1"};
    _cleanup_free_ char *want =
            dh_xasprintf("response from '127.0.0.1:%ld' larger than 1000 bytes", port_https);
    size_t i;

    T_REQUIRE(fake_up);
    /* With a Content-Length (refused up front) and chunked (refused in the write callback). */
    for (i = 0; i < DH_ARRAY_SIZE(paths); i++) {
        struct dh_http_request req = {
                .url = url("https", port_https, paths[i]), .ca_file = ca_file, .max_body = 1000};
        struct dh_http_response resp;
        struct dh_error *err = NULL;

        T_EQ_INT(run(&req, &resp, &err), -1);
        T_ASSERT(err && err->status == E2BIG && !strcmp(err->msg, want));
        T_ASSERT(resp.body.len == 0 && resp.n_headers == 0); /* nothing partial */
        dh_error_free(&err);
        dh_http_response_release(&resp);
    }
    /* HEAD announces a body larger than the cap, and sends none: fine. */
    {
        struct dh_http_request req = {.method = "HEAD",
                                      .url = url("https", port_https, "/big?n=100000"),
                                      .ca_file = ca_file,
                                      .max_body = 1000};
        struct dh_http_response resp;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        T_EQ_INT(resp.status, 200);
        T_EQ_STR(dh_http_header(&resp, "Content-Length"), "100000");
        T_EQ_INT(resp.body.len, 0);
        dh_http_response_release(&resp);
    }
    /* Exactly the cap is fine. */
    {
        struct dh_http_request req = {.url = url("https", port_https, "/big?n=1000&chunked=1"),
                                      .ca_file = ca_file,
                                      .max_body = 1000};
        struct dh_http_response resp;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        T_EQ_INT(resp.body.len, 1000);
        T_ASSERT(resp.body.data && !strncmp(resp.body.data, "0123456789", 10));
        dh_http_response_release(&resp);
    }
}

static void test_timeouts(void)
{
    struct dh_http_request req = {.url = url("https", port_https, "/sleep?ms=5000"),
                                  .ca_file = ca_file,
                                  .timeout_ms = 500};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    _cleanup_free_ char *want =
            dh_xasprintf("timed out after 500 ms talking to '127.0.0.1:%ld'", port_https);
    long start = now_ms(), elapsed;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, &err), -1);
    elapsed = now_ms() - start;
    T_ASSERT(err && err->status == ETIMEDOUT && !strcmp(err->msg, want));
    T_ASSERT(elapsed >= 450 && elapsed < 3000);
    dh_error_free(&err);
    dh_http_response_release(&resp);

    /* Connect time-out: a listener whose accept queue is full drops the SYN. */
    {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[3], k;
        struct dh_http_request creq = {.ca_file = ca_file, .connect_timeout_ms = 300};
        _cleanup_free_ char *cwant = NULL;

        T_REQUIRE(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                  listen(lfd, 0) == 0 && getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
        for (k = 0; k < 3; k++) {
            fill[k] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            (void)connect(fill[k], (struct sockaddr *)&sa, sizeof(sa));
        }
        usleep(50000);
        creq.url = url("https", ntohs(sa.sin_port), "/");
        cwant = dh_xasprintf("timed out after 300 ms connecting to '127.0.0.1:%d'",
                             ntohs(sa.sin_port));
        start = now_ms();
        T_EQ_INT(run(&creq, &resp, &err), -1);
        elapsed = now_ms() - start;
        T_ASSERT(err && err->status == ETIMEDOUT && !strcmp(err->msg, cwant));
        T_ASSERT(elapsed >= 250 && elapsed < 3000);
        dh_error_free(&err);
        dh_http_response_release(&resp);
        for (k = 0; k < 3; k++)
            close(fill[k]);
        close(lfd);
    }
}

static void test_client_certificate(void)
{
    struct dh_http_request req = {.url = url("https", port_mtls, "/echo"), .ca_pem = ca_pem};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    _cleanup_free_ char *host = dh_xasprintf("'127.0.0.1:%ld'", port_mtls);
    json_t *j;

    T_REQUIRE(fake_up);
    /* Required and missing: the server's alert arrives after the TLS 1.3 handshake, or the
       connection is gone before curl reads it (a timing matter). */
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && (err->status == EPROTO || err->status == ECONNRESET) && strstr(err->msg, host));
    dh_error_free(&err);
    dh_http_response_release(&resp);

    /* Given in memory. */
    req.client_cert_pem = client_cert_pem;
    req.client_key_pem = client_key_pem;
    T_EQ_INT(run(&req, &resp, NULL), 0);
    j = echo(&resp);
    if (j) {
        T_EQ_STR(jstr(j, "client_cn"), "dockhand-test-client");
        json_decref(j);
    }
    dh_http_response_release(&resp);

    /* A certificate without its key is a caller error. */
    req.client_key_pem = NULL;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    dh_http_response_release(&resp);
}

static void test_unix_socket(void)
{
    struct dh_http_request req = {
            .url = "http://localhost/echo", .unix_socket = sock_path, .allow_http = true};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    _cleanup_free_ char *missing = dh_xasprintf("%s/nothing", tmpdir);
    json_t *j;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    j = echo(&resp);
    if (j) {
        T_EQ_STR(jstr(j, "transport"), "unix");
        T_EQ_STR(echo_header(j, "Host"), "localhost");
        json_decref(j);
    }
    dh_http_response_release(&resp);

    req.unix_socket = missing;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == ECONNREFUSED &&
             !strncmp(err->msg, "cannot connect to 'localhost' (unix socket '", 44));
    dh_error_free(&err);
    dh_http_response_release(&resp);
}

struct stream_state {
    size_t total;
    size_t calls;
    bool pattern_ok;
    size_t stop_after; /* 0 = never */
};

static int on_body(void *arg, const char *data, size_t len, struct dh_error **err)
{
    struct stream_state *s = arg;
    size_t i;

    for (i = 0; i < len; i++) {
        if (data[i] != (char)('0' + (s->total + i) % 10))
            s->pattern_ok = false;
    }
    s->total += len;
    s->calls++;
    if (s->stop_after && s->total >= s->stop_after)
        return dh_error_make(err, ECANCELED, "stopped by the consumer");
    return 0;
}

static void test_on_body_streaming(void)
{
    struct stream_state s = {.pattern_ok = true};
    struct dh_http_request req = {.url = url("https", port_https, "/big?n=300000&chunked=1"),
                                  .ca_file = ca_file,
                                  .on_body = on_body,
                                  .on_body_arg = &s};
    struct dh_http_response resp;
    struct dh_error *err = NULL;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_EQ_INT(resp.status, 200);
    T_EQ_INT(s.total, 300000);
    T_ASSERT(s.calls > 1);
    T_ASSERT(s.pattern_ok);
    T_EQ_INT(resp.body.len, 0);
    dh_http_response_release(&resp);

    /* The consumer's error ends the transfer and comes back as it is. */
    s = (struct stream_state){.pattern_ok = true, .stop_after = 1};
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == ECANCELED && !strcmp(err->msg, "stopped by the consumer"));
    T_ASSERT(s.total < 300000);
    dh_error_free(&err);
    dh_http_response_release(&resp);

    /* max_body caps a stream too. */
    s = (struct stream_state){.pattern_ok = true};
    req.max_body = 100000;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == E2BIG);
    T_ASSERT(s.total <= 100000);
    dh_error_free(&err);
    dh_http_response_release(&resp);
}

/* Captures stderr (the log) around one request. */
static char *logged_request(const struct dh_http_request *req, int *ret)
{
    char path[] = "/tmp/dockhand-http-log-XXXXXX";
    int fd = mkstemp(path), saved;
    struct dh_http_response resp;

    fflush(stderr);
    saved = dup(2);
    dup2(fd, 2);
    dh_log_set_level(DH_LOG_DEBUG);
    *ret = run(req, &resp, NULL);
    dh_http_response_release(&resp);
    dh_log_set_level(DH_LOG_WARN);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    {
        char *text = read_text(path);

        unlink(path);
        return text;
    }
}

static void test_errors_and_log_name_host_without_secrets(void)
{
    long dead = closed_port();
    _cleanup_free_ char *u1 =
            dh_xasprintf("https://user:hunter2@127.0.0.1:%ld/x?token=SECRET123", dead);
    _cleanup_free_ char *u2 =
            dh_xasprintf("https://127.0.0.1:%ld/echo?token=SECRET123", port_https);
    _cleanup_free_ char *want = dh_xasprintf("cannot connect to '127.0.0.1:%ld': ", dead);
    _cleanup_free_ char *logged = NULL, *logged_fail = NULL;
    struct dh_http_request req = {.url = u1, .ca_file = ca_file};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    int r;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == ECONNREFUSED && !strncmp(err->msg, want, strlen(want)));
    T_ASSERT(err && !strstr(err->msg, "SECRET123") && !strstr(err->msg, "hunter2") &&
             !strstr(err->msg, "user"));
    dh_error_free(&err);
    dh_http_response_release(&resp);

    /* A TLS failure with a secret query. */
    req.url = u2;
    req.ca_file = other_ca_file;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && strstr(err->msg, "'127.0.0.1:") && !strstr(err->msg, "SECRET123"));
    dh_error_free(&err);
    dh_http_response_release(&resp);

    /* Debug log: method, scheme://host/path, status, time; no query, no header value. */
    {
        const char *hdrs[] = {"Authorization: Bearer SECRET456", NULL};

        req.ca_file = ca_file;
        req.headers = hdrs;
        logged = logged_request(&req, &r);
        T_EQ_INT(r, 0);
        req.url = u1;
        logged_fail = logged_request(&req, &r);
        T_EQ_INT(r, -1);
    }
    T_REQUIRE(logged && logged_fail);
    {
        _cleanup_free_ char *line =
                dh_xasprintf("GET https://127.0.0.1:%ld/echo: 200 in ", port_https);
        _cleanup_free_ char *fline =
                dh_xasprintf("GET https://127.0.0.1:%ld/x failed after ", dead);

        if (!strstr(logged, line))
            printf("# log: %s", logged);
        T_ASSERT(strstr(logged, line));
        if (!strstr(logged_fail, fline))
            printf("# log: %s", logged_fail);
        T_ASSERT(strstr(logged_fail, fline));
    }
    T_ASSERT(!strstr(logged, "SECRET") && !strstr(logged_fail, "SECRET"));
    T_ASSERT(!strstr(logged_fail, "hunter2"));
}

static void test_secret_body(void)
{
    struct dh_http_request req = {
            .url = url("https", port_https, "/echo"), .ca_file = ca_file, .secret_body = true};
    struct dh_http_response resp;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_ASSERT(resp.body.secret);
    T_ASSERT(resp.body.len > 0);
    dh_http_response_release(&resp);
}

static void test_connection_reused(void)
{
    struct dh_http_request req = {.url = url("https", port_https, "/echo"), .ca_file = ca_file};
    struct dh_http_response resp;
    long long port[2] = {0, 0};
    int i;

    T_REQUIRE(fake_up);
    for (i = 0; i < 2; i++) {
        json_t *j;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        j = echo(&resp);
        if (j) {
            port[i] = jint(j, "client_port");
            json_decref(j);
        }
        dh_http_response_release(&resp);
    }
    T_ASSERT(port[0] > 0 && port[0] == port[1]);
}

static void test_no_proxy(void)
{
    _cleanup_free_ char *proxy = dh_xasprintf("http://127.0.0.1:%ld", closed_port());
    struct dh_http_request req = {.url = url("https", port_https, "/echo"), .ca_file = ca_file};
    struct dh_http_response resp;
    struct dh_error *err = NULL;

    T_REQUIRE(fake_up);
    setenv("https_proxy", proxy, 1);
    T_EQ_INT(run(&req, &resp, &err), -1); /* through a proxy that is not there */
    dh_error_free(&err);
    dh_http_response_release(&resp);
    req.no_proxy = true;
    T_EQ_INT(run(&req, &resp, NULL), 0);
    T_EQ_INT(resp.status, 200);
    dh_http_response_release(&resp);
    unsetenv("https_proxy");
}

static void test_bad_requests(void)
{
    static const char *const urls[] = {"not a url", "https://", "/just/a/path", ""};
    struct dh_http_request req = {.method = "TRACE", .url = url("https", port_https, "/echo")};
    struct dh_http_response resp;
    struct dh_error *err = NULL;
    size_t i;

    T_REQUIRE(fake_up);
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    dh_http_response_release(&resp);

    req.method = "HEAD";
    req.body = "x";
    req.body_len = 1;
    T_EQ_INT(run(&req, &resp, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    dh_http_response_release(&resp);

    req.method = NULL;
    req.body = NULL;
    req.body_len = 0;
    for (i = 0; i < DH_ARRAY_SIZE(urls); i++) {
        req.url = urls[i];
        T_EQ_INT(run(&req, &resp, &err), -1);
        T_ASSERT(err && err->status == EINVAL);
        dh_error_free(&err);
        dh_http_response_release(&resp);
    }
}

/* ---- concurrency: the shared handle is busy, a second one is used ---- */

static void *thread_main(void *arg)
{
    long *ok = arg;
    int i;

    for (i = 0; i < 3; i++) {
        struct dh_http_request req = {.url = url("https", port_https, "/sleep?ms=50"),
                                      .ca_file = ca_file};
        struct dh_http_response resp;
        struct dh_error *err = NULL;

        if (dh_http_do(&req, &resp, &err) == 0 && resp.status == 200 &&
            !strcmp(resp.body.data, "slept"))
            (*ok)++;
        dh_error_free(&err);
        dh_http_response_release(&resp);
    }
    return NULL;
}

struct nested {
    int r;
    long status;
};

static int nested_on_body(void *arg, const char *data DH_UNUSED, size_t len DH_UNUSED,
                          struct dh_error **err DH_UNUSED)
{
    struct nested *n = arg;
    struct dh_http_request req = {.url = NULL, .ca_file = ca_file};
    struct dh_http_response resp;

    if (n->r != 1)
        return 0;
    req.url = url("https", port_https, "/status/201");
    n->r = run(&req, &resp, NULL);
    n->status = resp.status;
    dh_http_response_release(&resp);
    return 0;
}

static void test_concurrent_and_nested_requests(void)
{
    pthread_t th[3];
    long ok[3] = {0, 0, 0};
    struct nested n = {.r = 1};
    int i;

    T_REQUIRE(fake_up);
    for (i = 0; i < 3; i++)
        T_REQUIRE(pthread_create(&th[i], NULL, thread_main, &ok[i]) == 0);
    for (i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        T_EQ_INT(ok[i], 3);
    }

    /* A request made from inside on_body. */
    {
        struct dh_http_request req = {.url = url("https", port_https, "/echo"),
                                      .ca_file = ca_file,
                                      .on_body = nested_on_body,
                                      .on_body_arg = &n};
        struct dh_http_response resp;

        T_EQ_INT(run(&req, &resp, NULL), 0);
        T_EQ_INT(n.r, 0);
        T_EQ_INT(n.status, 201);
        dh_http_response_release(&resp);
    }
}

int main(void)
{
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "all_proxy",
                                             "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                                             "no_proxy",   "NO_PROXY"};
    size_t i;
    int r;

    for (i = 0; i < DH_ARRAY_SIZE(proxy_vars); i++)
        unsetenv(proxy_vars[i]);

    T_RUN(test_not_loaded_before_first_request);
    T_RUN(test_fake_server_starts);
    T_RUN(test_get_https_with_ca_file);
    T_RUN(test_methods_and_bodies);
    T_RUN(test_request_headers);
    T_RUN(test_response_headers);
    T_RUN(test_expect_100_keeps_final_headers);
    T_RUN(test_ca_pem);
    T_RUN(test_unknown_ca_fails);
    T_RUN(test_insecure_skip_verify);
    T_RUN(test_http_needs_allow_http);
    T_RUN(test_redirect_not_followed);
    T_RUN(test_error_statuses_are_returned);
    T_RUN(test_body_cap);
    T_RUN(test_timeouts);
    T_RUN(test_client_certificate);
    T_RUN(test_unix_socket);
    T_RUN(test_on_body_streaming);
    T_RUN(test_errors_and_log_name_host_without_secrets);
    T_RUN(test_secret_body);
    T_RUN(test_connection_reused);
    T_RUN(test_no_proxy);
    T_RUN(test_bad_requests);
    T_RUN(test_concurrent_and_nested_requests);

    stop_fake();
    remove_tmpdir();
    free(sock_path);
    free(ca_file);
    free(other_ca_file);
    free(ca_pem);
    free(other_ca_pem);
    free(client_cert_pem);
    dh_str_free_wipe(client_key_pem);
    r = t_done();
    return r;
}
