/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for Kubernetes API answers as `secret sync` reads them: the bytes are a
 * watch stream (split into lines by dh_kube_lines_feed in chunks whose size comes from
 * the first byte, each line decoded by dh_kube_watch_event_parse), and also one JSON
 * document read as a list (dh_secretsync_item_names), a ServiceAccount
 * (dh_secretsync_sa_add), a Secret (dh_secretsync_secret_current) and a Status
 * (dh_kube_status_error).  Checks the error contract, that a line never exceeds the
 * limit, that chunking does not change the lines, that sa_add keeps every other
 * pull secret in order and appends exactly one, and that Status messages stay one
 * bounded line without the redacted token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/kube.h"
#include "dockhand/secretsync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINE_MAX_FUZZ 4096

struct lines_seen {
    size_t n;
    uint64_t hash; /* of every line, in order */
    size_t events;
};

static int on_line(void *arg, const char *line, size_t len, struct dh_error **err)
{
    struct lines_seen *s = arg;
    enum dh_kube_event_type type;
    json_t *obj = NULL;
    struct dh_error *e = NULL;
    size_t i;
    int r;

    (void)err;
    if (len > LINE_MAX_FUZZ || memchr(line, '\n', len))
        abort();
    s->n++;
    for (i = 0; i < len; i++)
        s->hash = (s->hash ^ (unsigned char)line[i]) * 0x100000001b3ULL;
    s->hash = (s->hash ^ 0xff) * 0x100000001b3ULL;
    r = dh_kube_watch_event_parse(line, len, &type, &obj, &e);
    if (r == 0) {
        if (e || !json_is_object(obj) || type > DH_KUBE_BOOKMARK)
            abort();
        s->events++;
        json_decref(obj);
    } else if (r == 1) {
        if (e || obj)
            abort();
    } else {
        if (r != -1 || !e || !e->msg || obj || strchr(e->msg, '\n'))
            abort();
        dh_error_free(&e);
    }
    return 0;
}

static void feed(const uint8_t *data, size_t size, size_t chunk, struct lines_seen *s)
{
    struct dh_kube_lines l;
    struct dh_error *e = NULL;
    size_t off = 0;
    int r = 0;

    dh_kube_lines_init(&l, LINE_MAX_FUZZ);
    while (off < size && r == 0) {
        size_t n = size - off < chunk ? size - off : chunk;

        r = dh_kube_lines_feed(&l, (const char *)data + off, n, on_line, s, &e);
        off += n;
    }
    if (r == 0)
        r = dh_kube_lines_finish(&l, on_line, s, &e);
    if (r < 0) {
        if (!e)
            abort();
        dh_error_free(&e);
        s->hash = 0; /* too long a line: chunking may stop at different places */
    } else if (e) {
        abort();
    }
    dh_kube_lines_release(&l);
}

static void as_documents(json_t *doc)
{
    json_t *names, *upd = NULL, *v, *desired;
    struct dh_error *e = NULL;
    size_t i;
    int r;

    names = dh_secretsync_item_names(json_object_get(doc, "items"));
    json_array_foreach (names, i, v)
        if (!dh_kube_label_valid(json_string_value(v)))
            abort();
    json_decref(names);

    r = dh_secretsync_sa_add(doc, "regcred", &upd, &e);
    if (r == 0) {
        json_t *before = json_object_get(doc, "imagePullSecrets");
        json_t *after = json_object_get(upd, "imagePullSecrets");
        size_t n = json_array_size(before);

        if (e || !json_is_array(after) || json_array_size(after) != n + 1)
            abort();
        for (i = 0; i < n; i++)
            if (!json_equal(json_array_get(before, i), json_array_get(after, i)))
                abort();
        if (strcmp(json_string_value(json_object_get(json_array_get(after, n), "name")),
                   "regcred") != 0 ||
            json_object_get(json_object_get(upd, "metadata"), "managedFields"))
            abort();
        /* Adding again finds it. */
        if (dh_secretsync_sa_add(upd, "regcred", &v, &e) != 1)
            abort();
        json_decref(upd);
    } else if (r == 1) {
        if (e || upd)
            abort();
    } else {
        if (r != -1 || !e || upd)
            abort();
        dh_error_free(&e);
    }

    desired =
            json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                      "metadata", "name", "regcred", "labels", "app.kubernetes.io/managed-by",
                      "dockhand", "type", "kubernetes.io/dockerconfigjson", "data",
                      ".dockerconfigjson", "eyJhdXRocyI6e319");
    (void)dh_secretsync_secret_current(doc, desired);
    if (json_is_object(doc) && json_is_object(json_object_get(doc, "data")) &&
        json_string_value(json_object_get(doc, "type")) &&
        !dh_secretsync_secret_current(desired, desired))
        abort();
    json_decref(desired);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lines_seen whole = {0}, chunked = {0};
    struct dh_error *e = NULL;
    json_t *doc;
    char *copy;
    long code;

    if (size == 0)
        return 0;
    feed(data + 1, size - 1, size, &whole);
    feed(data + 1, size - 1, 1 + data[0] % 17, &chunked);
    if (whole.hash && chunked.hash && (whole.n != chunked.n || whole.hash != chunked.hash))
        abort();

    doc = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (doc) {
        as_documents(doc);
        json_decref(doc);
    }

    copy = malloc(size);
    if (!copy)
        abort();
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    code = 400 + data[0] % 200;
    dh_kube_status_error(code, copy, size - 1, "fuzz", "fuzz-secret-token", &e);
    if (!e || strlen(e->msg) > 700 || strchr(e->msg, '\n') || strstr(e->msg, "fuzz-secret-token"))
        abort();
    dh_error_free(&e);
    free(copy);
    return 0;
}
