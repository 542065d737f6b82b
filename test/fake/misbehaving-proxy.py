#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A misbehaving reverse proxy in front of a registry, for the blob transfer tests
(python3 stdlib only).

Usage:
  misbehaving-proxy.py (--upstream URL | --blob-dir DIR) [--scenario FILE] [--idle SECONDS]

  --upstream URL   forward every request to this registry (http://127.0.0.1:PORT),
                   headers and Range included, Authorization passed through
  --blob-dir DIR   no registry: serve GET/HEAD /v2/<name>/blobs/sha256:<hex> from
                   DIR/<hex> (Range supported, Docker-Content-Digest set); anything
                   else is 404 (for the C unit tests)
  --scenario FILE  a JSON file with the initial configuration (see below)

Two listeners on 127.0.0.1, free ports: the proxy, and a second one, the "object
storage", where blob GETs are redirected when asked.  When both are up, one JSON
line on stdout: {"port": P, "storage_port": S}.  The process exits when its stdin,
if it is a pipe, reaches end of file (the test that started it is gone), when it is
killed, or after --idle seconds (default 300) without a request.

Misbehaviours, applied to blob GETs (paths containing "/blobs/sha256:"), set with
POST /_fake/config (JSON, replaces the whole configuration) or --scenario:
  {"drop_after": N,          after N body bytes, close the connection (RST) ...
   "drop_times": 1,          ... the first drop_times GETs of each blob (default 1),
                             so that a resume with Range then succeeds
   "corrupt": true,          flip one byte (the blob's middle byte, when the response
                             covers it) in every GET of every blob
   "throttle": K,            answer the first K GETs of each blob path with 429 ...
   "retry_after": "1",       ... and this Retry-After value (default "1")
   "error_5xx": K,           answer the first K GETs of each blob with 503 (no Retry-After)
   "redirect": true,         answer blob GETs with 307 to the storage port, which
                             serves the blob (fetching it from upstream with the
                             credentials of the redirected request, like a presigned
                             URL) and records whether an Authorization header came
   "delay_ms": N,            wait N ms before answering a blob GET (parallelism tests)
   "no_range": true}         ignore Range headers on blob GETs (answer 200, whole blob)
Counts are per blob path and start again at each POST /_fake/config.

Control endpoints (on the proxy port, never forwarded):
  GET  /_fake/requests   JSON list, one object per request seen on either port:
                         {"listener": "proxy"|"storage", "method", "path",
                          "authorization": bool, "range": str|null, "status": int,
                          "sent": bytes of body sent}
  GET  /_fake/stats      {"max_inflight": most blob GETs in flight at once}
  POST /_fake/config     set the misbehaviours (body: JSON as above)
  POST /_fake/reset      clear the request log, the counters and the configuration
"""

import argparse
import hashlib
import http.client
import http.server
import json
import os
import re
import secrets
import socket
import stat
import struct
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
config = {}
counters = {}  # (kind, path) -> count
requests_log = []
inflight = 0
max_inflight = 0
last_activity = time.monotonic()
redirect_tokens = {}  # token -> (path, authorization or None)
args = None
ports = {}

HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
       "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
BLOB_RE = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")


def bump(kind, path):
    """Returns how many times (kind, path) was counted before, and counts once more."""
    with lock:
        n = counters.get((kind, path), 0)
        counters[(kind, path)] = n + 1
        return n


def parse_range(value, size):
    """'bytes=N-' or 'bytes=N-M' -> (start, end inclusive), or None."""
    m = re.match(r"^bytes=(\d+)-(\d*)$", value or "")
    if not m:
        return None
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listener = "proxy"

    def log_message(self, format, *a):
        pass

    def record(self, status, sent=0):
        with lock:
            requests_log.append({
                "listener": self.listener, "method": self.command,
                "path": self.path.split("?")[0],
                "authorization": self.headers.get("Authorization") is not None,
                "range": self.headers.get("Range"), "status": status, "sent": sent})

    def reply(self, status, body=b"", headers=(), ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status, len(body))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def drop(self):
        """Closes the connection with a reset, mid-body."""
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True

    # ---- control ----
    def control(self):
        global config, requests_log, counters, max_inflight
        path = self.path.split("?")[0]
        if path == "/_fake/requests" and self.command == "GET":
            with lock:
                body = json.dumps(requests_log)
            return self.reply(200, body)
        if path == "/_fake/stats" and self.command == "GET":
            return self.reply(200, json.dumps({"max_inflight": max_inflight}))
        if path == "/_fake/config" and self.command == "POST":
            try:
                new = json.loads(self.read_body() or b"{}")
                assert isinstance(new, dict)
            except (ValueError, AssertionError):
                return self.reply(400, '{"error":"bad config"}')
            with lock:
                config = new
                counters = {}
                max_inflight = 0
            return self.reply(200, "{}")
        if path == "/_fake/reset" and self.command == "POST":
            self.read_body()
            with lock:
                config, counters, requests_log, max_inflight = {}, {}, [], 0
            return self.reply(200, "{}")
        return self.reply(404, '{"error":"unknown control path"}')

    # ---- blob sources ----
    def open_blob(self, path, auth, rng):
        """(status, headers list, body iterator, total size, start offset) of the blob."""
        if args.blob_dir:
            m = BLOB_RE.match(path)
            if not m:
                return 404, [], iter([b"not found"]), 9, 0
            f = os.path.join(args.blob_dir, m.group(1)[7:])
            if not os.path.isfile(f):
                return 404, [], iter([b"blob unknown"]), 12, 0
            data = open(f, "rb").read()
            headers = [("Docker-Content-Digest", m.group(1)),
                       ("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")]
            r = parse_range(rng, len(data)) if rng else None
            if rng and r is None:
                return 416, [("Content-Range", "bytes */%d" % len(data))], iter([b""]), 0, 0
            if r:
                headers.append(("Content-Range", "bytes %d-%d/%d" % (r[0], r[1], len(data))))
                return 206, headers, iter([data[r[0]:r[1] + 1]]), len(data), r[0]
            return 200, headers, iter([data]), len(data), 0
        u = urllib.parse.urlsplit(args.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        h = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if auth is not None:
            h["Authorization"] = auth
        else:
            h.pop("Authorization", None)
        if rng:
            h["Range"] = rng
        else:
            h.pop("Range", None)
        conn.request(self.command, path, headers=h)
        resp = conn.getresponse()
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
        total, start = None, 0
        cr = resp.getheader("Content-Range")
        if cr:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+)", cr)
            if m:
                start, total = int(m.group(1)), int(m.group(3))
        elif resp.getheader("Content-Length"):
            total = int(resp.getheader("Content-Length"))

        def chunks():
            try:
                while True:
                    b = resp.read(65536)
                    if not b:
                        break
                    yield b
            finally:
                conn.close()
        length = resp.getheader("Content-Length")
        if length is not None:
            headers.append(("Content-Length", length))
        return resp.status, headers, chunks(), total, start

    def send_blob(self, path, auth, rng, blob):
        """Sends a blob response with the configured misbehaviours."""
        global inflight, max_inflight
        cfg = config
        if cfg.get("no_range"):
            rng = None
        with lock:
            inflight += 1
            max_inflight = max(max_inflight, inflight)
        try:
            if cfg.get("delay_ms"):
                time.sleep(cfg["delay_ms"] / 1000.0)
            status, headers, body, total, start = self.open_blob(path, auth, rng)
            drop_after = None
            if blob and cfg.get("drop_after") is not None and status in (200, 206):
                if bump("drop", path) < cfg.get("drop_times", 1):
                    drop_after = int(cfg["drop_after"])
            flip = None
            if blob and cfg.get("corrupt") and status in (200, 206) and total:
                flip = total // 2
            self.send_response(status)
            has_len = False
            for k, v in headers:
                has_len = has_len or k.lower() == "content-length"
                self.send_header(k, v)
            body_bytes = None
            if not has_len:
                body_bytes = b"".join(body)
                self.send_header("Content-Length", str(len(body_bytes)))
                body = iter([body_bytes])
            self.end_headers()
            sent, pos = 0, start
            if self.command == "HEAD":
                self.record(status, 0)
                return
            for b in body:
                if flip is not None and pos <= flip < pos + len(b):
                    i = flip - pos
                    b = b[:i] + bytes([b[i] ^ 0x01]) + b[i + 1:]
                if drop_after is not None and sent + len(b) >= drop_after:
                    self.wfile.write(b[:max(0, drop_after - sent)])
                    sent = drop_after
                    self.record(status, sent)
                    self.drop()
                    for _ in body:  # release the upstream connection
                        pass
                    return
                self.wfile.write(b)
                sent += len(b)
                pos += len(b)
            self.record(status, sent)
        finally:
            with lock:
                inflight -= 1

    # ---- dispatch ----
    def handle_any(self):
        global last_activity
        last_activity = time.monotonic()
        path = self.path
        if self.listener == "storage":
            return self.storage()
        if path.startswith("/_fake/"):
            return self.control()
        blob = self.command == "GET" and BLOB_RE.match(path.split("?")[0]) is not None
        cfg = config
        if blob:
            if cfg.get("throttle") and bump("throttle", path) < int(cfg["throttle"]):
                return self.reply(429, '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                                  [("Retry-After", str(cfg.get("retry_after", "1")))])
            if cfg.get("error_5xx") and bump("5xx", path) < int(cfg["error_5xx"]):
                return self.reply(503, '{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
            if cfg.get("redirect"):
                token = secrets.token_hex(16)
                with lock:
                    redirect_tokens[token] = (path, self.headers.get("Authorization"))
                loc = "http://127.0.0.1:%d/_storage%s?token=%s" % (ports["storage"], path, token)
                return self.reply(307, "", [("Location", loc)])
        if args.blob_dir and not blob and not (self.command == "HEAD" and BLOB_RE.match(path)):
            self.read_body()
            return self.reply(404, '{"errors":[{"code":"NOT_FOUND"}]}')
        if args.upstream and not blob and self.command not in ("GET", "HEAD"):
            return self.forward_other()
        return self.send_blob(path, self.headers.get("Authorization"), self.headers.get("Range"),
                              blob)

    def forward_other(self):
        u = urllib.parse.urlsplit(args.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        h = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=self.read_body(), headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.record(resp.status, len(data))

    def storage(self):
        u = urllib.parse.urlsplit(self.path)
        token = urllib.parse.parse_qs(u.query).get("token", [""])[0]
        with lock:
            entry = redirect_tokens.get(token)
        if not u.path.startswith("/_storage/") or not entry or entry[0] != u.path[9:]:
            return self.reply(403, '{"error":"bad or missing token"}')
        # like object storage: the token is the credential; a client's Authorization is not used
        return self.send_blob(entry[0], entry[1], self.headers.get("Range"), True)

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()


class StorageHandler(Handler):
    listener = "storage"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # dropped connections are the point


def watch_stdin():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    os._exit(0)


def watch_idle(limit):
    while True:
        time.sleep(1)
        if time.monotonic() - last_activity > limit:
            os._exit(0)


def main():
    global args, config
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--upstream")
    g.add_argument("--blob-dir")
    ap.add_argument("--scenario")
    ap.add_argument("--idle", type=float, default=300)
    args = ap.parse_args()
    if args.scenario:
        with open(args.scenario) as f:
            config = json.load(f)
    proxy = Server(("127.0.0.1", 0), Handler)
    storage = Server(("127.0.0.1", 0), StorageHandler)
    ports["proxy"] = proxy.server_address[1]
    ports["storage"] = storage.server_address[1]
    for s in (proxy, storage):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    # stdin a pipe: its end of file ends us; anything else (/dev/null from a bats
    # suite, which kills us by pid) is not watched
    if stat.S_ISFIFO(os.fstat(0).st_mode) or stat.S_ISSOCK(os.fstat(0).st_mode):
        threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Thread(target=watch_idle, args=(args.idle,), daemon=True).start()
    print(json.dumps({"port": ports["proxy"], "storage_port": ports["storage"]}), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
