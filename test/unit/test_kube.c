/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the Kubernetes client parts that need no API server (kubeconfig parsing and
 * merging, exec credential plugins and their cache, Status errors, names, times). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/kube.h"
#include "dockhand/mem.h"

#include "t.h"

static char root[64];

static void write_file(const char *path, const char *text, mode_t mode)
{
    struct dh_error *err = NULL;

    if (dh_write_file_atomic(path, text, strlen(text), mode, false, &err) < 0) {
        printf("# write %s: %s\n", path, err->msg);
        dh_error_free(&err);
        exit(1);
    }
}

static char *in_root(const char *name)
{
    return dh_xasprintf("%s/%s", root, name);
}

/* Parses text as a kubeconfig in dir root; returns NULL and prints the error on failure,
   or sets *ret_msg to the error message (caller frees) when ret_msg is not NULL. */
static struct dh_kube_config *parse(const char *text, const char *context, char **ret_msg)
{
    struct dh_kube_config *c = NULL;
    struct dh_error *err = NULL;

    if (dh_kube_config_parse(text, strlen(text), "kc.yaml", root, context, &c, &err) < 0) {
        if (ret_msg)
            *ret_msg = dh_xstrdup(err->msg);
        else
            printf("# parse: %s\n", err->msg);
        dh_error_free(&err);
        return NULL;
    }
    if (ret_msg)
        *ret_msg = NULL;
    return c;
}

/* Expects parsing to fail with a message containing want. */
#define T_PARSE_FAILS(text, context, want)                                  \
    do {                                                                    \
        char *m_ = NULL;                                                    \
        struct dh_kube_config *c_ = parse((text), (context), &m_);          \
        T_ASSERT(c_ == NULL);                                               \
        if (!m_ || !strstr(m_, (want)))                                     \
            T_FAIL_AT("error '%s' lacks '%s'", m_ ? m_ : "(none)", (want)); \
        free(m_);                                                           \
        dh_kube_config_free(c_);                                            \
    } while (0)

#define BASIC_KC                                          \
    "apiVersion: v1\n"                                    \
    "kind: Config\n"                                      \
    "current-context: dev\n"                              \
    "clusters:\n"                                         \
    "- name: c1\n"                                        \
    "  cluster:\n"                                        \
    "    server: https://k8s.example.com:6443/\n"         \
    "    certificate-authority: certs/ca.crt\n"           \
    "users:\n"                                            \
    "- name: u1\n"                                        \
    "  user:\n"                                           \
    "    token: tok-abc\n"                                \
    "contexts:\n"                                         \
    "- name: dev\n"                                       \
    "  context: {cluster: c1, user: u1, namespace: ci}\n" \
    "- name: other\n"                                     \
    "  context: {cluster: c1}\n"

static void test_kubeconfig_basic(void)
{
    struct dh_kube_config *c = parse(BASIC_KC, NULL, NULL);
    _cleanup_free_ char *ca = in_root("certs/ca.crt");

    T_REQUIRE(c);
    T_EQ_STR(c->context, "dev");
    T_EQ_STR(c->cluster, "c1");
    T_EQ_STR(c->user, "u1");
    T_EQ_STR(c->server, "https://k8s.example.com:6443");
    T_EQ_STR(c->namespace, "ci");
    T_EQ_STR(c->ca_file, ca);
    T_ASSERT(c->token && strcmp(c->token->buf, "tok-abc") == 0);
    T_ASSERT(!c->in_cluster && !c->exec && !c->insecure_skip_tls_verify);
    dh_kube_config_free(c);

    /* Another context: no user, no namespace. */
    c = parse(BASIC_KC, "other", NULL);
    T_REQUIRE(c);
    T_ASSERT(c->user == NULL && c->namespace == NULL && c->token == NULL);
    dh_kube_config_free(c);
}

static void test_kubeconfig_data_fields(void)
{
    /* base64 of "-----BEGIN CERTIFICATE-----\nCA\n" etc., one split over two lines. */
    const char *kc = "current-context: x\n"
                     "clusters:\n"
                     "- name: c\n"
                     "  cluster:\n"
                     "    server: k8s.local:6443\n"
                     "    certificate-authority-data: UEVNLUNB\n"
                     "    certificate-authority: ignored.crt\n"
                     "users:\n"
                     "- name: u\n"
                     "  user:\n"
                     "    client-certificate-data: UEVNLUNF\n"
                     "      UlQ=\n"
                     "    client-key-data: UEVNLUtFWQ==\n"
                     "contexts:\n"
                     "- name: x\n"
                     "  context: {cluster: c, user: u}\n";
    struct dh_kube_config *c = parse(kc, NULL, NULL);

    T_REQUIRE(c);
    T_EQ_STR(c->server, "https://k8s.local:6443");
    T_EQ_STR(c->ca_pem, "PEM-CA");
    T_EQ_STR(c->client_cert_pem, "PEM-CERT");
    T_ASSERT(c->client_key_pem && strcmp(c->client_key_pem->buf, "PEM-KEY") == 0);
    dh_kube_config_free(c);
}

static void test_kubeconfig_basic_auth_and_files(void)
{
    const char *kc = "current-context: x\n"
                     "clusters:\n"
                     "- {name: c, cluster: {server: 'http://127.0.0.1:8001', "
                     "insecure-skip-tls-verify: true}}\n"
                     "users:\n"
                     "- {name: u, user: {username: admin, password: pw}}\n"
                     "- {name: f, user: {tokenFile: /abs/token, client-certificate: c.pem, "
                     "client-key: k.pem}}\n"
                     "contexts:\n"
                     "- {name: x, context: {cluster: c, user: u}}\n"
                     "- {name: y, context: {cluster: c, user: f}}\n";
    struct dh_kube_config *c = parse(kc, NULL, NULL);
    _cleanup_free_ char *cp = in_root("c.pem"), *kp = in_root("k.pem");

    T_REQUIRE(c);
    T_ASSERT(c->insecure_skip_tls_verify);
    T_EQ_STR(c->server, "http://127.0.0.1:8001");
    T_EQ_STR(c->username, "admin");
    T_ASSERT(c->password && strcmp(c->password->buf, "pw") == 0);
    dh_kube_config_free(c);
    c = parse(kc, "y", NULL);
    T_REQUIRE(c);
    T_EQ_STR(c->token_file, "/abs/token");
    T_EQ_STR(c->client_cert_file, cp);
    T_EQ_STR(c->client_key_file, kp);
    dh_kube_config_free(c);
}

static void test_kubeconfig_errors(void)
{
    T_PARSE_FAILS("clusters: []\n", NULL, "has no current-context");
    T_PARSE_FAILS("current-context: nope\ncontexts: []\n", NULL, "context 'nope' is not in");
    T_PARSE_FAILS("current-context: x\ncontexts:\n- {name: x, context: {cluster: gone}}\n", NULL,
                  "cluster 'gone' of context 'x' is not in");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: who}}]\n",
                  NULL, "user 'who' of context 'x' is not in");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\n",
                  NULL, "cluster 'c' has no server");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a', tls-server-name: b}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\n",
                  NULL, "kc.yaml:2: 'clusters[0].cluster.tls-server-name' is not supported");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a', proxy-url: 'http://p'}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\n",
                  NULL, "'clusters[0].cluster.proxy-url' is not supported");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a', "
                  "certificate-authority: ca, insecure-skip-tls-verify: true}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\n",
                  NULL, "both a certificate authority and insecure-skip-tls-verify");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'ftp://a'}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\n",
                  NULL, "must be an https:// URL");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a', "
                  "certificate-authority-data: '!!!'}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\n",
                  NULL, "'clusters[0].cluster.certificate-authority-data' is not valid base64");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "'users[0].user.auth-provider' is not supported by dockhand: use an exec");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {token: t, as: admin}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "'users[0].user.as' is not supported by dockhand: impersonation");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {token: t, username: a, password: b}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "both a token and a username/password");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {client-certificate: c.pem}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "needs both a client certificate and a client key");
    T_PARSE_FAILS("clusters: {c: 1}\n", NULL, "kc.yaml:1: 'clusters' must be a list");
    T_PARSE_FAILS("clusters:\n- name: 5\n", NULL, "kc.yaml:2: 'clusters[0].name' must be a string");
    T_PARSE_FAILS("- a\n- b\n", NULL, "'kubeconfig' must be a mapping");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a', "
                  "insecure-skip-tls-verify: yes}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\n",
                  NULL, "must be a boolean");
    /* A secret value never appears in an error. */
    {
        char *m = NULL;
        struct dh_kube_config *c =
                parse("current-context: x\n"
                      "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                      "users: [{name: u, user: {token: sup3rs3cret, password: pw-s3cret}}]\n"
                      "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                      NULL, &m);
        T_ASSERT(!c);
        T_ASSERT(m && !strstr(m, "sup3rs3cret") && !strstr(m, "pw-s3cret"));
        free(m);
    }
}

static void test_kubeconfig_merge(void)
{
    _cleanup_free_ char *d1 = in_root("m1"), *d2 = in_root("m2");
    _cleanup_free_ char *f1 = in_root("m1/config"), *f2 = in_root("m2/config");
    _cleanup_free_ char *missing = in_root("m3/none"), *ca2 = in_root("m2/ca2.crt");
    _cleanup_free_ char *tok1 = in_root("m1/tok");
    const char *paths[3];
    struct dh_kube_config *c = NULL;
    struct dh_error *err = NULL;

    T_REQUIRE(mkdir(d1, 0700) == 0 && mkdir(d2, 0700) == 0);
    /* File 1: no current-context; defines cluster "shared" and user "u" (tokenFile). */
    write_file(f1,
               "clusters:\n"
               "- name: shared\n"
               "  cluster: {server: 'https://first:6443'}\n"
               "users:\n"
               "- name: u\n"
               "  user: {tokenFile: tok}\n",
               0600);
    /* File 2: current-context, a second "shared" (loses), "only2" with a relative CA. */
    write_file(f2,
               "current-context: ctx\n"
               "clusters:\n"
               "- name: shared\n"
               "  cluster: {server: 'https://second:6443'}\n"
               "- name: only2\n"
               "  cluster: {server: 'https://only2', certificate-authority: ca2.crt}\n"
               "users:\n"
               "- name: u\n"
               "  user: {token: from-file-2}\n"
               "contexts:\n"
               "- name: ctx\n"
               "  context: {cluster: shared, user: u, namespace: team}\n"
               "- name: ctx2\n"
               "  context: {cluster: only2, user: u}\n",
               0600);
    paths[0] = missing;
    paths[1] = f1;
    paths[2] = f2;
    T_REQUIRE(dh_kube_config_from_files(paths, 3, NULL, &c, &err) == 0);
    T_EQ_STR(c->context, "ctx");
    T_EQ_STR(c->server, "https://first:6443");
    T_EQ_STR(c->token_file, tok1);
    T_ASSERT(c->token == NULL);
    T_EQ_STR(c->namespace, "team");
    T_ASSERT(strstr(c->source, f1) && strstr(c->source, f2));
    dh_kube_config_free(c);
    c = NULL;
    T_REQUIRE(dh_kube_config_from_files(paths, 3, "ctx2", &c, &err) == 0);
    T_EQ_STR(c->server, "https://only2");
    T_EQ_STR(c->ca_file, ca2);
    dh_kube_config_free(c);
    c = NULL;

    /* Only missing files: ENOENT. */
    T_ASSERT(dh_kube_config_from_files(paths, 1, NULL, &c, &err) < 0);
    T_ASSERT(err && err->status == ENOENT);
    dh_error_free(&err);

    /* Through KUBECONFIG, with an empty element. */
    {
        _cleanup_free_ char *env = dh_xasprintf("%s::%s", f2, f1);
        setenv("KUBECONFIG", env, 1);
        T_REQUIRE(dh_kube_config_load(NULL, &c, &err) == 0);
        T_EQ_STR(c->server, "https://second:6443");
        T_ASSERT(c->token && strcmp(c->token->buf, "from-file-2") == 0);
        dh_kube_config_free(c);
        c = NULL;
        unsetenv("KUBECONFIG");
    }
}

static void test_load_nothing(void)
{
    _cleanup_free_ char *home = in_root("emptyhome");
    struct dh_kube_config *c = NULL;
    struct dh_error *err = NULL;

    T_REQUIRE(mkdir(home, 0700) == 0);
    setenv("HOME", home, 1);
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    T_ASSERT(dh_kube_config_load(NULL, &c, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "'~/.kube/config' does not exist") &&
             strstr(err->msg, "KUBERNETES_SERVICE_HOST is not set"));
    dh_error_free(&err);
    T_ASSERT(dh_kube_config_in_cluster(&c, &err) < 0 && err->status == ENXIO);
    dh_error_free(&err);
}

static void test_server_url(void)
{
    _cleanup_free_ char *a = dh_kube_server_url("10.0.0.1", "443");
    _cleanup_free_ char *b = dh_kube_server_url("fd00::1", "6443");
    _cleanup_free_ char *c = dh_kube_server_url("[::1]", "443");

    T_EQ_STR(a, "https://10.0.0.1:443");
    T_EQ_STR(b, "https://[fd00::1]:6443");
    T_EQ_STR(c, "https://[::1]:443");
}

static void test_parse_time(void)
{
    time_t t = 0;

    T_ASSERT(dh_kube_parse_time("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
    T_ASSERT(dh_kube_parse_time("2024-05-01T10:00:00Z", &t) == 0 && t == 1714557600);
    T_ASSERT(dh_kube_parse_time("2024-05-01T12:00:00.123456+02:00", &t) == 0 && t == 1714557600);
    T_ASSERT(dh_kube_parse_time("2024-05-01T09:30:00-00:30", &t) == 0 && t == 1714557600);
    T_ASSERT(dh_kube_parse_time("2024-05-01t10:00:00z", &t) == 0 && t == 1714557600);
    T_ASSERT(dh_kube_parse_time("2024-05-01 10:00:00Z", &t) < 0);
    T_ASSERT(dh_kube_parse_time("2024-05-01T10:00:00", &t) < 0);
    T_ASSERT(dh_kube_parse_time("2024-13-01T10:00:00Z", &t) < 0);
    T_ASSERT(dh_kube_parse_time("2024-05-01T10:00:00.Z", &t) < 0);
    T_ASSERT(dh_kube_parse_time("2024-05-01T10:00:00Zjunk", &t) < 0);
    T_ASSERT(dh_kube_parse_time("", &t) < 0);
}

static void test_exec_cred_parse(void)
{
    struct dh_kube_exec_cred *c = NULL;
    struct dh_error *err = NULL;
    const char *tok = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" DH_KUBE_EXEC_V1 "\","
                      "\"status\":{\"token\":\"tk-secret\",\"expirationTimestamp\":"
                      "\"2030-01-01T00:00:00Z\"}}";
    const char *cert = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" DH_KUBE_EXEC_V1BETA1
                       "\",\"status\":{\"clientCertificateData\":\"CERT\","
                       "\"clientKeyData\":\"KEY\"}}";

    T_REQUIRE(dh_kube_exec_cred_parse(tok, strlen(tok), DH_KUBE_EXEC_V1, &c, &err) == 0);
    T_ASSERT(c->token && strcmp(c->token->buf, "tk-secret") == 0);
    T_ASSERT(c->expires == 1893456000);
    T_ASSERT(!c->client_cert_pem);
    dh_kube_exec_cred_free(c);
    c = NULL;
    T_REQUIRE(dh_kube_exec_cred_parse(cert, strlen(cert), DH_KUBE_EXEC_V1BETA1, &c, &err) == 0);
    T_EQ_STR(c->client_cert_pem, "CERT");
    T_ASSERT(c->client_key_pem && strcmp(c->client_key_pem->buf, "KEY") == 0);
    T_ASSERT(c->expires == 0 && !c->token);
    dh_kube_exec_cred_free(c);
    c = NULL;

    /* Wrong apiVersion, no status, half a certificate, bad time, not JSON. */
    T_ASSERT(dh_kube_exec_cred_parse(tok, strlen(tok), DH_KUBE_EXEC_V1BETA1, &c, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "apiVersion") && !strstr(err->msg, "tk-secret"));
    dh_error_free(&err);
    {
        static const char *const bad[] = {
                "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" DH_KUBE_EXEC_V1 "\"}",
                "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" DH_KUBE_EXEC_V1
                "\",\"status\":{\"clientCertificateData\":\"C\"}}",
                "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" DH_KUBE_EXEC_V1
                "\",\"status\":{\"token\":\"tk-secret\",\"expirationTimestamp\":\"soon\"}}",
                "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" DH_KUBE_EXEC_V1
                "\",\"status\":{\"token\":7}}",
                "{\"kind\":\"ExecCredential\",\"apiVersion\":\"" DH_KUBE_EXEC_V1
                "\",\"status\":{}}",
                "{\"kind\":\"Other\",\"apiVersion\":\"" DH_KUBE_EXEC_V1 "\"}",
                "tk-secret",
                "",
        };
        size_t i;

        for (i = 0; i < DH_ARRAY_SIZE(bad); i++) {
            if (dh_kube_exec_cred_parse(bad[i], strlen(bad[i]), DH_KUBE_EXEC_V1, &c, &err) == 0) {
                T_FAIL_AT("bad[%zu] parsed", i);
                dh_kube_exec_cred_free(c);
                c = NULL;
                continue;
            }
            T_ASSERT(err && !strstr(err->msg, "tk-secret"));
            dh_error_free(&err);
        }
    }
}

/* A kubeconfig whose user runs the plugin script at root/plugin.sh. */
static struct dh_kube_config *exec_config(const char *api, const char *mode, const char *extra)
{
    _cleanup_free_ char *kc =
            dh_xasprintf("current-context: x\n"
                         "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', "
                         "certificate-authority-data: UEVNLUNB}}]\n"
                         "users:\n"
                         "- name: u\n"
                         "  user:\n"
                         "    exec:\n"
                         "      apiVersion: %s\n"
                         "%s%s%s"
                         "      command: ./plugin.sh\n"
                         "      args: [--flag, 'two words']\n"
                         "      env: [{name: PLUGIN_ENV, value: from-kubeconfig}]\n"
                         "      installHint: install the plugin\n"
                         "%s"
                         "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                         api, mode ? "      interactiveMode: " : "", mode ? mode : "",
                         mode ? "\n" : "", extra ? extra : "");

    return parse(kc, NULL, NULL);
}

static void write_plugin(const char *body)
{
    _cleanup_free_ char *p = in_root("plugin.sh");
    _cleanup_free_ char *text = dh_xasprintf("#!/bin/sh\n%s", body);

    write_file(p, text, 0700);
}

static void test_exec_config(void)
{
    struct dh_kube_config *c = exec_config(DH_KUBE_EXEC_V1, "Never", NULL);
    _cleanup_free_ char *cmd = in_root("./plugin.sh");
    char *m = NULL;

    T_REQUIRE(c && c->exec);
    T_EQ_STR(c->exec->command, cmd);
    T_EQ_INT(c->exec->n_args, 2);
    T_EQ_STR(c->exec->args[1], "two words");
    T_EQ_INT(c->exec->n_env, 1);
    T_EQ_STR(c->exec->env[0].name, "PLUGIN_ENV");
    T_EQ_STR(c->exec->env[0].value, "from-kubeconfig");
    T_EQ_STR(c->exec->install_hint, "install the plugin");
    dh_kube_config_free(c);

    /* v1 needs interactiveMode; v1beta1 does not. */
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {exec: {apiVersion: " DH_KUBE_EXEC_V1
                  ", command: p}}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "'users[0].user.exec.interactiveMode' must be set for apiVersion");
    c = exec_config(DH_KUBE_EXEC_V1BETA1, NULL, NULL);
    T_ASSERT(c != NULL);
    dh_kube_config_free(c);
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {exec: {apiVersion: "
                  "client.authentication.k8s.io/v1alpha1, command: p}}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "must be 'client.authentication.k8s.io/v1' or");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {exec: {apiVersion: " DH_KUBE_EXEC_V1 ", "
                  "interactiveMode: Sometimes, command: p}}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "must be Never, IfAvailable or Always");
    T_PARSE_FAILS("current-context: x\n"
                  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
                  "users: [{name: u, user: {token: t, exec: {apiVersion: " DH_KUBE_EXEC_V1BETA1
                  ", command: p}}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                  NULL, "both an exec plugin and a token");
    /* A command without '/' is looked up in PATH, as given. */
    c = parse("current-context: x\n"
              "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
              "users: [{name: u, user: {exec: {apiVersion: " DH_KUBE_EXEC_V1BETA1
              ", command: aws}}}]\n"
              "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
              NULL, &m);
    T_REQUIRE(c);
    T_EQ_STR(c->exec->command, "aws");
    dh_kube_config_free(c);
}

static void test_exec_run(void)
{
    _cleanup_free_ char *seen = in_root("plugin.seen");
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 20);
    struct dh_kube_config *c =
            exec_config(DH_KUBE_EXEC_V1, "IfAvailable", "      provideClusterInfo: true\n");
    struct dh_kube_exec_cred *cred = NULL;
    struct dh_error *err = NULL;
    _cleanup_free_ char *script = NULL;

    T_REQUIRE(c);
    setenv("PLUGIN_ENV", "from-parent", 1);
    script = dh_xasprintf("{ printf '%%s|' \"$1\" \"$2\" \"$PLUGIN_ENV\"; "
                          "printf '%%s' \"$KUBERNETES_EXEC_INFO\"; } > '%s'\n"
                          "read -r line && echo stdin-not-empty >> '%s'\n"
                          "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"%s\","
                          "\"status\":{\"token\":\"plugin-token\"}}'\n",
                          seen, seen, DH_KUBE_EXEC_V1);
    write_plugin(script);
    T_REQUIRE(dh_kube_exec_run(c, 0, &cred, &err) == 0);
    T_ASSERT(cred->token && strcmp(cred->token->buf, "plugin-token") == 0);
    dh_kube_exec_cred_free(cred);
    cred = NULL;
    T_REQUIRE(dh_read_file(seen, &out, &err) == 0);
    T_ASSERT(strncmp(out.data, "--flag|two words|from-kubeconfig|", 33) == 0);
    T_ASSERT(strstr(out.data, "\"kind\":\"ExecCredential\"") &&
             strstr(out.data, "\"interactive\":false") &&
             strstr(out.data, "\"server\":\"https://127.0.0.1:1\"") &&
             strstr(out.data, "\"certificate-authority-data\":\"UEVNLUNB\""));
    T_ASSERT(!strstr(out.data, "stdin-not-empty"));

    /* Failure, not found, time-out, bad output. */
    write_plugin("echo 'plugin-token-leak' >&2; exit 3\n");
    T_ASSERT(dh_kube_exec_run(c, 0, &cred, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "failed with exit status 3"));
    dh_error_free(&err);
    write_plugin("exec /nonexistent/plugin\n");
    T_ASSERT(dh_kube_exec_run(c, 0, &cred, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "was not found: install the plugin"));
    dh_error_free(&err);
    write_plugin("exec sleep 5\n");
    T_ASSERT(dh_kube_exec_run(c, 300, &cred, &err) < 0);
    T_ASSERT(err && err->status == ETIMEDOUT && strstr(err->msg, "did not finish within 300 ms"));
    dh_error_free(&err);
    write_plugin("echo 'not json plugin-token'\n");
    T_ASSERT(dh_kube_exec_run(c, 0, &cred, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "not a JSON object") && !strstr(err->msg, "plugin-token"));
    dh_error_free(&err);
    dh_kube_config_free(c);

    /* interactiveMode Always cannot work here. */
    c = exec_config(DH_KUBE_EXEC_V1, "Always", NULL);
    T_REQUIRE(c);
    T_ASSERT(dh_kube_exec_run(c, 0, &cred, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "non-interactively"));
    dh_error_free(&err);
    dh_kube_config_free(c);
}

/* The cache is used by requests: each request runs the plugin only when the cached
   credential is missing or expired.  The server does not exist (connection refused),
   which is enough to count plugin runs. */
static void test_exec_cache(void)
{
    _cleanup_free_ char *count = in_root("plugin.count");
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 10);
    _cleanup_free_ char *script = NULL;
    struct dh_kube_client *cl = NULL;
    struct dh_error *err = NULL;
    struct dh_kube_config *c;
    long status = -1;
    int i;

    dh_kube_exec_cache_clear();
    (void)unlink(count);
    script = dh_xasprintf("echo run >> '%s'\n"
                          "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"%s\","
                          "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"%s\"}}'\n",
                          count, DH_KUBE_EXEC_V1, "2999-01-01T00:00:00Z");
    write_plugin(script);
    c = exec_config(DH_KUBE_EXEC_V1, "Never", NULL);
    T_REQUIRE(c);
    T_REQUIRE(dh_kube_client_new(c, 2000, &cl, &err) == 0);
    for (i = 0; i < 3; i++) {
        T_ASSERT(dh_kube_get(cl, "/api", NULL, &err) < 0);
        T_ASSERT(err && strstr(err->msg, "cluster 'c'"));
        dh_error_free(&err);
    }
    T_ASSERT(dh_kube_request(cl, "GET", "/api", NULL, NULL, NULL, &status, &err) < 0);
    T_EQ_INT(status, 0);
    dh_error_free(&err);
    T_REQUIRE(dh_read_file(count, &out, &err) == 0);
    T_EQ_STR(out.data, "run\n");
    dh_kube_client_free(cl);
    cl = NULL;

    /* An expired credential is not reused. */
    dh_kube_exec_cache_clear();
    (void)unlink(count);
    free(script);
    script = dh_xasprintf("echo run >> '%s'\n"
                          "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"%s\","
                          "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"%s\"}}'\n",
                          count, DH_KUBE_EXEC_V1, "2001-01-01T00:00:00Z");
    write_plugin(script);
    c = exec_config(DH_KUBE_EXEC_V1, "Never", NULL);
    T_REQUIRE(c);
    T_REQUIRE(dh_kube_client_new(c, 2000, &cl, &err) == 0);
    for (i = 0; i < 2; i++) {
        T_ASSERT(dh_kube_get(cl, "/api", NULL, &err) < 0);
        dh_error_free(&err);
    }
    dh_buf_release(&out);
    T_REQUIRE(dh_read_file(count, &out, &err) == 0);
    T_EQ_STR(out.data, "run\nrun\n");
    dh_kube_client_free(cl);
    dh_kube_exec_cache_clear();
}

static void test_client_files(void)
{
    _cleanup_free_ char *kc = NULL;
    struct dh_kube_client *cl = NULL;
    struct dh_error *err = NULL;
    struct dh_kube_config *c;

    /* Missing client certificate and CA files are reported when the client is made. */
    c = parse("current-context: x\n"
              "clusters: [{name: c, cluster: {server: 'https://a'}}]\n"
              "users: [{name: u, user: {client-certificate: nope.pem, client-key: nope.key}}]\n"
              "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
              NULL, NULL);
    T_REQUIRE(c);
    T_ASSERT(dh_kube_client_new(c, 0, &cl, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "cannot read the client certificate of user 'u'"));
    dh_error_free(&err);
    c = parse(
            "current-context: x\n"
            "clusters: [{name: c, cluster: {server: 'https://a', certificate-authority: no.crt}}]\n"
            "contexts: [{name: x, context: {cluster: c}}]\n",
            NULL, NULL);
    T_REQUIRE(c);
    T_ASSERT(dh_kube_client_new(c, 0, &cl, &err) < 0);
    T_ASSERT(err && strstr(err->msg, "certificate authority") && strstr(err->msg, "no.crt"));
    dh_error_free(&err);
}

static void test_status_error(void)
{
    struct dh_error *err = NULL;
    const char *s403 = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                       "\"Failure\",\"message\":\"secrets is forbidden: User \\\"x\\\" cannot "
                       "list resource \\\"secrets\\\" in API group \\\"\\\" in the namespace "
                       "\\\"ci\\\"\",\"reason\":\"Forbidden\",\"details\":{\"kind\":\"secrets\"},"
                       "\"code\":403}";
    const char *s401 = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                       "\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":"
                       "\"Unauthorized\",\"code\":401}";
    const char *s409 = "{\"kind\":\"Status\",\"message\":\"Operation cannot be fulfilled\","
                       "\"reason\":\"Conflict\",\"code\":409}";
    const char *s409e = "{\"kind\":\"Status\",\"message\":\"secrets \\\"a\\\" already exists\","
                        "\"reason\":\"AlreadyExists\",\"code\":409}";
    const char *leak = "{\"kind\":\"Status\",\"message\":\"bad token tok-SECRET-1\\n\\u001b[31m"
                       "x\",\"code\":500}";
    char big[2000];

    dh_kube_status_error(403, s403, strlen(s403), "prod", NULL, &err);
    T_ASSERT(err && err->status == DH_KUBE_E_FORBIDDEN);
    T_EQ_STR(err->msg, "forbidden: secrets is forbidden: User \"x\" cannot list resource "
                       "\"secrets\" in API group \"\" in the namespace \"ci\"");
    dh_error_free(&err);
    dh_kube_status_error(401, s401, strlen(s401), "prod", NULL, &err);
    T_ASSERT(err && err->status == DH_KUBE_E_UNAUTHORIZED);
    T_EQ_STR(err->msg, "unauthorized: check the credentials for cluster 'prod'");
    dh_error_free(&err);
    dh_kube_status_error(401, "", 0, "prod", NULL, &err);
    T_EQ_STR(err->msg, "unauthorized: check the credentials for cluster 'prod'");
    dh_error_free(&err);
    dh_kube_status_error(409, s409, strlen(s409), "c", NULL, &err);
    T_ASSERT(err && err->status == DH_KUBE_E_CONFLICT);
    T_EQ_STR(err->msg, "conflict: Operation cannot be fulfilled");
    dh_error_free(&err);
    dh_kube_status_error(409, s409e, strlen(s409e), "c", NULL, &err);
    T_ASSERT(err && err->status == DH_KUBE_E_EXISTS);
    dh_error_free(&err);
    dh_kube_status_error(404, "<html>not json</html>", 21, "c", NULL, &err);
    T_ASSERT(err && err->status == DH_KUBE_E_NOT_FOUND && !strstr(err->msg, "html"));
    dh_error_free(&err);
    dh_kube_status_error(504, NULL, 0, "c", NULL, &err);
    T_ASSERT(err && err->status == DH_KUBE_E_TIMEOUT);
    dh_error_free(&err);
    dh_kube_status_error(422, "{}", 2, "c", NULL, &err);
    T_ASSERT(err && err->status == DH_KUBE_E_INVALID);
    dh_error_free(&err);
    dh_kube_status_error(500, leak, strlen(leak), "c", "tok-SECRET-1", &err);
    T_ASSERT(err && !strstr(err->msg, "tok-SECRET-1") && strstr(err->msg, "<redacted>") &&
             !strchr(err->msg, '\n') && !strchr(err->msg, '\033'));
    T_ASSERT(strstr(err->msg, "cluster 'c' answered HTTP 500"));
    dh_error_free(&err);

    /* A huge message is cut. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "{\"kind\":\"Status\",\"message\":\"", 28);
    memcpy(big + sizeof(big) - 3, "\"}", 3);
    dh_kube_status_error(403, big, strlen(big), "c", NULL, &err);
    T_ASSERT(err && strlen(err->msg) < 500 && strstr(err->msg, "..."));
    dh_error_free(&err);
}

static void test_names(void)
{
    static const struct {
        const char *key;
        const char *want; /* NULL: only check validity and the hash suffix */
    } cases[] = {
            {"https://registry.example.com", "dockhand-registry.example.com"},
            {"https://Registry.Example.com:5000", "dockhand-registry.example.com-5000"},
            {"https://index.docker.io", "dockhand-index.docker.io"},
            {"https://r.io/team/app", NULL},
            {"http://r.io", NULL},
            {"https://[::1]:5000", NULL},
            {"https://under_score.io", NULL},
            {"https://a-very-long-registry-host-name.in-a-deep.subdomain.example.com:65535", NULL},
            {"https://-lead.io", "dockhand--lead.io"},
            {"https://x..y", NULL},
    };
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *n = dh_kube_registry_secret_name("dockhand-", cases[i].key);
        _cleanup_free_ char *again = dh_kube_registry_secret_name("dockhand-", cases[i].key);

        if (!dh_kube_subdomain_valid(n) || strlen(n) > 63)
            T_FAIL_AT("name '%s' for '%s' is not a valid short subdomain", n, cases[i].key);
        T_EQ_STR(n, again);
        if (cases[i].want)
            T_EQ_STR(n, cases[i].want);
        else if (strlen(n) < 11 || n[strlen(n) - 11] != '-')
            T_FAIL_AT("name '%s' for '%s' has no hash suffix", n, cases[i].key);
    }
    /* Different keys, different names, even when they clean up alike. */
    {
        _cleanup_free_ char *a = dh_kube_registry_secret_name("dockhand-", "https://r.io/a");
        _cleanup_free_ char *b = dh_kube_registry_secret_name("dockhand-", "https://r.io/b");
        _cleanup_free_ char *h = dh_kube_registry_secret_name("dockhand-", "http://r.io");
        T_ASSERT(strcmp(a, b) != 0 && strcmp(a, h) != 0);
        T_ASSERT(strncmp(a, "dockhand-r.io-", 14) == 0);
    }
    T_ASSERT(dh_kube_label_valid("ci") && dh_kube_label_valid("a-1"));
    T_ASSERT(!dh_kube_label_valid("") && !dh_kube_label_valid("-a") && !dh_kube_label_valid("a-") &&
             !dh_kube_label_valid("A") && !dh_kube_label_valid("a.b") &&
             !dh_kube_label_valid("a_b"));
    T_ASSERT(dh_kube_subdomain_valid("a.b-c.d") && !dh_kube_subdomain_valid("a..b") &&
             !dh_kube_subdomain_valid("a.-b") && !dh_kube_subdomain_valid(".a"));
}

static void test_query_escape(void)
{
    _cleanup_free_ char *a = dh_kube_query_escape("app=x,tier in (a b)");
    _cleanup_free_ char *b = dh_kube_query_escape("Az09-._~");

    T_EQ_STR(a, "app%3Dx%2Ctier%20in%20%28a%20b%29");
    T_EQ_STR(b, "Az09-._~");
}

int main(void)
{
    char tmpl[] = "/tmp/dockhand-test-kube.XXXXXX";

    if (!mkdtemp(tmpl))
        return 1;
    snprintf(root, sizeof(root), "%s", tmpl);
    unsetenv("KUBECONFIG");
    T_RUN(test_kubeconfig_basic);
    T_RUN(test_kubeconfig_data_fields);
    T_RUN(test_kubeconfig_basic_auth_and_files);
    T_RUN(test_kubeconfig_errors);
    T_RUN(test_kubeconfig_merge);
    T_RUN(test_load_nothing);
    T_RUN(test_server_url);
    T_RUN(test_parse_time);
    T_RUN(test_exec_cred_parse);
    T_RUN(test_exec_config);
    T_RUN(test_exec_run);
    T_RUN(test_exec_cache);
    T_RUN(test_client_files);
    T_RUN(test_status_error);
    T_RUN(test_names);
    T_RUN(test_query_escape);
    {
        _cleanup_free_ char *cmd = dh_xasprintf("rm -rf '%s'", root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", root);
    }
    return t_done();
}
