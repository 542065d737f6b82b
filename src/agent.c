/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `dockhand agent`: the node pre-puller engine (dockhand/agent.h, docs/agent.md).
 *
 * One process keeps the desired list, the state of each image, the scheduler
 * (concurrency limit, start jitter, retry schedule, per-registry backoff), the
 * reload watch and the metrics server, in one poll loop.  Every CRI or registry
 * conversation (check, pull, re-check, removal) runs in a forked child that
 * reports one JSON line on a pipe and exits: the parent never loads libcurl, a
 * SIGTERM stops everything at once (the children are killed, the runtime cancels
 * their pulls when the connection closes), and the parent stays small.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/agent.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/config.h"
#include "dockhand/cri.h"
#include "dockhand/fsutil.h"
#include "dockhand/log.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"
#include "dockhand/metrics.h"
#include "dockhand/protobuf.h"
#include "dockhand/registry.h"
#include "dockhand/resolve.h"
#include "dockhand/store.h"
#include "dockhand/yaml.h"

#define RESULT_MAX      ((size_t)64 << 10)
#define STATE_MAX       ((size_t)8 << 20)
#define REG_BACKOFF_0   1000ull
#define REG_BACKOFF_MAX (5ull * 60 * 1000)

/* ---------------------------------------------------------------- helpers */

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double rnd(void)
{
    return drand48();
}

int64_t dh_agent_parse_retry_after(const char *v, int64_t now_unix)
{
    struct tm tm = {0};
    char *end;
    long long s;
    int64_t ms;

    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        errno = 0;
        s = strtoll(v, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (errno || *end)
            return -1;
        ms = s > 3600 ? 3600 * 1000 : (int64_t)s * 1000;
        return ms;
    }
    end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    ms = ((int64_t)timegm(&tm) - now_unix) * 1000;
    if (ms < 0)
        ms = 0;
    return ms > 3600 * 1000 ? 3600 * 1000 : ms;
}

uint64_t dh_agent_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms, double r)
{
    uint64_t d = base_ms;
    unsigned i;

    for (i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    /* +-20 % */
    return (uint64_t)((double)d * (0.8 + 0.4 * r));
}

bool dh_agent_error_is_throttle(const char *msg)
{
    static const char *const marks[] = {
            "429 Too Many Requests",     "toomanyrequests", "TOOMANYREQUESTS",
            "500 Internal Server Error", "502 Bad Gateway", "503 Service Unavailable",
            "504 Gateway Timeout",       "status 429",      "status 503",
    };
    size_t i;

    for (i = 0; msg && i < DH_ARRAY_SIZE(marks); i++)
        if (strstr(msg, marks[i]))
            return true;
    return false;
}

static void strv_add(char ***v, size_t *n, const char *s)
{
    *v = dh_xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = dh_xstrdup(s);
    (*v)[*n] = NULL;
}

/* Container: image = 4 (ImageSpec, image = 1), image_ref = 5. */
int dh_agent_decode_container_images(const void *data, size_t len, char ***images, size_t *n,
                                     struct dh_error **err)
{
    struct dh_pb_reader r, cr, sr;
    struct dh_pb_field f, cf, sf;
    int k;

    dh_pb_reader_init(&r, data, len);
    while ((k = dh_pb_next(&r, &f, err)) > 0) {
        if (f.number != 1 || f.wire != DH_PB_LEN)
            continue;
        dh_pb_reader_init(&cr, f.data, f.len);
        while ((k = dh_pb_next(&cr, &cf, err)) > 0) {
            _cleanup_free_ char *s = NULL;

            if (cf.wire != DH_PB_LEN)
                continue;
            if (cf.number == 5) {
                if (dh_pb_field_string(&cf, DH_CRI_MAX_STRING, &s, err) < 0)
                    return -1;
                if (*s)
                    strv_add(images, n, s);
            } else if (cf.number == 4) {
                dh_pb_reader_init(&sr, cf.data, cf.len);
                while ((k = dh_pb_next(&sr, &sf, err)) > 0) {
                    if (sf.number != 1 || sf.wire != DH_PB_LEN)
                        continue;
                    if (dh_pb_field_string(&sf, DH_CRI_MAX_STRING, &s, err) < 0)
                        return -1;
                }
                if (k < 0)
                    return -1;
                if (s && *s)
                    strv_add(images, n, s);
            }
        }
        if (k < 0)
            return -1;
    }
    return k < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- state */

enum item_state {
    ST_PENDING = 0,
    ST_PRESENT,
    ST_FAILED,
    ST_SKIPPED,
};

static const char *const state_names[] = {"pending", "present", "failed", "skipped"};

enum job_kind {
    JOB_ENSURE = 1,
    JOB_RECHECK,
    JOB_REMOVE,
};

struct job {
    pid_t pid;
    int fd;
    enum job_kind kind;
    long long started;
    struct dh_buf out;
};

struct item {
    const struct dh_agent_image *img; /* in agent->cfg */
    enum item_state state;
    long long next;    /* monotonic ms of the next job, or LLONG_MAX */
    unsigned attempts; /* failures in a row */
    bool final;        /* --once: no more attempts */
    char *error;
    char *digest;
    char *id;
    int64_t last_success;
    struct job job;
};

struct removal {
    char *ref;
    char *id;
    long long next;
    struct job job;
};

struct reg {
    char *host;
    long long until;
    unsigned level;
};

struct agent {
    const struct dh_agent_options *opts;
    struct dh_agent_config *cfg;
    struct dh_buf cfg_bytes;
    struct item *items;
    size_t n_items;
    struct removal *removals;
    size_t n_removals;
    struct reg *regs;
    size_t n_regs;
    json_t *pulled; /* canonical -> {"id", "time"}: what dockhand pulled */
    char *state_path;
    char *endpoint;
    char *node_platform;
    unsigned concurrency;
    unsigned running;
    bool stopping;
    /* metrics */
    uint64_t pulls_ok, pulls_failed, rechecks, removals_done, throttles, reloads;
    double pull_seconds;
    uint64_t pull_bytes;
    int64_t last_success;
};

static void job_init(struct job *j)
{
    j->pid = 0;
    j->fd = -1;
    dh_buf_init(&j->out, RESULT_MAX);
}

static const char *cred_key(const struct dh_agent_image *im)
{
    if (im->credentials)
        return im->credentials;
    if (!strcmp(im->registry, "docker.io"))
        return "https://index.docker.io/v1/";
    return im->registry;
}

static bool is_insecure(const struct dh_agent_config *cfg, const char *host)
{
    size_t i;

    for (i = 0; i < cfg->n_insecure; i++)
        if (!strcmp(cfg->insecure_registries[i], host))
            return true;
    return false;
}

/* ---------------------------------------------------------------- children */

/* Credentials as the helper's get answers them; 0 with *user NULL when none. */
static int child_creds(const struct dh_agent_image *im, char **user, char **secret,
                       struct dh_error **err)
{
    _cleanup_config_ struct dh_config *cfg = NULL;
    _cleanup_store_ struct dh_store *store = NULL;
    _cleanup_cred_ struct dh_cred *cred = NULL;
    int r;

    *user = *secret = NULL;
    if (im->credentials && !strcmp(im->credentials, "none"))
        return 0;
    if (dh_config_load(&cfg, err) < 0 || dh_store_open_for_call(cfg, &store, err) < 0)
        return dh_error_wrap(err, "credentials for '%s'", cred_key(im));
    r = dh_resolve_cred(cfg, store, cred_key(im), &cred, NULL, err);
    if (r < 0)
        return dh_error_wrap(err, "credentials for '%s'", cred_key(im));
    if (r == 0)
        return 0;
    *user = TAKE_PTR(cred->username);
    *secret = TAKE_PTR(cred->secret);
    return 0;
}

static const char *image_digest(const struct dh_agent_image *im, const struct dh_cri_image *img)
{
    size_t i, n = strlen(im->name);

    for (i = 0; i < img->n_repo_digests; i++)
        if (!strncmp(img->repo_digests[i], im->name, n) && img->repo_digests[i][n] == '@')
            return img->repo_digests[i] + n + 1;
    return img->n_repo_digests ? strchr(img->repo_digests[0], '@') : NULL;
}

static bool has_digest(const struct dh_agent_image *im, const struct dh_cri_image *img,
                       const char *digest)
{
    size_t i, n = strlen(im->name);

    for (i = 0; i < img->n_repo_digests; i++)
        if (!strncmp(img->repo_digests[i], im->name, n) && img->repo_digests[i][n] == '@' &&
            !strcmp(img->repo_digests[i] + n + 1, digest))
            return true;
    return false;
}

/* Manifest HEAD of the tag: *ret_digest, or an error; *throttle_ms >= 0 for 429/5xx. */
static int head_digest(const struct dh_agent_config *cfg, const struct dh_agent_image *im,
                       const char *user, const char *secret, char **ret_digest,
                       int64_t *throttle_ms, struct dh_error **err)
{
    _cleanup_registry_ struct dh_registry *reg = NULL;
    _cleanup_free_ char *url = NULL, *scope = NULL;
    const char *path = im->name + strlen(im->registry) + 1;
    const char *tag = strrchr(im->canonical, ':') + 1;
    const char *headers[] = {"Accept: " DH_MANIFEST_ACCEPT, NULL};
    struct dh_http_request req = {0};
    struct dh_http_response resp;
    const char *d;
    int r;

    *throttle_ms = -1;
    if (dh_registry_new(im->registry, is_insecure(cfg, im->registry) ? DH_REGISTRY_INSECURE : 0,
                        &reg, err) < 0)
        return -1;
    if (user && strcmp(user, "<token>") != 0)
        dh_registry_set_credentials(reg, user, secret);
    url = dh_xasprintf("/v2/%s/manifests/%s", path, tag);
    scope = dh_xasprintf("repository:%s:pull", path);
    req.method = "HEAD";
    req.url = url;
    req.headers = headers;
    if (dh_registry_do(reg, scope, &req, &resp, err) < 0) {
        dh_http_response_release(&resp);
        if ((*err)->status == EAGAIN) {
            /* the ping (GET /v2/) was answered 429/5xx */
            int64_t ra =
                    dh_agent_parse_retry_after(dh_registry_retry_after(reg), (int64_t)time(NULL));
            *throttle_ms = ra < 0 ? 0 : ra;
        }
        return dh_error_wrap(err, "manifest HEAD of '%s'", im->canonical);
    }
    if (resp.status == 429 || resp.status >= 500) {
        int64_t ra = dh_agent_parse_retry_after(dh_http_header(&resp, "Retry-After"),
                                                (int64_t)time(NULL));
        *throttle_ms = ra < 0 ? 0 : ra;
        r = dh_error_make(err, EAGAIN, "manifest HEAD of '%s': registry answered %ld%s",
                          im->canonical, resp.status, ra >= 0 ? " (with Retry-After)" : "");
    } else if (resp.status != 200) {
        r = dh_error_make(err, resp.status == 401 || resp.status == 403 ? EACCES : EIO,
                          "manifest HEAD of '%s': registry answered %ld", im->canonical,
                          resp.status);
    } else if (!(d = dh_http_header(&resp, "Docker-Content-Digest")) ||
               strncmp(d, "sha256:", 7) != 0) {
        r = dh_error_make(err, EPROTO,
                          "manifest HEAD of '%s': no Docker-Content-Digest in the answer",
                          im->canonical);
    } else {
        *ret_digest = dh_xstrdup(d);
        r = 0;
    }
    dh_http_response_release(&resp);
    return r;
}

static void put_image(json_t *res, const struct dh_agent_image *im,
                      const struct dh_cri_image_status *st)
{
    const char *d = image_digest(im, &st->image);

    json_object_set_new(res, "present", json_boolean(st->present));
    if (!st->present)
        return;
    json_object_set_new(res, "id", json_string(st->image.id ? st->image.id : ""));
    json_object_set_new(res, "size", json_integer((json_int_t)st->image.size));
    if (d)
        json_object_set_new(res, "digest", json_string(d[0] == '@' ? d + 1 : d));
}

static void child_ensure(const struct agent *a, const struct dh_agent_image *im, bool recheck,
                         json_t *res)
{
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_cri_client *c = NULL;
    struct dh_cri_image_spec spec = {.image = im->canonical};
    struct dh_cri_image_status st = {0};
    struct dh_cri_auth auth = {0};
    char *user = NULL, *secret = NULL, *ref = NULL, *digest = NULL;
    int64_t throttle_ms = -1;
    long long t0;

    if (dh_cri_open(a->endpoint, &c, &err) < 0)
        goto fail;
    dh_cri_set_timeouts(c, 0, (long)a->cfg->pull_timeout_ms);
    if (dh_cri_image_status(c, &spec, false, &st, &err) < 0)
        goto fail;
    if (st.present && (!recheck || im->by_digest)) {
        put_image(res, im, &st);
        goto done;
    }
    if (child_creds(im, &user, &secret, &err) < 0)
        goto fail;
    if (st.present) {
        json_object_set_new(res, "rechecked", json_true());
        if (head_digest(a->cfg, im, user, secret, &digest, &throttle_ms, &err) < 0) {
            /* the image is present: the failed check is reported, not the image */
            put_image(res, im, &st);
            json_object_set_new(res, "recheck_error", json_string(err->msg));
            if (throttle_ms >= 0)
                json_object_set_new(res, "throttle_ms", json_integer(throttle_ms));
            goto done;
        }
        if (has_digest(im, &st.image, digest)) {
            put_image(res, im, &st);
            goto done;
        }
        json_object_set_new(res, "moved_to", json_string(digest));
    }
    if (user && dh_cri_auth_from_credential(user, secret, &auth, &err) < 0)
        goto fail;
    t0 = mono_ms();
    if (dh_cri_pull_image(c, &spec, user ? &auth : NULL, &ref, &err) < 0) {
        if (dh_agent_error_is_throttle(err->msg))
            json_object_set_new(res, "throttle_ms", json_integer(0));
        goto fail;
    }
    json_object_set_new(res, "pulled", json_true());
    json_object_set_new(res, "pull_ms", json_integer(mono_ms() - t0));
    dh_cri_image_status_release(&st);
    if (dh_cri_image_status(c, &spec, false, &st, &err) < 0)
        goto fail;
    put_image(res, im, &st);
    goto done;
fail:
    json_object_set_new(res, "error", json_string(err ? err->msg : "failed"));
done:
    free(ref);
    free(digest);
    free(user);
    dh_str_free_wipe(secret);
    dh_cri_auth_release(&auth);
    dh_cri_image_status_release(&st);
    dh_cri_close(c);
}

static void child_remove(const struct agent *a, const char *ref, const char *id, json_t *res)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_buf_ struct dh_buf reply = DH_BUF_INIT((size_t)16 << 20);
    struct dh_cri_client *c = NULL;
    _cleanup_free_ char *ref_copy = dh_xstrdup(ref);
    struct dh_cri_image_spec spec = {.image = ref_copy};
    struct dh_cri_image_status st = {0};
    char **used = NULL;
    size_t n_used = 0, i;

    if (dh_cri_open(a->endpoint, &c, &err) < 0)
        goto fail;
    if (dh_cri_image_status(c, &spec, false, &st, &err) < 0)
        goto fail;
    if (!st.present) {
        json_object_set_new(res, "outcome", json_string("gone"));
        goto done;
    }
    if (!st.image.id || strcmp(st.image.id, id) != 0) {
        json_object_set_new(res, "outcome", json_string("replaced"));
        goto done;
    }
    for (i = 0; i < st.image.n_repo_tags; i++)
        if (strcmp(st.image.repo_tags[i], ref) != 0) {
            json_object_set_new(res, "outcome", json_string("shared"));
            goto done;
        }
    /* Every container of the node, running or not: ListContainersRequest{} is empty. */
    if (dh_cri_call(c, "/runtime.v1.RuntimeService/ListContainers", "", 0, 0, &reply, &err) < 0 ||
        dh_agent_decode_container_images(reply.data, reply.len, &used, &n_used, &err) < 0)
        goto fail;
    for (i = 0; i < n_used; i++)
        if (!strcmp(used[i], id) || !strcmp(used[i], ref)) {
            json_object_set_new(res, "outcome", json_string("in-use"));
            goto done;
        }
    if (dh_cri_remove_image(c, &spec, &err) < 0)
        goto fail;
    json_object_set_new(res, "outcome", json_string("removed"));
    goto done;
fail:
    json_object_set_new(res, "error", json_string(err ? err->msg : "failed"));
done:
    for (i = 0; i < n_used; i++)
        free(used[i]);
    free(used);
    dh_cri_image_status_release(&st);
    dh_cri_close(c);
}

/* Forks a child for a job; the child writes one JSON object to the pipe and exits. */
static int spawn(struct agent *a, struct job *j, enum job_kind kind,
                 const struct dh_agent_image *im, const char *ref, const char *id)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        json_t *res = json_object();
        char *text;
        size_t off = 0, len;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        close(p[0]);
        if (kind == JOB_REMOVE)
            child_remove(a, ref, id, res);
        else
            child_ensure(a, im, kind == JOB_RECHECK, res);
        text = json_dumps(res, JSON_COMPACT);
        len = text ? strlen(text) : 0;
        while (off < len) {
            ssize_t w = write(p[1], text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        _exit(0);
    }
    close(p[1]);
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    j->pid = pid;
    j->fd = p[0];
    j->kind = kind;
    j->started = mono_ms();
    dh_buf_release(&j->out);
    a->running++;
    return 0;
}

/* Reads what is there; returns the result (new) once the child closed the pipe. */
static json_t *job_collect(struct agent *a, struct job *j, bool *done)
{
    char tmp[4096];
    ssize_t r;
    int status = 0;
    json_t *res;

    *done = false;
    for (;;) {
        r = read(j->fd, tmp, sizeof(tmp));
        if (r > 0) {
            if (dh_buf_append(&j->out, tmp, (size_t)r, NULL) < 0)
                break;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return NULL;
        break;
    }
    *done = true;
    close(j->fd);
    j->fd = -1;
    while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
        ;
    j->pid = 0;
    a->running--;
    res = j->out.len ? json_loadb(j->out.data, j->out.len, 0, NULL) : NULL;
    dh_buf_release(&j->out);
    if (!json_is_object(res)) {
        json_decref(res);
        res = json_object();
        json_object_set_new(res, "error",
                            json_string(WIFSIGNALED(status) ? "worker killed by a signal"
                                                            : "worker exited without an answer"));
    }
    return res;
}

static void job_kill(struct agent *a, struct job *j)
{
    if (!j->pid)
        return;
    kill(j->pid, SIGKILL);
    while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(j->fd);
    j->fd = -1;
    j->pid = 0;
    dh_buf_release(&j->out);
    a->running--;
}

/* ---------------------------------------------------------------- state file */

int dh_agent_state_path(const struct dh_agent_options *opts, const struct dh_agent_config *cfg,
                        char **ret, struct dh_error **err)
{
    const char *x;

    if (opts->state_dir)
        *ret = dh_xasprintf("%s/" DH_AGENT_STATE_FILE, opts->state_dir);
    else if (cfg && cfg->state_dir)
        *ret = dh_xasprintf("%s/" DH_AGENT_STATE_FILE, cfg->state_dir);
    else if (geteuid() == 0)
        *ret = dh_xstrdup("/var/lib/dockhand/" DH_AGENT_STATE_FILE);
    else if ((x = getenv("XDG_STATE_HOME")) && x[0] == '/')
        *ret = dh_xasprintf("%s/dockhand/" DH_AGENT_STATE_FILE, x);
    else if ((x = getenv("HOME")) && x[0] == '/')
        *ret = dh_xasprintf("%s/.local/state/dockhand/" DH_AGENT_STATE_FILE, x);
    else
        return dh_error_make(err, ENOENT, "no state directory: set --state-dir or HOME");
    return 0;
}

static json_t *state_load(const char *path)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(STATE_MAX);
    _cleanup_error_ struct dh_error *err = NULL;
    json_t *j;

    if (dh_read_file(path, &b, &err) < 0) {
        if (err->status != ENOENT)
            dh_log_warn("%s, ignoring", err->msg);
        return json_object();
    }
    j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
    if (!json_is_object(j)) {
        dh_log_warn("state file '%s' is not a JSON object, ignoring", path);
        json_decref(j);
        return json_object();
    }
    return j;
}

static void state_save(struct agent *a)
{
    _cleanup_error_ struct dh_error *err = NULL;
    _cleanup_free_ char *dir = dh_dirname(a->state_path);
    _cleanup_free_ char *text = NULL;
    json_t *root = json_object(), *imgs = json_object();
    size_t i;

    for (i = 0; i < a->n_items; i++) {
        struct item *it = &a->items[i];
        json_t *o = json_object();

        json_object_set_new(o, "state", json_string(state_names[it->state]));
        if (it->digest)
            json_object_set_new(o, "digest", json_string(it->digest));
        if (it->id)
            json_object_set_new(o, "id", json_string(it->id));
        if (it->error)
            json_object_set_new(o, "error", json_string(it->error));
        if (it->last_success)
            json_object_set_new(o, "last_success", json_integer(it->last_success));
        json_object_set_new(o, "attempts", json_integer(it->attempts));
        json_object_set_new(imgs, it->img->canonical, o);
    }
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "updated", json_integer((json_int_t)time(NULL)));
    json_object_set(root, "pulled", a->pulled);
    json_object_set_new(root, "images", imgs);
    text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text)
        return;
    if (dh_mkdir_p(dir, 0755, &err) < 0 ||
        dh_write_file_atomic(a->state_path, text, strlen(text), 0644, false, &err) < 0)
        dh_log_warn("cannot save the agent state: %s", err->msg);
}

/* ---------------------------------------------------------------- scheduling */

static struct reg *reg_get(struct agent *a, const char *host)
{
    size_t i;

    for (i = 0; i < a->n_regs; i++)
        if (!strcmp(a->regs[i].host, host))
            return &a->regs[i];
    a->regs = dh_xrealloc(a->regs, (a->n_regs + 1) * sizeof(*a->regs));
    a->regs[a->n_regs] = (struct reg){.host = dh_xstrdup(host)};
    return &a->regs[a->n_regs++];
}

static void reg_throttled(struct agent *a, const char *host, int64_t retry_after_ms)
{
    struct reg *r = reg_get(a, host);
    uint64_t d = dh_agent_backoff_ms(++r->level, REG_BACKOFF_0, REG_BACKOFF_MAX, rnd());

    /* the registry's own Retry-After wins when it gave one (capped at 1 h by the parser) */
    if (retry_after_ms > 0)
        d = (uint64_t)retry_after_ms;
    r->until = mono_ms() + (long long)d;
    a->throttles++;
    dh_log_warn("registry '%s' is throttling or failing: no request to it for %llu ms%s", host,
                (unsigned long long)d, retry_after_ms > 0 ? " (its Retry-After)" : "");
}

static void set_str(char **p, const char *v)
{
    free(*p);
    *p = v ? dh_xstrdup(v) : NULL;
}

static void item_failed(struct agent *a, struct item *it, const char *msg)
{
    const struct dh_agent_config *cfg = a->cfg;

    set_str(&it->error, msg);
    it->attempts++;
    if (it->attempts > cfg->retries) {
        if (it->state != ST_PRESENT)
            it->state = ST_FAILED;
        if (a->opts->once) {
            it->final = true;
            it->next = LLONG_MAX;
        } else {
            it->attempts = 0;
            it->next = mono_ms() + (long long)cfg->recheck_ms;
        }
        dh_log_error("image '%s' failed: %s", it->img->ref, msg);
        return;
    }
    it->next = mono_ms() + (long long)dh_agent_backoff_ms(it->attempts, cfg->retry_base_ms,
                                                          cfg->retry_max_ms, rnd());
    dh_log_warn("image '%s': attempt %u failed, retrying in %lld ms: %s", it->img->ref,
                it->attempts, it->next - mono_ms(), msg);
}

static long long recheck_at(const struct agent *a)
{
    /* digest-pinned images are re-checked for presence only (child_ensure) */
    if (a->opts->once)
        return LLONG_MAX;
    /* +-10 % so that nodes started together drift apart */
    return mono_ms() + (long long)((double)a->cfg->recheck_ms * (0.9 + 0.2 * rnd()));
}

static void item_result(struct agent *a, struct item *it, json_t *res)
{
    const char *error = json_string_value(json_object_get(res, "error"));
    const char *recheck_error = json_string_value(json_object_get(res, "recheck_error"));
    json_t *th = json_object_get(res, "throttle_ms");
    bool pulled = json_is_true(json_object_get(res, "pulled"));

    if (json_is_true(json_object_get(res, "rechecked")))
        a->rechecks++;
    if (th)
        reg_throttled(a, it->img->registry, json_integer_value(th));
    if (error) {
        a->pulls_failed += 1;
        item_failed(a, it, error);
        return;
    }
    if (!json_is_true(json_object_get(res, "present"))) {
        item_failed(a, it, "the runtime does not show the image after the pull");
        return;
    }
    if (!th)
        reg_get(a, it->img->registry)->level = 0;
    set_str(&it->id, json_string_value(json_object_get(res, "id")));
    set_str(&it->digest, json_string_value(json_object_get(res, "digest")));
    it->state = ST_PRESENT;
    it->attempts = 0;
    it->last_success = (int64_t)time(NULL);
    a->last_success = it->last_success;
    if (recheck_error) {
        dh_log_warn("image '%s' is present; its re-check failed: %s", it->img->ref, recheck_error);
        set_str(&it->error, recheck_error);
    } else {
        set_str(&it->error, NULL);
    }
    it->next = recheck_at(a);
    if (pulled) {
        json_t *rec = json_object();
        double secs = (double)json_integer_value(json_object_get(res, "pull_ms")) / 1000.0;

        a->pulls_ok++;
        a->pull_seconds += secs;
        a->pull_bytes += (uint64_t)json_integer_value(json_object_get(res, "size"));
        json_object_set_new(rec, "id", json_string(it->id ? it->id : ""));
        json_object_set_new(rec, "time", json_integer(it->last_success));
        json_object_set_new(a->pulled, it->img->canonical, rec);
        dh_log_info("pulled '%s' (%s) in %.3f s%s%s", it->img->ref,
                    it->digest ? it->digest : "no digest", secs,
                    json_object_get(res, "moved_to") ? ": the tag moved to " : "",
                    json_string_value(json_object_get(res, "moved_to"))
                            ? json_string_value(json_object_get(res, "moved_to"))
                            : "");
    } else {
        dh_log_debug("'%s' is present", it->img->ref);
    }
}

static bool desired_id(const struct agent *a, const char *ref, const char *id)
{
    size_t i;

    for (i = 0; i < a->n_items; i++) {
        if (!strcmp(a->items[i].img->canonical, ref))
            return true;
        if (id && a->items[i].id && !strcmp(a->items[i].id, id))
            return true;
    }
    return false;
}

/* Images dockhand pulled that left the list: removal jobs (remove: true), else the
   record is kept (a later opt-in still finds them). */
static void plan_removals(struct agent *a)
{
    const char *ref;
    json_t *rec, *tmp;
    size_t i;

    if (!a->cfg->remove)
        return;
    json_object_foreach_safe (a->pulled, tmp, ref, rec) {
        bool queued = false;

        if (desired_id(a, ref, json_string_value(json_object_get(rec, "id")))) {
            if (!desired_id(a, ref, NULL)) /* same image as a listed one: not ours alone */
                json_object_del(a->pulled, ref);
            continue;
        }
        for (i = 0; i < a->n_removals; i++)
            queued = queued || !strcmp(a->removals[i].ref, ref);
        if (queued)
            continue;
        a->removals = dh_xrealloc(a->removals, (a->n_removals + 1) * sizeof(*a->removals));
        a->removals[a->n_removals] = (struct removal){
                .ref = dh_xstrdup(ref),
                .id = dh_xstrdup(json_string_value(json_object_get(rec, "id"))
                                         ? json_string_value(json_object_get(rec, "id"))
                                         : ""),
                .next = mono_ms(),
        };
        job_init(&a->removals[a->n_removals].job);
        a->n_removals++;
    }
}

static void removal_drop(struct agent *a, size_t i)
{
    free(a->removals[i].ref);
    free(a->removals[i].id);
    dh_buf_release(&a->removals[i].job.out);
    a->removals[i] = a->removals[--a->n_removals];
}

static void removal_result(struct agent *a, size_t i, json_t *res)
{
    struct removal *r = &a->removals[i];
    const char *error = json_string_value(json_object_get(res, "error"));
    const char *outcome = json_string_value(json_object_get(res, "outcome"));

    if (error || !outcome || !strcmp(outcome, "in-use")) {
        /* unsure or in use: keep it, look again later */
        dh_log_warn("not removing '%s' now: %s", r->ref, error ? error : "a container uses it");
        r->next = mono_ms() + (long long)a->cfg->recheck_ms;
        return;
    }
    if (!strcmp(outcome, "removed")) {
        a->removals_done++;
        dh_log_info("removed '%s', which left the list", r->ref);
    } else {
        dh_log_info("not removing '%s' (%s): forgetting it", r->ref, outcome);
    }
    json_object_del(a->pulled, r->ref);
    removal_drop(a, i);
}

/* ---------------------------------------------------------------- config */

static int apply_config(struct agent *a, struct dh_agent_config *cfg)
{
    struct item *items = dh_xcalloc(cfg->n_images ? cfg->n_images : 1, sizeof(*items));
    long long now = mono_ms();
    bool first = a->cfg == NULL;
    uint64_t jitter;
    size_t i, j;

    jitter = cfg->start_jitter_set || !a->opts->once ? cfg->start_jitter_ms : 0;
    for (i = 0; i < cfg->n_images; i++) {
        struct item *it = &items[i];

        it->img = &cfg->images[i];
        job_init(&it->job);
        for (j = 0; j < a->n_items; j++) {
            if (a->items[j].img && !strcmp(a->items[j].img->canonical, it->img->canonical)) {
                const struct dh_agent_image *img = it->img;
                *it = a->items[j];
                it->img = img;
                a->items[j].img = NULL; /* moved */
                break;
            }
        }
        if (j < a->n_items)
            continue;
        it->state = ST_PENDING;
        it->next = now + (first && jitter ? (long long)((double)jitter * rnd()) : 0);
        if (it->img->platform && !dh_agent_platform_matches(it->img->platform, a->node_platform)) {
            it->state = ST_SKIPPED;
            it->next = LLONG_MAX;
            it->error = dh_xasprintf("platform %s is not this node's (%s)", it->img->platform,
                                     a->node_platform);
            dh_log_warn("image '%s' skipped: %s", it->img->ref, it->error);
        }
    }
    for (j = 0; j < a->n_items; j++) {
        struct item *old = &a->items[j];

        if (!old->img)
            continue;
        job_kill(a, &old->job);
        free(old->error);
        free(old->digest);
        free(old->id);
    }
    free(a->items);
    a->items = items;
    a->n_items = cfg->n_images;
    dh_agent_config_free(a->cfg);
    a->cfg = cfg;
    a->concurrency = a->opts->concurrency ? a->opts->concurrency : cfg->concurrency;
    plan_removals(a);
    return 0;
}

/* Re-reads the list; applies it when the bytes changed and it parses. */
static void maybe_reload(struct agent *a)
{
    _cleanup_buf_ struct dh_buf b = DH_BUF_INIT(DH_YAML_MAX_SIZE + 1);
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_agent_config *cfg = NULL;

    if (dh_read_file(a->opts->config_path, &b, &err) < 0) {
        dh_log_warn("cannot read the image list '%s' (keeping the last one): %s",
                    a->opts->config_path, err->msg);
        return;
    }
    if (b.len == a->cfg_bytes.len && (!b.len || !memcmp(b.data, a->cfg_bytes.data, b.len)))
        return;
    if (dh_agent_config_parse(b.data ? b.data : "", b.len, a->opts->config_path, &cfg, &err) < 0) {
        dh_log_error("the new image list is invalid (keeping the last one): %s", err->msg);
        return;
    }
    dh_buf_release(&a->cfg_bytes);
    (void)dh_buf_append(&a->cfg_bytes, b.data, b.len, NULL);
    a->reloads++;
    dh_log_info("image list reloaded: %zu images", cfg->n_images);
    apply_config(a, cfg);
    state_save(a);
}

/* ---------------------------------------------------------------- metrics */

static int render(void *arg, const char *path, struct dh_buf *b, const char **ctype)
{
    struct agent *a = arg;
    size_t i, present = 0, failed = 0, pulling = 0;

    if (!strcmp(path, "/healthz")) {
        (void)dh_buf_puts(b, "ok\n", NULL);
        return 200;
    }
    if (strcmp(path, "/metrics") != 0) {
        (void)dh_buf_puts(b, "not found\n", NULL);
        return 404;
    }
    *ctype = "text/plain; version=0.0.4; charset=utf-8";
    for (i = 0; i < a->n_items; i++) {
        present += a->items[i].state == ST_PRESENT;
        failed += a->items[i].state == ST_FAILED;
        pulling += a->items[i].job.pid != 0;
    }
#define G(name, help, type, fmt, ...)                                                        \
    (void)dh_buf_printf(b, NULL, "# HELP " name " " help "\n# TYPE " name " " type "\n" fmt, \
                        __VA_ARGS__)
    G("dockhand_agent_images_desired", "Images in the list.", "gauge",
      "dockhand_agent_images_desired %zu\n", a->n_items);
    G("dockhand_agent_images_present", "Listed images present in the runtime.", "gauge",
      "dockhand_agent_images_present %zu\n", present);
    G("dockhand_agent_images_failed", "Listed images whose last attempts failed.", "gauge",
      "dockhand_agent_images_failed %zu\n", failed);
    G("dockhand_agent_jobs_running", "Checks and pulls in flight.", "gauge",
      "dockhand_agent_jobs_running %zu\n", pulling);
    G("dockhand_agent_pulls_total", "PullImage calls by result.", "counter",
      "dockhand_agent_pulls_total{result=\"success\"} %llu\n"
      "dockhand_agent_pulls_total{result=\"failure\"} %llu\n",
      (unsigned long long)a->pulls_ok, (unsigned long long)a->pulls_failed);
    G("dockhand_agent_pull_duration_seconds", "Duration of successful pulls.", "summary",
      "dockhand_agent_pull_duration_seconds_sum %.3f\n"
      "dockhand_agent_pull_duration_seconds_count %llu\n",
      a->pull_seconds, (unsigned long long)a->pulls_ok);
    G("dockhand_agent_pulled_bytes_total", "Size of the images pulled (runtime's size).", "counter",
      "dockhand_agent_pulled_bytes_total %llu\n", (unsigned long long)a->pull_bytes);
    G("dockhand_agent_rechecks_total", "Manifest HEAD re-checks of tags.", "counter",
      "dockhand_agent_rechecks_total %llu\n", (unsigned long long)a->rechecks);
    G("dockhand_agent_removals_total", "Images removed after leaving the list.", "counter",
      "dockhand_agent_removals_total %llu\n", (unsigned long long)a->removals_done);
    G("dockhand_agent_registry_backoffs_total", "Per-registry backoffs (429, 5xx).", "counter",
      "dockhand_agent_registry_backoffs_total %llu\n", (unsigned long long)a->throttles);
    G("dockhand_agent_reloads_total", "Image list reloads.", "counter",
      "dockhand_agent_reloads_total %llu\n", (unsigned long long)a->reloads);
    G("dockhand_agent_last_success_timestamp_seconds",
      "Unix time of the last image made or found present.", "gauge",
      "dockhand_agent_last_success_timestamp_seconds %lld\n", (long long)a->last_success);
#undef G
    return 200;
}

/* ---------------------------------------------------------------- main loop */

static bool reg_blocked(struct agent *a, const char *host, long long now, long long *wake)
{
    size_t i;

    for (i = 0; i < a->n_regs; i++)
        if (!strcmp(a->regs[i].host, host) && a->regs[i].until > now) {
            if (a->regs[i].until < *wake)
                *wake = a->regs[i].until;
            return true;
        }
    return false;
}

/* Starts what is due; returns the next wake-up (monotonic ms). */
static long long schedule(struct agent *a)
{
    long long now = mono_ms(), wake = LLONG_MAX;
    size_t i;

    for (i = 0; i < a->n_items; i++) {
        struct item *it = &a->items[i];

        if (it->job.pid || it->final || it->state == ST_SKIPPED)
            continue;
        if (it->next > now) {
            if (it->next < wake)
                wake = it->next;
            continue;
        }
        if (a->running >= a->concurrency || reg_blocked(a, it->img->registry, now, &wake))
            continue;
        if (spawn(a, &it->job, it->state == ST_PRESENT ? JOB_RECHECK : JOB_ENSURE, it->img, NULL,
                  NULL) < 0) {
            item_failed(a, it, "cannot start a worker process");
            continue;
        }
    }
    for (i = 0; i < a->n_removals; i++) {
        struct removal *r = &a->removals[i];

        if (r->job.pid)
            continue;
        if (r->next > now) {
            if (r->next < wake && !a->opts->once)
                wake = r->next;
            continue;
        }
        if (a->running < a->concurrency)
            (void)spawn(a, &r->job, JOB_REMOVE, NULL, r->ref, r->id);
    }
    return wake;
}

static bool once_done(const struct agent *a)
{
    size_t i;

    for (i = 0; i < a->n_items; i++) {
        const struct item *it = &a->items[i];
        if (it->job.pid || (it->state != ST_PRESENT && it->state != ST_SKIPPED && !it->final))
            return false;
    }
    for (i = 0; i < a->n_removals; i++)
        if (a->removals[i].job.pid || a->removals[i].next <= mono_ms())
            return false;
    return true;
}

static int once_verdict(const struct agent *a, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf msg = DH_BUF_INIT(1u << 20);
    size_t i, n = 0;

    for (i = 0; i < a->n_items; i++) {
        const struct item *it = &a->items[i];
        if (it->state == ST_PRESENT || it->state == ST_SKIPPED)
            continue;
        (void)dh_buf_printf(&msg, NULL, "%s'%s': %s", n ? "; " : "", it->img->ref,
                            it->error ? it->error : "not present");
        n++;
    }
    if (!n)
        return 0;
    return dh_error_make(err, EIO, "%zu of %zu images failed: %s", n, a->n_items, msg.data);
}

static void agent_release(struct agent *a)
{
    size_t i;

    for (i = 0; i < a->n_items; i++) {
        job_kill(a, &a->items[i].job);
        free(a->items[i].error);
        free(a->items[i].digest);
        free(a->items[i].id);
    }
    free(a->items);
    for (i = 0; i < a->n_removals; i++)
        job_kill(a, &a->removals[i].job);
    while (a->n_removals)
        removal_drop(a, 0);
    free(a->removals);
    for (i = 0; i < a->n_regs; i++)
        free(a->regs[i].host);
    free(a->regs);
    dh_agent_config_free(a->cfg);
    dh_buf_release(&a->cfg_bytes);
    json_decref(a->pulled);
    free(a->state_path);
    free(a->endpoint);
    free(a->node_platform);
}

int dh_agent_run(const struct dh_agent_options *opts, struct dh_error **err)
{
    struct agent a = {.opts = opts};
    struct dh_agent_config *cfg = NULL;
    struct dh_metrics_server *ms = NULL;
    _cleanup_close_ int sfd = -1, ifd = -1;
    _cleanup_free_ char *dir = NULL;
    sigset_t mask, old;
    long long next_stat;
    int r = -1;

    dh_buf_init(&a.cfg_bytes, DH_YAML_MAX_SIZE + 1);
    srand48((long)getpid() ^ (long)time(NULL) ^ (long)mono_ms());
    if (dh_read_file(opts->config_path, &a.cfg_bytes, err) < 0) {
        dh_error_wrap(err, "cannot read the image list '%s'", opts->config_path);
        goto out;
    }
    if (dh_agent_config_parse(a.cfg_bytes.data ? a.cfg_bytes.data : "", a.cfg_bytes.len,
                              opts->config_path, &cfg, err) < 0)
        goto out;
    if (dh_agent_state_path(opts, cfg, &a.state_path, err) < 0) {
        dh_agent_config_free(cfg);
        goto out;
    }
    a.endpoint = dh_xstrdup(opts->runtime_endpoint  ? opts->runtime_endpoint
                            : cfg->runtime_endpoint ? cfg->runtime_endpoint
                                                    : "");
    a.node_platform = dh_agent_node_platform();
    {
        json_t *root = state_load(a.state_path);
        a.pulled = json_incref(json_object_get(root, "pulled"));
        json_decref(root);
        if (!json_is_object(a.pulled)) {
            json_decref(a.pulled);
            a.pulled = json_object();
        }
    }
    apply_config(&a, cfg);
    {
        /* --once (an init container, CI) serves metrics only when the flag asks:
           a second agent on the node must not fail on a taken default port */
        const char *addr = opts->metrics_address ? opts->metrics_address
                           : opts->once          ? NULL
                                                 : a.cfg->metrics_address;
        if (addr && *addr && dh_metrics_listen(addr, render, &a, &ms, err) < 0)
            goto out;
        if (ms)
            dh_log_info("serving /metrics and /healthz on %s", dh_metrics_bound(ms));
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &old);
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        dh_error_sys(err, errno, "signalfd");
        goto restore;
    }
    if (!opts->once) {
        dir = dh_dirname(opts->config_path);
        ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ifd >= 0 && inotify_add_watch(ifd, dir,
                                          IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE |
                                                  IN_MOVED_FROM | IN_ATTRIB) < 0) {
            dh_log_warn("cannot watch '%s' (%s): checking the list every %llu ms", dir,
                        strerror(errno), (unsigned long long)a.cfg->reload_check_ms);
            close(ifd);
            ifd = -1;
        }
    }
    dh_log_info("agent started: %zu images, concurrency %u, runtime %s%s", a.n_items, a.concurrency,
                *a.endpoint ? a.endpoint : "(default endpoints)", opts->once ? ", once" : "");
    next_stat = mono_ms() + (long long)a.cfg->reload_check_ms;
    while (!a.stopping) {
        struct pollfd fds[2 + DH_METRICS_POLLFDS + 128];
        void *owners[DH_ARRAY_SIZE(fds)];
        size_t n = 0, nm = 0, i, k;
        long long wake = schedule(&a), now;
        int timeout, mt = -1;
        bool dirty = false;

        if (opts->once && once_done(&a))
            break;
        fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        if (ifd >= 0)
            fds[n++] = (struct pollfd){.fd = ifd, .events = POLLIN};
        for (i = 0; i < a.n_items && n < DH_ARRAY_SIZE(fds) - DH_METRICS_POLLFDS; i++)
            if (a.items[i].job.pid) {
                owners[n] = &a.items[i];
                fds[n++] = (struct pollfd){.fd = a.items[i].job.fd, .events = POLLIN};
            }
        for (i = 0; i < a.n_removals && n < DH_ARRAY_SIZE(fds) - DH_METRICS_POLLFDS; i++)
            if (a.removals[i].job.pid) {
                owners[n] = NULL;
                fds[n++] = (struct pollfd){.fd = a.removals[i].job.fd, .events = POLLIN};
            }
        k = n;
        if (ms)
            nm = dh_metrics_pollfds(ms, fds + n);
        now = mono_ms();
        if (!opts->once && next_stat < wake)
            wake = next_stat;
        timeout = wake == LLONG_MAX ? -1
                  : wake <= now     ? 0
                                    : (int)(wake - now > 60000 ? 60000 : wake - now);
        if (ms && timeout < 0)
            timeout = DH_METRICS_IDLE_MS;
        if (poll(fds, n + nm, timeout) < 0 && errno != EINTR) {
            dh_error_sys(err, errno, "poll");
            goto restore;
        }
        if (fds[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    maybe_reload(&a);
                    continue;
                }
                dh_log_info("signal %u: stopping", si.ssi_signo);
                a.stopping = true;
            }
        }
        if (a.stopping)
            break;
        if (ifd >= 0 && fds[1].revents) {
            char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
            while (read(ifd, buf, sizeof(buf)) > 0)
                ;
            maybe_reload(&a);
            next_stat = mono_ms() + (long long)a.cfg->reload_check_ms;
        }
        if (!opts->once && mono_ms() >= next_stat) {
            maybe_reload(&a);
            next_stat = mono_ms() + (long long)a.cfg->reload_check_ms;
        }
        for (i = 0; i < k; i++) {
            bool done;
            json_t *res;

            if (!fds[i].revents || fds[i].fd == sfd || fds[i].fd == ifd)
                continue;
            if (owners[i]) {
                struct item *it = owners[i];
                /* the item may have moved in a reload: find it by its pipe */
                size_t j;
                for (j = 0; j < a.n_items && a.items[j].job.fd != fds[i].fd; j++)
                    ;
                if (j == a.n_items)
                    continue;
                it = &a.items[j];
                res = job_collect(&a, &it->job, &done);
                if (done) {
                    item_result(&a, it, res);
                    dirty = true;
                }
                json_decref(res);
            } else {
                size_t j;
                for (j = 0; j < a.n_removals && a.removals[j].job.fd != fds[i].fd; j++)
                    ;
                if (j == a.n_removals)
                    continue;
                res = job_collect(&a, &a.removals[j].job, &done);
                if (done) {
                    removal_result(&a, j, res);
                    dirty = true;
                }
                json_decref(res);
            }
        }
        if (ms)
            mt = dh_metrics_handle(ms, fds + k, nm);
        (void)mt;
        if (dirty)
            state_save(&a);
    }
    for (size_t i = 0; i < a.n_items; i++)
        job_kill(&a, &a.items[i].job);
    for (size_t i = 0; i < a.n_removals; i++)
        job_kill(&a, &a.removals[i].job);
    state_save(&a);
    r = opts->once && !a.stopping ? once_verdict(&a, err) : 0;
    if (a.stopping)
        dh_log_info("stopped");
restore:
    sigprocmask(SIG_SETMASK, &old, NULL);
out:
    dh_metrics_close(ms);
    agent_release(&a);
    return r;
}

/* ---------------------------------------------------------------- status */

/* The listed image matching im (by repo tag, or by repo digest for a pinned
   reference), or NULL: then the caller asks ImageStatus, which resolves exactly. */
static const struct dh_cri_image *list_find(const struct dh_cri_image_list *l,
                                            const struct dh_agent_image *im)
{
    const char *at = strchr(im->canonical, '@');
    size_t i, k, n = strlen(im->name);

    for (i = 0; i < l->n_images; i++) {
        const struct dh_cri_image *img = &l->images[i];
        if (!at) {
            for (k = 0; k < img->n_repo_tags; k++)
                if (!strcmp(img->repo_tags[k], im->canonical))
                    return img;
            continue;
        }
        for (k = 0; k < img->n_repo_digests; k++)
            if (!strncmp(img->repo_digests[k], im->name, n) &&
                !strcmp(img->repo_digests[k] + n, at))
                return img;
    }
    return NULL;
}

int dh_agent_status(const struct dh_agent_options *opts, bool as_json, struct dh_error **err)
{
    _cleanup_agent_config_ struct dh_agent_config *cfg = NULL;
    _cleanup_free_ char *path = NULL;
    struct dh_cri_client *c = NULL;
    struct dh_cri_image_list list = {0};
    json_t *state, *images, *out = json_array();
    const char *ep;
    size_t i;
    int r = -1;

    if (dh_agent_config_load(opts->config_path, &cfg, err) < 0 ||
        dh_agent_state_path(opts, cfg, &path, err) < 0) {
        json_decref(out);
        return -1;
    }
    state = state_load(path);
    images = json_object_get(state, "images");
    ep = opts->runtime_endpoint ? opts->runtime_endpoint : cfg->runtime_endpoint;
    if (dh_cri_open(ep, &c, err) < 0 || dh_cri_list_images(c, NULL, &list, err) < 0)
        goto done;
    for (i = 0; i < cfg->n_images; i++) {
        const struct dh_agent_image *im = &cfg->images[i];
        struct dh_cri_image_spec spec = {.image = im->canonical};
        struct dh_cri_image_status st = {0};
        const struct dh_cri_image *found;
        json_t *rec = json_object_get(images, im->canonical), *o = json_object();
        const char *d, *state_name, *error = json_string_value(json_object_get(rec, "error"));

        found = list_find(&list, im);
        if (found) {
            /* present: the one ListImages answer says so (100 images, one call) */
            st.present = true;
            st.image = *found;
        } else if (dh_cri_image_status(c, &spec, false, &st, err) < 0) {
            json_decref(o);
            goto done;
        }
        d = st.present ? image_digest(im, &st.image) : NULL;
        if (st.present)
            state_name = "present";
        else if (rec && !strcmp(json_string_value(json_object_get(rec, "state")) ?: "", "failed"))
            state_name = "failed";
        else if (rec && !strcmp(json_string_value(json_object_get(rec, "state")) ?: "", "skipped"))
            state_name = "skipped";
        else
            state_name = "absent";
        json_object_set_new(o, "image", json_string(im->ref));
        json_object_set_new(o, "state", json_string(state_name));
        json_object_set_new(o, "digest", d ? json_string(d[0] == '@' ? d + 1 : d) : json_null());
        json_object_set_new(o, "id", st.present ? json_string(st.image.id) : json_null());
        json_object_set_new(o, "size", json_integer(st.present ? (json_int_t)st.image.size : 0));
        json_object_set_new(o, "error",
                            (!st.present || !strcmp(state_name, "present")) && error
                                    ? json_string(error)
                                    : json_null());
        json_object_set_new(o, "last_success",
                            json_integer(json_integer_value(json_object_get(rec, "last_success"))));
        json_array_append_new(out, o);
        if (!found)
            dh_cri_image_status_release(&st);
    }
    if (as_json) {
        char *text = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", text ? text : "[]");
        free(text);
    } else {
        json_t *o;
        printf("%-48s %-8s %-19s %s\n", "IMAGE", "STATE", "DIGEST", "NOTE");
        json_array_foreach (out, i, o) {
            const char *d = json_string_value(json_object_get(o, "digest"));
            const char *e = json_string_value(json_object_get(o, "error"));
            printf("%-48s %-8s %-19.19s %s\n", json_string_value(json_object_get(o, "image")),
                   json_string_value(json_object_get(o, "state")), d ? d : "-", e ? e : "");
        }
    }
    r = 0;
done:
    dh_cri_image_list_release(&list);
    dh_cri_close(c);
    json_decref(state);
    json_decref(out);
    return r;
}
