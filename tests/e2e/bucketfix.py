"""bucketfix.py -- job-log buckets in Prow's layout for the bucket tests and the import
benchmark (Python stdlib only):

    runs = make_runs(n, t0, span_s)           # realistic runs of ACK's real jobs
    files = bucket_files(runs, legacy_every=3)  # {key: bytes}: prowjob.json, or (every
                                                # 3rd run) only started/finished.json
    write_mirror(dir, files)                  # a local folder mirror
    S3rver(logdir).seed(bucket, files)        # s3rver (npm), SigV4-signed PUTs
    GcsServer(dir)                            # the GCS JSON API over a folder

Layout: logs/<job>/<build>/ for postsubmits and periodics,
pr-logs/pull/<org>_<repo>/<pr>/<job>/<build>/ for presubmits (ACK's explicit path
strategy); build ids are snowflakes of the run's start.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
import prowjob

ACK_JOBS = os.path.join(harness.REPO, "tests", "fixtures", "ack-jobs.txt")
S3RVER = os.path.join(harness.REPO, "tests", "node", "node_modules", ".bin", "s3rver")


def make_runs(n, t0, span_s, seed=11):
    """n finished runs of ACK's jobs with start times spread over [t0, t0 + span_s)."""
    rnd = random.Random(seed)
    jobs = [j for j in prowjob.load_ack_jobs(ACK_JOBS) if j.type in ("presubmit", "postsubmit")]
    runs = []
    for i in range(n):
        j = jobs[rnd.randrange(len(jobs))]
        start = t0 + (span_s * i) // n
        dur = rnd.randint(120, 1800)
        state = rnd.choice(["success"] * 6 + ["failure"] * 3 + ["aborted"])
        kw = {}
        if j.type == "presubmit":
            kw["pulls"] = [{"number": rnd.randint(1, 900), "author": "dev%d" % (i % 17)}]
        org, repo = j.org, j.name or "test-infra"
        doc = prowjob.make_prowjob(j.job, j.type, org, repo, state, start=start,
                                   completion=start + dur,
                                   build_id=prowjob.snowflake_build_id(start, seq=i % 4096),
                                   **kw)
        runs.append(doc)
    return runs


def run_dir(doc):
    spec, st = doc["spec"], doc["status"]
    if spec["type"] == "presubmit":
        r = spec["refs"]
        return "pr-logs/pull/%s_%s/%d/%s/%s/" % (r["org"], r["repo"], r["pulls"][0]["number"],
                                                 spec["job"], st["build_id"])
    return "logs/%s/%s/" % (spec["job"], st["build_id"])


def epoch(rfc):
    return int(datetime.datetime.fromisoformat(rfc.replace("Z", "+00:00")).timestamp())


def bucket_files(runs, legacy_every=3):
    """{key: bytes} of every run: its prowjob.json, started.json and finished.json; every
    legacy_every-th run has no prowjob.json (an older bucket)."""
    files = {}
    for i, d in enumerate(runs):
        base = run_dir(d)
        st, spec = d["status"], d["spec"]
        refs = spec.get("refs") or {}
        repos = {"%s/%s" % (refs["org"], refs["repo"]): "%s:%s" % (
            refs.get("base_ref", "main"), refs.get("base_sha", ""))} if refs else {}
        files[base + "started.json"] = json.dumps(
            {"timestamp": epoch(st["startTime"]), "repos": repos}).encode()
        files[base + "finished.json"] = json.dumps(
            {"timestamp": epoch(st["completionTime"]), "passed": st["state"] == "success",
             "result": st["state"].upper()}).encode()
        files[base + "build-log.txt"] = b"+ make test\nok\n"
        if not legacy_every or i % legacy_every:
            files[base + "prowjob.json"] = json.dumps(d, indent=2).encode()
    return files


def write_mirror(root, files):
    for k, v in files.items():
        p = os.path.join(root, k)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(v)
    return root


# ---- s3rver -------------------------------------------------------------------------

def _sign(method, host, path, query, body, region="us-east-1", key="S3RVER",
          secret="S3RVER"):
    """SigV4 headers for one S3 request (stdlib; the producer's signing is libcurl's)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    ph = hashlib.sha256(body).hexdigest()
    hdrs = {"host": host, "x-amz-content-sha256": ph, "x-amz-date": amz}
    signed = ";".join(sorted(hdrs))
    canon = "\n".join([method, urllib.parse.quote(path), query,
                       "".join("%s:%s\n" % (k, hdrs[k]) for k in sorted(hdrs)), signed, ph])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    hdrs["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key, scope, signed, sig)
    return hdrs


class S3rver:
    """s3rver (npm) on a free loopback port with a fresh data folder."""

    def __init__(self, logdir, name="s3rver"):
        if not os.access(S3RVER, os.X_OK):
            raise harness.HarnessError("s3rver not installed (make deps runs npm ci in "
                                       "tests/node)")
        self.dir = os.path.join(logdir.path, name + "-data")
        os.makedirs(self.dir, exist_ok=True)
        for _ in range(3):
            self.port = harness.free_port()
            self.proc = harness.Process(name, [S3RVER, "-d", self.dir, "-a", "127.0.0.1", "-p",
                                               str(self.port), "--silent",
                                               "--no-vhost-buckets"], logdir,
                                        # s3rver's continuation tokens use DES, which
                                        # OpenSSL 3 keeps in its legacy provider
                                        env={"NODE_OPTIONS": "--openssl-legacy-provider"})
            try:
                harness.wait_until(self._up, harness.START_TIMEOUT, what="s3rver listening")
                break
            except harness.HarnessError:
                self.proc.stop()
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def _up(self):
        if not self.proc.alive():
            raise harness.ProcessDied("s3rver exited: %s" % self.proc.stderr_text()[-500:])
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def request(self, method, path, body=b""):
        host = "127.0.0.1:%d" % self.port
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, urllib.parse.quote(path), body=body,
                  headers=_sign(method, host, path, "", body))
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def seed(self, bucket, files):
        st, body = self.request("PUT", "/" + bucket)
        if st not in (200, 409):
            raise harness.HarnessError("s3rver create bucket: %s %r" % (st, body[:300]))
        host = "127.0.0.1:%d" % self.port
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for k, v in files.items():
            path = "/%s/%s" % (bucket, k)
            c.request("PUT", urllib.parse.quote(path), body=v, headers=_sign("PUT", host, path,
                                                                             "", v))
            r = c.getresponse()
            data = r.read()
            if r.status != 200:
                raise harness.HarnessError("s3rver PUT %s: %s %r" % (k, r.status, data[:300]))
        c.close()

    def stop(self):
        return self.proc.stop()


# ---- the GCS JSON API over a folder --------------------------------------------------

class GcsServer:
    """GET /storage/v1/b/BUCKET/o?prefix=&delimiter=/&startOffset=&pageToken=&maxResults=
    and /storage/v1/b/BUCKET/o/NAME?alt=media, over root (the bucket's objects), with
    page_size objects and prefixes a page; requests are logged in self.requests."""

    def __init__(self, root, bucket, page_size=50):
        self.root, self.bucket, self.page = root, bucket, page_size
        self.requests = []
        srv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                srv.requests.append(self.path)
                srv._get(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.endpoint = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _send(self, h, code, body, ctype="application/json"):
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _get(self, h):
        u = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        base = "/storage/v1/b/%s/o" % self.bucket
        if u.path.startswith(base + "/") and q.get("alt") == "media":
            name = urllib.parse.unquote(u.path[len(base) + 1:])
            p = os.path.join(self.root, name)
            if not os.path.isfile(p):
                return self._send(h, 404, b'{"error":{"code":404,"message":"No such object"}}')
            with open(p, "rb") as f:
                return self._send(h, 200, f.read(), "application/octet-stream")
        if u.path != base:
            return self._send(h, 404, b'{"error":{"code":404}}')
        prefix, start = q.get("prefix", ""), q.get("startOffset", "")
        d = os.path.join(self.root, prefix)
        entries = []
        if os.path.isdir(d):
            for e in sorted(os.listdir(d)):
                full = prefix + e
                isdir = os.path.isdir(os.path.join(d, e))
                name = full + "/" if isdir else full
                if start and name < start:
                    continue
                entries.append((name, isdir))
        off = int(q.get("pageToken") or 0)
        size = min(int(q.get("maxResults") or self.page), self.page)
        chunk = entries[off:off + size]
        out = {"kind": "storage#objects",
               "prefixes": [n for n, isdir in chunk if isdir],
               "items": [{"kind": "storage#object", "name": n, "bucket": self.bucket}
                         for n, isdir in chunk if not isdir]}
        if off + size < len(entries):
            out["nextPageToken"] = str(off + size)
        self._send(h, 200, json.dumps(out).encode())

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StsServer:
    """AssumeRoleWithWebIdentity: checks the token and answers s3rver's credentials."""

    def __init__(self, token):
        self.calls = []
        srv = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                srv.calls.append(q)
                if q.get("Action") != "AssumeRoleWithWebIdentity" or \
                        q.get("WebIdentityToken") != token:
                    self.send_response(403)
                    self.end_headers()
                    return
                body = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
                        "<Credentials><AccessKeyId>S3RVER</AccessKeyId><SecretAccessKey>S3RVER"
                        "</SecretAccessKey><SessionToken>session-token</SessionToken>"
                        "</Credentials></AssumeRoleWithWebIdentityResult>"
                        "</AssumeRoleWithWebIdentityResponse>").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.endpoint = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SigV4Proxy:
    """In front of s3rver, whose SigV4 check is not implemented (3.7.1 only looks the
    access key up): recomputes every request's AWS Signature Version 4 with the known
    secret, independently of the producer's signer (libcurl's), and answers 403
    SignatureDoesNotMatch as S3 does; good requests go on to s3rver unchanged."""

    def __init__(self, upstream_port, secret="S3RVER", region="us-east-1"):
        self.verified = 0
        self.refused = []
        srv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                why = srv._check(self, secret, region)
                if why:
                    srv.refused.append((self.path, why))
                    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
                            "SignatureDoesNotMatch</Code><Message>%s</Message></Error>" %
                            why).encode()
                    self.send_response(403)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                srv.verified += 1
                c = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                c.request("GET", self.path, headers={k: v for k, v in self.headers.items()})
                r = c.getresponse()
                data = r.read()
                c.close()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.endpoint = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def _check(h, secret, region):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "not signed with AWS4-HMAC-SHA256"
        parts = dict(p.strip().split("=", 1) for p in auth[17:].split(","))
        cred = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        for need in ("host", "x-amz-date", "x-amz-content-sha256"):
            if need not in signed:
                return "%s is not signed" % need
        if cred[2] != region or cred[3] != "s3":
            return "scope %s" % "/".join(cred[1:])
        path, _, query = h.path.partition("?")
        pairs = sorted(tuple(kv.split("=", 1)) if "=" in kv else (kv, "")
                       for kv in query.split("&") if kv)
        for k, v in pairs:  # a canonical query is RFC 3986-encoded as sent
            if urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~") != v:
                return "query value %s=%s is not RFC 3986 encoded" % (k, v)
        cq = "&".join("%s=%s" % kv for kv in pairs)
        hdrs = "".join("%s:%s\n" % (k, " ".join(h.headers.get(k, "").split())) for k in signed)
        canon = "\n".join(["GET", path, cq, hdrs, ";".join(signed),
                           h.headers.get("x-amz-content-sha256", "")])
        amz = h.headers.get("x-amz-date", "")
        scope = "/".join(cred[1:])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        k = ("AWS4" + secret).encode()
        for part in cred[1:5]:
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        if hmac.new(k, sts.encode(), hashlib.sha256).hexdigest() != parts["Signature"]:
            return "the signature does not match"
        return None

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
