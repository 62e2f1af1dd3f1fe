"""End-to-end: input real clients print, through the real herald-producer, read back
from the topic with kcat (issue 10, "Input that is lost or mangled today").

Each case failed on the producer before this change: only the first of several
pretty-printed values published, an in-stream 410 ignored with exit 0, a Deck
response over 4 MiB rejected whole, one bad UTF-8 byte rejecting a whole list,
reporter_config.slack.report ignored, YAML refused, finished.json refused.
"""

import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import topic_reader  # noqa: E402

import prowjob  # noqa: E402


def run_stdin(logs, bootstrap, data, extra=()):
    """herald-producer reading `data` (bytes) on stdin; returns (rc, stdout, stderr)."""
    argv = [harness.binary("herald-producer"), "-b", bootstrap] + list(extra) + ["-"]
    p = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, check=False)
    with open(logs.file("producer.err"), "wb") as f:
        f.write(p.stderr)
    return p.returncode, p.stdout.decode(), p.stderr.decode("utf-8", "replace")


@unittest.skipIf(topic_reader.KCAT is None, "kcat is not installed (make deps)")
class InputTest(unittest.TestCase):

    def setUp(self):
        self.logs = harness.LogDir(self.id().split(".")[-1])
        self.broker = harness.DevBroker(self.logs)
        self.addCleanup(self.broker.stop)
        self._ok = False
        self.t = harness.base_time()

    def tearDown(self):
        (self.logs.remove if self._ok else self.logs.dump)()

    def events(self):
        recs = topic_reader.read_topic(self.broker.bootstrap, "herald.events", 4)
        return [r["event"] for rs in recs.values() for r in rs if "event" in r]

    def runs(self, n, state="failure"):
        return [harness.finished_run("s3-post-submit", "s3-controller", self.t + 60 * i,
                                     seq=i, state=state) for i in range(n)]

    def assert_summary(self, out, read, published, rejected):
        self.assertEqual(harness.producer_summary(out),
                         {"read": read, "published": published, "rejected": rejected,
                          "undelivered": 0}, out)

    def test_kubectl_watch_pretty_printed_on_stdin(self):
        # kubectl get prowjobs -o json --watch: indented objects one after another
        docs = self.runs(3)
        data = "".join(json.dumps(d, indent=4) + "\n" for d in docs)
        # ... and with --output-watch-events
        data += "".join(json.dumps({"type": "MODIFIED", "object": d}, indent=4) + "\n"
                        for d in self.runs(2, state="success"))
        rc, out, err = run_stdin(self.logs, self.broker.bootstrap, data.encode())
        self.assertEqual(rc, 0, err)
        self.assert_summary(out, 5, 5, 0)
        self.assertEqual(len(self.events()), 5)
        self._ok = True

    def test_concatenated_prowjob_files(self):
        # gsutil cat, or cat of several prowjob.json: no newline between documents
        data = "".join(json.dumps(d, indent=2) for d in self.runs(4))
        path = harness.write_lines(self.logs, [data], "cat.json")
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, path=path)
        self.assertEqual(rc, 0, err)
        self.assert_summary(out, 4, 4, 0)
        self._ok = True

    def test_in_stream_410_is_an_error_not_silence(self):
        docs = self.runs(1)
        data = json.dumps({"type": "ADDED", "object": docs[0]}) + "\n" + json.dumps(
            {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                                         "status": "Failure", "reason": "Expired", "code": 410,
                                         "message": "too old resource version: 5 (9)"}}) + "\n"
        rc, out, err = run_stdin(self.logs, self.broker.bootstrap, data.encode())
        self.assertEqual(rc, 2, err)
        self.assert_summary(out, 2, 1, 1)
        self.assertRegex(err, r"rejected <stdin>:2: watch ERROR 410 Expired: too old resource")
        self._ok = True

    def test_deck_response_over_4_mib(self):
        # Deck's /prowjobs.js is one line; 2,600 ProwJobs of about 1.7 kB are over 4 MiB
        items = []
        for i in range(2600):
            d = harness.finished_run("s3-post-submit", "s3-controller", self.t + i, seq=i,
                                     state="success" if i % 7 else "failure")
            d["spec"]["pod_spec"] = {"containers": [{"image": "x" * 600, "args": ["y" * 300]}]}
            items.append(d)
        body = json.dumps({"items": items})
        self.assertGreater(len(body), 4 * 1024 * 1024)
        path = harness.write_lines(self.logs, [body], "prowjobs.js")
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, path=path)
        self.assertEqual(rc, 0, err[-2000:])
        self.assert_summary(out, 2600, 2600, 0)
        self._ok = True

    def test_invalid_utf8_repaired_not_rejected(self):
        docs = self.runs(3)
        docs[1]["status"]["description"] = "Job failed: caf\u00e9 MARK"
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs},
                          ensure_ascii=False).encode()
        body = body.replace("caf\u00e9 MARK".encode(), b"caf\xe9 MARK")  # latin-1 byte
        path = self.logs.file("list.json")
        with open(path, "wb") as f:
            f.write(body)
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, path=path)
        self.assertEqual(rc, 0, err)
        self.assert_summary(out, 3, 3, 0)
        descs = [e.get("description") for e in self.events()]
        self.assertIn("Job failed: caf\ufffd MARK", descs)
        self.assertIn("U+FFFD", err)
        self._ok = True

    def test_slack_report_false_is_report_false(self):
        docs = self.runs(1)
        docs[0]["spec"]["reporter_config"] = {"slack": {"job_states_to_report": [],
                                                        "report": False}}
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, docs=docs)
        self.assertEqual(rc, 0, err)
        ev = self.events()
        self.assertEqual(len(ev), 1)
        self.assertIs(ev[0]["report"], False)
        self._ok = True

    def test_yaml_prowjobs(self):
        fixture = os.path.join(harness.REPO, "tests", "fixtures", "prowjobs",
                               "prow_integration_periodic.json")
        with open(fixture) as f:
            pj = json.load(f)
        pj["status"] = {"state": "failure", "startTime": "2022-07-18T20:30:22Z",
                        "completionTime": "2022-07-18T20:40:22Z", "description": "Job failed."}
        path = self.logs.file("prowjobs.yaml")
        with open(path, "w") as f:
            f.write("apiVersion: v1\nkind: List\nitems:\n")
            f.write(to_yaml_item(pj))
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, path=path)
        self.assertEqual(rc, 0, err)
        ev = self.events()
        self.assertEqual([e["job"] for e in ev], ["ci-k8s-infra-build-cluster-prow-build"])
        self.assertEqual(ev[0]["annotations"]["testgrid-num-failures-to-alert"], "6")
        self._ok = True

    def test_finished_and_started_json_from_a_bucket_path(self):
        run = os.path.join(self.logs.path, "logs", "lambda-post-submit", "1787870678901329920")
        os.makedirs(run)
        with open(os.path.join(run, "started.json"), "w") as f:
            json.dump({"timestamp": 1715096561,
                       "repos": {"aws-controllers-k8s/lambda-controller": "main:8e1b2c"}}, f)
        with open(os.path.join(run, "finished.json"), "w") as f:
            json.dump({"timestamp": 1715097161, "passed": False, "result": "FAILURE"}, f)
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap,
                                            path=os.path.join(run, "finished.json"))
        self.assertEqual(rc, 0, err)
        ev = self.events()
        self.assertEqual(len(ev), 1)
        self.assertEqual((ev[0]["job"], ev[0]["state"], ev[0]["repo"], ev[0]["build_id"]),
                         ("lambda-post-submit", "failure", "lambda-controller",
                          "1787870678901329920"))
        self.assertEqual(ev[0]["completion_time"], "2024-05-07T15:52:41.000Z")
        self._ok = True

    def test_readme_deck_url_keeps_annotations(self):
        # omit=annotations drops testgrid-num-failures-to-alert, the per-job threshold
        for doc in ("README.md", os.path.join("docs", "events.md"),
                    os.path.join("docs", "sources.md")):
            p = os.path.join(harness.REPO, doc)
            if not os.path.exists(p):
                continue
            with open(p) as f:
                for m in re.finditer(r"prowjobs\.js\?omit=([A-Za-z_,]+)", f.read()):
                    self.assertNotIn("annotations", m.group(1).split(","), doc)
        self._ok = True


def to_yaml_item(obj):
    """A ProwJob as one YAML list item, in the block style kubectl prints."""
    def emit(v, ind):
        pad = " " * ind
        if isinstance(v, dict):
            out = []
            for k, x in v.items():
                if isinstance(x, (dict, list)) and x:
                    out.append("%s%s:\n%s" % (pad, k, emit(x, ind + 2)))
                else:
                    out.append("%s%s: %s\n" % (pad, k, scalar(x)))
            return "".join(out)
        out = []
        for x in v:
            if isinstance(x, (dict, list)) and x:
                body = emit(x, ind + 2)
                out.append("%s- %s" % (pad, body[ind + 2:]))
            else:
                out.append("%s- %s\n" % (pad, scalar(x)))
        return "".join(out)

    def scalar(x):
        if x is True:
            return "true"
        if x is False:
            return "false"
        if x is None:
            return "null"
        if isinstance(x, (int, float)):
            return str(x)
        if x == {}:
            return "{}"
        if x == []:
            return "[]"
        return json.dumps(x)
    body = emit(obj, 2)
    return "- " + body[2:]


if __name__ == "__main__":
    unittest.main()
