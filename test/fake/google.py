#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A strict fake of Google's OAuth token endpoint, STS and GCE metadata server
for dockhand's tests (python3 stdlib plus the openssl command).

    google.py --state-dir DIR [--pubkey PUB.pem --kid KID --email EMAIL]
        [--client-id ID --client-secret S --refresh-token R]
        [--audience AUD --subject-token T --subject-token-type TYPE]
        [--idle-timeout SECONDS] [--access-token TOKEN]

Listens on a free port of 127.0.0.1 (plain HTTP) and writes it to DIR/port once
ready.  Every request bumps a counter in DIR/calls.json ({"token": n,
"sts": n, "metadata": n, "rejected": n}).  Exits after --idle-timeout seconds
(default 120) without a request.

Endpoints:
    POST /token      jwt-bearer grant: the assertion's RS256 signature is verified
                     with PUB.pem (`openssl dgst -sha256 -verify`), its header
                     (alg RS256, typ JWT, kid) and claims (iss == EMAIL, scope ==
                     cloud-platform, aud == this endpoint's URL, exp - iat <= 3600,
                     iat not in the future, not expired) are checked;
                     refresh_token grant: client id, secret and refresh token must match.
    POST /sts        token-exchange grant for external_account: audience, scope,
                     requested_token_type, subject_token and its type must match.
    GET  /computeMetadata/v1/instance/service-accounts/default/token
                     demands `Metadata-Flavor: Google` (403 without), answers with it.
Both token endpoints demand Content-Type application/x-www-form-urlencoded and answer
{"access_token","expires_in","token_type":"Bearer"} or OAuth errors
({"error":"invalid_grant","error_description":"..."}).

Scenario (POST /_fake/scenario, JSON, replaces the previous one):
    {"status": 500|401|..., "delay": seconds, "no_flavor": true, "iam_status": 403,
     "body": {...}}
"status" makes every token answer fail with that status (OAuth error body);
"body" replaces the JSON of successful /token and metadata answers (malformed-answer tests);
"no_flavor" drops the Metadata-Flavor header from metadata answers; "iam_status"
fails generateAccessToken only, with a Google API error ({"error":{"code","status","message"}}).
    POST /iam/EMAIL:generateAccessToken
    POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken   (the real path)
                     IAM Credentials for service account impersonation: demands a Bearer
                     token this fake's STS issued, JSON {"scope":[cloud-platform],
                     "lifetime":"Ns"}; answers {"accessToken","expireTime"}.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

LOCK = threading.Lock()
CALLS = {"token": 0, "sts": 0, "iam": 0, "metadata": 0, "rejected": 0}
SCENARIO = {}
ARGS = None
LAST = [time.monotonic()]
PORT = [0]
SERIAL = [0]
STS_TOKENS = set()


def b64url_decode(s):
    if "=" in s or "+" in s or "/" in s:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def count(kind):
    with LOCK:
        CALLS[kind] += 1
        path = os.path.join(ARGS.state_dir, "calls.json")
        with open(path + ".tmp", "w") as f:
            json.dump(CALLS, f)
        os.replace(path + ".tmp", path)


def new_token(prefix):
    with LOCK:
        SERIAL[0] += 1
        if ARGS.access_token:  # a fixed token, e.g. a registry's htpasswd password
            return ARGS.access_token
        return "ya29.%s-%d" % (prefix, SERIAL[0])


class OAuthError(Exception):
    def __init__(self, status, error, desc):
        super().__init__(desc)
        self.status, self.error, self.desc = status, error, desc


def verify_rs256(data, sig):
    with tempfile.TemporaryDirectory() as d:
        dp, sp = os.path.join(d, "data"), os.path.join(d, "sig")
        with open(dp, "wb") as f:
            f.write(data)
        with open(sp, "wb") as f:
            f.write(sig)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", ARGS.pubkey, "-signature", sp, dp],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return r.returncode == 0


def check_jwt(assertion, aud):
    parts = assertion.split(".")
    if len(parts) != 3:
        raise OAuthError(400, "invalid_grant", "assertion is not a JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except ValueError as e:
        raise OAuthError(400, "invalid_grant", "bad JWT encoding: %s" % e)
    if header != {"alg": "RS256", "typ": "JWT", "kid": ARGS.kid}:
        raise OAuthError(400, "invalid_grant", "bad JWT header %r" % header)
    if not ARGS.pubkey or not verify_rs256((parts[0] + "." + parts[1]).encode(), sig):
        raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
    now = int(time.time())
    want = {"iss", "scope", "aud", "iat", "exp"}
    if set(claims) != want:
        raise OAuthError(400, "invalid_grant", "claims %r, want %r" % (sorted(claims), sorted(want)))
    if claims["iss"] != ARGS.email:
        raise OAuthError(400, "invalid_grant", "Invalid JWT: iss")
    if claims["scope"] != SCOPE:
        raise OAuthError(400, "invalid_scope", "bad scope")
    if claims["aud"] != aud:
        raise OAuthError(400, "invalid_grant", "Invalid JWT: aud %r != %r" % (claims["aud"], aud))
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise OAuthError(400, "invalid_grant", "iat/exp are not integers")
    if iat > now + 5 or iat < now - 300 or exp <= now or exp - iat > 3600 or exp <= iat:
        raise OAuthError(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj, flavor=False):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if flavor:
            self.send_header("Metadata-Flavor", "Google")
        self.end_headers()
        self.wfile.write(body)

    def oauth_error(self, e):
        count("rejected")
        self.reply(e.status, {"error": e.error, "error_description": e.desc})

    def read_body(self):
        return self.body

    def scenario(self):
        with LOCK:
            sc = dict(SCENARIO)
        if sc.get("delay"):
            time.sleep(float(sc["delay"]))
        if sc.get("status"):
            st = int(sc["status"])
            raise OAuthError(st, "invalid_client" if st == 401 else "internal_failure",
                             "scenario status %d" % st)
        return sc

    def form(self):
        ct = self.headers.get("Content-Type", "")
        if ct != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "Content-Type %r" % ct)
        body = self.read_body().decode()
        try:
            pairs = urllib.parse.parse_qsl(body, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise OAuthError(400, "invalid_request", "bad form")
        d = {}
        for k, v in pairs:
            if k in d:
                raise OAuthError(400, "invalid_request", "duplicate %s" % k)
            d[k] = v
        return d

    def do_POST(self):
        LAST[0] = time.monotonic()
        # read the whole body first: the connection is kept alive
        n = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(n) if n else b""
        path = self.path
        if path == "/_fake/scenario":
            with LOCK:
                SCENARIO.clear()
                SCENARIO.update(json.loads(self.read_body() or b"{}"))
            return self.reply(200, {})
        try:
            if path == "/token":
                count("token")
                f = self.form()
                sc = self.scenario()
                if "body" in sc:
                    return self.reply(200, sc["body"])
                gt = f.get("grant_type")
                if gt == JWT_BEARER:
                    if set(f) != {"grant_type", "assertion"}:
                        raise OAuthError(400, "invalid_request", "fields %r" % sorted(f))
                    check_jwt(f["assertion"], "http://127.0.0.1:%d/token" % PORT[0])
                    return self.reply(200, {"access_token": new_token("sa"), "expires_in": 3599,
                                            "token_type": "Bearer"})
                if gt == "refresh_token":
                    if set(f) != {"grant_type", "refresh_token", "client_id", "client_secret"}:
                        raise OAuthError(400, "invalid_request", "fields %r" % sorted(f))
                    if f["client_id"] != ARGS.client_id or f["client_secret"] != ARGS.client_secret:
                        raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
                    if f["refresh_token"] != ARGS.refresh_token:
                        raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
                    return self.reply(200, {"access_token": new_token("user"), "expires_in": 3599,
                                            "scope": SCOPE, "token_type": "Bearer"})
                raise OAuthError(400, "unsupported_grant_type", "Invalid grant_type: %s" % gt)
            if path == "/sts":
                count("sts")
                f = self.form()
                self.scenario()
                want = {"grant_type": TOKEN_EXCHANGE, "audience": ARGS.audience, "scope": SCOPE,
                        "requested_token_type": ACCESS_TOKEN_TYPE,
                        "subject_token_type": ARGS.subject_token_type}
                if set(f) != set(want) | {"subject_token"}:
                    raise OAuthError(400, "invalid_request", "fields %r" % sorted(f))
                for k, v in want.items():
                    if f[k] != v:
                        raise OAuthError(400, "invalid_request", "bad %s" % k)
                if f["subject_token"] != ARGS.subject_token:
                    raise OAuthError(400, "invalid_grant", "The subject token is invalid.")
                tok = new_token("sts")
                with LOCK:
                    STS_TOKENS.add(tok)
                return self.reply(200, {"access_token": tok, "expires_in": 3600,
                                        "issued_token_type": ACCESS_TOKEN_TYPE,
                                        "token_type": "Bearer"})
            if path in ("/iam/%s:generateAccessToken" % ARGS.email,
                        "/v1/projects/-/serviceAccounts/%s:generateAccessToken" % ARGS.email):
                count("iam")
                ct = self.headers.get("Content-Type", "")
                if ct != "application/json":
                    raise OAuthError(400, "invalid_request", "Content-Type %r" % ct)
                auth = self.headers.get("Authorization", "")
                with LOCK:
                    ok = auth.startswith("Bearer ") and auth[7:] in STS_TOKENS
                if not ok:
                    raise OAuthError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
                sc = self.scenario()
                if sc.get("iam_status"):
                    # Google APIs' error shape, not OAuth's
                    count("rejected")
                    return self.reply(int(sc["iam_status"]), {"error": {
                        "code": int(sc["iam_status"]), "status": "PERMISSION_DENIED",
                        "message": "Permission 'iam.serviceAccounts.getAccessToken' denied"}})
                try:
                    req = json.loads(self.body)
                except ValueError:
                    raise OAuthError(400, "INVALID_ARGUMENT", "bad JSON")
                if set(req) != {"scope", "lifetime"} or req["scope"] != [SCOPE] \
                        or not req["lifetime"].endswith("s"):
                    raise OAuthError(400, "INVALID_ARGUMENT", "bad request %r" % req)
                life = int(req["lifetime"][:-1])
                exp = time.strftime("%Y-%m-%dT%H:%M:%S.123456789Z", time.gmtime(time.time() + life))
                return self.reply(200, {"accessToken": new_token("imp"), "expireTime": exp})
        except OAuthError as e:
            return self.oauth_error(e)
        count("rejected")
        self.reply(404, {"error": "not_found"})

    def do_GET(self):
        LAST[0] = time.monotonic()
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return self.reply(400, {"error": "invalid_request", "error_description": "GET with a body"})
        if self.path == "/_fake/calls":
            with LOCK:
                return self.reply(200, dict(CALLS))
        if self.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            count("metadata")
            if self.headers.get("Metadata-Flavor") != "Google":
                count("rejected")
                body = b"Missing required header: Metadata-Flavor\n"
                self.send_response(403)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Metadata-Flavor", "Google")
                self.end_headers()
                self.wfile.write(body)
                return
            try:
                sc = self.scenario()
            except OAuthError as e:
                count("rejected")
                return self.reply(e.status, {"error": e.error, "error_description": e.desc},
                                  flavor=True)
            if "body" in sc:
                return self.reply(200, sc["body"], flavor=True)
            return self.reply(200, {"access_token": new_token("gce"), "expires_in": 3599,
                                    "token_type": "Bearer"}, flavor=not sc.get("no_flavor"))
        count("rejected")
        self.reply(404, {"error": "not_found"})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--state-dir", required=True)
    p.add_argument("--pubkey")
    p.add_argument("--kid", default="")
    p.add_argument("--email", default="")
    p.add_argument("--client-id", default="")
    p.add_argument("--client-secret", default="")
    p.add_argument("--refresh-token", default="")
    p.add_argument("--audience", default="")
    p.add_argument("--subject-token", default="")
    p.add_argument("--subject-token-type", default="urn:ietf:params:oauth:token-type:jwt")
    p.add_argument("--idle-timeout", type=float, default=120)
    p.add_argument("--access-token", default="",
                   help="hand out this access token on every grant (default: a new one each)")
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    PORT[0] = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    tmp = os.path.join(ARGS.state_dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % PORT[0])
    os.replace(tmp, os.path.join(ARGS.state_dir, "port"))
    while time.monotonic() - LAST[0] < ARGS.idle_timeout:
        time.sleep(0.5)
    srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
