#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A strict fake Kubernetes API server for dockhand's tests (python3 stdlib only).

Serves the core/v1 Secret, Namespace and ServiceAccount endpoints over HTTPS on
127.0.0.1 and answers like the real API server does, with Status objects for errors, but refuses everything a
well-behaved dockhand never sends (unknown paths or query parameters, wrong
content types, apply without fieldManager, force outside apply, PUT without
metadata.resourceVersion, stringData, managedFields), so a test fails loudly
when the client changes behaviour.

    kube-apiserver.py serve --dir DIR --cert CRT --key KEY [--client-ca CA]
        [--token T]... [--basic USER:PASS]... [--namespace NS]...
        [--host 127.0.0.1] [--idle-timeout SECONDS]
    kube-apiserver.py ctl --dir DIR --ca CA METHOD PATH [JSON]

`serve` listens on a free port, writes it to DIR/port once ready, and exits
after --idle-timeout seconds without a request (default 300) or on
POST /_fake/shutdown.  Authentication: a bearer token from --token (or added
with the scenario), HTTP basic from --basic, or a client certificate signed by
--client-ca (the user is its CN).  Anything else gets 401.

Control endpoints (no authentication; the fake only listens on loopback):
    GET  /_fake/requests          every API request so far, in order: method, path,
                                  query, content_type, auth, user, body, status
    POST /_fake/requests/reset
    POST /_fake/secret            create or replace a Secret (metadata.namespace set), or a
                                  list of them
    GET  /_fake/secret/NS/NAME    the stored Secret (404 when absent)
    POST /_fake/scenario          merge {"forbid": [ns...], "conflicts": {"ns/name": n},
                                  "delay": seconds, "tokens": [token...],
                                  "revoke": [token...], "namespaces": [ns...],
                                  "sa_conflicts": {"ns/name": n},
                                  "forbid_cluster": ["secrets"|"serviceaccounts"],
                                  "bookmark_interval": seconds, "no_default_sa": bool,
                                  "expire_watches": true, "end_watches": true,
                                  "gone_next_watches": n}
    POST /_fake/namespace         create namespaces: {"name": NS, "labels": {...}} or a list;
                                  a watch sees ADDED (a `default` ServiceAccount is made too,
                                  as the ServiceAccount controller does, unless no_default_sa)
    DELETE /_fake/namespace/NS    delete it (and its objects); a watch sees DELETED
    POST /_fake/serviceaccount    create or replace ServiceAccounts (metadata.namespace set)
    GET  /_fake/serviceaccount/NS/NAME
    GET  /_fake/counters          {"requests": N, "writes": N, "by_method": {...},
                                  "watches": N} over the recorded API requests
    POST /_fake/shutdown
"conflicts" makes the next n writes (PUT or DELETE) of that Secret meet a concurrent
change: the stored resourceVersion moves on just before the write is checked, so the
write fails with 409 Conflict as it would against a real server; "sa_conflicts" does
the same for ServiceAccount PUTs.

Namespaces (GET /api/v1/namespaces) are listed with labelSelector, limit and continue,
and watched with watch=1&resourceVersion=RV&allowWatchBookmarks=true[&timeoutSeconds=N]
[&labelSelector=...]: a chunked stream of {"type","object"} lines, from the events after
RV, with a BOOKMARK every bookmark_interval seconds (default 1).  A watch from a
resourceVersion older than the compacted history answers 410 Gone ("too old resource
version"); "expire_watches" compacts the history and ends every open watch with an
ERROR event holding that 410 Status; "end_watches" just ends them (as timeoutSeconds
does); "gone_next_watches" makes the next n watch requests answer HTTP 410 at once.  The fake insists on resourceVersion and allowWatchBookmarks=true.
Cluster-wide lists GET /api/v1/secrets and /api/v1/serviceaccounts take
fieldSelector=metadata.name=NAME, limit and continue.  ServiceAccounts are read with
GET and written with PUT carrying metadata.resourceVersion (409 on a mismatch);
"forbid" namespaces answer 403 for secrets and serviceaccounts alike.
"""
import argparse
import base64
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()
CHANGED = threading.Condition(LOCK)
STATE = {
    "rv": 1000,
    "secrets": {},  # (ns, name) -> object
    "namespaces": {},  # name -> Namespace object
    "ns_events": [],  # (rv, type, object) for watches
    "compacted": 0,  # watches from an older resourceVersion get 410
    "watch_gen": 0,  # bumped to end open watches
    "watch_expire_gen": 0,  # bumped to end open watches with 410
    "sas": {},  # (ns, name) -> ServiceAccount object
    "sa_conflicts": {},
    "forbid_cluster": set(),
    "bookmark_interval": 1.0,
    "no_default_sa": False,
    "gone_next_watches": 0,
    "tokens": set(),
    "basic": {},
    "forbid": set(),
    "conflicts": {},  # "ns/name" -> count
    "delay": 0.0,
    "requests": [],
    "last": time.monotonic(),
}
SERVER = None

SECRETS_PREFIX = "/api/v1/namespaces/"
TYPE_RULES = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}


def next_rv():
    STATE["rv"] += 1
    return str(STATE["rv"])


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def add_namespace(name, labels=None):
    """Creates (or relabels) a namespace; records the watch event.  Hold LOCK."""
    old = STATE["namespaces"].get(name)
    obj = {"metadata": {"name": name, "uid": old["metadata"]["uid"] if old else
                        str(uuid.uuid4()),
                        "creationTimestamp": old["metadata"]["creationTimestamp"] if old else
                        now_iso(),
                        "labels": dict(labels or {"kubernetes.io/metadata.name": name}),
                        "resourceVersion": next_rv()},
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name
    STATE["namespaces"][name] = obj
    STATE["ns_events"].append((int(obj["metadata"]["resourceVersion"]),
                               "MODIFIED" if old else "ADDED", obj))
    if not old and not STATE["no_default_sa"]:
        put_sa({"metadata": {"name": "default", "namespace": name}})
    CHANGED.notify_all()
    return obj


def delete_namespace(name):
    old = STATE["namespaces"].pop(name, None)
    if old is None:
        return False
    for key in [k for k in STATE["secrets"] if k[0] == name]:
        del STATE["secrets"][key]
    for key in [k for k in STATE["sas"] if k[0] == name]:
        del STATE["sas"][key]
    obj = json.loads(json.dumps(old))
    obj["metadata"]["resourceVersion"] = next_rv()
    STATE["ns_events"].append((int(obj["metadata"]["resourceVersion"]), "DELETED", obj))
    CHANGED.notify_all()
    return True


def put_sa(obj):
    obj = json.loads(json.dumps(obj))
    meta = obj.setdefault("metadata", {})
    ns = meta["namespace"]
    old = STATE["sas"].get((ns, meta["name"]))
    obj["kind"] = "ServiceAccount"
    obj["apiVersion"] = "v1"
    meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
    meta["creationTimestamp"] = old["metadata"]["creationTimestamp"] if old else now_iso()
    meta["resourceVersion"] = next_rv()
    STATE["sas"][(ns, meta["name"])] = obj
    return obj


def name_selector(q):
    """fieldSelector=metadata.name=NAME (the only field selector the fake knows)."""
    fs = q.get("fieldSelector")
    if fs is None:
        return None
    for prefix in ("metadata.name==", "metadata.name="):
        if fs.startswith(prefix) and fs[len(prefix):]:
            return fs[len(prefix):]
    raise bad('"%s" is not a known field selector: only "metadata.name" is supported by the '
              "fake" % fs)


def page(items, q, kind):
    """limit/continue paging of a list of objects, as the API server does."""
    limit = q.get("limit")
    if limit is not None and (not limit.isdigit() or int(limit) <= 0):
        raise bad("limit must be a positive integer")
    start = 0
    cont = q.get("continue")
    if cont:
        try:
            tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
            start = int(tok["start"])
        except Exception:
            raise bad("invalid continue token")
    end = len(items) if limit is None else min(len(items), start + int(limit))
    out = []
    for it in items[start:end]:
        it = json.loads(json.dumps(it))
        it.pop("kind", None)
        it.pop("apiVersion", None)
        out.append(it)
    meta = {"resourceVersion": str(STATE["rv"])}
    if end < len(items):
        meta["continue"] = base64.urlsafe_b64encode(
            json.dumps({"start": end, "rv": STATE["rv"]}).encode()).decode().rstrip("=")
        meta["remainingItemCount"] = len(items) - end
    return {"kind": kind, "apiVersion": "v1", "metadata": meta, "items": out}


def check_query(q, allowed, what):
    for k in q:
        if k not in allowed:
            raise bad("fake: unexpected query parameter '%s' for %s" % (k, what))


def status_obj(code, reason, message, details=None):
    obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        obj["details"] = details
    return obj


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.obj = status_obj(code, reason, message, details)
        self.code = code


def bad(message):
    return ApiError(400, "BadRequest", message)


def invalid(name, message):
    return ApiError(422, "Invalid", 'Secret "%s" is invalid: %s' % (name, message),
                    {"name": name, "kind": "Secret", "causes": [{"reason": "FieldValueInvalid",
                                                                 "message": message}]})


def not_found(kind, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (kind, name),
                    {"name": name, "kind": kind})


def conflict(name, message=None):
    if message is None:
        message = ('Operation cannot be fulfilled on secrets "%s": the object has been '
                   'modified; please apply your changes to the latest version and try again'
                   % name)
    return ApiError(409, "Conflict", message, {"name": name, "kind": "secrets"})


def labels_match(labels, selector):
    """Equality (=, ==, !=) and existence (k, !k) terms, comma separated."""
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if not term:
            raise bad("unable to parse requirement: empty term in selector")
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "==" in term or "=" in term:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif " in " in term or " notin " in term:
            raise bad("the fake supports equality and existence selectors only")
        else:
            if term not in labels:
                return False
    return True


def check_secret_data(obj):
    name = obj["metadata"]["name"]
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise invalid(name, "data: must be a map")
    for k, v in data.items():
        if not isinstance(v, str):
            raise invalid(name, "data[%s]: must be a base64 string" % k)
        try:
            base64.b64decode(v, validate=True)
        except Exception:
            raise bad("illegal base64 data in data[%s]" % k)
    key = TYPE_RULES.get(obj.get("type", "Opaque"))
    if key:
        if key not in data:
            raise invalid(name, "data[%s]: Required value" % key)
        try:
            json.loads(base64.b64decode(data[key]))
        except Exception:
            raise invalid(name, 'data[%s]: Invalid value: "<secret contents redacted>": '
                          "invalid character in JSON" % key)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"

    def log_message(self, fmt, *args):  # quiet
        pass

    # --- plumbing -----------------------------------------------------------------------
    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding"):
            raise bad("the fake wants a Content-Length, not chunked bodies")
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        with LOCK:
            STATE["last"] = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        try:
            body = self.read_body()
        except ApiError as e:
            self.send_json(e.code, e.obj)
            return
        if url.path.startswith("/_fake/"):
            self.control(method, url.path, body)
            return
        rec = {
            "method": method,
            "path": url.path,
            "query": {k: v[0] for k, v in urllib.parse.parse_qs(url.query,
                                                               keep_blank_values=True).items()},
            "content_type": self.headers.get("Content-Type"),
            "accept": self.headers.get("Accept"),
        }
        try:
            if body:
                try:
                    rec["body"] = json.loads(body)
                except ValueError:
                    rec["body_text"] = body.decode("utf-8", "replace")
            delay = STATE["delay"]
            if delay:
                time.sleep(delay)
            user = self.authenticate(rec)
            code, obj = self.api(method, url, rec, user)
        except ApiError as e:
            code, obj = e.code, e.obj
        if code == "WATCH":
            rec["status"] = 200
            with LOCK:
                STATE["requests"].append(rec)
            self.stream_watch(obj)
            return
        rec["status"] = code
        with LOCK:
            STATE["requests"].append(rec)
        try:
            self.send_json(code, obj)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # --- authentication -----------------------------------------------------------------
    def authenticate(self, rec):
        h = self.headers.get("Authorization")
        unauthorized = ApiError(401, "Unauthorized", "Unauthorized")
        if len(self.headers.get_all("Authorization") or []) > 1:
            raise bad("more than one Authorization header")
        if h and h.startswith("Bearer "):
            token = h[7:]
            rec["auth"] = "bearer"
            rec["token"] = token
            with LOCK:
                ok = token in STATE["tokens"]
            if not ok:
                raise unauthorized
            return "system:serviceaccount:dockhand:token-user"
        if h and h.startswith("Basic "):
            rec["auth"] = "basic"
            try:
                user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
            except Exception:
                raise unauthorized
            rec["user"] = user
            if STATE["basic"].get(user) != pw:
                raise unauthorized
            return user
        if h:
            raise unauthorized
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if cert:
            cn = [v for rdn in cert.get("subject", ()) for (k, v) in rdn if k == "commonName"]
            rec["auth"] = "cert"
            rec["user"] = cn[0] if cn else ""
            return rec["user"]
        rec["auth"] = "none"
        raise unauthorized

    # --- the API ------------------------------------------------------------------------
    def api(self, method, url, rec, user):
        accept = rec["accept"]
        if accept and "application/json" not in accept and "*/*" not in accept:
            raise ApiError(406, "NotAcceptable", "only application/json is served")
        parts = url.path.split("/")
        q = rec["query"]
        if url.path == "/api/v1/namespaces":
            return self.namespaces_api(method, q)
        if url.path in ("/api/v1/secrets", "/api/v1/serviceaccounts"):
            return self.cluster_list(method, url.path.rsplit("/", 1)[1], q, user)
        if (url.path.startswith(SECRETS_PREFIX) and len(parts) in (6, 7) and parts[4]
                and parts[5] == "serviceaccounts" and (len(parts) == 6 or parts[6])):
            return self.sa_api(method, parts[4], parts[6] if len(parts) == 7 else None, q, rec,
                               user)
        # ['', 'api', 'v1', 'namespaces', NS, 'secrets'(, NAME)]
        if (not url.path.startswith(SECRETS_PREFIX) or len(parts) not in (6, 7)
                or parts[5] != "secrets" or not parts[4] or (len(parts) == 7 and not parts[6])):
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {})
        ns = parts[4]
        name = parts[6] if len(parts) == 7 else None
        q = rec["query"]
        allowed = {
            ("GET", False): {"limit", "continue", "labelSelector"},
            ("POST", False): {"fieldManager"},
            ("GET", True): set(),
            ("PUT", True): {"fieldManager"},
            ("PATCH", True): {"fieldManager", "force"},
            ("DELETE", True): set(),
        }.get((method, name is not None))
        if allowed is None:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource")
        for k in q:
            if k not in allowed:
                if k == "force":
                    raise ApiError(422, "Invalid",
                                   "force: Forbidden: may not be specified for non-apply patch")
                raise bad("fake: unexpected query parameter '%s' for %s" % (k, method))
        verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}[method]
        with LOCK:
            forbidden = ns in STATE["forbid"]
        if forbidden:
            details = {"kind": "secrets"}
            if name:
                details["name"] = name
            raise ApiError(403, "Forbidden",
                           'secrets%s is forbidden: User "%s" cannot %s resource "secrets" in '
                           'API group "" in the namespace "%s"'
                           % (' "%s"' % name if name else "", user, verb, ns), details)
        with LOCK:
            if method == "GET" and name is None:
                return 200, self.list(ns, q)
            if method == "GET":
                obj = STATE["secrets"].get((ns, name))
                if obj is None:
                    raise not_found("secrets", name)
                return 200, obj
            if method == "PATCH":
                return self.apply(ns, name, q, rec)
            if method == "PUT":
                return 200, self.put(ns, name, rec)
            if method == "DELETE":
                return 200, self.delete(ns, name, rec)
            raise ApiError(405, "MethodNotAllowed", "the fake does not create with POST")

    # --- namespaces, cluster-wide lists, serviceaccounts ---------------------------------
    def namespaces_api(self, method, q):
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed",
                           "the fake only lists and watches namespaces")
        if "watch" in q:
            check_query(q, {"watch", "resourceVersion", "allowWatchBookmarks", "timeoutSeconds",
                            "labelSelector"}, "a namespace watch")
            if q["watch"] not in ("1", "true"):
                raise bad("watch must be 1 or true")
            rv = q.get("resourceVersion", "")
            if not rv.isdigit():
                raise bad("fake: dockhand must watch from the resourceVersion of its list")
            if q.get("allowWatchBookmarks") != "true":
                raise bad("fake: dockhand must ask for bookmarks (allowWatchBookmarks=true)")
            timeout = q.get("timeoutSeconds", "1800")
            if not timeout.isdigit() or int(timeout) <= 0:
                raise bad("timeoutSeconds must be a positive integer")
            sel = q.get("labelSelector", "")
            labels_match({}, sel)  # validates it
            with LOCK:
                if STATE["gone_next_watches"] > 0:
                    STATE["gone_next_watches"] -= 1
                    raise ApiError(410, "Expired", "too old resource version: %s (%d)"
                                   % (rv, STATE["rv"]))
                if int(rv) < STATE["compacted"]:
                    raise ApiError(410, "Expired", "too old resource version: %s (%d)"
                                   % (rv, STATE["compacted"]))
            return "WATCH", (int(rv), sel, int(timeout))
        check_query(q, {"limit", "continue", "labelSelector"}, "a namespace list")
        sel = q.get("labelSelector", "")
        with LOCK:
            items = [o for _, o in sorted(STATE["namespaces"].items())
                     if labels_match(o["metadata"].get("labels", {}), sel)]
            return 200, page(items, q, "NamespaceList")

    def cluster_list(self, method, resource, q, user):
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed", "the fake only lists %s across namespaces"
                           % resource)
        check_query(q, {"limit", "continue", "fieldSelector", "labelSelector"},
                    "a cluster-wide list of %s" % resource)
        with LOCK:
            if resource in STATE["forbid_cluster"]:
                raise ApiError(403, "Forbidden", '%s is forbidden: User "%s" cannot list resource '
                               '"%s" in API group "" at the cluster scope'
                               % (resource, user, resource), {"kind": resource})
            name = name_selector(q)
            sel = q.get("labelSelector", "")
            store = STATE["secrets"] if resource == "secrets" else STATE["sas"]
            items = [store[k] for k in sorted(store) if (name is None or k[1] == name)
                     and labels_match(store[k]["metadata"].get("labels", {}), sel)]
            return 200, page(items, q, "SecretList" if resource == "secrets"
                             else "ServiceAccountList")

    def sa_api(self, method, ns, name, q, rec, user):
        allowed = {("GET", False): {"limit", "continue"}, ("GET", True): set(),
                   ("PUT", True): set()}.get((method, name is not None))
        if allowed is None:
            raise ApiError(405, "MethodNotAllowed", "fake: dockhand reads serviceaccounts with "
                           "GET and writes them with PUT")
        check_query(q, allowed, "serviceaccounts")
        with LOCK:
            if ns in STATE["forbid"]:
                verb = {"GET": "get" if name else "list", "PUT": "update"}[method]
                raise ApiError(403, "Forbidden", 'serviceaccounts%s is forbidden: User "%s" '
                               'cannot %s resource "serviceaccounts" in API group "" in the '
                               'namespace "%s"' % (' "%s"' % name if name else "", user, verb, ns),
                               {"kind": "serviceaccounts", "name": name or ""})
            if method == "GET" and name is None:
                items = [STATE["sas"][k] for k in sorted(STATE["sas"]) if k[0] == ns]
                return 200, page(items, q, "ServiceAccountList")
            if method == "GET":
                obj = STATE["sas"].get((ns, name))
                if obj is None:
                    raise not_found("serviceaccounts", name)
                return 200, obj
            got = (rec["content_type"] or "").split(";")[0].strip()
            if got != "application/json":
                raise ApiError(415, "UnsupportedMediaType", "fake: PUT a ServiceAccount as "
                               "application/json (got '%s')" % got)
            body = rec.get("body")
            if (not isinstance(body, dict) or body.get("kind") != "ServiceAccount"
                    or body.get("apiVersion") != "v1"):
                raise bad("fake: the body must be apiVersion v1, kind ServiceAccount")
            meta = body.get("metadata")
            if not isinstance(meta, dict) or meta.get("name") != name:
                raise bad("the name of the object does not match the name on the URL")
            if meta.get("namespace", ns) != ns:
                raise bad("the namespace of the provided object does not match the namespace "
                          "sent on the request")
            if "managedFields" in meta:
                raise bad("fake: dockhand must not send metadata.managedFields")
            if not meta.get("resourceVersion"):
                raise ApiError(422, "Invalid", 'ServiceAccount "%s" is invalid: '
                               "metadata.resourceVersion: Invalid value: 0x0: must be specified "
                               "for an update" % name)
            ips = body.get("imagePullSecrets", [])
            if not isinstance(ips, list) or any(
                    not isinstance(e, dict) or set(e) != {"name"} or not isinstance(e["name"], str)
                    for e in ips):
                raise bad("fake: imagePullSecrets must be a list of {name}")
            key = "%s/%s" % (ns, name)
            old = STATE["sas"].get((ns, name))
            if STATE["sa_conflicts"].get(key, 0) > 0 and old is not None:
                STATE["sa_conflicts"][key] -= 1
                old["metadata"]["resourceVersion"] = next_rv()
            if old is None:
                raise not_found("serviceaccounts", name)
            if meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on '
                               'serviceaccounts "%s": the object has been modified; please '
                               "apply your changes to the latest version and try again" % name,
                               {"name": name, "kind": "serviceaccounts"})
            obj = json.loads(json.dumps(body))
            obj["metadata"]["namespace"] = ns
            return 200, put_sa(obj)

    def stream_watch(self, params):
        rv, sel, timeout = params
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        deadline = time.monotonic() + timeout
        with LOCK:
            gen, xgen = STATE["watch_gen"], STATE["watch_expire_gen"]
        last_bookmark = time.monotonic()

        def send(obj):
            line = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        try:
            while True:
                with LOCK:
                    events = [e for e in STATE["ns_events"] if e[0] > rv]
                    if not events:
                        CHANGED.wait(timeout=0.1)
                        events = [e for e in STATE["ns_events"] if e[0] > rv]
                    expired = STATE["watch_expire_gen"] != xgen
                    ended = STATE["watch_gen"] != gen
                    current = STATE["rv"]
                    compacted = STATE["compacted"]
                    interval = STATE["bookmark_interval"]
                for erv, etype, obj in events:
                    rv = erv
                    if labels_match(obj["metadata"].get("labels", {}), sel):
                        send({"type": etype, "object": obj})
                if expired:
                    send({"type": "ERROR", "object": status_obj(
                        410, "Expired", "too old resource version: %d (%d)" % (rv, compacted))})
                    break
                if ended or time.monotonic() >= deadline:
                    break
                if interval > 0 and time.monotonic() - last_bookmark >= interval:
                    rv = max(rv, current) if not events else rv
                    send({"type": "BOOKMARK", "object": {
                        "kind": "Namespace", "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(rv)}}})
                    last_bookmark = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def list(self, ns, q):
        sel = q.get("labelSelector", "")
        names = sorted(n for (s, n) in STATE["secrets"] if s == ns)
        items = [STATE["secrets"][(ns, n)] for n in names
                 if labels_match(STATE["secrets"][(ns, n)]["metadata"].get("labels", {}), sel)]
        return page(items, q, "SecretList")

    def check_body(self, ns, name, rec, ctype):
        got = (rec["content_type"] or "").split(";")[0].strip()
        if got != ctype:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: %s (fake: got '%s')" % (ctype, got))
        body = rec.get("body")
        if not isinstance(body, dict):
            raise bad("fake: the body must be a JSON object")
        if body.get("apiVersion") != "v1" or body.get("kind") != "Secret":
            raise bad("fake: the body must be apiVersion v1, kind Secret")
        meta = body.get("metadata")
        if not isinstance(meta, dict) or meta.get("name") != name:
            raise bad("the name of the object (%s) does not match the name on the URL (%s)"
                      % ((meta or {}).get("name"), name))
        if meta.get("namespace", ns) != ns:
            raise bad("the namespace of the provided object does not match the namespace "
                      "sent on the request")
        if "managedFields" in meta:
            raise bad("fake: dockhand must not send metadata.managedFields")
        if "stringData" in body:
            raise bad("fake: dockhand must send data, not stringData")
        return body

    def apply(self, ns, name, q, rec):
        ctype = (rec["content_type"] or "").split(";")[0].strip()
        if ctype != "application/apply-patch+yaml":
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/apply-patch+yaml (the fake only "
                           "supports server-side apply)")
        if not q.get("fieldManager"):
            raise ApiError(422, "Invalid",
                           'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                           "value: is required for apply patch")
        if q.get("force") not in (None, "true", "false"):
            raise bad("force must be true or false")
        body = self.check_body(ns, name, rec, "application/apply-patch+yaml")
        if body["metadata"].get("resourceVersion"):
            raise bad("fake: dockhand must not send resourceVersion with apply")
        if ns not in STATE["namespaces"]:
            raise not_found("namespaces", ns)
        old = STATE["secrets"].get((ns, name))
        manager = q["fieldManager"]
        if old is None:
            obj = {"kind": "Secret", "apiVersion": "v1",
                   "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()),
                                "creationTimestamp": now_iso()},
                   "type": body.get("type", "Opaque"), "data": {}}
            code = 201
        else:
            obj = json.loads(json.dumps(old))
            if body.get("type", obj["type"]) != obj["type"]:
                raise invalid(name, "type: Invalid value: \"%s\": field is immutable"
                              % body.get("type"))
            owners = [m["manager"] for m in obj["metadata"].get("managedFields", [])]
            if owners and manager not in owners and q.get("force") != "true":
                raise ApiError(409, "Conflict", "Apply failed with 1 conflict: conflict with "
                               '"%s": .data' % owners[0], {"name": name, "kind": "secrets"})
            code = 200
        for k in ("labels", "annotations"):
            if body["metadata"].get(k):
                obj["metadata"].setdefault(k, {}).update(body["metadata"][k])
        obj["data"] = dict(body.get("data") or {})
        check_secret_data(obj)
        obj["metadata"]["resourceVersion"] = next_rv()
        obj["metadata"]["managedFields"] = [{"manager": manager, "operation": "Apply",
                                             "apiVersion": "v1", "time": now_iso()}]
        STATE["secrets"][(ns, name)] = obj
        return code, obj

    def bump_conflict(self, ns, name):
        key = "%s/%s" % (ns, name)
        if STATE["conflicts"].get(key, 0) > 0:
            STATE["conflicts"][key] -= 1
            obj = STATE["secrets"].get((ns, name))
            if obj is not None:
                obj["metadata"]["resourceVersion"] = next_rv()

    def put(self, ns, name, rec):
        body = self.check_body(ns, name, rec, "application/json")
        rv = body["metadata"].get("resourceVersion")
        if not rv:
            raise invalid(name, "metadata.resourceVersion: Invalid value: 0x0: must be "
                          "specified for an update")
        self.bump_conflict(ns, name)
        old = STATE["secrets"].get((ns, name))
        if old is None:
            raise not_found("secrets", name)
        if rv != old["metadata"]["resourceVersion"]:
            raise conflict(name)
        if body.get("type", "Opaque") != old["type"]:
            raise invalid(name, "type: Invalid value: \"%s\": field is immutable"
                          % body.get("type"))
        obj = json.loads(json.dumps(body))
        obj["metadata"]["namespace"] = ns
        obj["metadata"]["uid"] = old["metadata"]["uid"]
        obj["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"]
        if "managedFields" in old["metadata"]:
            obj["metadata"]["managedFields"] = old["metadata"]["managedFields"]
        obj.setdefault("data", {})
        check_secret_data(obj)
        obj["metadata"]["resourceVersion"] = next_rv()
        STATE["secrets"][(ns, name)] = obj
        return obj

    def delete(self, ns, name, rec):
        if "body" in rec or "body_text" in rec:
            got = (rec["content_type"] or "").split(";")[0].strip()
            if got != "application/json":
                raise ApiError(415, "UnsupportedMediaType", "DeleteOptions must be JSON")
            opts = rec.get("body")
            if not isinstance(opts, dict) or opts.get("kind", "DeleteOptions") != "DeleteOptions":
                raise bad("fake: the body of a DELETE must be DeleteOptions")
        else:
            opts = {}
        self.bump_conflict(ns, name)
        old = STATE["secrets"].get((ns, name))
        if old is None:
            raise not_found("secrets", name)
        pre = (opts.get("preconditions") or {}).get("resourceVersion")
        if pre is not None and pre != old["metadata"]["resourceVersion"]:
            raise conflict(name, 'Operation cannot be fulfilled on secrets "%s": the '
                           "ResourceVersion in the precondition (%s) does not match the "
                           "ResourceVersion in record (%s). The object might have been "
                           "modified" % (name, pre, old["metadata"]["resourceVersion"]))
        del STATE["secrets"][(ns, name)]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": "secrets", "uid": old["metadata"]["uid"]}}

    # --- control ------------------------------------------------------------------------
    def control(self, method, path, body):
        try:
            data = json.loads(body) if body else None
        except ValueError:
            self.send_json(400, {"error": "control body must be JSON"})
            return
        with LOCK:
            if method == "GET" and path == "/_fake/requests":
                self.send_json(200, STATE["requests"])
            elif method == "POST" and path == "/_fake/requests/reset":
                STATE["requests"] = []
                self.send_json(200, {})
            elif method == "POST" and path == "/_fake/secret":
                out = []
                for item in data if isinstance(data, list) else [data]:
                    obj = json.loads(json.dumps(item))
                    ns = obj["metadata"]["namespace"]
                    obj.setdefault("kind", "Secret")
                    obj.setdefault("apiVersion", "v1")
                    obj.setdefault("type", "Opaque")
                    obj["metadata"].setdefault("uid", str(uuid.uuid4()))
                    obj["metadata"].setdefault("creationTimestamp", now_iso())
                    obj["metadata"]["resourceVersion"] = next_rv()
                    if ns not in STATE["namespaces"]:
                        add_namespace(ns)
                    STATE["secrets"][(ns, obj["metadata"]["name"])] = obj
                    out.append(obj)
                self.send_json(200, out if isinstance(data, list) else out[0])
            elif method == "GET" and path.startswith("/_fake/secret/"):
                ns, _, name = path[len("/_fake/secret/"):].partition("/")
                obj = STATE["secrets"].get((ns, name))
                self.send_json(200 if obj else 404, obj or {})
            elif method == "POST" and path == "/_fake/scenario":
                for ns in data.get("forbid", []):
                    STATE["forbid"].add(ns)
                for ns in data.get("allow", []):
                    STATE["forbid"].discard(ns)
                for ns in data.get("namespaces", []):
                    if ns not in STATE["namespaces"]:
                        add_namespace(ns)
                STATE["sa_conflicts"].update(data.get("sa_conflicts", {}))
                if "forbid_cluster" in data:
                    STATE["forbid_cluster"] = set(data["forbid_cluster"])
                if "bookmark_interval" in data:
                    STATE["bookmark_interval"] = float(data["bookmark_interval"])
                if "gone_next_watches" in data:
                    STATE["gone_next_watches"] = int(data["gone_next_watches"])
                if "no_default_sa" in data:
                    STATE["no_default_sa"] = bool(data["no_default_sa"])
                if data.get("expire_watches"):
                    STATE["compacted"] = int(next_rv())
                    STATE["watch_expire_gen"] += 1
                    CHANGED.notify_all()
                if data.get("end_watches"):
                    STATE["watch_gen"] += 1
                    CHANGED.notify_all()
                STATE["conflicts"].update(data.get("conflicts", {}))
                if "delay" in data:
                    STATE["delay"] = float(data["delay"])
                STATE["tokens"].update(data.get("tokens", []))
                STATE["tokens"].difference_update(data.get("revoke", []))
                self.send_json(200, {})
            elif method == "POST" and path == "/_fake/namespace":
                out = []
                for item in data if isinstance(data, list) else [data]:
                    out.append(add_namespace(item["name"], item.get("labels")))
                self.send_json(200, out if isinstance(data, list) else out[0])
            elif method == "DELETE" and path.startswith("/_fake/namespace/"):
                ok = delete_namespace(path[len("/_fake/namespace/"):])
                self.send_json(200 if ok else 404, {})
            elif method == "POST" and path == "/_fake/serviceaccount":
                out = [put_sa(item) for item in (data if isinstance(data, list) else [data])]
                self.send_json(200, out if isinstance(data, list) else out[0])
            elif method == "GET" and path.startswith("/_fake/serviceaccount/"):
                ns, _, name = path[len("/_fake/serviceaccount/"):].partition("/")
                obj = STATE["sas"].get((ns, name))
                self.send_json(200 if obj else 404, obj or {})
            elif method == "GET" and path == "/_fake/counters":
                by = {}
                for r in STATE["requests"]:
                    by[r["method"]] = by.get(r["method"], 0) + 1
                self.send_json(200, {
                    "requests": len(STATE["requests"]),
                    "writes": sum(1 for r in STATE["requests"] if r["method"] != "GET"),
                    "watches": sum(1 for r in STATE["requests"]
                                   if r["query"].get("watch") in ("1", "true")),
                    "by_method": by})
            elif method == "POST" and path == "/_fake/shutdown":
                self.send_json(200, {})
                threading.Thread(target=SERVER.shutdown, daemon=True).start()
            else:
                self.send_json(404, {"error": "unknown control endpoint"})


def idle_watch(limit):
    while True:
        time.sleep(0.5)
        with LOCK:
            idle = time.monotonic() - STATE["last"]
        if idle > limit:
            SERVER.shutdown()
            return


def serve(args):
    global SERVER
    for t in args.token:
        STATE["tokens"].add(t)
    for b in args.basic:
        u, _, p = b.partition(":")
        STATE["basic"][u] = p
    with LOCK:
        for ns in args.namespace:
            add_namespace(ns)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(args.client_ca)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = __import__("socket").AF_INET6 if ":" in args.host else \
            __import__("socket").AF_INET

        def get_request(self):
            sock, addr = self.socket.accept()
            sock.settimeout(30)
            # Headers and body leave in separate writes: without this, Nagle's algorithm
            # and the client's delayed ACK add 40 ms to every answer.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                return ctx.wrap_socket(sock, server_side=True), addr
            except (ssl.SSLError, OSError):
                sock.close()
                raise

        def handle_error(self, request, client_address):
            pass

    SERVER = Server((args.host, 0), Handler)
    port = SERVER.server_address[1]
    tmp = os.path.join(args.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, os.path.join(args.dir, "port"))
    threading.Thread(target=idle_watch, args=(args.idle_timeout,), daemon=True).start()
    try:
        SERVER.serve_forever(poll_interval=0.2)
    finally:
        SERVER.server_close()


def ctl(args):
    with open(os.path.join(args.dir, "port")) as f:
        port = int(f.read())
    host = args.host if ":" not in args.host else "[%s]" % args.host
    ctx = ssl.create_default_context(cafile=args.ca)
    data = args.json.encode() if args.json is not None else None
    req = urllib.request.Request("https://%s:%d%s" % (host, port, args.path), data=data,
                                 method=args.method)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            sys.stdout.write(r.read().decode() + "\n")
    except urllib.error.HTTPError as e:
        sys.stdout.write(e.read().decode() + "\n")
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--client-ca")
    s.add_argument("--token", action="append", default=[])
    s.add_argument("--basic", action="append", default=[])
    s.add_argument("--namespace", action="append", default=[])
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--idle-timeout", type=float, default=300)
    c = sub.add_parser("ctl")
    c.add_argument("--dir", required=True)
    c.add_argument("--ca", required=True)
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("method")
    c.add_argument("path")
    c.add_argument("json", nargs="?")
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return ctl(args)


if __name__ == "__main__":
    sys.exit(main())
