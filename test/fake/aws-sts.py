#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A strict fake of the AWS credential endpoints for dockhand's tests (python3 stdlib only).

One plain-HTTP listener on 127.0.0.1 (a free port) serves, by path:

    POST /                                        STS (awsQuery form, XML answers):
        Action=AssumeRole                         SigV4-signed (verified: the signature is
                                                  recomputed with the caller's secret key)
        Action=AssumeRoleWithWebIdentity          unsigned; WebIdentityToken must equal --web-token
    PUT  /latest/api/token                        IMDSv2 session token (needs the TTL header)
    GET  /latest/meta-data/iam/security-credentials/[ROLE]
                                                  IMDSv2 (needs a valid X-aws-ec2-metadata-token: 401
                                                  without one)
    GET  /v2/credentials/*                        container credentials (Authorization must equal
                                                  --container-token when that is given)

    aws-sts.py --dir DIR [--key AKID:SECRET]... [--role ARN]... [--web-token T]
               [--web-identity-key AKID:SECRET:SESSION_TOKEN]
               [--container-token T] [--imds-role NAME] [--region R] [--idle-timeout S]

The port is written to DIR/port once the server listens.  DIR/calls.json holds
counters per operation ("AssumeRole", "AssumeRoleWithWebIdentity", "imds-token",
"imds-get", "imds-unauthorized", "container", "rejected") and "last": the last STS
request's non-secret fields (Action, RoleArn, RoleSessionName, signing AccessKeyId).
Credentials handed out are valid signing keys for later AssumeRole calls (role
chaining).  AssumeRole only accepts roles given with --role (any role when none is
given).  --web-identity-key fixes the credentials AssumeRoleWithWebIdentity hands out
(so another strict fake, e.g. aws-ecr.py, can be configured to accept exactly them).  Anything unexpected is refused with a 400.  Exits after --idle-timeout
seconds (default 120) without a request.
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
EXPIRATION = "2030-01-01T00:00:00Z"
LOCK = threading.Lock()
ARGS = None
KEYS = {}  # akid -> (secret, session token or None)
IMDS_TOKENS = set()
CALLS = {"last": {}}
LAST = [time.time()]
SERIAL = [0]


def count(name):
    CALLS[name] = CALLS.get(name, 0) + 1


def save():
    tmp = os.path.join(ARGS.dir, "calls.json.tmp")
    with open(tmp, "w") as f:
        json.dump(CALLS, f)
    os.replace(tmp, os.path.join(ARGS.dir, "calls.json"))


def issue(prefix):
    SERIAL[0] += 1
    akid = "%s%04d" % (prefix, SERIAL[0])
    secret = "secret-" + secrets.token_hex(12)
    token = "token-" + secrets.token_hex(12)
    KEYS[akid] = (secret, token)
    return akid, secret, token


def sts_error(h, status, code, msg, typ="Sender"):
    body = ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n'
            '    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n'
            % (NS, typ, code, msg, uuid.uuid4()))
    count("rejected")
    h.reply(status, body, "text/xml")


def sts_ok(h, action, akid, secret, token, extra=""):
    body = ('<%sResponse xmlns="%s">\n  <%sResult>\n%s    <Credentials>\n'
            '      <AccessKeyId>%s</AccessKeyId>\n      <SecretAccessKey>%s</SecretAccessKey>\n'
            '      <SessionToken>%s</SessionToken>\n      <Expiration>%s</Expiration>\n'
            '    </Credentials>\n  </%sResult>\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n'
            '  </ResponseMetadata>\n</%sResponse>\n'
            % (action, NS, action, extra, akid, secret, token, EXPIRATION, action, uuid.uuid4(),
               action))
    h.reply(200, body, "text/xml")


def sign_key(secret, date, region, service):
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def verify_sigv4(h, body):
    """Returns (akid, None) or (None, (code, message))."""
    auth = h.headers.get("Authorization", "")
    m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                     r" ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})", auth)
    if not m:
        return None, ("MissingAuthenticationToken", "Request is missing Authentication Token")
    akid, date, region, service, signed, sig = m.groups()
    if akid not in KEYS:
        return None, ("InvalidClientTokenId", "The security token included in the request is invalid.")
    secret, token = KEYS[akid]
    if service != "sts" or region != ARGS.region:
        return None, ("SignatureDoesNotMatch", "Credential should be scoped to a valid region and service.")
    amz_date = h.headers.get("X-Amz-Date", "")
    try:
        t = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
    except ValueError:
        return None, ("IncompleteSignature", "X-Amz-Date is missing or invalid")
    if abs(t - time.time()) > 900 or not amz_date.startswith(date):
        return None, ("SignatureDoesNotMatch", "Signature expired or date mismatch")
    names = signed.split(";")
    if "host" not in names or names != sorted(names):
        return None, ("SignatureDoesNotMatch", "SignedHeaders must be sorted and include host")
    if token is not None:
        if h.headers.get("X-Amz-Security-Token") != token or "x-amz-security-token" not in names:
            return None, ("InvalidClientTokenId", "The security token included in the request is invalid.")
    elif h.headers.get("X-Amz-Security-Token") is not None:
        return None, ("InvalidClientTokenId", "The security token included in the request is invalid.")
    hdrs = ""
    for n in names:
        vals = h.headers.get_all(n)
        if vals is None:
            return None, ("SignatureDoesNotMatch", "signed header %s not sent" % n)
        hdrs += n + ":" + ",".join(" ".join(v.split()) for v in vals) + "\n"
    path, _, query = h.path.partition("?")
    q = "&".join(sorted(query.split("&"))) if query else ""
    creq = "\n".join([h.command, path or "/", q, hdrs, signed, hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    want = hmac.new(sign_key(secret, date, region, service), sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return None, ("SignatureDoesNotMatch",
                      "The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method.")
    return akid, None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, status, body, ctype="application/json"):
        b = body.encode() if isinstance(body, str) else body
        save()  # the counters are on disk before the client sees the answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def handle_one_request(self):
        LAST[0] = time.time()
        super().handle_one_request()

    # ---- STS ----
    def post(self):
        body = self.body()
        if self.path != "/":
            return self.reply(400, '{"error":"unknown path"}')
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return sts_error(self, 400, "InvalidParameterValue", "wrong content type")
        try:
            form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return sts_error(self, 400, "MalformedQueryString", "bad form")
        if any(len(v) != 1 for v in form.values()):
            return sts_error(self, 400, "MalformedQueryString", "repeated parameter")
        f = {k: v[0] for k, v in form.items()}
        action = f.get("Action")
        if f.get("Version") != "2011-06-15":
            return sts_error(self, 400, "InvalidAction", "bad Version")
        if not re.fullmatch(r"[\w+=,.@-]{2,64}", f.get("RoleSessionName", "")):
            return sts_error(self, 400, "ValidationError", "bad RoleSessionName")
        role = f.get("RoleArn", "")
        if not re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+", role):
            return sts_error(self, 400, "ValidationError", "bad RoleArn")
        CALLS["last"] = {"Action": action, "RoleArn": role,
                         "RoleSessionName": f["RoleSessionName"]}
        if action == "AssumeRole":
            allowed = {"Action", "Version", "RoleArn", "RoleSessionName", "ExternalId",
                       "DurationSeconds"}
            if set(f) - allowed:
                return sts_error(self, 400, "InvalidParameterValue", "unknown parameter")
            akid, e = verify_sigv4(self, body)
            if e:
                return sts_error(self, 403, *e)
            CALLS["last"]["AccessKeyId"] = akid
            if ARGS.role and role not in ARGS.role:
                return sts_error(self, 403, "AccessDenied", "not authorized to perform sts:AssumeRole")
            count("AssumeRole")
            a, s, t = issue("ASIAROLE")
            extra = ('    <AssumedRoleUser>\n      <Arn>%s/%s</Arn>\n'
                     '      <AssumedRoleId>AROA0000:%s</AssumedRoleId>\n    </AssumedRoleUser>\n'
                     % (role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"),
                        f["RoleSessionName"], f["RoleSessionName"]))
            return sts_ok(self, "AssumeRole", a, s, t, extra)
        if action == "AssumeRoleWithWebIdentity":
            allowed = {"Action", "Version", "RoleArn", "RoleSessionName", "WebIdentityToken",
                       "DurationSeconds"}
            if set(f) - allowed:
                return sts_error(self, 400, "InvalidParameterValue", "unknown parameter")
            if "Authorization" in self.headers:
                return sts_error(self, 400, "InvalidParameterValue", "this call is unsigned")
            if ARGS.web_token is None or f.get("WebIdentityToken") != ARGS.web_token:
                return sts_error(self, 400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
            if ARGS.role and role not in ARGS.role:
                return sts_error(self, 403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
            count("AssumeRoleWithWebIdentity")
            if ARGS.web_identity_key:
                a, s, t = ARGS.web_identity_key.split(":", 2)
                KEYS[a] = (s, t)
            else:
                a, s, t = issue("ASIAWEB")
            return sts_ok(self, "AssumeRoleWithWebIdentity", a, s, t,
                          "    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa"
                          "</SubjectFromWebIdentityToken>\n")
        return sts_error(self, 400, "InvalidAction", "Could not find operation %s" % action)

    # ---- IMDSv2 ----
    def put(self):
        self.body()
        if self.path != "/latest/api/token":
            return self.reply(404, "", "text/plain")
        if "X-Forwarded-For" in self.headers:
            return self.reply(403, "", "text/plain")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, "", "text/plain")
        tok = "imds-" + secrets.token_urlsafe(24)
        IMDS_TOKENS.add(tok)
        count("imds-token")
        save()
        self.send_response(200)
        self.send_header("X-aws-ec2-metadata-token-ttl-seconds", ttl)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(tok)))
        self.end_headers()
        self.wfile.write(tok.encode())

    def get(self):
        prefix = "/latest/meta-data/iam/security-credentials/"
        if self.path.startswith(prefix):
            if self.headers.get("X-aws-ec2-metadata-token") not in IMDS_TOKENS:
                count("imds-unauthorized")
                return self.reply(401, "", "text/plain")
            count("imds-get")
            role = self.path[len(prefix):]
            if role == "":
                return self.reply(200, ARGS.imds_role + "\n", "text/plain")
            if role != ARGS.imds_role:
                return self.reply(404, "", "text/plain")
            a, s, t = issue("ASIAIMDS")
            return self.reply(200, json.dumps({
                "Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC",
                "AccessKeyId": a, "SecretAccessKey": s, "Token": t, "Expiration": EXPIRATION},
                indent=2))
        if self.path.startswith("/v2/credentials/"):
            if ARGS.container_token is not None and \
                    self.headers.get("Authorization") != ARGS.container_token:
                count("rejected")
                return self.reply(401, json.dumps({"code": "AccessDeniedException",
                                                   "message": "bad authorization token"}))
            count("container")
            a, s, t = issue("ASIACONT")
            return self.reply(200, json.dumps({
                "AccessKeyId": a, "SecretAccessKey": s, "Token": t, "Expiration": EXPIRATION,
                "RoleArn": "arn:aws:iam::123456789012:role/task"}))
        return self.reply(404, "", "text/plain")


def locked(fn):
    def run(self):
        with LOCK:
            try:
                fn(self)
            finally:
                save()
    return run


H.do_POST = locked(H.post)
H.do_PUT = locked(H.put)
H.do_GET = locked(H.get)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--key", action="append", default=[])
    p.add_argument("--role", action="append", default=[])
    p.add_argument("--web-token")
    p.add_argument("--web-identity-key")
    p.add_argument("--container-token")
    p.add_argument("--imds-role", default="ec2-role")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--idle-timeout", type=float, default=120)
    ARGS = p.parse_args()
    if ARGS.web_identity_key and len(ARGS.web_identity_key.split(":", 2)) != 3:
        p.error("--web-identity-key wants AKID:SECRET:SESSION_TOKEN")
    for k in ARGS.key:
        akid, _, secret = k.partition(":")
        KEYS[akid] = (secret, None)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    save()
    tmp = os.path.join(ARGS.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, os.path.join(ARGS.dir, "port"))
    while time.time() - LAST[0] < ARGS.idle_timeout:
        time.sleep(0.5)
    srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
