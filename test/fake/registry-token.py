#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A strict docker token server (distribution "Token Authentication Specification"),
python3 stdlib only, for tests with a real docker-registry in token mode.

Usage:
  registry-token.py --key KEY.pem --service SERVICE --issuer ISSUER --users FILE
                    [--port-file FILE] [--tls-cert CERT --tls-key KEY]
                    [--public REPO]... [--fields both|token|access_token]
                    [--expires-in N | --no-expires-in] [--no-issued-at]
                    [--print-kid] [--idle SECONDS]

  --key        RSA private key (PEM, PKCS#1 or PKCS#8, as `openssl genrsa` writes) that
               signs the tokens.  The registry trusts it through a certificate of the
               same key in auth.token.rootcertbundle (see test/cli/lib/registry.bash).
  --users      one user a line: "NAME PASSWORD [push]"; every user may pull any
               repository, users marked push may also push.
  --public     a repository anonymous requests may pull (repeatable).
  --fields     which of "token" / "access_token" the answer carries (default both).
  --expires-in lifetime in seconds (default 300); --no-expires-in leaves it out.
  --print-kid  print the libtrust key ID of --key and exit.
  --port-file  where to write the port once listening (127.0.0.1, a free port).
  --tls-*      serve HTTPS with this certificate and key (else plain HTTP).
  --idle       exit after this many seconds without a request (default 600).

Protocol (what is checked, answers):
  GET /token?service=S[&scope=...]...[&account=U][&client_id=C][&offline_token=true]
    - GET only (405 otherwise); other paths 404;
    - service must equal --service (400);
    - every scope (the parameter may repeat, and one value may hold several scopes
      separated by spaces) must be "repository:NAME:ACTIONS" (NAME in the
      distribution name grammar, ACTIONS a comma list of pull, push, delete, *) or
      "registry:catalog:*" (400);
    - Basic credentials: a wrong user or password is 401 with a JSON errors body;
      without credentials only --public repositories get pull (an anonymous
      request with no scope is 401); account, when given, must equal the Basic
      user (400);
    - 200: {"token", "access_token" (per --fields), "expires_in", "issued_at",
      "refresh_token" (only with offline_token=true and a client_id)}: an RS256 JWT
      with header {"typ":"JWT","alg":"RS256","kid":<libtrust key ID>} and claims
      iss, sub, aud (the service), exp, nbf, iat, jti, access (the granted subset
      of the requested actions; a denied scope is simply not granted, as the spec
      says).
  GET /_fake/requests: JSON list of the requests so far (path, method, query as a
    list of [name, value], user (the Basic user or null), authenticated (bool),
    status).  Passwords and tokens are never recorded.
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

# ---------------------------------------------------------------- DER / RSA


def der_read(data, pos):
    """Returns (tag, content, next_pos) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + length], pos + length


def der_seq(data):
    """The elements of a DER SEQUENCE's content."""
    out, pos = [], 0
    while pos < len(data):
        tag, content, pos = der_read(data, pos)
        out.append((tag, content))
    return out


def load_rsa_key(path):
    """(n, e, d) from a PEM RSA private key, PKCS#1 or PKCS#8."""
    with open(path, encoding="ascii") as f:
        pem = f.read()
    m = re.search(r"-----BEGIN (RSA )?PRIVATE KEY-----(.*?)-----END", pem, re.S)
    if not m:
        raise SystemExit(f"{path}: no RSA private key")
    der = base64.b64decode("".join(m.group(2).split()))
    _, body, _ = der_read(der, 0)
    items = der_seq(body)
    if not m.group(1):  # PKCS#8: version, algorithm, OCTET STRING(PKCS#1)
        _, body, _ = der_read(items[2][1], 0)
        items = der_seq(body)
    ints = [int.from_bytes(c, "big") for t, c in items if t == 0x02]
    return ints[1], ints[2], ints[3]


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")  # leading 0 keeps it positive
    return der(0x02, b)


def spki_der(n, e):
    rsa_oid = bytes.fromhex("06092a864886f70d010101")
    alg = der(0x30, rsa_oid + b"\x05\x00")
    pub = der(0x30, der_int(n) + der_int(e))
    return der(0x30, alg + der(0x03, b"\x00" + pub))


def libtrust_kid(n, e):
    """docker/libtrust keyIDFromCryptoKey: SHA-256 of the DER SubjectPublicKeyInfo,
    first 240 bits, base32 without padding, in groups of 4 joined by ':'."""
    digest = hashlib.sha256(spki_der(n, e)).digest()[:30]
    b32 = base64.b32encode(digest).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256(n, d, msg):
    """RSASSA-PKCS1-v1_5 with SHA-256."""
    k = (n.bit_length() + 7) // 8
    t = SHA256_PREFIX + hashlib.sha256(msg).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


# ---------------------------------------------------------------- policy

# distribution reference grammar for a repository name (path components)
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
NAME_RE = re.compile(r"^" + COMPONENT + r"(?:/" + COMPONENT + r")*$")
ACTIONS = {"pull", "push", "delete", "*"}


def parse_scope(s):
    """(type, name, [actions]) or None when malformed."""
    if s == "registry:catalog:*":
        return ("registry", "catalog", ["*"])
    m = re.fullmatch(r"repository:([^:]+):([a-z*,]+)", s)
    if not m or len(m.group(1)) > 255 or not NAME_RE.match(m.group(1)):
        return None
    actions = m.group(2).split(",")
    if not actions or any(a not in ACTIONS for a in actions):
        return None
    return ("repository", m.group(1), actions)


class State:
    def __init__(self, args):
        self.args = args
        self.n, self.e, self.d = load_rsa_key(args.key)
        self.kid = libtrust_kid(self.n, self.e)
        self.users = {}
        with open(args.users, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    self.users[parts[0]] = (parts[1], "push" in parts[2:])
        self.public = set(args.public or [])
        self.requests = []
        self.lock = threading.Lock()
        self.last = time.monotonic()

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        return signing_input + "." + b64url(rs256(self.n, self.d, signing_input.encode()))


STATE = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "registry-token-fake/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def record(self, status, query, user, authenticated):
        with STATE.lock:
            STATE.requests.append({
                "method": self.command, "path": urllib.parse.urlsplit(self.path).path,
                "query": query, "user": user, "authenticated": authenticated, "status": status})

    def error(self, status, code, message, query, user=None, authenticated=False):
        self.record(status, query, user, authenticated)
        headers = [("WWW-Authenticate", 'Basic realm="registry-token-fake"')] if status == 401 else []
        self.reply(status, {"errors": [{"code": code, "message": message}]}, headers)

    def do_GET(self):
        STATE.last = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_fake/requests":
            with STATE.lock:
                self.reply(200, STATE.requests)
            return
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True, strict_parsing=False)
        if url.path != "/token":
            self.error(404, "NOT_FOUND", "no such path", query)
            return
        params = {}
        for k, v in query:
            params.setdefault(k, []).append(v)
        if params.get("service") != [STATE.args.service]:
            self.error(400, "INVALID_REQUEST", "unknown or missing service", query)
            return
        scopes = []
        for value in params.get("scope", []):
            for s in value.split(" "):
                p = parse_scope(s)
                if p is None:
                    self.error(400, "INVALID_REQUEST", "invalid scope", query)
                    return
                scopes.append(p)

        user, authenticated, can_push = None, False, False
        auth = self.headers.get("Authorization")
        if auth is not None:
            scheme, _, cred = auth.partition(" ")
            try:
                u, sep, pw = base64.b64decode(cred, validate=True).decode().partition(":")
            except Exception:  # noqa: BLE001 - any malformed header is a 401
                sep = ""
            if scheme.lower() != "basic" or not sep:
                self.error(401, "UNAUTHORIZED", "malformed basic credentials", query)
                return
            known = STATE.users.get(u)
            if known is None or not secrets.compare_digest(known[0].encode(), pw.encode()):
                self.error(401, "UNAUTHORIZED", "incorrect username or password", query, u)
                return
            user, authenticated, can_push = u, True, known[1]
        if "account" in params and params["account"] != [user]:
            self.error(400, "INVALID_REQUEST", "account does not match the credentials", query, user,
                       authenticated)
            return
        if not authenticated and not any(t == "repository" and n in STATE.public for t, n, _ in scopes):
            self.error(401, "UNAUTHORIZED", "authentication required", query)
            return

        access = []
        for typ, name, actions in scopes:
            if typ != "repository":
                continue
            allowed = set()
            if authenticated or name in STATE.public:
                allowed.add("pull")
            if can_push:
                allowed.update({"push", "delete"})
            granted = [a for a in actions if a in allowed or (a == "*" and can_push)]
            if granted:
                access.append({"type": typ, "name": name, "actions": granted})
        now = int(time.time())
        lifetime = STATE.args.expires_in
        claims = {
            "iss": STATE.args.issuer, "sub": user or "", "aud": STATE.args.service,
            "exp": now + max(lifetime, 60), "nbf": now - 10, "iat": now,
            "jti": secrets.token_hex(16), "access": access,
        }
        token = STATE.sign(claims)
        answer = {}
        if STATE.args.fields in ("both", "token"):
            answer["token"] = token
        if STATE.args.fields in ("both", "access_token"):
            answer["access_token"] = token
        if not STATE.args.no_expires_in:
            answer["expires_in"] = lifetime
        if not STATE.args.no_issued_at:
            answer["issued_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        if params.get("offline_token") == ["true"] and params.get("client_id") and authenticated:
            answer["refresh_token"] = secrets.token_hex(16)
        self.record(200, query, user, authenticated)
        self.reply(200, answer)

    def other(self):
        self.error(405, "UNSUPPORTED", "only GET", [])

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = other


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    global STATE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--key", required=True)
    ap.add_argument("--service")
    ap.add_argument("--issuer")
    ap.add_argument("--users")
    ap.add_argument("--public", action="append")
    ap.add_argument("--fields", choices=["both", "token", "access_token"], default="both")
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--no-expires-in", action="store_true")
    ap.add_argument("--no-issued-at", action="store_true")
    ap.add_argument("--port-file")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--print-kid", action="store_true")
    ap.add_argument("--idle", type=float, default=600)
    args = ap.parse_args()
    if args.print_kid:
        n, e, _ = load_rsa_key(args.key)
        print(libtrust_kid(n, e))
        return
    if not (args.service and args.issuer and args.users):
        ap.error("--service, --issuer and --users are required")
    STATE = State(args)
    srv = Server(("127.0.0.1", 0), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{port}\n")
        os.rename(tmp, args.port_file)
    else:
        print(json.dumps({"port": port}), flush=True)

    def idle_watch():
        while time.monotonic() - STATE.last < args.idle:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=idle_watch, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
