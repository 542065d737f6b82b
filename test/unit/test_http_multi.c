/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: parallel blob transfers (dh_http_multi) against test/fake/misbehaving-proxy.py
   serving blobs from a directory: parallelism and connection reuse, Range resume after a
   dropped connection, a flipped byte, 429 + Retry-After, 503, a redirect to another port
   re-issued without Authorization, a server ignoring Range, body caps; Retry-After parsing
   and URL helpers. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/crypto.h"
#include "dockhand/fsutil.h"
#include "dockhand/http.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"
#include "t.h"

#define NBLOBS    8
#define BLOB_SIZE 200000

static char tmp[128];
static pid_t proxy_pid = -1;
static int proxy_stdin = -1;
static long port, storage_port;
static char *blobs[NBLOBS];   /* contents */
static char *digests[NBLOBS]; /* sha256:... */
static bool up;

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *find_script(void)
{
    const char *env = getenv("DOCKHAND_ROOT");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env)
        return dh_xasprintf("%s/test/fake/misbehaving-proxy.py", env);
    if (access("test/fake/misbehaving-proxy.py", R_OK) == 0)
        return dh_xstrdup("test/fake/misbehaving-proxy.py");
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *p;

        exe[n] = '\0';
        for (int i = 0; i < 3 && (p = strrchr(exe, '/')); i++)
            *p = '\0';
        return dh_xasprintf("%s/test/fake/misbehaving-proxy.py", exe);
    }
    return NULL;
}

static char *blob_url(int i)
{
    return dh_xasprintf("http://127.0.0.1:%ld/v2/test/repo/blobs/%s", port, digests[i]);
}

/* POST or GET on the proxy's control endpoints; returns the parsed JSON answer. */
static json_t *control(const char *method, const char *path, const char *body)
{
    _cleanup_free_ char *u = dh_xasprintf("http://127.0.0.1:%ld%s", port, path);
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_http_request req = {
            .method = method,
            .url = u,
            .allow_http = true,
            .body = body,
            .body_len = body ? strlen(body) : 0,
            .headers = (const char *const[]){"Content-Type: application/json", NULL}};
    struct dh_http_response resp;
    json_t *j = NULL;

    if (dh_http_do(&req, &resp, &err) == 0 && resp.status == 200)
        j = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    dh_http_response_release(&resp);
    return j;
}

static void configure_proxy(const char *json)
{
    json_t *j = control("POST", "/_fake/config", json);

    if (!j)
        T_FAIL_AT("cannot configure the proxy with %s", json);
    json_decref(j);
}

static void test_proxy_starts(void)
{
    _cleanup_free_ char *script = find_script();
    int in[2], out[2];
    char line[256];
    size_t len = 0;
    json_t *j;

    T_REQUIRE(script && access(script, R_OK) == 0);
    T_REQUIRE(t_isolate(tmp, sizeof(tmp), "dh-http-multi") == 0);
    for (int i = 0; i < NBLOBS; i++) {
        _cleanup_error_ struct dh_error *err = NULL;
        _cleanup_free_ char *p = NULL;

        blobs[i] = dh_xmalloc(BLOB_SIZE);
        T_REQUIRE(dh_random_bytes(blobs[i], BLOB_SIZE, &err) == 0);
        digests[i] = dh_digest_sha256(blobs[i], BLOB_SIZE);
        p = dh_xasprintf("%s/%s", tmp, digests[i] + 7);
        T_REQUIRE(dh_write_file_atomic(p, blobs[i], BLOB_SIZE, 0644, false, &err) == 0);
    }
    T_REQUIRE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
    proxy_pid = fork();
    T_REQUIRE(proxy_pid >= 0);
    if (proxy_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execlp("python3", "python3", script, "--blob-dir", tmp, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    proxy_stdin = in[1];
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
    T_REQUIRE(j);
    port = (long)json_integer_value(json_object_get(j, "port"));
    storage_port = (long)json_integer_value(json_object_get(j, "storage_port"));
    json_decref(j);
    T_REQUIRE(port > 0 && storage_port > 0);
    up = true;
}

/* ---- a sink per transfer ---- */

struct sink {
    int idx;
    struct dh_sha256_ctx h;
    int64_t len;
    /* the outcome, copied by the done callback */
    long status;
    int err_status;
    char *err_msg;
    int64_t delivered;
    bool range_ignored;
    long new_connections;
    char *location;
    char *retry_after;
    char *body;
    int attempts;
    long finished_ms;
};

static int sink_body(void *arg, const char *data, size_t len, struct dh_error **err)
{
    struct sink *s = arg;

    (void)err;
    dh_sha256_update(&s->h, data, len);
    s->len += (int64_t)len;
    return 0;
}

static void sink_init(struct sink *s, int idx)
{
    memset(s, 0, sizeof(*s));
    s->idx = idx;
    dh_sha256_init(&s->h);
}

static void sink_reset_outcome(struct sink *s)
{
    free(s->err_msg);
    free(s->location);
    free(s->retry_after);
    free(s->body);
    s->err_msg = s->location = s->retry_after = s->body = NULL;
}

static char *sink_digest(struct sink *s)
{
    uint8_t md[DH_SHA256_LEN];
    _cleanup_free_ char *hex = NULL;

    dh_sha256_final(&s->h, md);
    hex = dh_hex(md, sizeof(md));
    return dh_xasprintf("sha256:%s", hex);
}

static int record_done(void *arg, struct dh_http_multi_result *r, struct dh_error **err)
{
    struct sink *s = r->tag;
    const char *v;

    (void)arg;
    (void)err;
    sink_reset_outcome(s);
    s->attempts++;
    s->finished_ms = now_ms();
    s->status = r->resp.status;
    s->err_status = r->err ? r->err->status : 0;
    s->err_msg = r->err ? dh_xstrdup(r->err->msg) : NULL;
    s->delivered = r->delivered;
    s->range_ignored = r->range_ignored;
    s->new_connections = r->new_connections;
    v = dh_http_header(&r->resp, "Location");
    s->location = v ? dh_xstrdup(v) : NULL;
    v = dh_http_header(&r->resp, "Retry-After");
    s->retry_after = v ? dh_xstrdup(v) : NULL;
    s->body = dh_xstrdup(r->resp.body.data ? r->resp.body.data : "");
    return 0;
}

static struct dh_http_multi_request blob_req(int i, struct sink *s, const char *const *headers)
{
    static __thread char *urls[NBLOBS];

    free(urls[i]);
    urls[i] = blob_url(i);
    return (struct dh_http_multi_request){.url = urls[i],
                                          .headers = headers,
                                          .max_body = BLOB_SIZE,
                                          .allow_http = true,
                                          .on_body = sink_body,
                                          .on_body_arg = s};
}

static void test_parallel_and_reuse(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_http_multi_options opt = {.max_concurrent = 4};
    struct dh_http_multi *m = NULL;
    struct sink s[NBLOBS];
    json_t *stats;
    long reused = 0;

    T_REQUIRE(up);
    configure_proxy("{\"delay_ms\": 300}");
    T_REQUIRE(dh_http_multi_new(&opt, &m, &err) == 0);
    for (int i = 0; i < NBLOBS; i++) {
        struct dh_http_multi_request req = blob_req(i, &s[i], NULL);

        sink_init(&s[i], i);
        T_REQUIRE(dh_http_multi_add(m, &req, &s[i], &err) == 0);
    }
    T_EQ_INT(dh_http_multi_pending(m), NBLOBS);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(dh_http_multi_pending(m), 0);
    for (int i = 0; i < NBLOBS; i++) {
        _cleanup_free_ char *d = sink_digest(&s[i]);

        T_EQ_INT(s[i].status, 200);
        T_ASSERT(s[i].err_msg == NULL);
        T_EQ_INT(s[i].delivered, BLOB_SIZE);
        T_EQ_STR(d, digests[i]);
        if (s[i].new_connections == 0)
            reused++;
        sink_reset_outcome(&s[i]);
    }
    /* 8 transfers over at most 4 connections: at least 4 reused one */
    T_ASSERT(reused >= NBLOBS - 4);
    stats = control("GET", "/_fake/stats", NULL);
    T_REQUIRE(stats);
    /* the proxy saw 4 blob GETs in flight at once, never more */
    T_EQ_INT(json_integer_value(json_object_get(stats, "max_inflight")), 4);
    json_decref(stats);
    dh_http_multi_free(m);
}

static void test_drop_then_resume_with_range(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *d = NULL;
    struct dh_http_multi *m = NULL;
    struct sink s;
    struct dh_http_multi_request req;

    T_REQUIRE(up);
    configure_proxy("{\"drop_after\": 70000}");
    T_REQUIRE(dh_http_multi_new(NULL, &m, &err) == 0);
    sink_init(&s, 0);
    req = blob_req(0, &s, NULL);
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    /* the connection died mid-body: a transport error, the bytes received so far kept */
    T_EQ_INT(s.err_status, ECONNRESET);
    T_ASSERT(s.err_msg && strstr(s.err_msg, "127.0.0.1"));
    T_EQ_INT(s.delivered, 70000);
    T_EQ_INT(s.len, 70000);
    /* resume from there */
    req = blob_req(0, &s, NULL);
    req.range_start = s.len;
    req.max_body = (size_t)(BLOB_SIZE - s.len);
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.status, 206);
    T_ASSERT(s.err_msg == NULL);
    T_EQ_INT(s.len, BLOB_SIZE);
    d = sink_digest(&s);
    T_EQ_STR(d, digests[0]);
    sink_reset_outcome(&s);
    dh_http_multi_free(m);
}

static void test_range_ignored(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *d = NULL;
    struct dh_http_multi *m = NULL;
    struct sink s;
    struct dh_http_multi_request req;

    T_REQUIRE(up);
    configure_proxy("{\"no_range\": true}");
    T_REQUIRE(dh_http_multi_new(NULL, &m, &err) == 0);
    sink_init(&s, 1);
    sink_body(&s, blobs[1], 12345, NULL); /* what an earlier attempt got */
    req = blob_req(1, &s, NULL);
    req.range_start = 12345;
    req.max_body = BLOB_SIZE - 12345;
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.status, 200);
    T_ASSERT(s.range_ignored);
    T_EQ_INT(s.delivered, BLOB_SIZE - 12345);
    d = sink_digest(&s);
    T_EQ_STR(d, digests[1]);
    sink_reset_outcome(&s);
    dh_http_multi_free(m);
}

static void test_corrupt_byte(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *d = NULL;
    struct dh_http_multi *m = NULL;
    struct sink s;
    struct dh_http_multi_request req;

    T_REQUIRE(up);
    configure_proxy("{\"corrupt\": true}");
    T_REQUIRE(dh_http_multi_new(NULL, &m, &err) == 0);
    sink_init(&s, 2);
    req = blob_req(2, &s, NULL);
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.status, 200);
    T_EQ_INT(s.len, BLOB_SIZE);
    d = sink_digest(&s);
    T_ASSERT(strcmp(d, digests[2]) != 0); /* the caller's digest check catches it */
    sink_reset_outcome(&s);
    dh_http_multi_free(m);
}

/* 429 with Retry-After: the done callback re-queues with the delay asked for. */
struct retry_ctx {
    struct dh_http_multi *m;
    int retried;
    long delay_ms;
    long first_ms;
};

static int retry_done(void *arg, struct dh_http_multi_result *r, struct dh_error **err)
{
    struct retry_ctx *c = arg;
    struct sink *s = r->tag;

    record_done(NULL, r, err);
    if (r->resp.status == 429 || r->resp.status == 503) {
        long delay = dh_http_retry_after_ms(dh_http_header(&r->resp, "Retry-After"), 0);
        struct dh_http_multi_request req = blob_req(s->idx, s, NULL);

        if (delay < 0)
            delay = 10; /* no Retry-After: the caller's own backoff */
        c->retried++;
        c->delay_ms = delay;
        c->first_ms = now_ms();
        return dh_http_multi_add_delayed(c->m, &req, s, delay, err);
    }
    return 0;
}

static void test_429_retry_after(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *d = NULL;
    struct dh_http_multi *m = NULL;
    struct retry_ctx c = {0};
    struct sink s;
    struct dh_http_multi_request req;

    T_REQUIRE(up);
    configure_proxy("{\"throttle\": 1, \"retry_after\": \"1\"}");
    T_REQUIRE(dh_http_multi_new(NULL, &m, &err) == 0);
    sink_init(&s, 3);
    req = blob_req(3, &s, NULL);
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    /* the first answer: 429 with its header and error body */
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.status, 429);
    T_EQ_STR(s.retry_after, "1");
    T_ASSERT(strstr(s.body, "TOOMANYREQUESTS") != NULL);
    T_EQ_INT(s.len, 0); /* an error body never reaches on_body */
    /* again, now with the waiting callback (the counter was reset by the config) */
    configure_proxy("{\"throttle\": 1, \"retry_after\": \"1\"}");
    sink_reset_outcome(&s);
    c.m = m;
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, retry_done, &c, &err), 0);
    T_EQ_INT(c.retried, 1);
    T_EQ_INT(c.delay_ms, 1000);
    T_EQ_INT(s.status, 200);
    /* the retry did not start before the second asked for (a lower bound, never flaky) */
    T_ASSERT(s.finished_ms - c.first_ms >= 1000);
    d = sink_digest(&s);
    T_EQ_STR(d, digests[3]);
    sink_reset_outcome(&s);
    dh_http_multi_free(m);
}

static void test_503_body_kept(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_http_multi *m = NULL;
    struct sink s;
    struct dh_http_multi_request req;

    T_REQUIRE(up);
    configure_proxy("{\"error_5xx\": 1}");
    T_REQUIRE(dh_http_multi_new(NULL, &m, &err) == 0);
    sink_init(&s, 4);
    req = blob_req(4, &s, NULL);
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.status, 503);
    T_ASSERT(s.retry_after == NULL);
    T_ASSERT(strstr(s.body, "UNAVAILABLE") != NULL);
    sink_reset_outcome(&s);
    dh_http_multi_free(m);
}

/* A redirect to another port: followed by the caller without the Authorization header. */
static void test_redirect_without_authorization(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *d = NULL, *target = NULL, *origin = NULL;
    const char *const auth[] = {"Authorization: Bearer secret-token-123", NULL};
    struct dh_http_multi *m = NULL;
    struct sink s;
    struct dh_http_multi_request req;
    json_t *log, *e;
    size_t i;
    int storage_seen = 0;

    T_REQUIRE(up);
    json_decref(control("POST", "/_fake/reset", "{}"));
    configure_proxy("{\"redirect\": true}");
    T_REQUIRE(dh_http_multi_new(NULL, &m, &err) == 0);
    sink_init(&s, 5);
    req = blob_req(5, &s, auth);
    origin = dh_xstrdup(req.url);
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.status, 307); /* never followed by the module */
    T_EQ_INT(s.len, 0);
    T_REQUIRE(s.location);
    target = dh_http_resolve_url(origin, s.location, &err);
    T_REQUIRE(target);
    T_ASSERT(!dh_http_same_origin(origin, target)); /* another port */
    req.url = target;
    req.headers = NULL;
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.status, 200);
    d = sink_digest(&s);
    T_EQ_STR(d, digests[5]);
    /* the proxy saw the credential on its own port and none on the storage port */
    log = control("GET", "/_fake/requests", NULL);
    T_REQUIRE(log);
    json_array_foreach (log, i, e) {
        const char *l = json_string_value(json_object_get(e, "listener"));

        if (!strcmp(l, "storage")) {
            storage_seen++;
            T_ASSERT(json_is_false(json_object_get(e, "authorization")));
        } else if (strstr(json_string_value(json_object_get(e, "path")), "/blobs/")) {
            T_ASSERT(json_is_true(json_object_get(e, "authorization")));
        }
    }
    T_EQ_INT(storage_seen, 1);
    json_decref(log);
    sink_reset_outcome(&s);
    dh_http_multi_free(m);
}

static void test_caps_and_refusals(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_http_multi *m = NULL;
    struct sink s;
    struct dh_http_multi_request req;

    T_REQUIRE(up);
    configure_proxy("{}");
    T_REQUIRE(dh_http_multi_new(NULL, &m, &err) == 0);
    sink_init(&s, 6);
    req = blob_req(6, &s, NULL);
    req.max_body = 1000; /* smaller than the blob */
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.err_status, E2BIG);
    T_ASSERT(s.len <= 1000);
    sink_reset_outcome(&s);
    /* plain http needs allow_http; other schemes and bad headers are refused up front */
    req = blob_req(6, &s, NULL);
    req.allow_http = false;
    T_EQ_INT(dh_http_multi_add(m, &req, &s, &err), -1);
    T_ASSERT(err && err->status == EPERM);
    dh_error_free(&err);
    req.url = "ftp://127.0.0.1/x";
    T_EQ_INT(dh_http_multi_add(m, &req, &s, &err), -1);
    T_ASSERT(err && err->status == EPROTONOSUPPORT);
    dh_error_free(&err);
    req = blob_req(6, &s, (const char *const[]){"Bad\r\nHeader: x", NULL});
    T_EQ_INT(dh_http_multi_add(m, &req, &s, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    T_EQ_INT(dh_http_multi_pending(m), 0);
    /* a refused connection is a per-transfer error, the run goes on */
    req = blob_req(6, &s, NULL);
    req.url = "http://127.0.0.1:1/v2/x/blobs/sha256:00";
    T_REQUIRE(dh_http_multi_add(m, &req, &s, &err) == 0);
    T_EQ_INT(dh_http_multi_run(m, record_done, NULL, &err), 0);
    T_EQ_INT(s.err_status, ECONNREFUSED);
    sink_reset_outcome(&s);
    dh_http_multi_free(m);
}

static int stop_done(void *arg, struct dh_http_multi_result *r, struct dh_error **err)
{
    (void)arg;
    (void)r;
    return dh_error_make(err, ECANCELED, "stopped by the callback");
}

static void test_callback_stops_run(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_http_multi *m = NULL;
    struct sink s[3];

    T_REQUIRE(up);
    configure_proxy("{}");
    T_REQUIRE(dh_http_multi_new(&(struct dh_http_multi_options){.max_concurrent = 1}, &m, &err) ==
              0);
    for (int i = 0; i < 3; i++) {
        struct dh_http_multi_request req = blob_req(i, &s[i], NULL);

        sink_init(&s[i], i);
        T_REQUIRE(dh_http_multi_add(m, &req, &s[i], &err) == 0);
    }
    T_EQ_INT(dh_http_multi_run(m, stop_done, NULL, &err), -1);
    T_REQUIRE(err);
    T_EQ_STR(err->msg, "stopped by the callback");
    T_EQ_INT(dh_http_multi_pending(m), 2);
    dh_http_multi_free(m); /* frees what is left */
}

static void test_retry_after_parse(void)
{
    long long now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */

    T_EQ_INT(dh_http_retry_after_ms("120", now), 120000);
    T_EQ_INT(dh_http_retry_after_ms(" 5 ", now), 5000);
    T_EQ_INT(dh_http_retry_after_ms("0", now), 0);
    T_EQ_INT(dh_http_retry_after_ms("99999999999999999999", now), 365L * 24 * 3600 * 1000);
    T_EQ_INT(dh_http_retry_after_ms("Wed, 21 Oct 2015 07:28:10 GMT", now), 10000);
    T_EQ_INT(dh_http_retry_after_ms("Wednesday, 21-Oct-15 07:29:00 GMT", now), 60000);
    T_EQ_INT(dh_http_retry_after_ms("Wed Oct 21 07:28:03 2015", now), 3000);
    T_EQ_INT(dh_http_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), 0); /* past */
    T_EQ_INT(dh_http_retry_after_ms("-1", now), -1);
    T_EQ_INT(dh_http_retry_after_ms("1.5", now), -1);
    T_EQ_INT(dh_http_retry_after_ms("", now), -1);
    T_EQ_INT(dh_http_retry_after_ms("soon", now), -1);
    T_EQ_INT(dh_http_retry_after_ms("Wed, 21 Oct 2015 07:28:10 GMT trailing", now), -1);
    T_EQ_INT(dh_http_retry_after_ms(NULL, now), -1);
    T_ASSERT(dh_http_retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", 0) == 0);
}

static void test_url_helpers(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *a = NULL, *b = NULL;

    a = dh_http_resolve_url("https://r.example/v2/x/blobs/sha256:1", "/other?sig=1", &err);
    T_EQ_STR(a, "https://r.example/other?sig=1");
    b = dh_http_resolve_url("https://r.example/v2/x/blobs/a", "https://s3.example:8443/b", &err);
    T_EQ_STR(b, "https://s3.example:8443/b");
    T_ASSERT(dh_http_same_origin("https://r.example/a", "https://R.EXAMPLE:443/b"));
    T_ASSERT(dh_http_same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5000/b?x"));
    T_ASSERT(!dh_http_same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5001/a"));
    T_ASSERT(!dh_http_same_origin("https://r.example/a", "http://r.example/a"));
    T_ASSERT(!dh_http_same_origin("https://r.example/a", "https://s.example/a"));
    T_ASSERT(!dh_http_same_origin("https://r.example/a", "not a url"));
    T_ASSERT(dh_http_resolve_url("https://r.example/", "http://[bad", &err) == NULL);
    T_ASSERT(err && err->status == EINVAL);
}

int main(void)
{
    T_RUN(test_retry_after_parse);
    T_RUN(test_url_helpers);
    T_RUN(test_proxy_starts);
    T_RUN(test_parallel_and_reuse);
    T_RUN(test_drop_then_resume_with_range);
    T_RUN(test_range_ignored);
    T_RUN(test_corrupt_byte);
    T_RUN(test_429_retry_after);
    T_RUN(test_503_body_kept);
    T_RUN(test_redirect_without_authorization);
    T_RUN(test_caps_and_refusals);
    T_RUN(test_callback_stops_run);
    if (proxy_stdin >= 0)
        close(proxy_stdin);
    if (proxy_pid > 0) {
        kill(proxy_pid, SIGTERM);
        waitpid(proxy_pid, NULL, 0);
    }
    for (int i = 0; i < NBLOBS; i++) {
        free(blobs[i]);
        free(digests[i]);
    }
    if (tmp[0])
        t_rmrf(tmp);
    return t_done();
}
