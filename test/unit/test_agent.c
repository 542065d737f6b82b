/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the agent's list parser, scheduling arithmetic, ListContainers
   decoding and the /metrics server (src/agent.c, src/agent_config.c, src/metrics.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dockhand/agent.h"
#include "dockhand/cleanup.h"
#include "dockhand/metrics.h"

#include "t.h"

static struct dh_agent_config *parse_ok(const char *yaml)
{
    struct dh_agent_config *c = NULL;
    struct dh_error *err = NULL;

    if (dh_agent_config_parse(yaml, strlen(yaml), "agent.yaml", &c, &err) < 0) {
        printf("# unexpected error: %s\n", err->msg);
        dh_error_free(&err);
        return NULL;
    }
    return c;
}

static void expect_error(const char *yaml, const char *want)
{
    struct dh_agent_config *c = NULL;
    struct dh_error *err = NULL;

    T_ASSERT(dh_agent_config_parse(yaml, strlen(yaml), "agent.yaml", &c, &err) < 0);
    T_ASSERT(c == NULL);
    if (err) {
        if (strcmp(err->msg, want) != 0)
            printf("# got '%s'\n# want '%s'\n", err->msg, want);
        T_EQ_STR(err->msg, want);
    }
    dh_error_free(&err);
}

static void test_config_full(void)
{
    struct dh_agent_config *c =
            parse_ok("images:\n"
                     "  - busybox\n"
                     "  - image: ghcr.io/o/app:1.2\n"
                     "    platform: linux/arm64\n"
                     "    credentials: ghcr.io\n"
                     "  - registry.example.com:5000/x@sha256:"
                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                     "concurrency: 4\nstartJitter: 2s\nrecheckInterval: 1h\nretryBase: 500ms\n"
                     "retryMax: 2m\nretries: 3\npullTimeout: 10m\nreloadInterval: 5s\n"
                     "metricsAddress: 0.0.0.0:9000\nruntimeEndpoint: unix:///run/crio/crio.sock\n"
                     "stateDir: /var/lib/x\nremove: true\ninsecureRegistries: [127.0.0.1:5000]\n");

    T_REQUIRE(c != NULL);
    T_EQ_INT(c->n_images, 3);
    T_EQ_STR(c->images[0].canonical, "docker.io/library/busybox:latest");
    T_EQ_STR(c->images[0].name, "docker.io/library/busybox");
    T_EQ_STR(c->images[0].registry, "docker.io");
    T_EQ_INT(c->images[0].line, 2);
    T_ASSERT(!c->images[0].by_digest);
    T_EQ_STR(c->images[1].platform, "linux/arm64");
    T_EQ_STR(c->images[1].credentials, "ghcr.io");
    T_EQ_INT(c->images[1].line, 3);
    T_ASSERT(c->images[2].by_digest);
    T_EQ_STR(c->images[2].registry, "registry.example.com:5000");
    T_EQ_INT(c->concurrency, 4);
    T_EQ_INT(c->start_jitter_ms, 2000);
    T_ASSERT(c->start_jitter_set);
    T_EQ_INT(c->recheck_ms, 3600000);
    T_EQ_INT(c->retry_base_ms, 500);
    T_EQ_INT(c->retry_max_ms, 120000);
    T_EQ_INT(c->retries, 3);
    T_EQ_INT(c->pull_timeout_ms, 600000);
    T_EQ_INT(c->reload_check_ms, 5000);
    T_EQ_STR(c->metrics_address, "0.0.0.0:9000");
    T_EQ_STR(c->runtime_endpoint, "unix:///run/crio/crio.sock");
    T_EQ_STR(c->state_dir, "/var/lib/x");
    T_ASSERT(c->remove);
    T_EQ_INT(c->n_insecure, 1);
    T_EQ_STR(c->insecure_registries[0], "127.0.0.1:5000");
    dh_agent_config_free(c);
}

static void test_config_defaults(void)
{
    struct dh_agent_config *c = parse_ok("images: []\n");

    T_REQUIRE(c != NULL);
    T_EQ_INT(c->n_images, 0);
    T_EQ_INT(c->concurrency, 2);
    T_EQ_INT(c->start_jitter_ms, 10000);
    T_ASSERT(!c->start_jitter_set);
    T_EQ_INT(c->recheck_ms, 15 * 60 * 1000);
    T_EQ_INT(c->retry_base_ms, 5000);
    T_EQ_INT(c->retry_max_ms, 300000);
    T_EQ_INT(c->retries, 5);
    T_EQ_STR(c->metrics_address, DH_AGENT_DEFAULT_METRICS);
    T_ASSERT(c->runtime_endpoint == NULL && c->state_dir == NULL && !c->remove);
    dh_agent_config_free(c);
}

static void test_config_errors(void)
{
    expect_error("", "agent.yaml: the image list is empty (no 'images:')");
    expect_error("- a\n", "agent.yaml:1: 'the file' must be a mapping");
    expect_error("concurrency: 1\n", "agent.yaml:1: 'images' is required (a list of images)");
    expect_error("images: []\nbogus: 1\n", "agent.yaml:2: unknown setting 'bogus'");
    expect_error("images: a\n", "agent.yaml:1: 'images' must be a list");
    expect_error("images:\n  - Upper/Case\n",
                 "agent.yaml:2: 'Upper/Case': invalid reference format: repository name "
                 "(Case) must be lowercase");
    expect_error("images:\n  - a:1\n  - docker.io/library/a:1\n",
                 "agent.yaml:3: 'docker.io/library/a:1' is listed twice (first on line 2)");
    expect_error("images:\n  - {platform: linux/amd64}\n",
                 "agent.yaml:2: an image entry needs 'image'");
    expect_error("images:\n  - {image: a, pull: always}\n",
                 "agent.yaml:2: unknown key 'pull' in an image (image, platform, credentials)");
    expect_error("images:\n  - {image: a, platform: linux}\n",
                 "agent.yaml:2: 'platform' must be os/arch[/variant] such as linux/amd64");
    expect_error("images:\n  - {image: a, platform: linux//v7}\n",
                 "agent.yaml:2: 'platform' must be os/arch[/variant] such as linux/amd64");
    expect_error("images:\n  - 12\n", "agent.yaml:2: 'images[]' must be a string");
    expect_error("images: []\nconcurrency: 0\n", "agent.yaml:2: 'concurrency' must be at least 1");
    expect_error("images: []\nconcurrency: many\n",
                 "agent.yaml:2: 'concurrency' must be a non-negative integer");
    expect_error("images: []\nrecheckInterval: 10ms\n",
                 "agent.yaml:2: 'recheckInterval' must be at least 1s");
    expect_error("images: []\nstateDir: rel\n",
                 "agent.yaml:2: 'stateDir' must be an absolute path");
    expect_error("images: []\nremove: yes\n",
                 "agent.yaml:2: 'remove' must be a boolean (true or false)");
}

static void test_backoff(void)
{
    T_EQ_INT(dh_agent_backoff_ms(1, 1000, 60000, 0.5), 1000);
    T_EQ_INT(dh_agent_backoff_ms(2, 1000, 60000, 0.5), 2000);
    T_EQ_INT(dh_agent_backoff_ms(4, 1000, 60000, 0.5), 8000);
    T_EQ_INT(dh_agent_backoff_ms(30, 1000, 60000, 0.5), 60000);
    T_EQ_INT(dh_agent_backoff_ms(1, 1000, 60000, 0.0), 800);
    T_EQ_INT(dh_agent_backoff_ms(1, 1000, 60000, 0.999999), 1199);
}

static void test_retry_after(void)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    T_EQ_INT(dh_agent_parse_retry_after("120", 0), 120000);
    T_EQ_INT(dh_agent_parse_retry_after(" 0 ", 0), 0);
    T_EQ_INT(dh_agent_parse_retry_after("99999", 0), 3600000);
    T_EQ_INT(dh_agent_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30000);
    T_EQ_INT(dh_agent_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), 0);
    T_EQ_INT(dh_agent_parse_retry_after(NULL, 0), -1);
    T_EQ_INT(dh_agent_parse_retry_after("soon", 0), -1);
    T_EQ_INT(dh_agent_parse_retry_after("12s", 0), -1);
    T_EQ_INT(dh_agent_parse_retry_after("-1", 0), -1);
}

static void test_throttle_errors(void)
{
    T_ASSERT(dh_agent_error_is_throttle(
            "failed to copy: httpReadSeeker: failed open: unexpected status code "
            "http://h/v2/x/blobs/sha256:1: 429 Too Many Requests - Server message: "
            "toomanyrequests: slow down"));
    T_ASSERT(dh_agent_error_is_throttle("unexpected status code ...: 503 Service Unavailable"));
    T_ASSERT(!dh_agent_error_is_throttle("failed to resolve reference: 401 Unauthorized"));
    T_ASSERT(!dh_agent_error_is_throttle("dial tcp 127.0.0.1:1: connect: connection refused"));
}

static void test_platform(void)
{
    T_ASSERT(dh_agent_platform_matches("linux/amd64", "linux/amd64"));
    T_ASSERT(dh_agent_platform_matches("linux/arm64", "linux/arm64/v8"));
    T_ASSERT(dh_agent_platform_matches("linux/arm64/v8", "linux/arm64/v8"));
    T_ASSERT(!dh_agent_platform_matches("linux/arm", "linux/arm64/v8"));
    T_ASSERT(!dh_agent_platform_matches("linux/arm/v6", "linux/arm/v7"));
    T_ASSERT(!dh_agent_platform_matches("windows/amd64", "linux/amd64"));
    {
        _cleanup_free_ char *p = dh_agent_node_platform();
        T_ASSERT(!strncmp(p, "linux/", 6));
    }
}

/* ListContainersResponse{containers: [Container{id: "c1", image: {image: "sha256:ab"},
   image_ref: "sha256:ab"}, Container{id: "c2", image: {image: "reg/x:1"}}]}, by hand. */
static void test_decode_containers(void)
{
    static const unsigned char msg[] = {
            0x0a, 0x1c,                                      /* containers #1, 28 bytes */
            0x0a, 0x02, 'c',  '1',                           /* id */
            0x22, 0x0b, 0x0a, 0x09,                          /* image { image */
            's',  'h',  'a',  '2',  '5', '6', ':', 'a', 'b', /* } */
            0x2a, 0x09,                                      /* image_ref */
            's',  'h',  'a',  '2',  '5', '6', ':', 'a', 'b',
            0x0a, 0x0f,             /* containers #2, 15 bytes */
            0x0a, 0x02, 'c',  '2',  /* id */
            0x22, 0x09, 0x0a, 0x07, /* image { image } */
            'r',  'e',  'g',  '/',  'x', ':', '1',
    };

    struct dh_error *err = NULL;
    char **v = NULL;
    size_t n = 0, i;

    T_EQ_INT(dh_agent_decode_container_images(msg, sizeof(msg), &v, &n, &err), 0);
    T_REQUIRE(n == 3);
    T_EQ_STR(v[0], "sha256:ab");
    T_EQ_STR(v[1], "sha256:ab");
    T_EQ_STR(v[2], "reg/x:1");
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
    v = NULL;
    n = 0;
    /* truncated: an error, never a partial "not in use" */
    T_EQ_INT(dh_agent_decode_container_images(msg, 20, &v, &n, &err), -1);
    T_ASSERT(err != NULL && err->status == EPROTO);
    dh_error_free(&err);
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int render(void *arg, const char *path, struct dh_buf *b, const char **ctype)
{
    (void)arg;
    (void)ctype;
    if (strcmp(path, "/healthz") != 0)
        return 404;
    (void)dh_buf_puts(b, "ok\n", NULL);
    return 200;
}

/* Sends req to the server, drives it, returns the answer (static buffer). */
static const char *exchange(struct dh_metrics_server *s, const char *req, size_t len)
{
    static char answer[4096];
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const char *bound = dh_metrics_bound(s);
    struct pollfd fds[DH_METRICS_POLLFDS];
    size_t n, got = 0;
    int fd, round;

    sa.sin_port = htons((unsigned short)atoi(strrchr(bound, ':') + 1));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return "connect failed";
    (void)send(fd, req, len, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    for (round = 0; round < 20; round++) {
        n = dh_metrics_pollfds(s, fds);
        (void)poll(fds, n, 50);
        dh_metrics_handle(s, fds, n);
    }
    for (;;) {
        ssize_t r = recv(fd, answer + got, sizeof(answer) - 1 - got, MSG_DONTWAIT);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    answer[got] = '\0';
    close(fd);
    return answer;
}

static void test_metrics_server(void)
{
    struct dh_metrics_server *s = NULL;
    struct dh_error *err = NULL;
    char big[DH_METRICS_MAX_REQUEST + 100];
    const char *a;

    T_EQ_INT(dh_metrics_listen("nohost", render, NULL, &s, &err), -1);
    dh_error_free(&err);
    T_EQ_INT(dh_metrics_listen("::1:80", render, NULL, &s, &err), -1);
    dh_error_free(&err);
    T_EQ_INT(dh_metrics_listen("127.0.0.1:0", render, NULL, &s, &err), 0);
    T_REQUIRE(s != NULL);
    T_ASSERT(!strncmp(dh_metrics_bound(s), "127.0.0.1:", 10));
    a = exchange(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34);
    T_ASSERT(!strncmp(a, "HTTP/1.1 200 OK\r\n", 17));
    T_ASSERT(strstr(a, "\r\nContent-Length: 3\r\n") != NULL);
    T_ASSERT(strstr(a, "\r\n\r\nok\n") != NULL);
    a = exchange(s, "HEAD /healthz?x=1 HTTP/1.0\r\n\r\n", 30);
    T_ASSERT(!strncmp(a, "HTTP/1.1 200 OK\r\n", 17));
    T_ASSERT(strstr(a, "\r\n\r\n")[4] == '\0');
    a = exchange(s, "GET /other HTTP/1.1\r\n\r\n", 23);
    T_ASSERT(!strncmp(a, "HTTP/1.1 404 ", 13));
    a = exchange(s, "DELETE /healthz HTTP/1.1\r\n\r\n", 28);
    T_ASSERT(!strncmp(a, "HTTP/1.1 405 ", 13));
    T_ASSERT(strstr(a, "Allow: GET, HEAD\r\n") != NULL);
    a = exchange(s, "garbage\r\n\r\n", 11);
    T_ASSERT(!strncmp(a, "HTTP/1.1 400 ", 13));
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /healthz HTTP/1.1\r\nX: ", 26);
    a = exchange(s, big, sizeof(big));
    T_ASSERT(!strncmp(a, "HTTP/1.1 431 ", 13));
    dh_metrics_close(s);
}

int main(void)
{
    T_RUN(test_config_full);
    T_RUN(test_config_defaults);
    T_RUN(test_config_errors);
    T_RUN(test_backoff);
    T_RUN(test_retry_after);
    T_RUN(test_throttle_errors);
    T_RUN(test_platform);
    T_RUN(test_decode_containers);
    T_RUN(test_metrics_server);
    return t_done();
}
