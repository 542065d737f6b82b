/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: manifest and index parsing, platform selection, digest checks.  The
   documents are the ones in test/fuzz/corpus/fuzz_manifest (shapes from the specs and
   from real registries) plus inline variants. */
#include <errno.h>
#include <string.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"
#include "t.h"

#define CORPUS "test/fuzz/corpus/fuzz_manifest/"

static char *load(const char *name)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *p = NULL;
    const char *root = getenv("DOCKHAND_ROOT");

    p = dh_xasprintf("%s%s" CORPUS "%s", root ? root : "", root ? "/" : "", name);
    if (dh_read_file(p, &b, &err) < 0) {
        printf("# cannot read %s: %s (run from the repository root or set DOCKHAND_ROOT)\n", p,
               err->msg);
        return NULL;
    }
    return dh_buf_steal(&b, NULL);
}

static int parse_str(const char *json, const char *ct, struct dh_manifest *m, char **ret_msg)
{
    _cleanup_error_ struct dh_error *err = NULL;
    int r = dh_manifest_parse(json, strlen(json), ct, m, &err);

    if (ret_msg)
        *ret_msg = err ? dh_xstrdup(err->msg) : NULL;
    return r;
}

static void test_docker_v2(void)
{
    _cleanup_free_ char *j = load("docker-v2.json");
    struct dh_manifest m;

    T_REQUIRE(j);
    T_REQUIRE(parse_str(j, DH_MT_DOCKER_MANIFEST, &m, NULL) == 0);
    T_EQ_INT(m.kind, DH_MANIFEST_DOCKER_V2);
    T_EQ_STR(m.media_type, DH_MT_DOCKER_MANIFEST);
    T_EQ_STR(m.config.media_type, "application/vnd.docker.container.image.v1+json");
    T_EQ_INT(m.config.size, 1469);
    T_EQ_INT(m.n_layers, 2);
    T_EQ_INT(m.layers[0].size, 2818370);
    T_EQ_STR(m.layers[0].digest,
             "sha256:ca7dd9ec2225f2385955c43b2379305acd51543c28cf1d4e94522b3d94cce3ce");
    T_EQ_INT(m.layers[1].n_urls, 1);
    T_EQ_STR(m.layers[1].urls[0], "https://example.com/layer.tar.gz");
    T_EQ_INT(m.n_manifests, 0);
    dh_manifest_release(&m);
    /* generic Content-Types say nothing; a conflicting specific one is refused */
    T_EQ_INT(parse_str(j, "application/json; charset=utf-8", &m, NULL), 0);
    dh_manifest_release(&m);
    {
        _cleanup_free_ char *msg = NULL;

        T_EQ_INT(parse_str(j, DH_MT_OCI_MANIFEST, &m, &msg), -1);
        T_EQ_STR(msg, "manifest media type 'application/vnd.docker.distribution.manifest.v2+json' "
                      "differs from its Content-Type 'application/vnd.oci.image.manifest.v1+json'");
    }
}

static void test_oci_manifest_without_media_type(void)
{
    _cleanup_free_ char *j = load("oci-manifest-no-mediatype.json");
    struct dh_manifest m;

    T_REQUIRE(j);
    /* no mediaType, no Content-Type: guessed from the shape */
    T_REQUIRE(parse_str(j, NULL, &m, NULL) == 0);
    T_EQ_INT(m.kind, DH_MANIFEST_OCI);
    T_EQ_INT(m.n_layers, 3);
    T_EQ_INT(m.layers[2].size, 73109);
    dh_manifest_release(&m);
    /* the Content-Type decides when the field is absent */
    T_REQUIRE(parse_str(j, DH_MT_OCI_MANIFEST "; charset=x", &m, NULL) == 0);
    T_EQ_INT(m.kind, DH_MANIFEST_OCI);
    dh_manifest_release(&m);
    {
        _cleanup_free_ char *msg = NULL;

        /* Docker types must carry the field */
        T_EQ_INT(parse_str(j, DH_MT_DOCKER_MANIFEST, &m, &msg), -1);
        T_EQ_STR(msg, "manifest of type 'application/vnd.docker.distribution.manifest.v2+json' "
                      "has no \"mediaType\"");
    }
}

static void test_index_and_selection(void)
{
    _cleanup_free_ char *j = load("docker-list.json");
    _cleanup_free_ char *o = load("oci-index.json");
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_manifest m;
    static const struct {
        const char *want;
        long idx;
    } cases[] = {
            {"linux/amd64", 0},  {"linux/arm/v6", 1},   {"linux/arm/v7", 2},  {"linux/arm", 2},
            {"linux/arm64", 3},  {"linux/arm64/v8", 3}, {"linux/aarch64", 3}, {"linux/386", 4},
            {"linux/x86_64", 0}, {"linux/amd64/v3", 0}, {"linux/arm/v8", 2},  {"linux/armhf", 2},
            {"linux/armel", 1},  {"windows/amd64", 5},  {"linux/s390x", -1},  {"darwin/arm64", -1},
            {"LINUX/AMD64", 0},
    };

    T_REQUIRE(j && o);
    T_REQUIRE(parse_str(j, DH_MT_DOCKER_LIST, &m, NULL) == 0);
    T_EQ_INT(m.kind, DH_MANIFEST_DOCKER_LIST);
    T_EQ_INT(m.n_manifests, 6);
    T_EQ_STR(m.manifests[5].platform->os_version, "10.0.17763.5576");
    T_EQ_INT(m.manifests[5].platform->n_os_features, 1);
    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        struct dh_platform p;
        long k;

        T_REQUIRE(dh_platform_parse(cases[i].want, &p, &err) == 0);
        k = dh_manifest_select(&m, &p, &err);
        if (k != cases[i].idx)
            T_FAIL_AT("platform %s: got entry %ld, expected %ld", cases[i].want, k, cases[i].idx);
        if (k < 0) {
            T_ASSERT(err && err->status == ENOENT);
            dh_error_free(&err);
        }
        dh_platform_release(&p);
    }
    /* a missing platform names what is there */
    {
        struct dh_platform p;

        T_REQUIRE(dh_platform_parse("linux/riscv64", &p, &err) == 0);
        T_EQ_INT(dh_manifest_select(&m, &p, &err), -1);
        T_REQUIRE(err);
        T_EQ_STR(err->msg, "no manifest for platform 'linux/riscv64' in the index (it has: "
                           "linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/386, "
                           "windows/amd64)");
        dh_error_free(&err);
        dh_platform_release(&p);
    }
    /* without amd64 in the index, amd64 falls back to 386 */
    {
        struct dh_platform p;

        free(m.manifests[0].platform->architecture);
        m.manifests[0].platform->architecture = dh_xstrdup("mips64le");
        T_REQUIRE(dh_platform_parse("linux/amd64", &p, &err) == 0);
        T_EQ_INT(dh_manifest_select(&m, &p, &err), 4);
        dh_platform_release(&p);
    }
    dh_manifest_release(&m);

    /* OCI index with an attestation entry (unknown/unknown): never selected */
    T_REQUIRE(parse_str(o, NULL, &m, NULL) == 0);
    T_EQ_INT(m.kind, DH_MANIFEST_OCI_INDEX);
    T_EQ_INT(m.n_manifests, 3);
    T_EQ_STR(dh_descriptor_annotation(&m.manifests[2], "vnd.docker.reference.type"),
             "attestation-manifest");
    T_ASSERT(dh_descriptor_annotation(&m.manifests[2], "nope") == NULL);
    {
        struct dh_platform p;

        T_REQUIRE(dh_platform_parse("linux/amd64", &p, &err) == 0);
        T_EQ_INT(dh_manifest_select(&m, &p, &err), 1);
        dh_platform_release(&p);
    }
    dh_manifest_release(&m);
}

static void test_no_platform_entry_is_amd64(void)
{
    const char *j = "{\"schemaVersion\":2,\"mediaType\":\"" DH_MT_OCI_INDEX "\",\"manifests\":[{"
                    "\"mediaType\":\"" DH_MT_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:"
                    "1111111111111111111111111111111111111111111111111111111111111111\"}]}";
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_manifest m;
    struct dh_platform p;

    T_REQUIRE(parse_str(j, NULL, &m, NULL) == 0);
    T_REQUIRE(dh_platform_parse("linux/amd64", &p, &err) == 0);
    T_EQ_INT(dh_manifest_select(&m, &p, &err), 0);
    dh_platform_release(&p);
    T_REQUIRE(dh_platform_parse("linux/arm64", &p, &err) == 0);
    T_EQ_INT(dh_manifest_select(&m, &p, &err), -1);
    dh_platform_release(&p);
    dh_manifest_release(&m);
}

static void test_rejections(void)
{
    _cleanup_free_ char *s1 = load("schema1.json");
    _cleanup_free_ char *bad = load("bad-digest.json");
#define H "{\"schemaVersion\":2,\"mediaType\":\"" DH_MT_OCI_MANIFEST "\","
#define C "\"config\":{\"mediaType\":\"a\",\"size\":1,\"digest\":\"sha256:" D "\"}"
#define D "1111111111111111111111111111111111111111111111111111111111111111"
    static const struct {
        const char *json, *ct, *msg;
    } cases[] = {
            {"", NULL, "manifest is not valid JSON: '[' or '{' expected near end of file (line 1)"},
            {"[]", NULL, "manifest is not a JSON object"},
            {"{}", NULL, "manifest has no media type and is no known kind"},
            {"{\"schemaVersion\":2,\"mediaType\":\"application/x-foo\"}", NULL,
             "unsupported manifest media type 'application/x-foo'"},
            {"{\"schemaVersion\":2}", "application/vnd.foo+json",
             "unsupported manifest media type 'application/vnd.foo+json'"},
            {"{\"schemaVersion\":1}", NULL,
             "schema 1 manifests are not supported (a deprecated "
             "format: push the image again with a current client)"},
            {"{}", DH_MT_DOCKER_SCHEMA1S,
             "schema 1 manifests are not supported (a deprecated "
             "format: push the image again with a current client)"},
            {H "\"schemaVersion\":3}", NULL,
             "manifest is not valid JSON: duplicate object key near '\"schemaVersion\"' (line 1)"},
            {"{\"mediaType\":\"" DH_MT_OCI_MANIFEST "\",\"layers\":[]," C "}", NULL,
             "manifest \"schemaVersion\" is not 2"},
            {H "\"layers\":[]}", NULL, "manifest has no \"config\""},
            {H C "}", NULL, "manifest has no \"layers\""},
            {H C ",\"layers\":{}}", NULL, "manifest \"layers\" is not an array"},
            {H C ",\"layers\":[1]}", NULL, "layers[0] is not an object"},
            {H C ",\"layers\":[{\"digest\":\"sha256:" D "\",\"size\":1}]}", NULL,
             "layers[0]: no \"mediaType\""},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"size\":1}]}", NULL,
             "layers[0]: no \"digest\""},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D "\"}]}", NULL,
             "layers[0]: no \"size\""},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D "\",\"size\":-1}]}",
             NULL, "layers[0]: size -1 out of range (0..1099511627776)"},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D "\",\"size\":1.5}]}",
             NULL, "layers[0]: \"size\" is not an integer"},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D
                 "\",\"size\":99999999999999}]}",
             NULL, "layers[0]: size 99999999999999 out of range (0..1099511627776)"},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:abc\",\"size\":1}]}", NULL,
             "layers[0]: digest 'sha256:abc': invalid checksum digest length"},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"md5:abc\",\"size\":1}]}", NULL,
             "layers[0]: digest 'md5:abc': unsupported digest algorithm"},
            {H C ",\"layers\":[{\"mediaType\":1,\"digest\":\"sha256:" D "\",\"size\":1}]}", NULL,
             "layers[0]: \"mediaType\" is not a string"},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D
                 "\",\"size\":1,\"annotations\":{\"k\":1}}]}",
             NULL, "layers[0]: annotation 'k' is not a string"},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D
                 "\",\"size\":1,\"urls\":[1]}]}",
             NULL, "layers[0]: \"urls\" holds a non-string"},
            {H C ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:" D
                 "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}",
             NULL, "layers[0]: no \"architecture\""},
            {"{\"schemaVersion\":2,\"mediaType\":\"" DH_MT_OCI_INDEX "\"}", NULL,
             "manifest has no \"manifests\""},
    };
#undef H
#undef C
#undef D
    struct dh_manifest m;

    T_REQUIRE(s1 && bad);
    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *msg = NULL;

        if (parse_str(cases[i].json, cases[i].ct, &m, &msg) != -1 || !msg ||
            strcmp(msg, cases[i].msg) != 0)
            T_FAIL_AT("case %zu: expected '%s', got '%s'", i, cases[i].msg, msg ? msg : "success");
        T_ASSERT(!m.media_type && !m.layers && !m.manifests && !m.config.digest);
    }
    {
        _cleanup_free_ char *msg = NULL;

        T_EQ_INT(parse_str(s1, "application/json", &m, &msg), -1);
        T_ASSERT(msg && strstr(msg, "schema 1"));
    }
    {
        _cleanup_free_ char *msg = NULL;

        T_EQ_INT(parse_str(bad, NULL, &m, &msg), -1);
        T_EQ_STR(msg, "config: digest 'sha256:x': invalid checksum digest length");
    }
    {
        _cleanup_error_ struct dh_error *err = NULL;
        _cleanup_free_ char *big = dh_xmalloc(DH_MANIFEST_MAX_BYTES + 2);

        memset(big, ' ', DH_MANIFEST_MAX_BYTES + 1);
        T_EQ_INT(dh_manifest_parse(big, DH_MANIFEST_MAX_BYTES + 1, NULL, &m, &err), -1);
        T_ASSERT(err && err->status == E2BIG);
    }
}

static void test_platform_parse(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
            {"linux/amd64", "linux/amd64"},
            {"linux/x86_64", "linux/amd64"},
            {"linux/amd64/v1", "linux/amd64"},
            {"linux/amd64/v2", "linux/amd64/v2"},
            {"linux/aarch64", "linux/arm64"},
            {"linux/arm64/v8", "linux/arm64"},
            {"linux/arm64/8", "linux/arm64"},
            {"linux/arm", "linux/arm/v7"},
            {"linux/arm/6", "linux/arm/v6"},
            {"linux/armhf", "linux/arm/v7"},
            {"linux/i386", "linux/386"},
            {"macos/arm64", "darwin/arm64"},
            {"Linux/AMD64", "linux/amd64"},
            {"linux", NULL},
            {"linux/", NULL},
            {"/amd64", NULL},
            {"linux/amd64/v2/x", NULL},
            {"linux/am d64", NULL},
            {"", NULL},
    };
    _cleanup_error_ struct dh_error *err = NULL;

    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        struct dh_platform p;
        int r = dh_platform_parse(cases[i].in, &p, &err);

        if (!cases[i].out) {
            if (r != -1 || !err)
                T_FAIL_AT("'%s' accepted", cases[i].in);
            else
                T_ASSERT(strstr(err->msg, "expected os/arch[/variant]"));
            dh_error_free(&err);
            continue;
        }
        T_EQ_INT(r, 0);
        if (r == 0) {
            _cleanup_free_ char *s = dh_platform_string(&p);

            T_EQ_STR(s, cases[i].out);
            dh_platform_release(&p);
        }
    }
    {
        struct dh_platform p;
        _cleanup_free_ char *s = NULL;

        dh_platform_default(&p);
        s = dh_platform_string(&p);
        T_ASSERT(!strncmp(s, "linux/", 6));
        dh_platform_release(&p);
    }
}

static void test_digest_check(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *got = NULL;
    const char *abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    T_EQ_INT(dh_digest_check("abc", 3, abc, abc, &got, &err), 0);
    T_EQ_STR(got, abc);
    T_EQ_INT(dh_digest_check("abc", 3, NULL, NULL, NULL, &err), 0);
    T_EQ_INT(dh_digest_check("abd", 3, abc, NULL, NULL, &err), -1);
    T_REQUIRE(err);
    T_EQ_INT(err->status, EBADMSG);
    T_ASSERT(!strncmp(err->msg, "digest mismatch: expected sha256:ba78", 37));
    dh_error_free(&err);
    T_EQ_INT(dh_digest_check("abc", 3, NULL, other, NULL, &err), -1);
    T_REQUIRE(err);
    T_ASSERT(strstr(err->msg, "registry sent Docker-Content-Digest sha256:1111"));
    dh_error_free(&err);
    T_EQ_INT(dh_digest_check("abc", 3, NULL, "sha256:zz", NULL, &err), -1);
    T_REQUIRE(err);
    T_EQ_STR(err->msg, "registry sent an invalid Docker-Content-Digest: invalid checksum digest "
                       "length");
    dh_error_free(&err);
    {
        _cleanup_free_ char *d = dh_xasprintf("sha512:%0128d", 0);

        T_EQ_INT(dh_digest_check("abc", 3, d, NULL, NULL, &err), -1);
        T_REQUIRE(err);
        T_EQ_INT(err->status, ENOTSUP);
        T_EQ_STR(err->msg, "cannot verify the expected digest of algorithm 'sha512'");
        dh_error_free(&err);
    }
    {
        _cleanup_free_ char *e = dh_digest_sha256(NULL, 0);

        T_EQ_STR(e, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}

static void test_kind_of(void)
{
    T_EQ_INT(dh_manifest_kind_of(DH_MT_OCI_INDEX), DH_MANIFEST_OCI_INDEX);
    T_EQ_INT(dh_manifest_kind_of(" Application/VND.oci.image.index.v1+json ; x=y"),
             DH_MANIFEST_OCI_INDEX);
    T_EQ_INT(dh_manifest_kind_of("application/json"), DH_MANIFEST_UNKNOWN);
    T_EQ_INT(dh_manifest_kind_of(NULL), DH_MANIFEST_UNKNOWN);
    T_ASSERT(strstr(DH_MANIFEST_ACCEPT, DH_MT_DOCKER_LIST) != NULL);
}

static void test_docker_to_oci(void)
{
    _cleanup_free_ char *j = load("docker-v2.json");
    _cleanup_free_ char *o = load("oci-manifest-no-mediatype.json");
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT(1 << 20);
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_manifest m;

    T_REQUIRE(j && o);
    T_REQUIRE(dh_manifest_docker_to_oci(j, strlen(j), &out, &err) == 0);
    T_REQUIRE(parse_str(out.data, DH_MT_OCI_MANIFEST, &m, NULL) == 0);
    T_EQ_INT(m.kind, DH_MANIFEST_OCI);
    T_EQ_STR(m.config.media_type, DH_MT_OCI_CONFIG);
    T_EQ_STR(m.config.digest,
             "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824");
    T_EQ_INT(m.n_layers, 2);
    T_EQ_STR(m.layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    T_EQ_STR(m.layers[0].digest,
             "sha256:ca7dd9ec2225f2385955c43b2379305acd51543c28cf1d4e94522b3d94cce3ce");
    T_EQ_INT(m.layers[0].size, 2818370);
    T_EQ_STR(m.layers[1].media_type,
             "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip");
    T_EQ_INT(m.layers[1].n_urls, 1); /* other fields kept */
    T_ASSERT(strstr(out.data, "docker") == NULL);
    dh_manifest_release(&m);
    /* an OCI manifest is no input */
    dh_buf_release(&out);
    T_EQ_INT(dh_manifest_docker_to_oci(o, strlen(o), &out, &err), -1);
    T_ASSERT(err && err->status == EINVAL);
    dh_error_free(&err);
    /* a layer type without OCI equivalent */
    {
        const char *bad = "{\"schemaVersion\":2,\"mediaType\":\"" DH_MT_DOCKER_MANIFEST
                          "\",\"config\":{\"mediaType\":\"" DH_MT_DOCKER_CONFIG
                          "\",\"size\":1,\"digest\":\"sha256:"
                          "1111111111111111111111111111111111111111111111111111111111111111\"},"
                          "\"layers\":[{\"mediaType\":\"application/x-weird\",\"size\":1,"
                          "\"digest\":\"sha256:"
                          "1111111111111111111111111111111111111111111111111111111111111111\"}]}";

        T_EQ_INT(dh_manifest_docker_to_oci(bad, strlen(bad), &out, &err), -1);
        T_REQUIRE(err);
        T_EQ_STR(err->msg, "layer 0 of media type 'application/x-weird' has no OCI equivalent");
    }
}

int main(void)
{
    T_RUN(test_docker_v2);
    T_RUN(test_oci_manifest_without_media_type);
    T_RUN(test_index_and_selection);
    T_RUN(test_no_platform_entry_is_amd64);
    T_RUN(test_rejections);
    T_RUN(test_platform_parse);
    T_RUN(test_digest_check);
    T_RUN(test_kind_of);
    T_RUN(test_docker_to_oci);
    return t_done();
}
