"""End-to-end: herald-producer --bucket against a job-log bucket in Prow's layout built
from ACK's real job list: a local folder mirror, s3rver (npm; SigV4 checked by an
independent verifier in front of it), a GCS JSON-API test server, and STS web
identity. What was published is read back with kcat."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bucketfix  # noqa: E402
import harness  # noqa: E402
import topic_reader  # noqa: E402
from topic_reader import watermark_problems  # noqa: E402

DAY = 86400


@unittest.skipIf(topic_reader.KCAT is None, "kcat is not installed (make deps)")
class BucketTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.t0 = harness.base_time() - 30 * DAY
        cls.runs = bucketfix.make_runs(300, cls.t0, 30 * DAY)  # > 1000 keys: S3 pages
        cls.files = bucketfix.bucket_files(cls.runs, legacy_every=3)

    def setUp(self):
        self.logs = harness.LogDir(self.id().split(".")[-1])
        self.broker = harness.DevBroker(self.logs)
        self.addCleanup(self.broker.stop)
        self._ok = False

    def tearDown(self):
        (self.logs.remove if self._ok else self.logs.dump)()

    def produce(self, url, extra=(), env=None, expect=0):
        argv = [harness.binary("herald-producer"), "-b", self.broker.bootstrap, "--bucket",
                url] + list(extra)
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(argv, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120, check=False)
        out, err = p.stdout.decode(), p.stderr.decode("utf-8", "replace")
        with open(self.logs.file("producer.err"), "w") as f:
            f.write(err)
        if expect is not None:
            self.assertEqual(p.returncode, expect, out + err[-3000:])
        return out, err

    def events(self):
        recs = topic_reader.read_topic(self.broker.bootstrap, "herald.events", 4)
        return recs, [r["event"] for rs in recs.values() for r in rs if r.get("event")]

    def mirror(self, files=None):
        root = os.path.join(self.logs.path, "mirror")
        return bucketfix.write_mirror(root, files or self.files)

    def expected(self, since=None, until=None):
        out = set()
        for d in self.runs:
            t = bucketfix.epoch(d["status"]["startTime"])
            if (since is None or t >= since) and (until is None or t < until):
                out.add((d["spec"]["job"], d["status"]["build_id"], d["status"]["state"]))
        return out

    def got(self, evs):
        return {(e["job"], e["build_id"], e["state"]) for e in evs}

    def test_local_mirror_whole_history_in_time_order(self):
        out, err = self.produce(self.mirror(), extra=["--link-base",
                                                      "https://prow.example/view/s3/b"])
        recs, evs = self.events()
        self.assertEqual(self.got(evs), self.expected())
        self.assertEqual(len(evs), len(self.runs))
        self.assertEqual(watermark_problems(recs, expect_events=len(self.runs)), [])
        self.assertRegex(err, r"bucket .*: \d+ listed, 300/300 runs read, 300 events, "
                              r"0 rejected, .*took")
        legacy = [e for e in evs if e["id"].count(":") == 3]  # built from started/finished
        self.assertEqual(len(legacy), 100)
        self.assertTrue(all(e["url"].startswith("https://prow.example/view/s3/b/")
                            for e in legacy))
        self._ok = True

    def test_since_until_and_a_bad_object(self):
        files = dict(self.files)
        bad = next(k for k in files if k.endswith("prowjob.json"))
        files[bad] = b"<html>not json</html>"
        since, until = self.t0 + 10 * DAY, self.t0 + 20 * DAY
        out, err = self.produce(self.mirror(files), extra=[
            "--since", harness.prowjob.rfc3339(since), "--until", harness.prowjob.rfc3339(until)],
            expect=None)
        recs, evs = self.events()
        want = self.expected(since, until)
        bad_run = next(d for d in self.runs if bucketfix.run_dir(d) + "prowjob.json" == bad)
        bad_t = bucketfix.epoch(bad_run["status"]["startTime"])
        if since <= bad_t < until:
            want.discard((bad_run["spec"]["job"], bad_run["status"]["build_id"],
                          bad_run["status"]["state"]))
            self.assertIn("rejected bucket %s/%s: not JSON" % (
                os.path.join(self.logs.path, "mirror"), bad), err)
        self.assertEqual(self.got(evs), want)
        self.assertGreater(len(want), 50)
        self._ok = True

    def _s3(self):
        s3 = bucketfix.S3rver(self.logs)
        self.addCleanup(s3.stop)
        s3.seed("ack-prow-logs", self.files)
        proxy = bucketfix.SigV4Proxy(s3.port)
        self.addCleanup(proxy.stop)
        return s3, proxy

    def test_s3rver_with_sigv4(self):
        s3, proxy = self._s3()
        env = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
               "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": proxy.endpoint}
        out, err = self.produce("s3://ack-prow-logs", env=env)
        recs, evs = self.events()
        self.assertEqual(self.got(evs), self.expected())
        self.assertEqual(proxy.refused, [])
        self.assertGreater(proxy.verified, 300)
        self.assertGreater(len(self.files), 1000)
        self.assertEqual(watermark_problems(recs, expect_events=len(self.runs)), [])
        # a wrong secret: every request refused, each said plainly, exit 2
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        out, err = self.produce("s3://ack-prow-logs", env=env, expect=2)
        self.assertRegex(err, r"rejected bucket s3://ack-prow-logs/logs/: .*HTTP 403 "
                              r"SignatureDoesNotMatch")
        self._ok = True

    def test_s3_web_identity(self):
        s3, proxy = self._s3()
        sts = bucketfix.StsServer("eks-web-identity-token")
        self.addCleanup(sts.stop)
        tok = self.logs.file("token")
        with open(tok, "w") as f:
            f.write("eks-web-identity-token\n")
        env = {"AWS_WEB_IDENTITY_TOKEN_FILE": tok, "AWS_ROLE_ARN": "arn:aws:iam::1:role/herald",
               "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": proxy.endpoint,
               "AWS_ENDPOINT_URL_STS": sts.endpoint, "AWS_ACCESS_KEY_ID": "",
               "AWS_SECRET_ACCESS_KEY": ""}
        out, err = self.produce("s3://ack-prow-logs", env=env)
        _, evs = self.events()
        self.assertEqual(len(evs), len(self.runs))
        self.assertEqual(len(sts.calls), 1)
        self.assertEqual(sts.calls[0]["RoleArn"], "arn:aws:iam::1:role/herald")
        self.assertEqual(proxy.refused, [])
        self._ok = True

    def test_gcs_json_api_and_since_skips_listing(self):
        root = self.mirror()
        gcs = bucketfix.GcsServer(root, "kubernetes-jenkins", page_size=7)
        self.addCleanup(gcs.stop)
        env = {"HERALD_GCS_ENDPOINT": gcs.endpoint}
        out, err = self.produce("gs://kubernetes-jenkins", env=env)
        _, evs = self.events()
        self.assertEqual(self.got(evs), self.expected())
        self.assertTrue(any("pageToken=" in r for r in gcs.requests), "pages were read")
        # --since: the listings start at the first build id of that time; older runs
        # are never read
        gcs.requests.clear()
        since = self.t0 + 25 * DAY
        self.broker.stop()
        self.broker = harness.DevBroker(self.logs, name="devbroker-2")
        self.addCleanup(self.broker.stop)
        out, err = self.produce("gs://kubernetes-jenkins", env=env,
                                extra=["--since", harness.prowjob.rfc3339(since)])
        _, evs = self.events()
        self.assertEqual(self.got(evs), self.expected(since))
        self.assertTrue(any("startOffset=" in r for r in gcs.requests))
        old = [d for d in self.runs if bucketfix.epoch(d["status"]["startTime"]) < since - 3600]
        read = {r.split("/o/")[1].split("?")[0] for r in gcs.requests if "alt=media" in r}
        self.assertGreater(len(read), 10)
        for d in old:
            self.assertNotIn(bucketfix.run_dir(d).replace("/", "%2F") + "prowjob.json", read)
        self._ok = True


if __name__ == "__main__":
    unittest.main()
