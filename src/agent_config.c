/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's image list and settings (docs/agent.md), parsed with dockhand/yaml.h.
 * Strict: unknown keys, wrong types and duplicate images are errors naming
 * "<file>:<line>: ".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "dockhand/agent.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/fsutil.h"
#include "dockhand/imageref.h"
#include "dockhand/mem.h"
#include "dockhand/yaml.h"

#define DAY_MS (24ull * 3600 * 1000)

static void image_release(struct dh_agent_image *im)
{
    free(im->ref);
    free(im->canonical);
    free(im->name);
    free(im->registry);
    free(im->platform);
    free(im->credentials);
}

void dh_agent_config_free(struct dh_agent_config *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n_images; i++)
        image_release(&c->images[i]);
    free(c->images);
    for (i = 0; i < c->n_insecure; i++)
        free(c->insecure_registries[i]);
    free(c->insecure_registries);
    free(c->metrics_address);
    free(c->runtime_endpoint);
    free(c->state_dir);
    free(c);
}

static int check_platform(const struct dh_yaml_node *n, const char *p, struct dh_error **err)
{
    size_t i, slashes = 0;
    bool ok = *p && *p != '/';

    for (i = 0; ok && p[i]; i++) {
        if (p[i] == '/') {
            slashes++;
            ok = p[i + 1] && p[i + 1] != '/';
        } else {
            ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_';
        }
    }
    if (!ok || slashes < 1 || slashes > 2)
        return dh_yaml_error(n, err, EINVAL,
                             "'platform' must be os/arch[/variant] such as linux/amd64");
    return 0;
}

static int parse_image(const struct dh_yaml_node *n, struct dh_agent_image *im,
                       struct dh_error **err)
{
    _cleanup_free_ char *ref = NULL;
    struct dh_imageref parsed;
    const struct dh_yaml_node *v;
    size_t i;

    im->line = n->line;
    if (n->type == DH_YAML_SCALAR) {
        if (dh_yaml_get_string(n, "images[]", &ref, err) < 0)
            return -1;
        v = n;
    } else if (n->type == DH_YAML_MAPPING) {
        for (i = 0; i < n->n_pairs; i++) {
            const char *k = n->pairs[i].key;
            if (strcmp(k, "image") && strcmp(k, "platform") && strcmp(k, "credentials")) {
                _cleanup_free_ char *shown = dh_yaml_printable(k, n->pairs[i].key_len);
                return dh_yaml_error(n->pairs[i].value, err, EINVAL,
                                     "unknown key '%s' in an image (image, platform, "
                                     "credentials)",
                                     shown);
            }
        }
        v = dh_yaml_mapping_get(n, "image");
        if (!v)
            return dh_yaml_error(n, err, EINVAL, "an image entry needs 'image'");
        if (dh_yaml_get_string(v, "image", &ref, err) < 0)
            return -1;
        if ((v = dh_yaml_mapping_get(n, "platform")) && !dh_yaml_is_null(v)) {
            if (dh_yaml_get_string(v, "platform", &im->platform, err) < 0 ||
                check_platform(v, im->platform, err) < 0)
                return -1;
        }
        if ((v = dh_yaml_mapping_get(n, "credentials")) && !dh_yaml_is_null(v)) {
            if (dh_yaml_get_string(v, "credentials", &im->credentials, err) < 0)
                return -1;
            if (!*im->credentials)
                return dh_yaml_error(v, err, EINVAL, "'credentials' must not be empty");
        }
        v = dh_yaml_mapping_get(n, "image");
    } else {
        return dh_yaml_error(n, err, EINVAL,
                             "an image must be a reference or a mapping with 'image'");
    }
    if (dh_imageref_parse(ref, &parsed, err) < 0) {
        _cleanup_free_ char *shown = dh_yaml_printable(ref, strlen(ref));
        _cleanup_error_ struct dh_error *e = TAKE_PTR(*err);
        return dh_yaml_error(v, err, EINVAL, "'%s': %s", shown, e->msg);
    }
    im->canonical = dh_imageref_string(&parsed);
    im->name = dh_imageref_name(&parsed);
    im->registry = dh_xstrdup(parsed.domain);
    im->by_digest = parsed.digest != NULL;
    dh_imageref_release(&parsed);
    im->ref = TAKE_PTR(ref);
    return 0;
}

static int get_duration(const struct dh_yaml_node *root, const char *key, uint64_t max,
                        uint64_t *ret, bool *set, struct dh_error **err)
{
    const struct dh_yaml_node *v = dh_yaml_mapping_get(root, key);

    if (!v || dh_yaml_is_null(v))
        return 0;
    if (set)
        *set = true;
    return dh_yaml_get_duration(v, key, max, ret, err);
}

static int get_string(const struct dh_yaml_node *root, const char *key, char **ret,
                      struct dh_error **err)
{
    const struct dh_yaml_node *v = dh_yaml_mapping_get(root, key);

    if (!v || dh_yaml_is_null(v))
        return 0;
    free(*ret);
    *ret = NULL;
    return dh_yaml_get_string(v, key, ret, err);
}

static const char *const known_keys[] = {
        "images",          "concurrency", "startJitter", "recheckInterval",    "retryBase",
        "retryMax",        "retries",     "pullTimeout", "reloadInterval",     "metricsAddress",
        "runtimeEndpoint", "stateDir",    "remove",      "insecureRegistries",
};

int dh_agent_config_parse(const char *data, size_t len, const char *filename,
                          struct dh_agent_config **ret, struct dh_error **err)
{
    _cleanup_yaml_ struct dh_yaml_node *root = NULL;
    _cleanup_agent_config_ struct dh_agent_config *c = dh_xcalloc(1, sizeof(*c));
    const struct dh_yaml_node *v;
    uint64_t u;
    size_t i, j;

    c->concurrency = 2;
    c->start_jitter_ms = 10000;
    c->recheck_ms = 15 * 60 * 1000;
    c->retry_base_ms = 5000;
    c->retry_max_ms = 5 * 60 * 1000;
    c->retries = 5;
    c->pull_timeout_ms = 30 * 60 * 1000;
    c->reload_check_ms = 10000;
    c->metrics_address = dh_xstrdup(DH_AGENT_DEFAULT_METRICS);

    if (dh_yaml_parse(data, len, filename, &root, err) < 0)
        return -1;
    if (!root)
        return dh_error_make(err, EINVAL, "%s: the image list is empty (no 'images:')",
                             filename ? filename : "<input>");
    if (dh_yaml_expect(root, DH_YAML_MAPPING, "the file", err) < 0)
        return -1;
    for (i = 0; i < root->n_pairs; i++) {
        bool known = false;
        for (j = 0; j < DH_ARRAY_SIZE(known_keys); j++)
            known = known || !strcmp(root->pairs[i].key, known_keys[j]);
        if (!known) {
            _cleanup_free_ char *shown =
                    dh_yaml_printable(root->pairs[i].key, root->pairs[i].key_len);
            return dh_yaml_error(root->pairs[i].value, err, EINVAL, "unknown setting '%s'", shown);
        }
    }
    v = dh_yaml_mapping_get(root, "images");
    if (!v)
        return dh_yaml_error(root, err, EINVAL, "'images' is required (a list of images)");
    if (!dh_yaml_is_null(v)) {
        if (dh_yaml_expect(v, DH_YAML_SEQUENCE, "images", err) < 0)
            return -1;
        if (v->n_items > DH_AGENT_MAX_IMAGES)
            return dh_yaml_error(v, err, E2BIG, "'images' has more than %d entries",
                                 DH_AGENT_MAX_IMAGES);
        c->images = dh_xcalloc(v->n_items ? v->n_items : 1, sizeof(*c->images));
        for (i = 0; i < v->n_items; i++) {
            if (parse_image(v->items[i], &c->images[c->n_images], err) < 0) {
                image_release(&c->images[c->n_images]);
                return -1;
            }
            c->n_images++;
            for (j = 0; j + 1 < c->n_images; j++)
                if (!strcmp(c->images[j].canonical, c->images[i].canonical))
                    return dh_yaml_error(v->items[i], err, EINVAL,
                                         "'%s' is listed twice (first on line %zu)",
                                         c->images[i].canonical, c->images[j].line);
        }
    }
    if ((v = dh_yaml_mapping_get(root, "concurrency")) && !dh_yaml_is_null(v)) {
        if (dh_yaml_get_uint(v, "concurrency", 64, &u, err) < 0)
            return -1;
        if (u == 0)
            return dh_yaml_error(v, err, EINVAL, "'concurrency' must be at least 1");
        c->concurrency = (unsigned)u;
    }
    if ((v = dh_yaml_mapping_get(root, "retries")) && !dh_yaml_is_null(v)) {
        if (dh_yaml_get_uint(v, "retries", 100, &u, err) < 0)
            return -1;
        c->retries = (unsigned)u;
    }
    if (get_duration(root, "startJitter", DAY_MS, &c->start_jitter_ms, &c->start_jitter_set, err) <
                0 ||
        get_duration(root, "recheckInterval", 30 * DAY_MS, &c->recheck_ms, NULL, err) < 0 ||
        get_duration(root, "retryBase", DAY_MS, &c->retry_base_ms, NULL, err) < 0 ||
        get_duration(root, "retryMax", DAY_MS, &c->retry_max_ms, NULL, err) < 0 ||
        get_duration(root, "pullTimeout", DAY_MS, &c->pull_timeout_ms, NULL, err) < 0 ||
        get_duration(root, "reloadInterval", DAY_MS, &c->reload_check_ms, NULL, err) < 0)
        return -1;
    if (c->recheck_ms < 1000 && dh_yaml_mapping_get(root, "recheckInterval"))
        return dh_yaml_error(dh_yaml_mapping_get(root, "recheckInterval"), err, EINVAL,
                             "'recheckInterval' must be at least 1s");
    if (c->retry_base_ms == 0)
        c->retry_base_ms = 1;
    if (c->retry_max_ms < c->retry_base_ms)
        c->retry_max_ms = c->retry_base_ms;
    if (c->pull_timeout_ms == 0)
        c->pull_timeout_ms = 30 * 60 * 1000;
    if (c->reload_check_ms == 0)
        c->reload_check_ms = 10000;
    if (get_string(root, "metricsAddress", &c->metrics_address, err) < 0 ||
        get_string(root, "runtimeEndpoint", &c->runtime_endpoint, err) < 0 ||
        get_string(root, "stateDir", &c->state_dir, err) < 0)
        return -1;
    if (!c->metrics_address)
        c->metrics_address = dh_xstrdup("");
    if (c->state_dir && c->state_dir[0] != '/')
        return dh_yaml_error(dh_yaml_mapping_get(root, "stateDir"), err, EINVAL,
                             "'stateDir' must be an absolute path");
    if ((v = dh_yaml_mapping_get(root, "remove")) && !dh_yaml_is_null(v) &&
        dh_yaml_get_bool(v, "remove", &c->remove, err) < 0)
        return -1;
    if ((v = dh_yaml_mapping_get(root, "insecureRegistries")) && !dh_yaml_is_null(v)) {
        if (dh_yaml_expect(v, DH_YAML_SEQUENCE, "insecureRegistries", err) < 0)
            return -1;
        c->insecure_registries = dh_xcalloc(v->n_items + 1, sizeof(char *));
        for (i = 0; i < v->n_items; i++) {
            if (dh_yaml_get_string(v->items[i], "insecureRegistries[]", &c->insecure_registries[i],
                                   err) < 0)
                return -1;
            c->n_insecure++;
        }
    }
    *ret = TAKE_PTR(c);
    return 0;
}

int dh_agent_config_load(const char *path, struct dh_agent_config **ret, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(DH_YAML_MAX_SIZE + 1);

    if (dh_read_file(path, &b, err) < 0)
        return dh_error_wrap(err, "cannot read the image list '%s'", path);
    return dh_agent_config_parse(b.data ? b.data : "", b.len, path, ret, err);
}

char *dh_agent_node_platform(void)
{
    struct utsname u;
    const char *arch = "amd64", *variant = NULL;

    if (uname(&u) == 0) {
        if (!strcmp(u.machine, "x86_64"))
            arch = "amd64";
        else if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
            arch = "arm64", variant = "v8";
        else if (!strncmp(u.machine, "armv7", 5))
            arch = "arm", variant = "v7";
        else if (!strncmp(u.machine, "armv6", 5))
            arch = "arm", variant = "v6";
        else if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386"))
            arch = "386";
        else
            arch = u.machine; /* ppc64le, s390x, riscv64 are spelled as GOARCH */
    }
    return variant ? dh_xasprintf("linux/%s/%s", arch, variant) : dh_xasprintf("linux/%s", arch);
}

bool dh_agent_platform_matches(const char *want, const char *node)
{
    size_t n = strlen(want);
    const char *slash = strchr(want, '/');

    if (!strcmp(want, node))
        return true;
    /* "linux/arm64" matches "linux/arm64/v8": no variant asked means any. */
    return slash && !strchr(slash + 1, '/') && !strncmp(want, node, n) && node[n] == '/';
}
