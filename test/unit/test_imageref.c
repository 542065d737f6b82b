/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: image references, with the cases of distribution/reference's
   reference_test.go and normalize_test.go (the facts, rewritten as tables). */
#include <errno.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/imageref.h"
#include "dockhand/mem.h"
#include "t.h"

#define F64  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define F128 F64 F64
#define D1   "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"

static char *repeat(const char *s, int n)
{
    size_t l = strlen(s);
    char *p = dh_xmalloc(l * (size_t)n + 1);

    for (int i = 0; i < n; i++)
        memcpy(p + l * (size_t)i, s, l);
    p[l * (size_t)n] = '\0';
    return p;
}

/* reference.Parse: input, error (NULL = ok), domain, name, tag, digest. */
static const struct {
    const char *in, *err, *domain, *name, *tag, *digest;
} strict_cases[] = {
        {"test_com", NULL, "", "test_com", NULL, NULL},
        {"test.com:tag", NULL, "", "test.com", "tag", NULL},
        {"test.com:5000", NULL, "", "test.com", "5000", NULL},
        {"test.com/repo:tag", NULL, "test.com", "test.com/repo", "tag", NULL},
        {"test:5000/repo", NULL, "test:5000", "test:5000/repo", NULL, NULL},
        {"test:5000/repo:tag", NULL, "test:5000", "test:5000/repo", "tag", NULL},
        {"test:5000/repo@sha256:" F64, NULL, "test:5000", "test:5000/repo", NULL, "sha256:" F64},
        {"test:5000/repo:tag@sha256:" F64, NULL, "test:5000", "test:5000/repo", "tag",
         "sha256:" F64},
        {"", "repository name must have at least one component"},
        {":justtag", "invalid reference format"},
        {"@sha256:" F64, "invalid reference format"},
        {"repo@sha256:ffffffffffffffffffffffffffffffffff", "invalid checksum digest length"},
        {"validname@invaliddigest:" F64, "unsupported digest algorithm"},
        {"Uppercase:tag", "repository name must be lowercase"},
        {"test:5000/Uppercase/lowercase:tag", "repository name must be lowercase"},
        {"lowercase:Uppercase", NULL, "", "lowercase", "Uppercase", NULL},
        {"aa/asdf$$^/aa", "invalid reference format"},
        {"sub-dom1.foo.com/bar/baz/quux", NULL, "sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux",
         NULL, NULL},
        {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", NULL, "sub-dom1.foo.com",
         "sub-dom1.foo.com/bar/baz/quux", "some-long-tag", NULL},
        {"b.gcr.io/test.example.com/my-app:test.example.com", NULL, "b.gcr.io",
         "b.gcr.io/test.example.com/my-app", "test.example.com", NULL},
        {"xn--n3h.com/myimage:xn--n3h.com", NULL, "xn--n3h.com", "xn--n3h.com/myimage",
         "xn--n3h.com", NULL},
        {"xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F128, NULL, "xn--7o8h.com",
         "xn--7o8h.com/myimage", "xn--7o8h.com", "sha512:" F128},
        {"foo_bar.com:8080", NULL, "", "foo_bar.com", "8080", NULL},
        {"foo/foo_bar.com:8080", NULL, "foo", "foo/foo_bar.com", "8080", NULL},
        {"192.168.1.1", NULL, "", "192.168.1.1", NULL, NULL},
        {"192.168.1.1:tag", NULL, "", "192.168.1.1", "tag", NULL},
        {"192.168.1.1:5000", NULL, "", "192.168.1.1", "5000", NULL},
        {"192.168.1.1/repo", NULL, "192.168.1.1", "192.168.1.1/repo", NULL, NULL},
        {"192.168.1.1:5000/repo", NULL, "192.168.1.1:5000", "192.168.1.1:5000/repo", NULL, NULL},
        {"192.168.1.1:5000/repo:5050", NULL, "192.168.1.1:5000", "192.168.1.1:5000/repo", "5050",
         NULL},
        {"[2001:db8::1]", "invalid reference format"},
        {"[2001:db8::1]:5000", "invalid reference format"},
        {"[2001:db8::1]:tag", "invalid reference format"},
        {"[2001:db8::1]/repo", NULL, "[2001:db8::1]", "[2001:db8::1]/repo", NULL, NULL},
        {"[2001:db8:1:2:3:4:5:6]/repo:tag", NULL, "[2001:db8:1:2:3:4:5:6]",
         "[2001:db8:1:2:3:4:5:6]/repo", "tag", NULL},
        {"[2001:db8::1]:5000/repo", NULL, "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", NULL,
         NULL},
        {"[2001:db8::1]:5000/repo:tag", NULL, "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo",
         "tag", NULL},
        {"[2001:db8::1]:5000/repo@sha256:" F64, NULL, "[2001:db8::1]:5000",
         "[2001:db8::1]:5000/repo", NULL, "sha256:" F64},
        {"[2001:db8::1]:5000/repo:tag@sha256:" F64, NULL, "[2001:db8::1]:5000",
         "[2001:db8::1]:5000/repo", "tag", "sha256:" F64},
        {"[2001:db8::]:5000/repo", NULL, "[2001:db8::]:5000", "[2001:db8::]:5000/repo", NULL, NULL},
        {"[::1]:5000/repo", NULL, "[::1]:5000", "[::1]:5000/repo", NULL, NULL},
        {"[fe80::1%eth0]:5000/repo", "invalid reference format"},
        {"[fe80::1%@invalidzone]:5000/repo", "invalid reference format"},
        /* domain/path splits (TestDomainAndPath) */
        {"test.com/foo", NULL, "test.com", "test.com/foo", NULL, NULL},
        {"test_com/foo", NULL, "", "test_com/foo", NULL, NULL},
        {"test:8080/foo", NULL, "test:8080", "test:8080/foo", NULL, NULL},
        {"test.com:8080/foo", NULL, "test.com:8080", "test.com:8080/foo", NULL, NULL},
        {"test-com:8080/foo", NULL, "test-com:8080", "test-com:8080/foo", NULL, NULL},
        {"xn--n3h.com:18080/foo", NULL, "xn--n3h.com:18080", "xn--n3h.com:18080/foo", NULL, NULL},
        {"other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112",
         NULL, "other.com", "other.com/named", NULL,
         "sha256:1234567890098765432112345667890098765432112345667890098765432112"},
        /* digest details (go-digest) */
        {"repo@sha256:" F64 "ff", "invalid checksum digest length"},
        {"repo@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
         "invalid checksum digest format"},
        {"repo@sha384:" F64 "ffffffffffffffffffffffffffffffff", NULL, "", "repo", NULL,
         "sha384:" F64 "ffffffffffffffffffffffffffffffff"},
        {"repo@md5:ffffffffffffffffffffffffffffffff", "unsupported digest algorithm"},
        {"repo@sha256:" F64 "@sha256:" F64, "invalid reference format"},
        {"repo@sha256:fff", "invalid reference format"},
        {"repo:tag@", "invalid reference format"},
        /* tags */
        {"repo:_under", NULL, "", "repo", "_under", NULL},
        {"repo:.dot", "invalid reference format"},
        {"repo:-dash", "invalid reference format"},
        {"repo:", "invalid reference format"},
        {"repo:a:b", "invalid reference format"},
        /* separators */
        {"a__b", NULL, "", "a__b", NULL, NULL},
        {"a___b", "invalid reference format"},
        {"a---b", NULL, "", "a---b", NULL, NULL},
        {"a.-b", "invalid reference format"},
        {"a..b", "invalid reference format"},
        {"a_.b", "invalid reference format"},
        {"a/", "invalid reference format"},
        {"/a", "invalid reference format"},
        {"a//b", "invalid reference format"},
        {"-a.com/b", "invalid reference format"},
        {"a-.com/b", "invalid reference format"},
        {"a.com:/b", "invalid reference format"},
        {"a.com:x/b", "invalid reference format"},
        {"[]/b", "invalid reference format"},
        {"[::1/b", "invalid reference format"},
        {"a b", "invalid reference format"},
        {"a\nb", "invalid reference format"},
};

static void test_strict_table(void)
{
    for (size_t i = 0; i < DH_ARRAY_SIZE(strict_cases); i++) {
        _cleanup_error_ struct dh_error *err = NULL;
        struct dh_imageref r;
        int rc = dh_imageref_parse_strict(strict_cases[i].in, &r, &err);

        if (strict_cases[i].err) {
            if (rc != -1 || !err || strcmp(err->msg, strict_cases[i].err) != 0)
                T_FAIL_AT("'%s': expected error '%s', got %s", strict_cases[i].in,
                          strict_cases[i].err, err ? err->msg : "success");
            T_ASSERT(!r.path && !r.domain && !r.tag && !r.digest);
            continue;
        }
        if (rc != 0) {
            T_FAIL_AT("'%s': %s", strict_cases[i].in, err ? err->msg : "?");
            continue;
        }
        _cleanup_free_ char *name = dh_imageref_name(&r);
        _cleanup_free_ char *str = dh_imageref_string(&r);

        T_EQ_STR(r.domain, strict_cases[i].domain);
        T_EQ_STR(name, strict_cases[i].name);
        T_EQ_STR(str, strict_cases[i].in); /* String() gives the input back */
        if (strict_cases[i].tag)
            T_EQ_STR(r.tag, strict_cases[i].tag);
        else
            T_ASSERT(r.tag == NULL);
        if (strict_cases[i].digest)
            T_EQ_STR(r.digest, strict_cases[i].digest);
        else
            T_ASSERT(r.digest == NULL);
        dh_imageref_release(&r);
    }
}

static void test_name_length(void)
{
    _cleanup_free_ char *a128 = repeat("a/", 128);
    _cleanup_free_ char *a127 = repeat("a/", 127);
    _cleanup_free_ char *tooLong = dh_xasprintf("%sa:tag", a128);
    _cleanup_free_ char *fits = dh_xasprintf("%sa:tag-puts-this-over-max", a127);
    _cleanup_free_ char *fitsname = dh_xasprintf("%sa", a127);
    _cleanup_free_ char *longtag = repeat("t", 129);
    _cleanup_free_ char *tag128 = repeat("t", 128);
    _cleanup_free_ char *s1 = dh_xasprintf("repo:%s", longtag);
    _cleanup_free_ char *s2 = dh_xasprintf("repo:%s", tag128);
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_imageref r;

    T_EQ_INT(dh_imageref_parse_strict(tooLong, &r, &err), -1);
    T_REQUIRE(err);
    T_EQ_STR(err->msg, "repository name must not be more than 255 characters");
    dh_error_free(&err);
    T_EQ_INT(dh_imageref_parse_strict(fits, &r, &err), 0);
    T_EQ_STR(r.domain, "a");
    T_EQ_STR(r.tag, "tag-puts-this-over-max");
    {
        _cleanup_free_ char *n = dh_imageref_name(&r);

        T_EQ_STR(n, fitsname);
    }
    dh_imageref_release(&r);
    T_EQ_INT(dh_imageref_parse_strict(s1, &r, &err), -1);
    T_REQUIRE(err);
    T_EQ_STR(err->msg, "invalid reference format");
    dh_error_free(&err);
    T_EQ_INT(dh_imageref_parse_strict(s2, &r, &err), 0);
    dh_imageref_release(&r);
    /* after normalisation "docker.io/" counts: 245 + 10 > 255 */
    {
        _cleanup_free_ char *p = repeat("b", 246);
        _cleanup_free_ char *s = dh_xasprintf("x/%s", p);

        T_EQ_INT(dh_imageref_parse(s, &r, &err), -1);
        T_REQUIRE(err);
        T_EQ_STR(err->msg, "repository name must not be more than 255 characters");
        dh_error_free(&err);
    }
}

/* ParseNormalizedNamed + TagNameOnly: input, error, canonical string, familiar, registry. */
static const struct {
    const char *in, *err, *canonical, *familiar, *registry;
} norm_cases[] = {
        {"busybox", NULL, "docker.io/library/busybox:latest", "busybox:latest",
         "registry-1.docker.io"},
        {"docker/docker", NULL, "docker.io/docker/docker:latest", "docker/docker:latest"},
        {"library/debian", NULL, "docker.io/library/debian:latest", "debian:latest"},
        {"debian", NULL, "docker.io/library/debian:latest", "debian:latest"},
        {"docker.io/docker/docker", NULL, "docker.io/docker/docker:latest"},
        {"docker.io/library/debian", NULL, "docker.io/library/debian:latest"},
        {"docker.io/debian", NULL, "docker.io/library/debian:latest"},
        {"index.docker.io/docker/docker", NULL, "docker.io/docker/docker:latest"},
        {"index.docker.io/library/debian", NULL, "docker.io/library/debian:latest"},
        {"index.docker.io/debian", NULL, "docker.io/library/debian:latest"},
        {"127.0.0.1:5000/docker/docker", NULL, "127.0.0.1:5000/docker/docker:latest",
         "127.0.0.1:5000/docker/docker:latest", "127.0.0.1:5000"},
        {"127.0.0.1:5000/library/debian", NULL, "127.0.0.1:5000/library/debian:latest"},
        {"127.0.0.1:5000/debian", NULL, "127.0.0.1:5000/debian:latest"},
        {"[::1]:5000/debian", NULL, "[::1]:5000/debian:latest", NULL, "[::1]:5000"},
        {"[fc00::1%eth0]:5000/debian", "invalid reference format"},
        {"thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", NULL,
         "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:"
         "latest"},
        {"docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", NULL,
         "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:"
         "latest"},
        {"https://github.com/docker/docker", "invalid reference format"},
        {"docker/Docker", "invalid reference format: repository name (docker/Docker) must be "
                          "lowercase"},
        {"Busybox", "invalid reference format: repository name (library/Busybox) must be "
                    "lowercase"},
        {"-docker", "invalid reference format"},
        {"-docker/docker", "invalid reference format"},
        {"-docker.io/docker/docker", "invalid reference format"},
        {"docker///docker", "invalid reference format"},
        {"docker.io/docker/Docker", "invalid reference format: repository name (docker/Docker) "
                                    "must be lowercase"},
        {"docker.io/docker///docker", "invalid reference format"},
        {"1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
         "invalid repository name (1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a)"
         ", cannot specify 64-byte hexadecimal strings"},
        /* TestValidateRemoteName */
        {"docker-rules/docker", NULL, "docker.io/docker-rules/docker:latest"},
        {"docker---rules/docker", NULL, "docker.io/docker---rules/docker:latest"},
        {"doc/docker", NULL, "docker.io/doc/docker:latest"},
        {"d/docker", NULL, "docker.io/d/docker:latest"},
        {"jess/t", NULL, "docker.io/jess/t:latest"},
        {"dock__er/docker", NULL, "docker.io/dock__er/docker:latest"},
        {"docker-/docker", "invalid reference format"},
        {"-docker-/docker", "invalid reference format"},
        {"____/____", "invalid reference format"},
        {"_docker/_docker", "invalid reference format"},
        {"dock..er/docker", "invalid reference format"},
        {"dock_.er/docker", "invalid reference format"},
        {"dock-.er/docker", "invalid reference format"},
        {"docker/", "invalid reference format"},
        {"", "invalid reference format"}, /* "docker.io/library/" after normalisation */
        /* TestParseRepositoryInfo */
        {"fooo/bar", NULL, "docker.io/fooo/bar:latest", "fooo/bar:latest"},
        {"index.docker.io/fooo/bar", NULL, "docker.io/fooo/bar:latest", "fooo/bar:latest"},
        {"library/ubuntu", NULL, "docker.io/library/ubuntu:latest", "ubuntu:latest"},
        {"nonlibrary/ubuntu", NULL, "docker.io/nonlibrary/ubuntu:latest",
         "nonlibrary/ubuntu:latest"},
        {"other/library", NULL, "docker.io/other/library:latest", "other/library:latest"},
        {"127.0.0.1:8000/private/moonbase", NULL, "127.0.0.1:8000/private/moonbase:latest"},
        {"127.0.0.1:8000/privatebase", NULL, "127.0.0.1:8000/privatebase:latest",
         "127.0.0.1:8000/privatebase:latest"},
        {"example.com/private/moonbase", NULL, "example.com/private/moonbase:latest", NULL,
         "example.com"},
        {"example.com:8000/privatebasee", NULL, "example.com:8000/privatebasee:latest", NULL,
         "example.com:8000"},
        {"ubuntu-12.04-base", NULL, "docker.io/library/ubuntu-12.04-base:latest",
         "ubuntu-12.04-base:latest"},
        {"docker.io/foo", NULL, "docker.io/library/foo:latest", "foo:latest"},
        {"library/foo/bar", NULL, "docker.io/library/foo/bar:latest", "library/foo/bar:latest"},
        {"store/foo/bar", NULL, "docker.io/store/foo/bar:latest", "store/foo/bar:latest"},
        /* TestParseReferenceWithTagAndDigest, TestParseAnyReference */
        {"busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
         NULL,
         "docker.io/library/busybox:latest@sha256:"
         "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
         "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"},
        {"redis@sha256:" D1, NULL, "docker.io/library/redis@sha256:" D1, "redis@sha256:" D1},
        {"dmcgowan/myapp@sha256:" D1, NULL, "docker.io/dmcgowan/myapp@sha256:" D1},
        {"redis:7", NULL, "docker.io/library/redis:7", "redis:7"},
        {"dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", NULL,
         "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest"},
        /* TestNormalizedSplitHostname */
        {"test.com/foo", NULL, "test.com/foo:latest", NULL, "test.com"},
        {"test_com/foo", NULL, "docker.io/test_com/foo:latest"},
        {"test.com:8080/foo", NULL, "test.com:8080/foo:latest"},
        {"test-com:8080/foo", NULL, "test-com:8080/foo:latest"},
        {"foo", NULL, "docker.io/library/foo:latest"},
        {"xn--n3h.com/foo", NULL, "xn--n3h.com/foo:latest"},
        {"xn--n3h.com:18080/foo", NULL, "xn--n3h.com:18080/foo:latest"},
        {"docker.io/library/foo/bar", NULL, "docker.io/library/foo/bar:latest"},
        /* localhost and uppercase first components are domains */
        {"localhost/foo", NULL, "localhost/foo:latest", NULL, "localhost"},
        {"localhost:5000/foo:1", NULL, "localhost:5000/foo:1", NULL, "localhost:5000"},
        {"localhost", NULL, "docker.io/library/localhost:latest"},
        {"localhost:5000", NULL, "docker.io/library/localhost:5000"}, /* a tag, as docker */
        {"Example/foo", NULL, "Example/foo:latest", NULL, "Example"},
        {"example.com/Foo", "invalid reference format: repository name (Foo) must be lowercase"},
        {"example.com/foo:Tag", NULL, "example.com/foo:Tag"},
        /* a first component with '.' that is no valid domain: docker keeps an empty domain */
        {"a_b.c/x", "invalid reference format"},
};

static void test_normalized_table(void)
{
    for (size_t i = 0; i < DH_ARRAY_SIZE(norm_cases); i++) {
        _cleanup_error_ struct dh_error *err = NULL;
        struct dh_imageref r;
        int rc = dh_imageref_parse(norm_cases[i].in, &r, &err);

        if (norm_cases[i].err) {
            if (rc != -1 || !err || strcmp(err->msg, norm_cases[i].err) != 0)
                T_FAIL_AT("'%s': expected error '%s', got %s", norm_cases[i].in, norm_cases[i].err,
                          err ? err->msg : "success");
            else
                T_EQ_INT(err->status, EINVAL);
            T_ASSERT(!r.path && !r.domain && !r.tag && !r.digest);
            continue;
        }
        if (rc != 0) {
            T_FAIL_AT("'%s': %s", norm_cases[i].in, err ? err->msg : "?");
            continue;
        }
        _cleanup_free_ char *str = dh_imageref_string(&r);
        _cleanup_free_ char *fam = dh_imageref_familiar(&r);
        _cleanup_free_ char *reg = dh_imageref_registry(&r);

        if (strcmp(str, norm_cases[i].canonical) != 0)
            T_FAIL_AT("'%s': canonical '%s', expected '%s'", norm_cases[i].in, str,
                      norm_cases[i].canonical);
        if (norm_cases[i].familiar)
            T_EQ_STR(fam, norm_cases[i].familiar);
        if (norm_cases[i].registry)
            T_EQ_STR(reg, norm_cases[i].registry);
        /* the canonical string parses to itself */
        {
            _cleanup_error_ struct dh_error *e2 = NULL;
            struct dh_imageref r2;

            T_EQ_INT(dh_imageref_parse(str, &r2, &e2), 0);
            if (!e2) {
                _cleanup_free_ char *s2 = dh_imageref_string(&r2);

                T_EQ_STR(s2, str);
                dh_imageref_release(&r2);
            }
        }
        dh_imageref_release(&r);
    }
}

static void test_accessors(void)
{
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_imageref r;

    T_REQUIRE(dh_imageref_parse("busybox", &r, &err) == 0);
    {
        _cleanup_free_ char *scope = dh_imageref_scope(&r);
        _cleanup_free_ char *name = dh_imageref_name(&r);

        T_EQ_STR(scope, "repository:library/busybox:pull");
        T_EQ_STR(name, "docker.io/library/busybox");
        T_EQ_STR(dh_imageref_manifest_ref(&r), "latest");
    }
    dh_imageref_release(&r);
    T_REQUIRE(dh_imageref_parse("127.0.0.1:5000/a/b:1@sha256:" D1, &r, &err) == 0);
    {
        _cleanup_free_ char *scope = dh_imageref_scope(&r);

        T_EQ_STR(scope, "repository:a/b:pull");
        T_EQ_STR(dh_imageref_manifest_ref(&r), "sha256:" D1);
        T_EQ_STR(r.tag, "1");
    }
    dh_imageref_release(&r);
    dh_imageref_release(NULL);
}

static void test_digest_validate(void)
{
    static const struct {
        const char *d, *err;
    } cases[] = {
            {"sha256:" D1, NULL},
            {"sha512:" F128, NULL},
            {"sha256:" F64 "0", "invalid checksum digest length"},
            {"sha256:", "invalid checksum digest format"},
            {":" F64, "invalid checksum digest format"},
            {"sha256", "invalid checksum digest format"},
            {"SHA256:" F64, "invalid checksum digest format"},
            {"sha256:" F64 "\n", "invalid checksum digest length"},
            {"sha1:" F64, "unsupported digest algorithm"},
            {"sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffFF",
             "invalid checksum digest format"},
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(cases); i++) {
        _cleanup_error_ struct dh_error *err = NULL;
        int rc = dh_digest_validate(cases[i].d, &err);

        if (!cases[i].err) {
            if (rc != 0)
                T_FAIL_AT("'%s': %s", cases[i].d, err ? err->msg : "?");
        } else if (rc != -1 || !err || strcmp(err->msg, cases[i].err) != 0) {
            T_FAIL_AT("'%s': expected '%s', got '%s'", cases[i].d, cases[i].err,
                      err ? err->msg : "success");
        }
    }
}

int main(void)
{
    T_RUN(test_strict_table);
    T_RUN(test_name_length);
    T_RUN(test_normalized_table);
    T_RUN(test_accessors);
    T_RUN(test_digest_validate);
    return t_done();
}
