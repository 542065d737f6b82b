#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small HTTP/HTTPS test server for test/unit/test_http.c (python3 stdlib only).

Usage: httpd.py --certs DIR [--unix PATH] [--idle SECONDS]

With --certs DIR, the test PKI is created in DIR with the openssl CLI unless it
is there already: ca.pem/ca.key (the test CA), server.pem/server.key (SAN
127.0.0.1, ::1 and localhost), client.pem/client.key (CN dockhand-test-client,
signed by the CA), other-ca.pem (a CA that signed nothing we serve).

Listeners, all on 127.0.0.1 and a free port:
  https  TLS with the server certificate
  mtls   TLS that requires a client certificate signed by the test CA
  http   plain HTTP
  unix   plain HTTP on the unix socket PATH (with --unix)
When they are up, one JSON line on stdout gives their ports and socket path:
  {"https": 40001, "mtls": 40002, "http": 40003, "unix": "/tmp/x/sock"}

Routes (on every listener, any method):
  /echo              200, JSON: method, path, query, headers [[name, value]...],
                     body (latin-1), body_len, client_port, tls, client_cn, transport
  /status/NNN        status NNN, body "status NNN", header X-Route: status
  /redirect          302 to /echo on the same listener (Location), body "redirecting"
  /big?n=N[&chunked=1]  N bytes of "0123456789..." with Content-Length, or chunked
  /sleep?ms=N        sleeps N ms, then 200 "slept"
  /headers           200 with X-One, two X-Dup, and a value padded with blanks
A request carrying "Expect: 100-continue" gets an interim "100 Continue" with
the header X-Interim: yes before the final response.

The server exits when its stdin reaches end of file (the test that started it
ended, however it ended) or after --idle seconds (default 120) without a request.
"""

import argparse
import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

last_activity = time.monotonic()

OPENSSL_CONF = """
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def make_certs(d):
    """Creates the test PKI in d with the openssl CLI (EC P-256: fast)."""
    if os.path.exists(os.path.join(d, "client.pem")):
        return
    conf = os.path.join(d, "openssl.cnf")
    with open(conf, "w") as f:
        f.write(OPENSSL_CONF)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        run("req", "-config", conf, "-x509", *key, "-keyout", ca + ".key", "-out", ca + ".pem",
            "-days", "2", "-subj", "/CN=dockhand test " + ca, "-extensions", "ca")
    for name, cn in (("server", "localhost"), ("client", "dockhand-test-client")):
        run("req", "-config", conf, "-new", *key, "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=" + cn)
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", str(int(time.time() * 1000) + len(name)), "-days", "2",
            "-extfile", conf, "-extensions", name, "-out", name + ".pem")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dockhand-fake"
    sys_version = ""
    timeout = 30

    def log_message(self, format, *args):
        pass

    def handle_expect_100(self):
        self.wfile.write(b"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n")
        self.wfile.flush()
        return True

    def reply(self, status, body=b"", headers=(), content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        if status in (204, 304) or 100 <= status < 200:
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        global last_activity
        last_activity = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        body = self.read_body()
        path = url.path
        if path == "/echo":
            cn = None
            tls = isinstance(self.connection, ssl.SSLSocket)
            if tls:
                cert = self.connection.getpeercert()
                if cert:
                    for rdn in cert.get("subject", ()):
                        for k, v in rdn:
                            if k == "commonName":
                                cn = v
            port = self.client_address[1] if isinstance(self.client_address, tuple) else None
            out = {
                "method": self.command,
                "path": path,
                "query": url.query,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("latin-1"),
                "body_len": len(body),
                "client_port": port,
                "tls": tls,
                "client_cn": cn,
                "transport": "unix" if port is None else "tcp",
            }
            self.reply(200, json.dumps(out).encode(), content_type="application/json")
        elif path.startswith("/status/"):
            status = int(path[len("/status/"):])
            self.reply(status, b"status %d" % status, headers=[("X-Route", "status")])
        elif path == "/redirect":
            self.reply(302, b"redirecting", headers=[("Location", "/echo")])
        elif path == "/big":
            n = int(q.get("n", "0"))
            chunk = b"0123456789" * 6554
            if q.get("chunked"):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if self.command == "HEAD":
                    return
                left = n
                while left > 0:
                    part = chunk[:min(left, len(chunk))]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    left -= len(part)
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                left = 0 if self.command == "HEAD" else n
                while left > 0:
                    part = chunk[:min(left, len(chunk))]
                    self.wfile.write(part)
                    left -= len(part)
        elif path == "/sleep":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            self.reply(200, b"slept")
        elif path == "/headers":
            self.send_response(200)
            self.send_header("X-One", "1")
            self.send_header("X-Dup", "a")
            self.send_header("X-Dup", "b")
            self.send_header("X-Padded", "  padded value \t")
            self.send_header("Content-Length", "2")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(b"ok")
        else:
            self.reply(404, b"no route")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class QuietMixin:
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that give up (time-out, size cap, bad CA) are expected


class TCPServer(QuietMixin, http.server.ThreadingHTTPServer):
    def __init__(self, ctx=None):
        self.ctx = ctx
        super().__init__(("127.0.0.1", 0), Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, not in the accept loop.
        if self.ctx is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(10)
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class UnixServer(QuietMixin, socketserver.ThreadingUnixStreamServer):
    pass


def serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()


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
    ap = argparse.ArgumentParser()
    ap.add_argument("--certs", required=True)
    ap.add_argument("--unix")
    ap.add_argument("--idle", type=float, default=120)
    args = ap.parse_args()

    try:
        make_certs(args.certs)
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", b"") or b""
        sys.stderr.write("httpd.py: cannot create test certificates with openssl: %s %s\n"
                         % (e, err.decode(errors="replace")))
        return 1
    c = lambda n: os.path.join(args.certs, n)

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(c("server.pem"), c("server.key"))
    mtls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    mtls.load_cert_chain(c("server.pem"), c("server.key"))
    mtls.load_verify_locations(c("ca.pem"))
    mtls.verify_mode = ssl.CERT_REQUIRED

    servers = {"https": TCPServer(tls), "mtls": TCPServer(mtls), "http": TCPServer()}
    ports = {k: s.server_address[1] for k, s in servers.items()}
    if args.unix:
        servers["unix"] = UnixServer(args.unix, Handler)
        ports["unix"] = args.unix
    for s in servers.values():
        serve(s)
    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Thread(target=watch_idle, args=(args.idle,), daemon=True).start()
    print(json.dumps(ports), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
