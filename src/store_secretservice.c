/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `secretservice` store: credentials in the desktop keyring (the freedesktop.org
 * Secret Service on the D-Bus session bus: gnome-keyring, KeePassXC, KWallet), kept so
 * that docker-credential-secretservice and dockhand read each other's items.
 *
 * Items (schema io.docker.Credentials, every attribute a string):
 *   default namespace  label="Docker Credentials" server=<ServerURL> username=<user>
 *                      docker_cli="1", display label "Registry credentials for <ServerURL>":
 *                      exactly what docker-credential-secretservice v0.9 writes
 *   other namespaces   server=<ServerURL> username=<user> dockhand_namespace=<ns>, display
 *                      label "Registry credentials for <ServerURL> (dockhand namespace <ns>)";
 *                      no label/docker_cli attribute, so docker's helper never sees them
 * An item without dockhand_namespace belongs to the default namespace.  Look-ups search
 * the schema's items of the namespace and rank their `server` attribute with
 * dh_regurl_match_rank(), as the file store ranks its keys.
 *
 * libsecret and GLib are loaded with dlopen() when this store is opened (the only
 * file that includes their headers; nothing links them), so the other stores never pay
 * GLib's start-up.  Every D-Bus exchange is asynchronous on a private GMainContext with
 * a deadline: a bus or a Secret Service that does not answer gives an error after
 * SS_TIMEOUT_MS for the whole operation, never a hang.  Only an unlock (the Secret
 * Service then shows its password prompt) and a store, which may prompt too, wait
 * longer, up to SS_PROMPT_TIMEOUT_MS.
 *
 * libsecret's object-path API is used rather than SecretItem objects: a search is one
 * SearchItems call plus one pipelined Properties.GetAll per item found, where an item
 * proxy costs about five round trips; and `get` negotiates the encrypted transfer
 * session (1024-bit Diffie-Hellman on both ends, the largest cost of a look-up) while
 * those attributes are on their way.  See docs/secretservice.md.
 */
#include "dockhand/store.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The object-path API (secret-paths.h), as docker-credential-secretservice uses too. */
#define SECRET_API_SUBJECT_TO_CHANGE 1
#include <libsecret/secret.h>

#include "dockhand/cleanup.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/regurl.h"

#define SS_SCHEMA_NAME       "io.docker.Credentials"
#define SS_DOCKER_LABEL      "Docker Credentials"
#define SS_NS_ATTR           "dockhand_namespace"
#define SS_DEFAULT_NS        "default"
#define SS_TIMEOUT_MS        5000
#define SS_PROMPT_TIMEOUT_MS 120000
#define SS_ITEM_IFACE        "org.freedesktop.Secret.Item"
#define SS_BUS_NAME          "org.freedesktop.secrets"

/* Attribute names and types, as docker-credential-secretservice declares them, plus ours.
   Only the name is stored in the keyring (as xdg:schema). */
static const SecretSchema ss_schema = {
        SS_SCHEMA_NAME,
        SECRET_SCHEMA_NONE,
        {
                {"label", SECRET_SCHEMA_ATTRIBUTE_STRING},
                {"server", SECRET_SCHEMA_ATTRIBUTE_STRING},
                {"username", SECRET_SCHEMA_ATTRIBUTE_STRING},
                {"docker_cli", SECRET_SCHEMA_ATTRIBUTE_STRING},
                {SS_NS_ATTR, SECRET_SCHEMA_ATTRIBUTE_STRING},
                {NULL, 0},
        },
};

/* ---- the libraries, loaded at run time ------------------------------------------------ */

enum ss_lib { LIB_SECRET, LIB_GLIB, LIB_GOBJECT, LIB_GIO, LIB_COUNT };

static const char *const ss_lib_names[LIB_COUNT] = {
        [LIB_SECRET] = "libsecret-1.so.0",
        [LIB_GLIB] = "libglib-2.0.so.0",
        [LIB_GOBJECT] = "libgobject-2.0.so.0",
        [LIB_GIO] = "libgio-2.0.so.0",
};

/* Every function this file calls in those libraries.  The prototypes come from the
   headers; calls go through SS(name), never to the symbol itself (nothing links it). */
#define SS_FUNCS(X)                                               \
    X(LIB_GLIB, g_main_context_new)                               \
    X(LIB_GLIB, g_main_context_unref)                             \
    X(LIB_GLIB, g_main_context_push_thread_default)               \
    X(LIB_GLIB, g_main_context_pop_thread_default)                \
    X(LIB_GLIB, g_main_context_iteration)                         \
    X(LIB_GLIB, g_timeout_source_new)                             \
    X(LIB_GLIB, g_source_set_callback)                            \
    X(LIB_GLIB, g_source_attach)                                  \
    X(LIB_GLIB, g_source_destroy)                                 \
    X(LIB_GLIB, g_source_unref)                                   \
    X(LIB_GLIB, g_hash_table_new)                                 \
    X(LIB_GLIB, g_hash_table_insert)                              \
    X(LIB_GLIB, g_hash_table_unref)                               \
    X(LIB_GLIB, g_str_hash)                                       \
    X(LIB_GLIB, g_str_equal)                                      \
    X(LIB_GLIB, g_strfreev)                                       \
    X(LIB_GLIB, g_error_free)                                     \
    X(LIB_GLIB, g_log_set_writer_func)                            \
    X(LIB_GLIB, g_variant_new)                                    \
    X(LIB_GLIB, g_variant_get_child_value)                        \
    X(LIB_GLIB, g_variant_lookup_value)                           \
    X(LIB_GLIB, g_variant_lookup)                                 \
    X(LIB_GLIB, g_variant_unref)                                  \
    X(LIB_GOBJECT, g_object_ref)                                  \
    X(LIB_GOBJECT, g_object_unref)                                \
    X(LIB_GIO, g_cancellable_new)                                 \
    X(LIB_GIO, g_cancellable_cancel)                              \
    X(LIB_GIO, g_dbus_error_quark)                                \
    X(LIB_GIO, g_dbus_error_strip_remote_error)                   \
    X(LIB_GIO, g_io_error_quark)                                  \
    X(LIB_GIO, g_dbus_proxy_get_connection)                       \
    X(LIB_GIO, g_dbus_proxy_get_name)                             \
    X(LIB_GIO, g_dbus_connection_call)                            \
    X(LIB_GIO, g_dbus_connection_call_finish)                     \
    X(LIB_SECRET, secret_error_get_quark)                         \
    X(LIB_SECRET, secret_service_get)                             \
    X(LIB_SECRET, secret_service_get_finish)                      \
    X(LIB_SECRET, secret_service_ensure_session)                  \
    X(LIB_SECRET, secret_service_ensure_session_finish)           \
    X(LIB_SECRET, secret_service_search_for_dbus_paths)           \
    X(LIB_SECRET, secret_service_search_for_dbus_paths_finish)    \
    X(LIB_SECRET, secret_service_unlock_dbus_paths)               \
    X(LIB_SECRET, secret_service_unlock_dbus_paths_finish)        \
    X(LIB_SECRET, secret_service_get_secret_for_dbus_path)        \
    X(LIB_SECRET, secret_service_get_secret_for_dbus_path_finish) \
    X(LIB_SECRET, secret_service_delete_item_dbus_path)           \
    X(LIB_SECRET, secret_service_delete_item_dbus_path_finish)    \
    X(LIB_SECRET, secret_service_store)                           \
    X(LIB_SECRET, secret_service_store_finish)                    \
    X(LIB_SECRET, secret_value_new)                               \
    X(LIB_SECRET, secret_value_get)                               \
    X(LIB_SECRET, secret_value_unref)

struct ss_api {
#define SS_FIELD(lib, name) __typeof__(name) *f_##name;
    SS_FUNCS(SS_FIELD)
#undef SS_FIELD
};

static const struct ss_sym {
    enum ss_lib lib;
    const char *name;
    size_t offset;
} ss_syms[] = {
#define SS_SYM(lib, name) {lib, #name, offsetof(struct ss_api, f_##name)},
        SS_FUNCS(SS_SYM)
#undef SS_SYM
};

static struct ss_api ss_api;
static bool ss_api_loaded;

/* A call into the loaded libraries (the member name keeps GLib's function-like macros,
   such as g_object_ref(), from expanding). */
#define SS(fn) (ss_api.f_##fn)

/* GLib's own messages (rare: criticals, warnings) go through dockhand's log. */
static GLogWriterOutput ss_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                      gpointer data DH_UNUSED)
{
    const char *msg = NULL, *domain = NULL;
    gsize i;

    for (i = 0; i < n; i++) {
        if (fields[i].length >= 0)
            continue;
        if (!strcmp(fields[i].key, "MESSAGE"))
            msg = fields[i].value;
        else if (!strcmp(fields[i].key, "GLIB_DOMAIN"))
            domain = fields[i].value;
    }
    if (!msg)
        return G_LOG_WRITER_HANDLED;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
        dh_log_warn("%s: %s", domain ? domain : "glib", msg);
    else
        dh_log_debug("%s: %s", domain ? domain : "glib", msg);
    return G_LOG_WRITER_HANDLED;
}

static int ss_load(struct dh_error **err)
{
    void *handles[LIB_COUNT];
    struct ss_api api;
    size_t i;

    if (ss_api_loaded)
        return 0;
    for (i = 0; i < LIB_COUNT; i++) {
        /* libsecret first: it brings GLib along, so the others are already mapped. */
        handles[i] = dlopen(ss_lib_names[i], RTLD_NOW | RTLD_LOCAL);
        if (!handles[i]) {
            const char *why = dlerror();

            if (i == LIB_SECRET)
                return dh_error_make(err, ENOENT,
                                     "cannot load libsecret (%s): %s; install libsecret-1-0",
                                     ss_lib_names[i], why ? why : "unknown error");
            return dh_error_make(err, ENOENT, "cannot load GLib (%s): %s; install libglib2.0-0",
                                 ss_lib_names[i], why ? why : "unknown error");
        }
    }
    memset(&api, 0, sizeof(api));
    for (i = 0; i < DH_ARRAY_SIZE(ss_syms); i++) {
        void *p = dlsym(handles[ss_syms[i].lib], ss_syms[i].name);

        if (!p)
            return dh_error_make(err, ENOENT, "cannot load libsecret: '%s' has no symbol '%s'",
                                 ss_lib_names[ss_syms[i].lib], ss_syms[i].name);
        memcpy((char *)&api + ss_syms[i].offset, &p, sizeof(p));
    }
    /* The handles are never closed: GLib cannot be unloaded. */
    ss_api = api;
    ss_api_loaded = true;
    SS(g_log_set_writer_func)(ss_log_writer, NULL, NULL);
    dh_log_debug("secretservice: loaded %s", ss_lib_names[LIB_SECRET]);
    return 0;
}

/* ---- asynchronous calls with a deadline ------------------------------------------------ */

struct ss_store {
    struct dh_store base;
    GMainContext *ctx;
    GCancellable *cancel;
    SecretService *service;
    int64_t deadline; /* of the operation in progress (CLOCK_MONOTONIC, ms) */
    bool timed_out;   /* a call was abandoned: the connection is unusable */
};

/* One pending call.  Abandoned when nobody will wait for it any more (a time-out, an
   error elsewhere): its callback then frees it, if it ever runs. */
struct ss_call {
    bool done;
    bool abandoned;
    GAsyncResult *res;
};

static void ss_on_ready(GObject *source DH_UNUSED, GAsyncResult *res, gpointer data)
{
    struct ss_call *c = data;

    if (c->abandoned) {
        free(c);
        return;
    }
    c->res = SS(g_object_ref)(res);
    c->done = true;
}

static gboolean ss_on_timer(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

static int64_t ss_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct ss_call *ss_call_new(void)
{
    return dh_xcalloc(1, sizeof(struct ss_call));
}

/* Gives up on a call that may still be pending.  NULL allowed. */
static void ss_call_drop(struct ss_call *c)
{
    if (!c)
        return;
    if (!c->done) {
        c->abandoned = true;
        return;
    }
    if (c->res)
        SS(g_object_unref)(c->res);
    free(c);
}

/* Starts the time budget of one store operation. */
static void ss_begin(struct ss_store *s)
{
    s->deadline = ss_now_ms() + SS_TIMEOUT_MS;
}

/* Runs the context until c completes, or until the operation's deadline passes (with
   prompt, SS_PROMPT_TIMEOUT_MS from now: the user may be typing a password).  On success
   *ret_res is the call's result (caller unrefs) and c is freed.  On a time-out, abandons
   c, cancels every call in flight and fails with ETIMEDOUT naming what. */
static int ss_wait(struct ss_store *s, struct ss_call *c, bool prompt, const char *what,
                   GAsyncResult **ret_res, struct dh_error **err)
{
    int64_t deadline = prompt ? ss_now_ms() + SS_PROMPT_TIMEOUT_MS : s->deadline;
    int64_t left = deadline - ss_now_ms();
    bool fired = false;

    if (!c->done && left > 0) {
        GSource *timer = SS(g_timeout_source_new)((guint)left);

        SS(g_source_set_callback)(timer, ss_on_timer, &fired, NULL);
        SS(g_source_attach)(timer, s->ctx);
        while (!c->done && !fired)
            SS(g_main_context_iteration)(s->ctx, TRUE);
        SS(g_source_destroy)(timer);
        SS(g_source_unref)(timer);
    }
    if (!c->done) {
        int secs = (prompt ? SS_PROMPT_TIMEOUT_MS : SS_TIMEOUT_MS) / 1000;

        c->abandoned = true;
        s->timed_out = true;
        SS(g_cancellable_cancel)(s->cancel);
        if (!s->service)
            return dh_error_make(err, ETIMEDOUT,
                                 "%s: no answer from the D-Bus session bus or the Secret Service "
                                 "(%s) within %d s",
                                 what, SS_BUS_NAME, secs);
        return dh_error_make(err, ETIMEDOUT,
                             "%s: the Secret Service (%s) did not answer within %d s", what,
                             SS_BUS_NAME, secs);
    }
    *ret_res = c->res;
    free(c);
    return 0;
}

static bool ss_is_dbus_error(const GError *e, int code)
{
    return e->domain == SS(g_dbus_error_quark)() && e->code == code;
}

/* Turns a GError into *err with the context what, and frees it.  Returns -1. */
static int ss_error(GError *gerr, const char *what, struct dh_error **err)
{
    static const int no_service[] = {
            G_DBUS_ERROR_SERVICE_UNKNOWN,
            G_DBUS_ERROR_NAME_HAS_NO_OWNER,
            G_DBUS_ERROR_SPAWN_EXEC_FAILED,
            G_DBUS_ERROR_SPAWN_FORK_FAILED,
            G_DBUS_ERROR_SPAWN_CHILD_EXITED,
            G_DBUS_ERROR_SPAWN_CHILD_SIGNALED,
            G_DBUS_ERROR_SPAWN_FAILED,
            G_DBUS_ERROR_SPAWN_SETUP_FAILED,
            G_DBUS_ERROR_SPAWN_CONFIG_INVALID,
            G_DBUS_ERROR_SPAWN_SERVICE_INVALID,
            G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND,
            G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID,
            G_DBUS_ERROR_SPAWN_FILE_INVALID,
            G_DBUS_ERROR_SPAWN_NO_MEMORY,
    };
    int status = EIO;
    size_t i;

    if (!gerr)
        return dh_error_make(err, EIO, "%s: unknown error from libsecret", what);
    if (gerr->domain == SS(g_dbus_error_quark)())
        (void)SS(g_dbus_error_strip_remote_error)(gerr);
    for (i = 0; i < DH_ARRAY_SIZE(no_service); i++) {
        if (ss_is_dbus_error(gerr, no_service[i])) {
            dh_error_make(err, EHOSTUNREACH,
                          "%s: no Secret Service on the D-Bus session bus (start "
                          "gnome-keyring-daemon, KeePassXC or another %s provider): %s",
                          what, SS_BUS_NAME, gerr->message);
            SS(g_error_free)(gerr);
            return -1;
        }
    }
    if (ss_is_dbus_error(gerr, G_DBUS_ERROR_NO_REPLY) ||
        ss_is_dbus_error(gerr, G_DBUS_ERROR_TIMED_OUT) ||
        ss_is_dbus_error(gerr, G_DBUS_ERROR_TIMEOUT)) {
        dh_error_make(err, ETIMEDOUT, "%s: the Secret Service did not answer: %s", what,
                      gerr->message);
        SS(g_error_free)(gerr);
        return -1;
    }
    if (gerr->domain == SS(secret_error_get_quark)() && gerr->code == SECRET_ERROR_IS_LOCKED) {
        dh_error_make(err, EACCES, "%s: the keyring is locked", what);
        SS(g_error_free)(gerr);
        return -1;
    }
    if (ss_is_dbus_error(gerr, G_DBUS_ERROR_ACCESS_DENIED) ||
        ss_is_dbus_error(gerr, G_DBUS_ERROR_AUTH_FAILED))
        status = EACCES;
    dh_error_make(err, status, "%s: %s", what, gerr->message);
    SS(g_error_free)(gerr);
    return -1;
}

/* ---- connection, search ----------------------------------------------------------------- */

static int ss_connect(struct ss_store *s, const char *what, struct dh_error **err)
{
    struct ss_call *c;
    GAsyncResult *res = NULL;
    GError *gerr = NULL;

    if (s->service)
        return 0;
    if (s->timed_out)
        return dh_error_make(err, ETIMEDOUT, "%s: the Secret Service did not answer", what);
    c = ss_call_new();
    SS(secret_service_get)(SECRET_SERVICE_NONE, s->cancel, ss_on_ready, c);
    if (ss_wait(s, c, false, what, &res, err) < 0)
        return -1;
    s->service = SS(secret_service_get_finish)(res, &gerr);
    SS(g_object_unref)(res);
    if (!s->service) {
        if (gerr && gerr->domain == SS(g_io_error_quark)()) {
            dh_error_make(err, EHOSTUNREACH, "%s: cannot connect to the D-Bus session bus: %s",
                          what, gerr->message);
            SS(g_error_free)(gerr);
            return -1;
        }
        return ss_error(gerr, what, err);
    }
    return 0;
}

/* An unlocked item of this namespace, with copies of the attributes we use. */
struct ss_entry {
    char *path;
    char *server;   /* NULL when the item has no `server` attribute */
    char *username; /* "" when absent */
    char *key;      /* canonical key of server, or NULL when it does not parse */
    struct dh_regurl url;
    guint64 modified;
};

struct ss_found {
    struct ss_entry *entries;
    size_t n;
    size_t n_locked; /* items that stayed locked (of any namespace: unreadable) */
};

static void ss_found_release(struct ss_found *f)
{
    size_t i;

    for (i = 0; i < f->n; i++) {
        free(f->entries[i].path);
        free(f->entries[i].server);
        dh_str_free_wipe(f->entries[i].username);
        free(f->entries[i].key);
        dh_regurl_release(&f->entries[i].url);
    }
    free(f->entries);
    memset(f, 0, sizeof(*f));
}

static gpointer ss_unconst(const void *p)
{
    return (gpointer)(uintptr_t)p;
}

static bool ss_is_default_ns(const char *ns)
{
    return !strcmp(ns, SS_DEFAULT_NS);
}

static size_t ss_strv_len(gchar **v)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    return n;
}

/* SearchItems for the schema's items of this namespace (with server, only those whose
   `server` attribute is exactly that): *ret_unlocked and *ret_locked are object paths
   (g_strfreev). */
static int ss_search_paths(struct ss_store *s, const char *server, const char *what,
                           gchar ***ret_unlocked, gchar ***ret_locked, struct dh_error **err)
{
    const char *ns = s->base.namespace;
    GHashTable *attrs = SS(g_hash_table_new)(SS(g_str_hash), SS(g_str_equal));
    struct ss_call *c = ss_call_new();
    GAsyncResult *res = NULL;
    GError *gerr = NULL;
    gboolean ok;

    /* The default namespace is every item without dockhand_namespace: search the schema
       and filter on the attributes.  Other namespaces: the Secret Service filters. */
    if (!ss_is_default_ns(ns))
        SS(g_hash_table_insert)(attrs, ss_unconst(SS_NS_ATTR), ss_unconst(ns));
    if (server)
        SS(g_hash_table_insert)(attrs, ss_unconst("server"), ss_unconst(server));
    SS(secret_service_search_for_dbus_paths)
    (s->service, &ss_schema, attrs, s->cancel, ss_on_ready, c);
    SS(g_hash_table_unref)(attrs);
    if (ss_wait(s, c, false, what, &res, err) < 0)
        return -1;
    *ret_unlocked = *ret_locked = NULL;
    ok = SS(secret_service_search_for_dbus_paths_finish)(s->service, res, ret_unlocked, ret_locked,
                                                         &gerr);
    SS(g_object_unref)(res);
    if (!ok)
        return ss_error(gerr, what, err);
    return 0;
}

/* Asks the Secret Service to unlock paths; it may prompt the user for the keyring
   password, so this waits up to SS_PROMPT_TIMEOUT_MS.  A dismissed prompt is not an
   error: the items stay locked. */
static int ss_unlock(struct ss_store *s, gchar **paths, const char *what, struct dh_error **err)
{
    struct ss_call *c = ss_call_new();
    GAsyncResult *res = NULL;
    GError *gerr = NULL;
    gchar **unlocked = NULL;
    int n;

    dh_log_debug("secretservice: %zu locked item(s); asking the Secret Service to unlock them",
                 ss_strv_len(paths));
    SS(secret_service_unlock_dbus_paths)
    (s->service, (const gchar **)(void *)paths, s->cancel, ss_on_ready, c);
    if (ss_wait(s, c, true, what, &res, err) < 0)
        return -1;
    n = SS(secret_service_unlock_dbus_paths_finish)(s->service, res, &unlocked, &gerr);
    SS(g_object_unref)(res);
    SS(g_strfreev)(unlocked);
    if (n < 0 || gerr)
        return ss_error(gerr, what, err);
    dh_log_debug("secretservice: %d item(s) unlocked", n);
    return 0;
}

/* Reads an item's attributes from a Properties.GetAll reply into e.  Returns false when
   the item belongs to another namespace (or has no attributes). */
static bool ss_parse_item(GVariant *reply, const char *ns, const char *path, struct ss_entry *e)
{
    GVariant *props = SS(g_variant_get_child_value)(reply, 0);
    GVariant *attrs =
            SS(g_variant_lookup_value)(props, "Attributes", (const GVariantType *)"a{ss}");
    const char *item_ns = NULL, *server = NULL, *user = NULL;
    guint64 modified = 0;
    bool ours = false;

    if (attrs) {
        if (!SS(g_variant_lookup)(attrs, SS_NS_ATTR, "&s", &item_ns))
            item_ns = SS_DEFAULT_NS;
        if (!strcmp(item_ns, ns)) {
            ours = true;
            if (!SS(g_variant_lookup)(attrs, "server", "&s", &server))
                server = NULL;
            if (!SS(g_variant_lookup)(attrs, "username", "&s", &user))
                user = NULL;
            if (!SS(g_variant_lookup)(props, "Modified", "t", &modified))
                modified = 0;
            memset(e, 0, sizeof(*e));
            e->path = dh_xstrdup(path);
            e->server = server ? dh_xstrdup(server) : NULL;
            e->username = dh_xstrdup(user ? user : "");
            e->modified = modified;
            if (server && dh_regurl_parse(server, &e->url, NULL) == 0)
                e->key = dh_regurl_key(&e->url);
        }
        SS(g_variant_unref)(attrs);
    }
    SS(g_variant_unref)(props);
    return ours;
}

/* Fetches the attributes of every path at once (pipelined) and keeps this namespace's
   items in ret.  When session is non-NULL and *session NULL, also starts negotiating the
   transfer session once those requests are out, and sets *session to that pending call
   (the caller drops it, also on failure). */
static int ss_read_items(struct ss_store *s, gchar **paths, const char *what, struct ss_found *ret,
                         struct ss_call **session, struct dh_error **err)
{
    GDBusConnection *conn = SS(g_dbus_proxy_get_connection)((GDBusProxy *)s->service);
    const char *bus = SS(g_dbus_proxy_get_name)((GDBusProxy *)s->service);
    size_t i, n = ss_strv_len(paths);
    struct ss_call **calls;
    int r = 0;

    ret->entries = dh_xcalloc(n ? n : 1, sizeof(*ret->entries));
    if (n == 0)
        return 0;
    calls = dh_xcalloc(n, sizeof(*calls));
    for (i = 0; i < n; i++) {
        calls[i] = ss_call_new();
        SS(g_dbus_connection_call)
        (conn, bus, paths[i], "org.freedesktop.DBus.Properties", "GetAll",
         SS(g_variant_new)("(s)", SS_ITEM_IFACE), (const GVariantType *)"(a{sv})",
         G_DBUS_CALL_FLAGS_NONE, SS_TIMEOUT_MS, s->cancel, ss_on_ready, calls[i]);
    }
    if (session && !*session) {
        /* The Diffie-Hellman key is computed here, while the Secret Service answers. */
        *session = ss_call_new();
        SS(secret_service_ensure_session)(s->service, s->cancel, ss_on_ready, *session);
    }
    for (i = 0; i < n; i++) {
        GAsyncResult *res = NULL;
        GError *gerr = NULL;
        GVariant *reply;
        struct ss_call *c = TAKE_PTR(calls[i]);

        if (ss_wait(s, c, false, what, &res, err) < 0) {
            r = -1;
            break;
        }
        reply = SS(g_dbus_connection_call_finish)(conn, res, &gerr);
        SS(g_object_unref)(res);
        if (!reply) {
            /* Deleted meanwhile: not an error. */
            if (ss_is_dbus_error(gerr, G_DBUS_ERROR_UNKNOWN_METHOD) ||
                ss_is_dbus_error(gerr, G_DBUS_ERROR_UNKNOWN_OBJECT)) {
                SS(g_error_free)(gerr);
                continue;
            }
            r = ss_error(gerr, what, err);
            break;
        }
        if (ss_parse_item(reply, s->base.namespace, paths[i], &ret->entries[ret->n]))
            ret->n++;
        SS(g_variant_unref)(reply);
    }
    for (i = 0; i < n; i++)
        ss_call_drop(calls[i]);
    free(calls);
    return r;
}

/* The fast path of a look-up: the items whose `server` attribute is exactly the query
   (docker's own look-up).  Spelled exactly as asked, they beat every other item of the
   same rank (see ss_better), so when there is one, no other item needs reading.
   Returns 1 with ret filled, 0 when the slow path must run (ret empty), -1 on error. */
static int ss_search_exact(struct ss_store *s, const char *server, const char *what,
                           struct ss_found *ret, struct ss_call **session, struct dh_error **err)
{
    gchar **unlocked = NULL, **locked = NULL;
    int r = 0;

    if (ss_search_paths(s, server, what, &unlocked, &locked, err) < 0)
        return -1;
    if (ss_strv_len(unlocked) > 0 && ss_strv_len(locked) == 0) {
        r = ss_read_items(s, unlocked, what, ret, session, err);
        if (r == 0 && ret->n == 0)
            ss_found_release(ret);
        else if (r == 0)
            r = 1;
    }
    SS(g_strfreev)(unlocked);
    SS(g_strfreev)(locked);
    return r;
}

/* Finds this namespace's items: all of them, or with exact, possibly only those whose
   `server` attribute is exact (ss_search_exact).  When some are locked, asks the Secret
   Service to unlock them (a prompt) and searches again; those still locked are counted
   in ret->n_locked.  session: see ss_read_items (started only when there are items). */
static int ss_search_all(struct ss_store *s, const char *exact, const char *what,
                         struct ss_found *ret, struct ss_call **session, struct dh_error **err)
{
    gchar **unlocked = NULL, **locked = NULL;
    int64_t t0 = ss_now_ms();
    int r;

    memset(ret, 0, sizeof(*ret));
    if (session)
        *session = NULL;
    if (ss_connect(s, what, err) < 0)
        return -1;
    if (exact) {
        r = ss_search_exact(s, exact, what, ret, session, err);
        if (r != 0) {
            if (r < 0)
                ss_found_release(ret);
            else
                dh_log_debug("secretservice: '%s' found by its exact spelling in %lld ms", exact,
                             (long long)(ss_now_ms() - t0));
            return r < 0 ? -1 : 0;
        }
    }
    if (ss_search_paths(s, NULL, what, &unlocked, &locked, err) < 0)
        return -1;
    if (ss_strv_len(locked) > 0) {
        r = ss_unlock(s, locked, what, err);
        SS(g_strfreev)(unlocked);
        SS(g_strfreev)(locked);
        unlocked = locked = NULL;
        ss_begin(s); /* the prompt took the user's time, not the service's */
        if (r < 0 || ss_search_paths(s, NULL, what, &unlocked, &locked, err) < 0)
            return -1;
    }
    ret->n_locked = ss_strv_len(locked);
    r = ss_read_items(s, unlocked, what, ret, session && ss_strv_len(unlocked) > 0 ? session : NULL,
                      err);
    SS(g_strfreev)(unlocked);
    SS(g_strfreev)(locked);
    if (r < 0) {
        ss_found_release(ret);
        return -1;
    }
    dh_log_debug("secretservice: %zu item(s) in namespace '%s', %zu locked, in %lld ms", ret->n,
                 s->base.namespace, ret->n_locked, (long long)(ss_now_ms() - t0));
    return 0;
}

static int ss_search(struct ss_store *s, const char *exact, const char *what, struct ss_found *ret,
                     struct ss_call **session, struct dh_error **err)
{
    if (ss_search_all(s, exact, what, ret, session, err) == 0)
        return 0;
    if (session) {
        ss_call_drop(*session);
        *session = NULL;
    }
    return -1;
}

/* True when a is a better pick than b at the same rank: the exact spelling of the query
   wins (what docker's helper would answer), then the newest item (the last login), then
   the object path (a stable order). */
static bool ss_better(const struct ss_entry *a, const struct ss_entry *b, const char *query)
{
    bool ax = !strcmp(a->server, query), bx = !strcmp(b->server, query);

    if (ax != bx)
        return ax;
    if (a->modified != b->modified)
        return a->modified > b->modified;
    return strcmp(a->path, b->path) < 0;
}

/* The entry get returns for query, or NULL. */
static struct ss_entry *ss_best(struct ss_found *f, const struct dh_regurl *q, const char *query)
{
    struct ss_entry *best = NULL;
    int best_rank = -1;
    size_t i;

    for (i = 0; i < f->n; i++) {
        struct ss_entry *e = &f->entries[i];
        int rank;

        if (!e->key)
            continue;
        rank = dh_regurl_match_rank(&e->url, q);
        if (rank < 0)
            continue;
        if (rank > best_rank || (rank == best_rank && ss_better(e, best, query))) {
            best_rank = rank;
            best = e;
        }
    }
    return best;
}

static int ss_delete(struct ss_store *s, const struct ss_entry *e, const char *what,
                     struct dh_error **err)
{
    struct ss_call *c = ss_call_new();
    GAsyncResult *res = NULL;
    GError *gerr = NULL;
    gboolean ok;

    SS(secret_service_delete_item_dbus_path)(s->service, e->path, s->cancel, ss_on_ready, c);
    if (ss_wait(s, c, false, what, &res, err) < 0)
        return -1;
    ok = SS(secret_service_delete_item_dbus_path_finish)(s->service, res, &gerr);
    SS(g_object_unref)(res);
    if (!ok)
        return ss_error(gerr, what, err);
    dh_log_debug("secretservice: deleted the item for '%s'", e->server);
    return 0;
}

/* ---- the store operations ----------------------------------------------------------------- */

static int ss_get(struct dh_store *st, const char *server_url, struct dh_cred **ret,
                  struct dh_error **err)
{
    struct ss_store *s = (struct ss_store *)st;
    _cleanup_free_ char *what = dh_xasprintf("cannot look up '%s' in the keyring", server_url);
    _cleanup_regurl_ struct dh_regurl q = {0};
    struct ss_found f = {0};
    struct ss_call *session = NULL, *c;
    struct ss_entry *best;
    GAsyncResult *res = NULL;
    GError *gerr = NULL;
    SecretValue *value;
    const char *data;
    gsize len = 0;
    struct dh_cred *cred;
    int r = -1;

    *ret = NULL;
    if (dh_regurl_parse(server_url, &q, NULL) < 0)
        return 0; /* nothing can be stored under an invalid URL */
    ss_begin(s);
    if (ss_search(s, server_url, what, &f, &session, err) < 0)
        return -1;
    best = ss_best(&f, &q, server_url);
    if (!best) {
        if (f.n_locked)
            dh_error_make(err, EACCES, "%s: the keyring is locked", what);
        else
            r = 0;
        goto out;
    }
    if (!session) { /* not expected: an item found means the session was started */
        session = ss_call_new();
        SS(secret_service_ensure_session)(s->service, s->cancel, ss_on_ready, session);
    }
    c = TAKE_PTR(session);
    if (ss_wait(s, c, false, what, &res, err) < 0)
        goto out;
    if (!SS(secret_service_ensure_session_finish)(s->service, res, &gerr)) {
        SS(g_object_unref)(res);
        ss_error(gerr, what, err);
        goto out;
    }
    SS(g_object_unref)(res);
    c = ss_call_new();
    SS(secret_service_get_secret_for_dbus_path)(s->service, best->path, s->cancel, ss_on_ready, c);
    if (ss_wait(s, c, false, what, &res, err) < 0)
        goto out;
    value = SS(secret_service_get_secret_for_dbus_path_finish)(s->service, res, &gerr);
    SS(g_object_unref)(res);
    if (!value) {
        if (gerr)
            ss_error(gerr, what, err);
        else
            dh_error_make(err, EACCES, "%s: the keyring is locked", what);
        goto out;
    }
    data = SS(secret_value_get)(value, &len);
    cred = dh_cred_new(best->server, best->username, NULL);
    dh_str_free_wipe(cred->secret);
    cred->secret = dh_xstrndup(data ? data : "", data ? len : 0);
    SS(secret_value_unref)(value);
    *ret = cred;
    r = 0;
out:
    ss_call_drop(session);
    ss_found_release(&f);
    return r;
}

static int ss_store_cred(struct dh_store *st, const struct dh_cred *cred, struct dh_error **err)
{
    struct ss_store *s = (struct ss_store *)st;
    const char *ns = s->base.namespace;
    _cleanup_free_ char *what = dh_xasprintf("cannot store '%s' in the keyring", cred->server_url);
    _cleanup_free_ char *key = NULL, *label = NULL;
    struct ss_found f = {0};
    struct ss_call *c;
    GAsyncResult *res = NULL;
    GError *gerr = NULL;
    GHashTable *attrs;
    SecretValue *value;
    gboolean ok;
    size_t i;
    int r = -1;

    if (dh_regurl_normalize(cred->server_url, &key, err) < 0)
        return -1;
    ss_begin(s);
    if (ss_search(s, NULL, what, &f, NULL, err) < 0)
        return -1;
    if (f.n_locked) {
        dh_error_make(err, EACCES, "%s: the keyring is locked", what);
        goto out;
    }

    attrs = SS(g_hash_table_new)(SS(g_str_hash), SS(g_str_equal));
    SS(g_hash_table_insert)(attrs, ss_unconst("server"), ss_unconst(cred->server_url));
    SS(g_hash_table_insert)(attrs, ss_unconst("username"), ss_unconst(cred->username));
    if (ss_is_default_ns(ns)) {
        SS(g_hash_table_insert)(attrs, ss_unconst("label"), ss_unconst(SS_DOCKER_LABEL));
        SS(g_hash_table_insert)(attrs, ss_unconst("docker_cli"), ss_unconst("1"));
        label = dh_xasprintf("Registry credentials for %s", cred->server_url);
    } else {
        SS(g_hash_table_insert)(attrs, ss_unconst(SS_NS_ATTR), ss_unconst(ns));
        label = dh_xasprintf("Registry credentials for %s (dockhand namespace %s)",
                             cred->server_url, ns);
    }
    value = SS(secret_value_new)(cred->secret, -1, "text/plain");
    c = ss_call_new();
    /* Into the default collection, replacing an item with the same attributes (as
       docker-credential-secretservice does).  May prompt to unlock or create it. */
    SS(secret_service_store)
    (s->service, &ss_schema, attrs, SECRET_COLLECTION_DEFAULT, label, value, s->cancel, ss_on_ready,
     c);
    SS(secret_value_unref)(value);
    SS(g_hash_table_unref)(attrs);
    if (ss_wait(s, c, true, what, &res, err) < 0)
        goto out;
    ok = SS(secret_service_store_finish)(s->service, res, &gerr);
    SS(g_object_unref)(res);
    if (!ok) {
        ss_error(gerr, what, err);
        goto out;
    }
    dh_log_debug("secretservice: stored '%s' (namespace '%s')", cred->server_url, ns);

    /* Then drop the older items of the same registry that the store did not replace
       (another spelling of the URL, another username, another collection). */
    ss_begin(s);
    for (i = 0; i < f.n; i++) {
        struct ss_entry *e = &f.entries[i];

        if (!e->key || strcmp(e->key, key) != 0)
            continue;
        if (!strcmp(e->server, cred->server_url) && !strcmp(e->username, cred->username))
            continue;
        if (ss_delete(s, e, what, err) < 0)
            goto out;
    }
    r = 0;
out:
    ss_found_release(&f);
    return r;
}

static int ss_erase(struct dh_store *st, const char *server_url, struct dh_error **err)
{
    struct ss_store *s = (struct ss_store *)st;
    _cleanup_free_ char *what = dh_xasprintf("cannot erase '%s' from the keyring", server_url);
    _cleanup_free_ char *key = NULL;
    _cleanup_regurl_ struct dh_regurl q = {0};
    struct ss_found f = {0};
    struct ss_entry *best;
    size_t i;
    int r = -1;

    if (dh_regurl_parse(server_url, &q, NULL) < 0)
        return 0;
    ss_begin(s);
    if (ss_search(s, NULL, what, &f, NULL, err) < 0)
        return -1;
    best = ss_best(&f, &q, server_url);
    if (!best) {
        if (f.n_locked)
            dh_error_make(err, EACCES, "%s: the keyring is locked", what);
        else
            r = 0;
        goto out;
    }
    /* The entry get returns, with every duplicate of the same registry (docker's helper
       keeps one item per username). */
    key = dh_xstrdup(best->key);
    for (i = 0; i < f.n; i++) {
        struct ss_entry *e = &f.entries[i];

        if (e->key && !strcmp(e->key, key) && ss_delete(s, e, what, err) < 0)
            goto out;
    }
    r = 0;
out:
    ss_found_release(&f);
    return r;
}

/* True when another item of the same server is newer than f->entries[i] (for equal
   times, the later one in the list wins). */
static bool ss_shadowed(const struct ss_found *f, size_t i)
{
    const struct ss_entry *e = &f->entries[i];
    size_t j;

    for (j = 0; j < f->n; j++) {
        const struct ss_entry *o = &f->entries[j];

        if (j == i || !o->server || strcmp(o->server, e->server) != 0)
            continue;
        if (o->modified > e->modified || (o->modified == e->modified && j > i))
            return true;
    }
    return false;
}

static int ss_list(struct dh_store *st, json_t *out, struct dh_error **err)
{
    struct ss_store *s = (struct ss_store *)st;
    struct ss_found f = {0};
    size_t i;

    ss_begin(s);
    if (ss_search(s, NULL, "cannot list the keyring", &f, NULL, err) < 0)
        return -1;
    if (f.n_locked)
        dh_log_warn("the keyring is locked: %zu item(s) are not listed", f.n_locked);
    /* Keyed by the `server` attribute (not the display label); the newest item of a
       server gives the username. */
    for (i = 0; i < f.n; i++) {
        struct ss_entry *e = &f.entries[i];

        if (e->server && !ss_shadowed(&f, i))
            json_object_set_new(out, e->server, json_string(e->username));
    }
    ss_found_release(&f);
    return 0;
}

static void ss_close(struct dh_store *st)
{
    struct ss_store *s = (struct ss_store *)st;

    if (s->service)
        SS(g_object_unref)(s->service);
    if (s->cancel)
        SS(g_object_unref)(s->cancel);
    if (s->ctx) {
        SS(g_main_context_pop_thread_default)(s->ctx);
        SS(g_main_context_unref)(s->ctx);
    }
    free(s->base.namespace);
    free(s);
}

static const struct dh_store_ops ss_ops = {
        .type = "secretservice",
        .get = ss_get,
        .store = ss_store_cred,
        .erase = ss_erase,
        .list = ss_list,
        .close = ss_close,
};

int dh_store_secretservice_open(const char *arg DH_UNUSED, const char *ns,
                                const struct dh_config *cfg DH_UNUSED, struct dh_store **ret,
                                struct dh_error **err)
{
    const char *bus = secure_getenv("DBUS_SESSION_BUS_ADDRESS");
    struct ss_store *s;

    /* Checked before anything is loaded: GLib would otherwise try to autolaunch a bus. */
    if (!bus || !*bus)
        return dh_error_make(err, ENOTCONN,
                             "no D-Bus session bus: the secretservice store needs a desktop "
                             "session (DBUS_SESSION_BUS_ADDRESS is not set)");
    if (ss_load(err) < 0)
        return -1;
    s = dh_xcalloc(1, sizeof(*s));
    s->base.ops = &ss_ops;
    s->base.namespace = dh_xstrdup(ns);
    s->ctx = SS(g_main_context_new)();
    SS(g_main_context_push_thread_default)(s->ctx);
    s->cancel = SS(g_cancellable_new)();
    ss_begin(s);
    *ret = &s->base;
    return 0;
}
