#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A strict fake of the ECR and ECR Public GetAuthorizationToken API (python3 stdlib only).

Usage:
  aws-ecr.py --state-dir DIR --access-key-id AKID --secret-access-key SECRET
             [--session-token TOKEN] [--region us-east-1] [--account 123456789012]
             [--password PW] [--expires-in SECONDS] [--scenario ok|500|403|delay|garbage]
             [--delay SECONDS] [--idle SECONDS] [--tls-cert PEM --tls-key PEM]
             [--exit-on-stdin-eof]

Listens on 127.0.0.1 on a free port (plain HTTP, or HTTPS with --tls-cert/--tls-key).
State directory files:
  DIR/port       the port, written once the server listens (tests poll for it)
  DIR/url        http://127.0.0.1:PORT (or https://)
  DIR/calls      the number of GetAuthorizationToken requests received (any outcome)
  DIR/log.jsonl  one JSON line per request: service, target, body, status, error
  DIR/scenario   optional; read at each request, overrides --scenario
  DIR/password   optional; read at each request, overrides --password
  DIR/pid        the server's pid
One JSON line on stdout too: {"port": N, "url": "..."}.

Control endpoints (not signed): GET /_fake/calls -> {"calls": N}; POST /_fake/reset.

Every request to POST / is checked like the real service: Content-Type
application/x-amz-json-1.1, a known X-Amz-Target (ECR or ECR Public), X-Amz-Date
within 15 minutes, the SigV4 credential scope (date, region, service: "ecr" or
"ecr-public", ECR Public always in us-east-1), the access key id, the session
token (when configured it must be sent and signed), and the signature itself,
recomputed here with the secret key.  Failures answer 400/403 with the real
JSON error shape {"__type": "...", "message": "..."}.

Answers: ECR {"authorizationData": [{"authorizationToken": base64("AWS:" + password),
"expiresAt": <epoch seconds with a fraction>, "proxyEndpoint": "https://..."}]};
ECR Public {"authorizationData": {"authorizationToken": ..., "expiresAt": ...}}.
Scenarios: 500 (ServerException), 403 (AccessDeniedException), delay (sleeps
--delay seconds, default 30, then answers), garbage (200 with a non-JSON body).

The server exits after --idle seconds (default 120) without a request, or at end
of file on stdin with --exit-on-stdin-eof.

Reusable from Python: `import importlib; m = importlib.import_module(...)`, then
m.FakeECR(options).serve() / .start_thread().
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

TARGETS = {
    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken": "ecr",
    "SpencerFrontendService.GetAuthorizationToken": "ecr-public",
}
SIG_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def _uri_encode(s, keep_slash):
    safe = "-._~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def _canonical_path(path):
    segs = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if segs:
                segs.pop()
            continue
        segs.append(seg)
    out = "/" + "/".join(_uri_encode(s, False) for s in segs)
    if segs and path.endswith("/"):
        out += "/"
    return out


def _canonical_query(query):
    params = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = urllib.parse.unquote_plus(name)
        value = urllib.parse.unquote_plus(value)
        params.append((_uri_encode(name, False), _uri_encode(value, False)))
    params.sort()
    return "&".join("%s=%s" % p for p in params)


def _canon_value(v):
    return " ".join(v.split())


def sigv4_signature(secret, method, path, query, headers, signed, body, amz_date, region, service):
    """Returns (canonical request, string to sign, hex signature).  headers: list of (name, value)."""
    lines = []
    for name in signed:
        values = [_canon_value(v) for (n, v) in headers if n.lower() == name]
        lines.append("%s:%s\n" % (name, ",".join(values)))
    creq = "\n".join(
        [
            method,
            _canonical_path(path),
            _canonical_query(query),
            "".join(lines),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope, hashlib.sha256(creq.encode()).hexdigest())

    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = h(("AWS4" + secret).encode(), amz_date[:8])
    k = h(k, region)
    k = h(k, service)
    k = h(k, "aws4_request")
    return creq, sts, hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class AwsError(Exception):
    def __init__(self, status, typ, message):
        super().__init__(message)
        self.status, self.typ, self.message = status, typ, message


class FakeECR:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.calls = 0
        self.last_activity = time.monotonic()
        os.makedirs(opts.state_dir, exist_ok=True)
        self._write("calls", "0\n")
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

            def do_PUT(self):
                fake.handle(self, "PUT")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if opts.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = self.server.server_address[1]
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self._write("url", self.url + "\n")
        self._write("pid", "%d\n" % os.getpid())
        self._write("port", "%d\n" % self.port)  # last: tests wait for it

    def _write(self, name, text):
        path = os.path.join(self.opts.state_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def _read_override(self, name, default):
        try:
            with open(os.path.join(self.opts.state_dir, name)) as f:
                return f.read().strip()
        except OSError:
            return default

    def _log(self, entry):
        with open(os.path.join(self.opts.state_dir, "log.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")

    @staticmethod
    def _send(req, status, obj=None, raw=None, ctype="application/x-amz-json-1.1"):
        body = raw if raw is not None else json.dumps(obj).encode()
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-%012d" % int(time.time()))
        req.end_headers()
        req.wfile.write(body)

    def handle(self, req, method):
        self.last_activity = time.monotonic()
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(req.path)
        if url.path == "/_fake/calls":
            with self.lock:
                return self._send(req, 200, {"calls": self.calls}, ctype="application/json")
        if url.path == "/_fake/reset" and method == "POST":
            with self.lock:
                self.calls = 0
                self._write("calls", "0\n")
            return self._send(req, 200, {"calls": 0}, ctype="application/json")

        with self.lock:
            self.calls += 1
            self._write("calls", "%d\n" % self.calls)
        entry = {"method": method, "path": req.path, "target": req.headers.get("X-Amz-Target")}
        try:
            service = self.check(req, method, url, body)
            entry["service"] = service
            try:
                entry["body"] = json.loads(body)
            except ValueError:
                raise AwsError(400, "SerializationException", "Start of structure or map found where not expected.")
            scenario = self._read_override("scenario", self.opts.scenario)
            if scenario == "500":
                raise AwsError(500, "ServerException", "We encountered an internal error. Please try again.")
            if scenario == "403":
                raise AwsError(
                    403,
                    "AccessDeniedException",
                    "User: arn:aws:iam::%s:user/test is not authorized to perform: %s:GetAuthorizationToken "
                    "on resource: * because no identity-based policy allows the %s:GetAuthorizationToken action"
                    % (self.opts.account, service, service),
                )
            if scenario == "delay":
                time.sleep(self.opts.delay)
            if scenario == "garbage":
                entry["status"] = 200
                self._log(entry)
                return self._send(req, 200, raw=b"<html>not json</html>", ctype="text/html")
            password = self._read_override("password", self.opts.password)
            token = base64.b64encode(("AWS:" + password).encode()).decode()
            expires = round(time.time() + self.opts.expires_in, 3) + 0.123
            if service == "ecr":
                ids = entry["body"].get("registryIds") or [self.opts.account]
                data = [
                    {
                        "authorizationToken": token,
                        "expiresAt": expires,
                        "proxyEndpoint": "https://%s.dkr.ecr.%s.amazonaws.com" % (ids[0], self.opts.region),
                    }
                ]
            else:
                data = {"authorizationToken": token, "expiresAt": expires}
            entry["status"] = 200
            self._log(entry)
            return self._send(req, 200, {"authorizationData": data})
        except AwsError as e:
            entry.update(status=e.status, error=e.typ, message=e.message)
            self._log(entry)
            return self._send(req, e.status, {"__type": e.typ, "message": e.message})

    def check(self, req, method, url, body):
        o = self.opts
        if method != "POST" or url.path != "/":
            raise AwsError(404, "UnknownOperationException", "only POST / is served")
        ctype = req.headers.get("Content-Type")
        if ctype != "application/x-amz-json-1.1":
            raise AwsError(400, "SerializationException", "bad Content-Type %r" % ctype)
        target = req.headers.get("X-Amz-Target")
        service = TARGETS.get(target)
        if not service:
            raise AwsError(400, "UnknownOperationException", "unknown X-Amz-Target %r" % target)
        amz_date = req.headers.get("X-Amz-Date") or ""
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise AwsError(400, "IncompleteSignatureException", "bad or missing X-Amz-Date %r" % amz_date)
        if abs(t.timestamp() - time.time()) > 15 * 60:
            raise AwsError(403, "InvalidSignatureException", "Signature expired: %s is now earlier or later than the allowed window" % amz_date)
        authz = req.headers.get("Authorization") or ""
        if not authz.startswith("AWS4-HMAC-SHA256 "):
            raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        fields = {}
        for part in authz[len("AWS4-HMAC-SHA256 ") :].split(","):
            k, _, v = part.strip().partition("=")
            fields[k] = v
        if not all(k in fields for k in ("Credential", "SignedHeaders", "Signature")):
            raise AwsError(400, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature")
        cred = fields["Credential"].split("/")
        if len(cred) != 5 or cred[4] != "aws4_request":
            raise AwsError(400, "IncompleteSignatureException", "bad credential %r" % fields["Credential"])
        akid, date, region, svc = cred[:4]
        if akid != o.access_key_id:
            raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if date != amz_date[:8]:
            raise AwsError(403, "InvalidSignatureException", "Credential should be scoped to a valid date: %s" % amz_date[:8])
        want_region = "us-east-1" if service == "ecr-public" else o.region
        if region != want_region:
            raise AwsError(403, "InvalidSignatureException", "Credential should be scoped to a valid region, not '%s'." % region)
        if svc != service:
            raise AwsError(403, "InvalidSignatureException", "Credential should be scoped to correct service: '%s'." % service)
        signed = fields["SignedHeaders"].split(";")
        if signed != sorted(signed) or "host" not in signed or "x-amz-date" not in signed:
            raise AwsError(403, "InvalidSignatureException", "SignedHeaders must be sorted and include host and x-amz-date")
        tok = req.headers.get("X-Amz-Security-Token")
        if o.session_token:
            if tok != o.session_token:
                raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
            if "x-amz-security-token" not in signed:
                raise AwsError(403, "InvalidSignatureException", "X-Amz-Security-Token must be signed")
        elif tok is not None:
            raise AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        headers = list(req.headers.items())
        for name in signed:
            if not any(n.lower() == name for (n, _) in headers):
                raise AwsError(403, "InvalidSignatureException", "signed header %s is missing" % name)
        _, _, sig = sigv4_signature(
            o.secret_access_key, method, url.path, url.query, headers, signed, body, amz_date, region, svc
        )
        if not hmac.compare_digest(sig, fields["Signature"]):
            raise AwsError(403, "InvalidSignatureException", SIG_MISMATCH)
        return service

    def _idle_watch(self):
        while True:
            time.sleep(1)
            if time.monotonic() - self.last_activity > self.opts.idle:
                os._exit(0)

    def serve(self):
        threading.Thread(target=self._idle_watch, daemon=True).start()
        if self.opts.exit_on_stdin_eof:

            def watch_stdin():
                try:
                    while sys.stdin.buffer.read(4096):
                        pass
                except OSError:
                    pass
                os._exit(0)

            threading.Thread(target=watch_stdin, daemon=True).start()
        print(json.dumps({"port": self.port, "url": self.url}), flush=True)
        self.server.serve_forever()

    def start_thread(self):
        t = threading.Thread(target=self.server.serve_forever, daemon=True)
        t.start()
        return t


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="strict fake ECR / ECR Public GetAuthorizationToken endpoint")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--access-key-id", default="AKIDEXAMPLE")
    p.add_argument("--secret-access-key", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    p.add_argument("--session-token", default=None)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--account", default="123456789012")
    p.add_argument("--password", default="fake-ecr-password")
    p.add_argument("--expires-in", type=float, default=43200.0)
    p.add_argument("--scenario", default="ok", choices=["ok", "500", "403", "delay", "garbage"])
    p.add_argument("--delay", type=float, default=30.0)
    p.add_argument("--idle", type=float, default=120.0)
    p.add_argument("--tls-cert", default=None)
    p.add_argument("--tls-key", default=None)
    p.add_argument("--exit-on-stdin-eof", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    FakeECR(parse_args()).serve()
