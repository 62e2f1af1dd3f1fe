"""kubeapi.py -- a Kubernetes API test server for one resource, prowjobs.prow.k8s.io,
speaking the real protocol over TLS (Python stdlib only; it runs in the test's own
process, on a thread, on 127.0.0.1).

    certs = make_certs(dir)              # a CA, a server cert, a client cert (openssl)
    api = KubeAPI(certs, tokens={"t0"})  # bearer tokens it accepts (or a client cert)
    api.put(prowjob)                     # ADDED or MODIFIED, a new resourceVersion
    api.delete(name)                     # DELETED
    api.compact()                        # forget history: older resourceVersions -> 410
    api.error_410_in_stream()            # open watches get an in-stream ERROR 410
    api.drop_watches()                   # break open watch connections (no clean end)
    api.expire_continue = True           # the next continue token is 410 Expired
    api.gone_next = True                 # the next watch is 410 (HTTP or in-stream)
    api.requests                         # [(method, path, auth)] for assertions
    api.stop()

List: GET /apis/prow.k8s.io/v1/namespaces/NS/prowjobs?limit=N[&continue=T]
[&labelSelector=k=v,...] -> a ProwJobList page; metadata.continue for the next page;
metadata.resourceVersion of the snapshot. Watch: ?watch=1&resourceVersion=RV
[&allowWatchBookmarks=true][&timeoutSeconds=N] -> chunked newline-delimited events
after RV, then live ones; BOOKMARK every bookmark_every s when asked; the stream ends
cleanly after timeoutSeconds. A too old RV is answered with 410 (http_410=True, as
an HTTP status) or with an in-stream ERROR event (the default). Without a valid
token or client certificate: 401; a namespace other than the one served: 403.
"""

import base64
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_certs(d):
    """A CA and, signed by it, a server certificate for 127.0.0.1/localhost and a client
    certificate; PEM files in d. Returns a dict of paths."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    p = {k: os.path.join(d, k) for k in ("ca.key", "ca.crt", "server.key", "server.csr",
                                         "server.crt", "client.key", "client.csr",
                                         "client.crt", "ext.cnf")}
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p["ca.key"], "-out",
        p["ca.crt"], "-days", "2", "-subj", "/CN=herald-test-ca")
    with open(p["ext.cnf"], "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who, cn in (("server", "127.0.0.1"), ("client", "herald-producer")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p[who + ".key"], "-out",
            p[who + ".csr"], "-subj", "/CN=" + cn)
        extra = ["-extfile", p["ext.cnf"]] if who == "server" else []
        run("x509", "-req", "-in", p[who + ".csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
            "-CAcreateserial", "-out", p[who + ".crt"], "-days", "2", *extra)
    return p


def kubeconfig(path, server, certs, token=None, token_file=None, client_cert=False,
               namespace="prow", inline_ca=True):
    """Write a kubeconfig (YAML, as kubectl writes it) and return its path."""
    with open(certs["ca.crt"], "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    lines = ["apiVersion: v1", "kind: Config", "current-context: test",
             "clusters:", "- name: test-cluster", "  cluster:", "    server: " + server]
    lines.append("    certificate-authority-data: " + ca if inline_ca else
                 "    certificate-authority: " + certs["ca.crt"])
    lines += ["contexts:", "- name: test", "  context:", "    cluster: test-cluster",
              "    user: test-user", "    namespace: " + namespace,
              "users:", "- name: test-user", "  user:"]
    if token:
        lines.append("    token: " + token)
    if token_file:
        lines.append("    tokenFile: " + token_file)
    if client_cert:
        for k, f in (("client-certificate-data", "client.crt"), ("client-key-data", "client.key")):
            with open(certs[f], "rb") as fh:
                lines.append("    %s: %s" % (k, base64.b64encode(fh.read()).decode()))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class KubeAPI:
    def __init__(self, certs, tokens=(), namespace="prow", page=2, http_410=False,
                 bookmark_every=0):
        self.ns = namespace
        self.tokens = set(tokens)
        self.page = page
        self.http_410 = http_410
        self.bookmark_every = bookmark_every
        self.expire_continue = False
        self.gone_next = False  # the next watch is answered 410 (HTTP or in-stream)
        self.requests = []
        self.lists = 0
        self.watches = 0
        self._rv = 100
        self._objs = {}       # name -> object
        self._log = []        # (rv, type, object)
        self._oldest = 100    # watches from an older RV get 410
        self._cv = threading.Condition()
        self._gen = 0         # bumped by drop_watches / error_410_in_stream
        self._gen_kind = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                api._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["server.crt"], certs["server.key"])
        ctx.load_verify_locations(certs["ca.crt"])
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    # ---- changes ----------------------------------------------------------------

    def _bump(self, typ, obj):
        self._rv += 1
        obj = json.loads(json.dumps(obj))
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        self._log.append((self._rv, typ, obj))
        self._cv.notify_all()
        return obj

    def put(self, obj):
        with self._cv:
            name = obj["metadata"]["name"]
            typ = "MODIFIED" if name in self._objs else "ADDED"
            self._objs[name] = self._bump(typ, obj)
            return self._rv

    def get(self, name):
        with self._cv:
            return json.loads(json.dumps(self._objs[name]))

    def delete(self, name):
        with self._cv:
            obj = self._objs.pop(name)
            self._bump("DELETED", obj)

    def compact(self):
        """Forget the history: a watch from any resourceVersion before now is 410."""
        with self._cv:
            self._oldest = self._rv + 1
            self._log = []

    def error_410_in_stream(self):
        with self._cv:
            self.compact()
            self._gen += 1
            self._gen_kind = "410"
            self._cv.notify_all()

    def drop_watches(self):
        with self._cv:
            self._gen += 1
            self._gen_kind = "drop"
            self._cv.notify_all()

    def stop(self):
        self.drop_watches()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- protocol ---------------------------------------------------------------

    def _send_json(self, h, code, obj):
        body = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _status(self, h, code, reason, msg):
        self._send_json(h, code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": msg, "reason": reason,
                                  "code": code})

    def _serve(self, h):
        u = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        auth = h.headers.get("Authorization", "")
        self.requests.append(("GET", h.path, auth))
        cert = h.connection.getpeercert() if hasattr(h.connection, "getpeercert") else None
        if not cert and not (auth.startswith("Bearer ") and auth[7:] in self.tokens):
            return self._status(h, 401, "Unauthorized", "Unauthorized")
        want = "/apis/prow.k8s.io/v1/namespaces/%s/prowjobs" % self.ns
        if not u.path.startswith("/apis/prow.k8s.io/v1/namespaces/"):
            return self._status(h, 404, "NotFound", "the server could not find the resource")
        if u.path != want:
            return self._status(h, 403, "Forbidden",
                                'prowjobs.prow.k8s.io is forbidden: User "test" cannot list '
                                'resource "prowjobs" in this namespace')
        if q.get("watch") in ("1", "true"):
            return self._watch(h, q)
        return self._list(h, q)

    def _selected(self, obj, sel):
        if not sel:
            return True
        labels = obj.get("metadata", {}).get("labels") or {}
        for term in sel.split(","):
            k, _, v = term.partition("=")
            if labels.get(k) != v:
                return False
        return True

    def _list(self, h, q):
        limit = min(int(q.get("limit", "0") or 0) or self.page, self.page)
        with self._cv:
            if q.get("continue"):
                if self.expire_continue:
                    self.expire_continue = False
                    return self._status(h, 410, "Expired",
                                        "The provided continue parameter is too old")
                tok = json.loads(base64.b64decode(q["continue"]))
                rv, start = tok["rv"], tok["start"]
                snapshot = tok["names"]
            else:
                self.lists += 1
                rv, start = self._rv, 0
                snapshot = sorted(self._objs)
            names = snapshot[start:start + limit]
            items = [self._objs[n] for n in names if n in self._objs and
                     self._selected(self._objs[n], q.get("labelSelector"))]
            md = {"resourceVersion": str(rv)}
            if start + limit < len(snapshot):
                md["continue"] = base64.b64encode(json.dumps(
                    {"rv": rv, "start": start + limit, "names": snapshot}).encode()).decode()
        self._send_json(h, 200, {"apiVersion": "prow.k8s.io/v1", "kind": "ProwJobList",
                                 "metadata": md, "items": items})

    def _chunk(self, h, obj):
        data = (json.dumps(obj) + "\n").encode()
        h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        h.wfile.flush()

    def _watch(self, h, q):
        rv = int(q.get("resourceVersion") or 0)
        timeout = float(q.get("timeoutSeconds") or 300)
        sel = q.get("labelSelector")
        with self._cv:
            self.watches += 1
            too_old = rv < self._oldest - 1 or self.gone_next
            self.gone_next = False
            if too_old and self.http_410:
                return self._status(h, 410, "Expired", "too old resource version: %d (%d)" % (
                    rv, self._oldest))
            gen = self._gen
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        end = time.monotonic() + timeout
        last_bm = time.monotonic()
        try:
            if too_old:
                self._chunk(h, self._error410(rv))
                h.wfile.write(b"0\r\n\r\n")
                return
            while True:
                with self._cv:
                    pending = [(r, t, o) for (r, t, o) in self._log if r > rv]
                    if not pending and self._gen == gen:
                        self._cv.wait(0.2)
                        pending = [(r, t, o) for (r, t, o) in self._log if r > rv]
                    g, kind = self._gen, self._gen_kind
                for r, t, o in pending:
                    if self._selected(o, sel):
                        self._chunk(h, {"type": t, "object": o})
                    rv = r
                if g != gen:
                    if kind == "410":
                        self._chunk(h, self._error410(rv))
                        h.wfile.write(b"0\r\n\r\n")
                    else:  # a broken connection: no terminating chunk
                        h.connection.shutdown(socket.SHUT_RDWR)
                        h.close_connection = True
                    return
                if (self.bookmark_every and q.get("allowWatchBookmarks") == "true" and
                        time.monotonic() - last_bm >= self.bookmark_every):
                    last_bm = time.monotonic()
                    with self._cv:
                        brv = self._rv
                    self._chunk(h, {"type": "BOOKMARK", "object": {
                        "kind": "ProwJob", "apiVersion": "prow.k8s.io/v1",
                        "metadata": {"resourceVersion": str(brv)}}})
                    rv = max(rv, brv)
                if time.monotonic() >= end:
                    h.wfile.write(b"0\r\n\r\n")
                    return
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            h.close_connection = True

    def _error410(self, rv):
        return {"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: %d (%d)" % (rv, self._oldest),
            "reason": "Expired", "code": 410}}
