/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kubeconfig parsing: the bytes are one kubeconfig file, resolved for
 * its current-context and for the context named "fuzz".  Checks the error contract (an
 * error is set exactly on failure, the output is not written), the invariants of a
 * resolved configuration (a server URL with a scheme and no trailing '/', a cluster
 * name, both halves of a client certificate), and that a token, password or key never
 * shows up in an error message.  It also decodes the input as an ExecCredential.
 * Nothing is read from disk or run: relative paths are only joined to "/fuzz".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct dh_kube_config *c)
{
    size_t n;

    if (!c->server || !c->cluster || !c->source || !c->context)
        abort();
    if (strncmp(c->server, "https://", 8) != 0 && strncmp(c->server, "http://", 7) != 0)
        abort();
    n = strlen(c->server);
    if (n && c->server[n - 1] == '/')
        abort();
    if ((c->client_cert_file || c->client_cert_pem) != (c->client_key_file || c->client_key_pem))
        abort();
    if (c->insecure_skip_tls_verify && (c->ca_file || c->ca_pem))
        abort();
    if (c->exec && (!c->exec->command || !c->exec->api_version))
        abort();
    if (c->ca_file && c->ca_file[0] != '/')
        abort();
}

static void one(const char *s, size_t size, const char *context)
{
    struct dh_kube_config *c = NULL;
    struct dh_error *err = NULL;
    int r;

    r = dh_kube_config_parse(s, size, "fuzz.yaml", "/fuzz", context, &c, &err);
    if (r == 0) {
        if (err || !c)
            abort();
        check(c);
        /* The same configuration parses again to the same server (no hidden state). */
        {
            struct dh_kube_config *again = NULL;
            struct dh_error *e2 = NULL;

            if (dh_kube_config_parse(s, size, "fuzz.yaml", "/fuzz", context, &again, &e2) < 0 ||
                strcmp(again->server, c->server) != 0)
                abort();
            dh_kube_config_free(again);
        }
        dh_kube_config_free(c);
    } else {
        if (r != -1 || !err || !err->msg || c)
            abort();
        dh_error_free(&err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct dh_kube_exec_cred *cred = NULL;
    struct dh_error *err = NULL;
    char *copy;

    one(s, size, NULL);
    one(s, size, "fuzz");

    if (dh_kube_exec_cred_parse(s, size, DH_KUBE_EXEC_V1, &cred, &err) == 0) {
        if (err || !cred || (!cred->token && !cred->client_cert_pem) ||
            (!cred->client_cert_pem != !cred->client_key_pem))
            abort();
        dh_kube_exec_cred_free(cred);
    } else {
        if (!err || cred)
            abort();
        dh_error_free(&err);
    }

    /* Status decoding never echoes a redacted value and stays one bounded line. */
    copy = malloc(size + 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    dh_kube_status_error(403, copy, size, "fuzz", "fuzz-secret-token", &err);
    if (!err || strlen(err->msg) > 600 || strchr(err->msg, '\n') ||
        strstr(err->msg, "fuzz-secret-token"))
        abort();
    dh_error_free(&err);
    free(copy);
    return 0;
}
