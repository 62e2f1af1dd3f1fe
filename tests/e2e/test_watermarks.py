"""End-to-end: the watermark records herald-producer writes (contracts §1), read back
from the development broker with a real Kafka client (kcat).

Each test starts its own herald-devbroker, runs the real producer, reads every
partition back and checks the contract: a start record in every partition before any
event, events in event-time order, no watermark passing an unpublished event, a final
record ending each partition.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import topic_reader  # noqa: E402
from topic_reader import event_ms, read_topic, watermark_problems  # noqa: E402

import prowjob  # noqa: E402

JOBS = [("s3-post-submit", "s3-controller"), ("lambda-post-submit", "lambda-controller"),
        ("ec2-post-submit", "ec2-controller"), ("iam-post-submit", "iam-controller"),
        ("rds-post-submit", "rds-controller"), ("sns-post-submit", "sns-controller"),
        ("sqs-post-submit", "sqs-controller"), ("kms-post-submit", "kms-controller")]


def history(n, t0, step=60, seed=7):
    """n finished runs, several per job, some sharing an event time."""
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        job, repo = JOBS[i % len(JOBS)]
        t = t0 + (i // 3) * step  # three runs per distinct completion time
        docs.append(harness.finished_run(job, repo, t, seq=i,
                                         state=rnd.choice(["success", "failure"])))
    return docs


@unittest.skipIf(topic_reader.KCAT is None, "kcat is not installed (make deps)")
class WatermarkTest(unittest.TestCase):

    def setUp(self):
        self.logs = harness.LogDir(self.id().split(".")[-1])
        self.broker = harness.DevBroker(self.logs)
        self.addCleanup(self.broker.stop)
        self._ok = False

    def tearDown(self):
        if self._ok:
            self.logs.remove()
        else:
            self.logs.dump()

    def read_back(self):
        return read_topic(self.broker.bootstrap, "herald.events", 4)

    def assert_contract(self, recs, n, sources=1):
        problems = watermark_problems(recs, expect_events=n, expect_sources=sources)
        self.assertEqual(problems, [], "\n".join(problems[:20]))

    def test_replay_of_shuffled_files_is_time_ordered_with_watermarks(self):
        t0 = harness.base_time()
        docs = history(300, t0)
        random.Random(1).shuffle(docs)
        a = harness.write_ndjson(self.logs, docs[:150], "a.ndjson")
        b = harness.write_ndjson(self.logs, docs[150:], "b.ndjson")
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, path=a,
                                            extra=[b])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(harness.producer_summary(out),
                         {"read": 300, "published": 300, "rejected": 0, "undelivered": 0})
        recs = self.read_back()
        self.assert_contract(recs, 300)
        for p, rs in recs.items():
            wm = [r["wm"] for r in rs if "wm" in r]
            ev = [r["event"] for r in rs if "event" in r]
            if not ev:
                continue
            # the start record is the first event time - 1, over ALL files
            self.assertEqual(wm[0]["watermark_ms"], t0 * 1000 - 1, wm[0])
            self.assertTrue(wm[0]["source"].startswith("replay:"), wm[0])
            self.assertEqual(wm[-1]["watermark_ms"], (t0 + 99 * 60) * 1000, wm[-1])
        # the same event order per partition as a sort by (time, id) of the input
        for p, rs in recs.items():
            got = [(event_ms(r["event"]), r["event"]["id"]) for r in rs if "event" in r]
            self.assertEqual(got, sorted(got), "partition %d" % p)
        self._ok = True

    def test_paced_replay_sends_heartbeats_during_a_pause(self):
        t0 = harness.base_time()
        # two events 60 s apart at 20x: a 3 s pause, so at least two heartbeats
        docs = [harness.finished_run("s3-post-submit", "s3-controller", t0, seq=0),
                harness.finished_run("s3-post-submit", "s3-controller", t0 + 60, seq=1)]
        started = time.monotonic()
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, docs=docs,
                                            speed=20)
        took = time.monotonic() - started
        self.assertEqual(rc, 0, out + err)
        recs = self.read_back()
        self.assert_contract(recs, 2)
        for p, rs in recs.items():
            beats = [r["wm"]["watermark_ms"] for r in rs if "wm" in r and not r["wm"]["final"]
                     and t0 * 1000 < r["wm"]["watermark_ms"] < (t0 + 60) * 1000]
            self.assertGreaterEqual(len(beats), 2, "partition %d: heartbeats %s (took %.1fs)"
                                    % (p, beats, took))
            self.assertEqual(beats, sorted(beats))
        self._ok = True

    def test_stdin_stream_publishes_each_value_as_it_comes(self):
        t0 = harness.base_time()
        argv = [harness.binary("herald-producer"), "-b", self.broker.bootstrap,
                "--lateness", "2s", "-"]
        err_path = self.logs.file("producer.err")
        with open(err_path, "wb") as errf, open(self.logs.file("producer.out"), "wb") as outf:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=outf, stderr=errf,
                                 start_new_session=True)
            self.addCleanup(lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
            first = harness.finished_run("s3-post-submit", "s3-controller", t0, seq=0)
            p.stdin.write((json.dumps(first) + "\n").encode())
            p.stdin.flush()

            def first_published():
                recs = self.read_back()
                return any("event" in r for rs in recs.values() for r in rs) and recs
            recs = harness.wait_until(first_published, 20, interval=0.3,
                                      what="the first value on the topic before EOF")
            self.assertIsNone(p.poll(), "the producer must still run (stdin is open)")
            # every partition got the start record: newest event time - lateness
            for rs in recs.values():
                self.assertEqual(rs[0]["wm"]["watermark_ms"], t0 * 1000 - 2000, rs[0])
                self.assertTrue(rs[0]["wm"]["source"].startswith("stdin:"), rs[0])
            # idle for more than the lateness: the watermark follows now - lateness
            time.sleep(3.5)
            now_ms = int(time.time() * 1000)
            recs = self.read_back()
            for rs in recs.values():
                # now - lateness (the event is ten hours old: newest - lateness is far
                # behind); a loaded machine delays records, hence the slack
                w = [r["wm"]["watermark_ms"] for r in rs if "wm" in r]
                self.assertGreater(w[-1], now_ms - 2000 - 15000, w[-3:])
                self.assertLessEqual(w[-1], int(time.time() * 1000) - 2000 + 200)
            second = harness.finished_run("s3-post-submit", "s3-controller", t0 + 60, seq=1)
            p.stdin.write(json.dumps(second).encode() + b"\n")
            p.stdin.close()
            rc = p.wait(timeout=30)
        self.assertEqual(rc, 0)
        recs = self.read_back()
        # The second event is late (older than now - lateness) -- allowed for a stream;
        # the contract checks still hold for what the stream could know.
        total = sum(1 for rs in recs.values() for r in rs if "event" in r)
        self.assertEqual(total, 2)
        for rs in recs.values():
            self.assertTrue(rs[-1]["wm"]["final"], rs[-1])
        self._ok = True

    def test_idle_stdin_stream_stops_on_sigterm(self):
        # kubectl ... --watch | herald-producer -: nothing comes, SIGTERM must end it
        argv = [harness.binary("herald-producer"), "-b", self.broker.bootstrap, "-"]
        with open(self.logs.file("producer.err"), "wb") as errf:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=errf, start_new_session=True)
            self.addCleanup(lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
            doc = harness.finished_run("s3-post-submit", "s3-controller", harness.base_time())
            p.stdin.write((json.dumps(doc) + "\n").encode())
            p.stdin.flush()
            harness.wait_until(lambda: any("event" in r for rs in self.read_back().values()
                                           for r in rs), 20, interval=0.3, what="the event")
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("herald-producer did not stop on SIGTERM while stdin was idle")
            out = p.stdout.read().decode()
        self.assertEqual(rc, 0)
        self.assertEqual(harness.producer_summary(out)["published"], 1, out)
        for rs in self.read_back().values():
            self.assertTrue(rs[-1]["wm"]["final"], rs[-1])
        self._ok = True

    def test_raw_mode_sends_start_and_final(self):
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap,
                                            docs=["not json", "{}"], raw=True)
        self.assertEqual(rc, 0, out + err)
        recs = self.read_back()
        raws = sum(1 for rs in recs.values() for r in rs if r["key"] == "test/raw")
        self.assertEqual(raws, 2)
        for rs in recs.values():
            wms = [r for r in rs if "wm" in r]
            self.assertEqual(rs[0], wms[0])
            self.assertFalse(wms[0]["wm"]["final"])
            self.assertTrue(rs[-1]["wm"]["final"])
        self._ok = True

    def test_empty_replay_still_finishes_its_source(self):
        bad = harness.write_lines(self.logs, ['{"kind":"ProwJob","spec":{}}'], "bad.ndjson")
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, path=bad)
        self.assertEqual(rc, 2, out + err)
        recs = self.read_back()
        for rs in recs.values():
            self.assertEqual([r["wm"]["final"] for r in rs], [False, True], rs)
        self._ok = True

    def test_max_events_is_a_clear_error_and_publishes_nothing(self):
        docs = history(20, harness.base_time())
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, docs=docs,
                                            extra=["--max-events", "10"])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("more than 10 events", err)
        self.assertIn("--max-events", err)
        recs = self.read_back()
        self.assertEqual(sum(len(rs) for rs in recs.values()), 0)
        self._ok = True

    def test_stdin_mixed_with_files_is_a_usage_error(self):
        path = harness.write_ndjson(self.logs, history(1, harness.base_time()))
        rc, out, err = harness.run_producer(self.logs, self.broker.bootstrap, path=path,
                                            extra=["-"])
        self.assertEqual(rc, 1)
        self.assertIn("cannot be mixed", err)
        self._ok = True


if __name__ == "__main__":
    unittest.main()
