"""End-to-end tests of the Herald pipeline on real parts:

    ProwJob NDJSON -> herald-producer -> herald-devbroker (Kafka protocol)
        -> herald-consumer (+ real redis-server) -> herald-slackd (Slack-compatible)

Run from the repository root:

    HERALD_BIN=bin python3 -m unittest discover -s tests/e2e -p 'test_*.py' -v

No mocks: every process is a real binary on 127.0.0.1; see harness.py.
"""

import collections
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HeraldTestCase, payload_text  # noqa: E402

import prowjob  # noqa: E402  (tools/, put on sys.path by harness)

ORG = prowjob.ORG
WAIT = 30.0  # seconds: the longest we wait for alerts to arrive
ACK_JOBS = os.path.join(harness.REPO, "tests", "fixtures", "ack-jobs.txt")


base_time = harness.base_time
failure = harness.finished_run


fields_of = harness.fields_of


def fallback(msg):
    return msg.get("payload", {}).get("text", "")


def suppressed_text(msg):
    """The "Suppressed N repeats since ..." line of a message, or None."""
    m = re.search(r"Suppressed \d+ repeats?[^\"\\]*", payload_text(msg))
    return m.group(0) if m else None


class PipelineTest(HeraldTestCase):
    """Redis and slackd per class; a fresh broker, consumer group and key prefix per
    test (HeraldTestCase.setUp)."""

    # -- a ------------------------------------------------------------------------------

    def test_a_failure_alerts_once_in_routed_channel(self):
        t = base_time()
        crit = failure("s3-post-submit", "s3-controller", t, base_ref="v1.2.3",
                       description="Job failed: helm chart push denied")
        pre = failure("s3-unit-test", "s3-controller", t + 30, type="presubmit", seq=1)
        c = self.start_consumer()
        rc, out, err = self.produce([crit, pre])
        self.assertEqual(harness.producer_summary(out),
                         {"read": 2, "published": 2, "rejected": 0, "undelivered": 0}, out)

        self.wait_for(1, "releases", WAIT)
        self.wait_for(1, "ci", WAIT)
        self.assert_quiet(2)
        rel = self.slack.messages("releases")
        ci = self.slack.messages("ci")
        self.assertEqual((len(rel), len(ci)), (1, 1))

        # The critical post-submit failure in #releases, with its context.
        m = rel[0]
        self.assertEqual(m["api"], "webhook")
        f = fields_of(m)
        text = payload_text(m)
        self.assertEqual(f.get("service"), "s3", f)
        self.assertEqual(f.get("job"), "s3-post-submit", f)
        self.assertEqual(f.get("stage"), "post-submit", f)
        self.assertTrue(f.get("state", "").startswith("failure"), f)
        self.assertEqual(f.get("tier"), "critical", f)
        self.assertTrue(f.get("version/ref", "").startswith("v1.2.3"), f)
        self.assertIn("Job failed: helm chart push denied", text)
        self.assertIn(crit["status"]["url"], text)
        self.assertIn("s3-post-submit", fallback(m))
        self.assertIn("critical", fallback(m))
        atts = m["payload"].get("attachments")
        self.assertTrue(atts and atts[0].get("color") and atts[0].get("blocks"), m["payload"])
        self.assertIsNone(suppressed_text(m))

        # The presubmit failure in #ci, tier info.
        f = fields_of(ci[0])
        self.assertEqual(f.get("service"), "s3", f)
        self.assertEqual(f.get("job"), "s3-unit-test", f)
        self.assertEqual(f.get("tier"), "info", f)
        self.assertIn(pre["status"]["url"], payload_text(ci[0]))

        mt = c.metrics()
        self.assertEqual(mt.sum("herald_alerts_sent_total", receiver="releases",
                                tier="critical"), 1)
        self.assertEqual(mt.sum("herald_alerts_sent_total", receiver="ci", tier="info"), 1)
        self.assertEqual(mt.sum("herald_events_consumed_total", state="failure"), 2)
        self.assertEqual(c.get("/healthz")[0], 200)
        self.assertEqual(c.stop(), 0, "SIGTERM must be a clean shutdown (exit 0)")

    # -- b ------------------------------------------------------------------------------

    def test_b_repeats_in_window_suppressed_then_counted(self):
        t0 = base_time()
        # One job failing on main ten times: one problem (a failure of another release
        # version would be a new one, see test_rules).
        repeats = [failure("ec2-post-submit", "ec2-controller", t0 + 60 * i, seq=i,
                           base_ref="main") for i in range(10)]
        c = self.start_consumer()
        self.produce(repeats)
        first = self.wait_for(1, "releases", WAIT)
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 10, WAIT,
                   what="10 events consumed")
        self.assert_quiet(1)
        self.assertIsNone(suppressed_text(first[0]))
        self.assertIn(repeats[0]["status"]["build_id"], payload_text(first[0]))
        self.wait_until(lambda: c.metrics().sum("herald_events_suppressed_total",
                                           reason="dedup") == 9, WAIT,
                   what="herald_events_suppressed_total{reason=dedup} == 9")

        # One more after the window (event time > first + 1h): alerts, with the count.
        late = failure("ec2-post-submit", "ec2-controller", t0 + 3600 + 60, seq=11,
                       base_ref="main")
        self.produce([late])
        msgs = self.wait_for(2, "releases", WAIT)
        msgs = self.assert_quiet(2)
        second = max(msgs, key=lambda m: m["seq"])
        self.assertIn("Suppressed 9", payload_text(second))
        self.assertIn(late["status"]["build_id"], payload_text(second))
        self.assertEqual(c.metrics().sum("herald_events_suppressed_total", reason="dedup"), 9)

    # -- c ------------------------------------------------------------------------------

    def test_c_success_does_not_alert(self):
        t = base_time()
        docs = [failure("iam-post-submit", "iam-controller", t + i, state="success", seq=i)
                for i in range(3)]
        docs += [failure("rds-unit-test", "rds-controller", t + 5, type="presubmit",
                         state="success", seq=7),
                 failure("update-ack-chart", "sns-controller", t + 6, state="success", seq=8)]
        sentinel = failure("sqs-controller-release-tag", "sqs-controller", t + 100, seq=9)
        c = self.start_consumer()
        self.produce(docs + [sentinel])
        msgs = self.wait_for(1, None, WAIT)
        # The sentinel may overtake successes on other partitions: wait for all six.
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 6, WAIT,
                   what="6 events consumed")
        msgs = self.assert_quiet(1)
        self.assertIn("sqs-controller-release-tag", fallback(msgs[0]))
        self.assertEqual(c.metrics().sum("herald_events_consumed_total", state="success"), 5)

    def test_c2_report_false_does_not_alert(self):
        t = base_time()
        quiet = failure("s3-post-submit", "s3-controller", t, report=False)
        sentinel = failure("ecr-post-submit", "ecr-controller", t + 60, seq=1)
        c = self.start_consumer()
        self.produce([quiet, sentinel])
        self.wait_for(1, None, WAIT)
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 2, WAIT,
                   what="2 events consumed")
        msgs = self.assert_quiet(1)
        self.assertIn("ecr-post-submit", fallback(msgs[0]))

    # -- d ------------------------------------------------------------------------------

    def test_d_malformed_events_skipped_and_counted(self):
        t = base_time()
        good_event = {
            "schema": 1, "id": "raw-1:failure", "job": 5, "type": "postsubmit",
            "state": "failure", "org": ORG, "repo": "s3-controller",
            "event_time": prowjob.rfc3339(t), "completion_time": prowjob.rfc3339(t),
            "report": True,
        }
        raw = ["this is not JSON {", json.dumps(good_event)]
        c = self.start_consumer()
        rc, out, err = self.produce(raw, raw=True)
        valid = failure("lambda-post-submit", "lambda-controller", t + 60)
        self.produce([valid])
        msgs = self.wait_for(1, None, WAIT)
        self.assertIn("lambda-post-submit", fallback(msgs[0]))
        self.wait_until(lambda: c.metrics().sum("herald_events_rejected_total") >= 2, WAIT,
                   what="herald_events_rejected_total == 2")
        self.assert_quiet(1)
        mt = c.metrics()
        self.assertEqual(mt.sum("herald_events_rejected_total"), 2,
                         mt.get("herald_events_rejected_total"))
        self.assertTrue(c.proc.alive(), "the consumer must go on after bad events")
        self.assertEqual(c.get("/healthz")[0], 200)

    def test_d2_producer_rejects_bad_prowjob_line(self):
        t = base_time()
        good1 = failure("kms-post-submit", "kms-controller", t)
        good2 = failure("acm-post-submit", "acm-controller", t + 60, seq=1)
        bad_missing_job = {"apiVersion": "prow.k8s.io/v1", "kind": "ProwJob",
                           "spec": {"type": "postsubmit"},
                           "status": {"state": "failure"}}
        path = harness.write_lines(self.logs, [
            prowjob.to_json(good1),          # line 1
            json.dumps(bad_missing_job),     # line 2: no spec.job
            prowjob.to_json(good2),          # line 3
            "{not json at all",              # line 4
        ], "mixed.ndjson")
        self.start_consumer()
        rc, out, err = self.produce(path=path, expect_rc=2)
        s = harness.producer_summary(out)
        self.assertIsNotNone(s, out)
        self.assertEqual((s["published"], s["rejected"], s["undelivered"]), (2, 2, 0), out)
        errlines = [l for l in err.splitlines() if l.strip()]
        self.assertTrue(any(re.search(r"(line\s*2\b|:2:)", l) for l in errlines), err)
        self.assertTrue(any(re.search(r"(line\s*4\b|:4:)", l) for l in errlines), err)
        self.assertTrue(any("job" in l for l in errlines if re.search(r"(line\s*2\b|:2:)", l)),
                        "the error for line 2 should say what is wrong (spec.job): " + err)
        msgs = self.wait_for(2, "releases", WAIT)
        msgs = self.assert_quiet(2)
        jobs = sorted(fields_of(m).get("job") for m in msgs)
        self.assertEqual(jobs, ["acm-post-submit", "kms-post-submit"])

    # -- e ------------------------------------------------------------------------------

    def test_e_two_consumers_share_partitions(self):
        jobs = prowjob.load_ack_jobs(ACK_JOBS)
        picked, seen = [], set()
        for j in jobs:
            if j.type not in ("postsubmit", "presubmit") or not j.name:
                continue
            if (j.name, j.job) in seen or j.name in {p.name for p in picked}:
                continue
            seen.add((j.name, j.job))
            picked.append(j)
            if len(picked) == 40:
                break
        self.assertEqual(len(picked), 40)
        t = base_time()
        docs = [prowjob.make_prowjob(j.job, j.type, j.org, j.name, "failure",
                                     start=t + 60 * i - 300, completion=t + 60 * i,
                                     build_id=prowjob.snowflake_build_id(t + 60 * i, seq=i),
                                     pulls=[1000 + i] if j.type == "presubmit" else None)
                for i, j in enumerate(picked)]
        cfg1 = self.config()
        cfg2 = self.config()  # same group and prefix, its own HTTP port
        c1 = self.start_consumer(cfg1, name="consumer-1")
        c2 = self.start_consumer(cfg2, name="consumer-2")

        def both_assigned():
            a1 = c1.metrics().sum("herald_partitions_assigned")
            a2 = c2.metrics().sum("herald_partitions_assigned")
            return (a1, a2) if a1 > 0 and a2 > 0 and a1 + a2 == 4 else None
        a1, a2 = self.wait_until(both_assigned, 45, interval=0.2,
                            what="both consumers to hold partitions (4 in all)")
        self.assertGreater(a1, 0)
        self.assertGreater(a2, 0)

        self.produce(docs)
        self.wait_for(40, None, 45)
        msgs = self.assert_quiet(40)
        keys = [(fields_of(m).get("repository"), fields_of(m).get("job")) for m in msgs]
        dups = [k for k, n in collections.Counter(keys).items() if n > 1]
        self.assertEqual(dups, [], "duplicate alerts")
        want = {("%s/%s" % (j.org, j.name), j.job) for j in picked}
        self.assertEqual(set(keys), want)

        n1 = c1.metrics().sum("herald_events_consumed_total")
        n2 = c2.metrics().sum("herald_events_consumed_total")
        self.assertEqual(n1 + n2, 40, (n1, n2))
        self.assertGreater(n1, 0, "consumer-1 did no work")
        self.assertGreater(n2, 0, "consumer-2 did no work")
        s1 = c1.metrics().sum("herald_alerts_sent_total")
        s2 = c2.metrics().sum("herald_alerts_sent_total")
        self.assertEqual(s1 + s2, 40, (s1, s2))

    def test_e2_success_of_a_failure_another_consumer_saw_recovers(self):
        """A success travels light (without its JSON) when this consumer knows no story
        of its job. Here the failure was consumed by a consumer since gone: the engine
        finds the story, asks for the event in full, and the recovery is posted."""
        t = base_time()
        job, repo = "s3-release-test", "s3-controller"
        c1 = self.start_consumer(name="consumer-1")
        self.produce([failure(job, repo, t, type="periodic")])
        self.wait_for(1, "ci", WAIT)
        self.assertEqual(c1.stop(), 0)

        c2 = self.start_consumer(name="consumer-2")
        ok = failure(job, repo, t + 600, state="success", type="periodic", seq=1)
        healthy = [failure("s3-unit-test-%d" % i, repo, t + 600 + i, state="success",
                           type="periodic", seq=2 + i) for i in range(3)]
        self.produce([ok] + healthy)
        msgs = self.wait_for(2, "ci", WAIT)
        self.assert_quiet(2)
        self.assertIn("recovered", payload_text(msgs[1]))
        self.assertEqual(fields_of(msgs[1]).get("job"), job)
        mt = c2.metrics()
        self.assertEqual(mt.sum("herald_events_light_total"), 4)
        self.assertEqual(mt.sum("herald_events_resent_total"), 1)
        self.assertEqual(mt.sum("herald_events_unchanged_total"), 3)

    # -- f ------------------------------------------------------------------------------

    def test_f_mrkdwn_injection_escaped(self):
        t = base_time()
        doc = failure("x-<!channel>", "s3-controller", t,
                      description="<@U024BE7LH> & <https://evil.example|click here>")
        self.start_consumer()
        self.produce([doc])
        msgs = self.wait_for(1, None, WAIT)
        msgs = self.assert_quiet(1)
        text = payload_text(msgs[0])
        self.assertIn("&lt;!channel&gt;", text)
        self.assertNotIn("<!channel>", text)
        self.assertNotIn("<@U024BE7LH>", text)
        self.assertIn("&lt;@U024BE7LH&gt;", text)
        self.assertNotIn("<https://evil.example", text)
        self.assertIn("&amp;", text)
        self.assertIn("&lt;!channel&gt;", fallback(msgs[0]))

    # -- g ------------------------------------------------------------------------------

    def test_g_replay_speed_keeps_spacing(self):
        t = base_time()
        docs = [failure("%s-post-submit" % svc, "%s-controller" % svc, t + 60 * i, seq=i)
                for i, svc in enumerate(["s3", "sns", "sqs", "eks"])]
        cfg = self.config()
        cfg["kafka"]["properties"]["fetch.wait.max.ms"] = "50"
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        start = time.monotonic()
        rc, out, err = self.produce(docs, speed=60)
        took = time.monotonic() - start
        msgs = self.wait_for(4, "releases", WAIT)
        msgs = self.assert_quiet(4, quiet=1.5)
        self.assertGreaterEqual(took, 2.4, "producer finished too fast for 180 s at 60x")
        recv = sorted(m["received_ms"] for m in msgs)
        gaps = [(b - a) / 1000.0 for a, b in zip(recv, recv[1:])]
        order = [fallback(m).split(": ")[-1] for m in sorted(msgs, key=lambda m: m["received_ms"])]
        for g in gaps:
            self.assertTrue(0.6 <= g <= 1.6, "gaps %s (order %s)" % (gaps, order))
        span = (recv[-1] - recv[0]) / 1000.0
        self.assertTrue(2.4 <= span <= 4.5, "span %.2fs" % span)
        jobs_in_order = [fields_of(m).get("job")
                         for m in sorted(msgs, key=lambda m: m["received_ms"])]
        self.assertEqual(jobs_in_order, [d["spec"]["job"] for d in docs])

    # -- h ------------------------------------------------------------------------------

    @staticmethod
    def history(t):
        """~20 events over 4000 s: repeats inside a window, one after it, successes,
        an error, an abort, several jobs and tiers. Sorted by completion time."""
        ev = []

        def add(job, repo, off, state="failure", type="postsubmit", **kw):
            ev.append(failure(job, repo, t + off, type=type, state=state, seq=len(ev), **kw))
        for off in (0, 300, 600, 900):
            add("s3-post-submit", "s3-controller", off, base_ref="v1.4.0")
        add("s3-post-submit", "s3-controller", 4000, base_ref="v1.4.1")
        add("ec2-unit-test", "ec2-controller", 100, type="presubmit")
        add("ec2-unit-test", "ec2-controller", 1200, state="success", type="presubmit")
        add("ec2-unit-test", "ec2-controller", 2000, type="presubmit")
        add("lambda-controller-release-tag", "lambda-controller", 200, state="success")
        add("lambda-controller-release-tag", "lambda-controller", 1500, state="success")
        add("iam-kind-e2e", "iam-controller", 700, state="error", type="presubmit")
        add("rds-controller-olm-bundle-pr", "rds-controller", 800)
        add("rds-controller-olm-bundle-pr", "rds-controller", 1000)
        add("rds-controller-olm-bundle-pr", "rds-controller", 1100, state="aborted")
        add("dynamodb-verify-code-gen", "dynamodb-controller", 400, state="success",
            type="presubmit")
        add("dynamodb-verify-code-gen", "dynamodb-controller", 2500, state="success",
            type="presubmit")
        add("update-ack-chart", "sns-controller", 1300)
        add("update-ack-chart", "sns-controller", 3000)
        add("sns-post-submit", "sns-controller", 1250, state="success")
        add("eks-post-submit", "eks-controller", 3500, state="success")
        ev.sort(key=lambda d: d["status"]["completionTime"])
        return ev

    def _replay(self, docs, speed, tag):
        """Run docs through a fresh broker, group, key prefix and message log; return
        the multiset of (channel, fallback, suppressed line) and the messages."""
        self.slack.clear()
        broker = self.start_broker(name="devbroker-" + tag)
        cfg = harness.consumer_config(broker, self.redis, self.slack, self.group + "-" + tag,
                                      self.prefix + tag + ":")
        c = self.start_consumer(cfg, name="consumer-" + tag)
        c.wait_assigned(WAIT)
        rc, out, err = harness.run_producer(self.logs, broker.bootstrap, docs=docs, speed=speed)
        self.assertEqual(rc, 0, "producer (%s): %s %s" % (tag, out, err))
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= len(docs), WAIT,
                   what="%d events consumed (%s)" % (len(docs), tag))
        time.sleep(2.0)  # let deliveries finish
        msgs = self.slack.messages()
        c.stop()
        broker.stop()
        return collections.Counter((m["channel"], fallback(m), suppressed_text(m))
                                   for m in msgs), msgs

    def test_h_replay_paced_equals_fast(self):
        docs = self.history(base_time())
        self.assertGreaterEqual(len(docs), 20)
        fast, fast_msgs = self._replay(docs, 0, "fast")
        self.assertGreater(len(fast_msgs), 0)
        # The s3 post-submit: one alert for v1.4.0 (its three repeats counted), and one
        # for v1.4.1, another release: a new problem.
        s3 = [m for m in fast_msgs if fields_of(m).get("job") == "s3-post-submit"]
        self.assertEqual(len(s3), 2, [fallback(m) for m in s3])
        self.assertEqual(sorted("v1.4.1" in payload_text(m) for m in s3), [False, True])
        started = time.monotonic()
        paced, paced_msgs = self._replay(docs, 600, "paced")
        self.assertGreaterEqual(time.monotonic() - started, 4000 / 600.0 - 0.5,
                                "paced replay finished faster than its pace")
        self.assertEqual(paced, fast, "paced replay gave other alerts than fast replay:\n"
                         "fast:  %s\npaced: %s" % (sorted(fast.items(), key=str),
                                                   sorted(paced.items(), key=str)))


class ConfigCheckTest(unittest.TestCase):
    """herald-consumer --check-config on a valid and an invalid file (no servers)."""

    def setUp(self):
        self.logs = harness.LogDir(self._testMethodName)
        self.addCleanup(self.logs.remove)

    def check(self, text):
        path = self.logs.file("check.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([harness.binary("herald-consumer"), "--check-config", path],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=30)
        return p.returncode, p.stdout + p.stderr, path

    def test_example_config_is_valid(self):
        env_ok = dict(os.environ)
        path = os.path.join(harness.REPO, "deploy", "herald.example.yaml")
        env_ok.setdefault("SLACK_ACK_RELEASES_URL", "http://127.0.0.1:9/hooks/releases")
        env_ok.setdefault("SLACK_ACK_CI_URL", "http://127.0.0.1:9/hooks/ci")
        p = subprocess.run([harness.binary("herald-consumer"), "--check-config", path],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=30, env=env_ok)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_test_config_is_valid_and_bad_one_is_reported(self):
        class Fake:
            bootstrap = "127.0.0.1:9092"
            host, port = "127.0.0.1", 6379

            @staticmethod
            def hook_url(ch):
                return "http://127.0.0.1:9/hooks/" + ch
        cfg = harness.consumer_config(Fake, Fake, Fake, "g", "p:")
        rc, out, _ = self.check(harness.to_yaml(cfg))
        self.assertEqual(rc, 0, out)
        cfg["dedup"]["window"] = "1 hour"
        cfg["default_receiver"] = "nobody"
        text = harness.to_yaml(cfg)
        rc, out, path = self.check(text)
        self.assertEqual(rc, 1, out)
        lines = [l for l in out.splitlines() if l.strip()]
        window_line = 1 + next(i for i, l in enumerate(text.splitlines()) if "window:" in l)
        self.assertTrue(any(l.startswith("%s:%d:" % (path, window_line)) for l in lines),
                        "want %s:%d: ... in %r" % (path, window_line, out))
        self.assertTrue(any("nobody" in l or "default_receiver" in l for l in lines), out)
        located = [l for l in lines if re.match(r"^%s:\d+: " % re.escape(path), l)]
        self.assertGreaterEqual(len(located), 2, "want one FILE:LINE: line per error: " + out)


if __name__ == "__main__":
    unittest.main()
