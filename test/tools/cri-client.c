/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cri-client: a tiny crictl over src/cri.c, for test/cli/87-cri.bats and as the
 * reference for how the agent uses the CRI client.
 *
 *   cri-client [--endpoint E] [--timeout MS] [--creds-stdin] COMMAND
 *     version              Version handshake: "runtime_name runtime_version api_version"
 *     pull IMAGE           PullImage; prints the image_ref
 *     status IMAGE         ImageStatus: "absent", or "present ID" then
 *                          "tag T" / "digest D" / "size N" / "pinned 0|1" lines
 *     list                 ListImages: one "ID TAG,... DIGEST,..." line per image
 *     rm IMAGE             RemoveImage
 *     call METHOD          a unary call with an empty request (e.g. an unknown path)
 *     status-loop N IMAGE  N ImageStatus calls on one client; prints "N calls in MS ms"
 *
 * --creds-stdin reads {"username": ..., "password": ...} (a docker credential:
 * username "<token>" makes the password an identity token) from stdin: never argv;
 * an optional "server_address" is passed as it is (to test containerd's rule).
 * Errors: "cri-client: message" on stderr, status 1.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/cri.h"
#include "dockhand/mem.h"

static int fail(struct dh_error *err)
{
    fprintf(stderr, "cri-client: %s\n", err ? err->msg : "failed");
    dh_error_free(&err);
    return 1;
}

static int read_creds(struct dh_cri_auth *auth, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf in = DH_BUF_INIT_SECRET(64 << 10);
    json_t *root, *u, *p;
    json_error_t jerr;
    int r;

    if (dh_buf_read_fd(&in, 0, err) < 0)
        return -1;
    root = json_loadb(in.data ? in.data : "", in.len, 0, &jerr);
    if (!root)
        return dh_error_make(err, EINVAL, "cannot parse the credentials on stdin");
    u = json_object_get(root, "username");
    p = json_object_get(root, "password");
    if (!json_is_string(u) || !json_is_string(p)) {
        json_decref(root);
        return dh_error_make(err, EINVAL, "credentials on stdin need username and password");
    }
    r = dh_cri_auth_from_credential(json_string_value(u), json_string_value(p), auth, err);
    /* Only to show containerd's server_address rule in the tests: dockhand leaves it empty. */
    if (r == 0 && json_is_string(json_object_get(root, "server_address")))
        auth->server_address =
                dh_xstrdup(json_string_value(json_object_get(root, "server_address")));
    json_decref(root);
    return r;
}

static void print_image(const struct dh_cri_image *img)
{
    size_t i;

    for (i = 0; i < img->n_repo_tags; i++)
        printf("tag %s\n", img->repo_tags[i]);
    for (i = 0; i < img->n_repo_digests; i++)
        printf("digest %s\n", img->repo_digests[i]);
    printf("size %llu\npinned %d\n", (unsigned long long)img->size, img->pinned ? 1 : 0);
    if (img->has_uid)
        printf("uid %lld\n", (long long)img->uid);
    if (img->username && *img->username)
        printf("username %s\n", img->username);
}

static void print_list(char **a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", a[i]);
    if (!n)
        printf("-");
}

static long now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    struct dh_cri_client *c = NULL;
    struct dh_error *err = NULL;
    struct dh_cri_auth auth = {0};
    const char *endpoint = NULL, *cmd;
    bool creds = false;
    long timeout = 0;
    int i = 1, rc = 0;

    dh_json_use_wiping_alloc();
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--endpoint") && i + 1 < argc)
            endpoint = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--creds-stdin"))
            creds = true;
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: cri-client [--endpoint E] [--timeout MS] [--creds-stdin] "
                        "version|pull IMAGE|status IMAGE|list|rm IMAGE|call METHOD|"
                        "status-loop N IMAGE\n");
        return 2;
    }
    cmd = argv[i++];
    if (creds && read_creds(&auth, &err) < 0)
        return fail(err);
    if (dh_cri_open(endpoint, &c, &err) < 0) {
        dh_cri_auth_release(&auth);
        return fail(err);
    }
    dh_cri_set_timeouts(c, timeout, timeout);

    if (!strcmp(cmd, "version")) {
        struct dh_cri_version v;

        if (dh_cri_version(c, &v, &err) < 0)
            goto failed;
        printf("%s %s %s %s\n", v.runtime_name, v.runtime_version, v.runtime_api_version,
               v.version);
        dh_cri_version_release(&v);
    } else if (!strcmp(cmd, "pull") && i < argc) {
        struct dh_cri_image_spec spec = {.image = argv[i]};
        char *ref = NULL;

        rc = dh_cri_pull_image(c, &spec, creds ? &auth : NULL, &ref, &err);
        dh_cri_auth_release(&auth);
        if (rc < 0)
            goto failed;
        printf("%s\n", ref);
        free(ref);
    } else if (!strcmp(cmd, "status") && i < argc) {
        struct dh_cri_image_spec spec = {.image = argv[i]};
        struct dh_cri_image_status st;

        if (dh_cri_image_status(c, &spec, false, &st, &err) < 0)
            goto failed;
        if (st.present) {
            printf("present %s\n", st.image.id);
            print_image(&st.image);
        } else {
            printf("absent\n");
        }
        dh_cri_image_status_release(&st);
    } else if (!strcmp(cmd, "list")) {
        struct dh_cri_image_list l;
        size_t k;

        if (dh_cri_list_images(c, NULL, &l, &err) < 0)
            goto failed;
        for (k = 0; k < l.n_images; k++) {
            printf("%s ", l.images[k].id);
            print_list(l.images[k].repo_tags, l.images[k].n_repo_tags);
            printf(" ");
            print_list(l.images[k].repo_digests, l.images[k].n_repo_digests);
            printf("\n");
        }
        dh_cri_image_list_release(&l);
    } else if (!strcmp(cmd, "rm") && i < argc) {
        struct dh_cri_image_spec spec = {.image = argv[i]};

        if (dh_cri_remove_image(c, &spec, &err) < 0)
            goto failed;
    } else if (!strcmp(cmd, "call") && i < argc) {
        _cleanup_buf_ struct dh_buf reply = DH_BUF_INIT(0);

        if (dh_cri_call(c, argv[i], NULL, 0, 0, &reply, &err) < 0)
            goto failed;
        printf("%zu bytes\n", reply.len);
    } else if (!strcmp(cmd, "status-loop") && i + 1 < argc) {
        struct dh_cri_image_spec spec = {.image = argv[i + 1]};
        long n = strtol(argv[i], NULL, 10), k, start = now_ms(), present = 0;

        for (k = 0; k < n; k++) {
            struct dh_cri_image_status st;

            if (dh_cri_image_status(c, &spec, false, &st, &err) < 0)
                goto failed;
            present += st.present;
            dh_cri_image_status_release(&st);
        }
        printf("%ld calls in %ld ms (%ld present)\n", n, now_ms() - start, present);
    } else {
        fprintf(stderr, "cri-client: unknown command or missing argument: '%s'\n", cmd);
        rc = 2;
    }
    dh_cri_auth_release(&auth);
    dh_cri_close(c);
    return rc;
failed:
    dh_cri_auth_release(&auth);
    dh_cri_close(c);
    return fail(err);
}
