"""End-to-end fault tests: what Herald guarantees when parts of it fail, with counts.

Every test asserts numbers -- alerts expected against alerts received, duplicates,
dead-lettered messages -- on the same real parts as test_pipeline.py (redis-server,
herald-devbroker with its control API, herald-slackd with injected faults, and the
real herald-producer / herald-consumer binaries on 127.0.0.1):

  1. a consumer killed with SIGKILL mid-stream, a replacement started: every alert
     arrives, duplicates stay within one batch (kafka.batch_size);
  2. Kafka faults under the idempotent producer (Produce errors, a leader move, a
     broker down and up again): exactly the events produced are consumed, once
     (2b, skipped unless HERALD_E2E_MOCK_GAP=1, reproduces a devbroker limitation);
  3. Slack faults: 429 + Retry-After honoured, 5xx retried, a timeout retried (the
     one duplicate source outside a crash: Slack may have posted the timed-out
     attempt), a permanent 404 counted and dead-lettered without losing anything
     else;
  4. poison input: each kind rejected under its reason, dead-lettered, and a valid
     event after them still alerts;
  5. graceful shutdown: SIGTERM with deliveries in flight finishes them, commits,
     and a new member of the group re-sends nothing.

Each test prints one line "faults: ..." on stderr with what it measured (quoted in
docs/reliability.md). With HERALD_FAULTS_FIGURES=/path the figures are also appended
there as JSON lines.

    HERALD_BIN=bin python3 -m unittest tests/e2e/test_faults.py -v
"""

import collections
import copy
import datetime
import json
import os
import re
import signal
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HeraldTestCase  # noqa: E402

import prowjob  # noqa: E402  (tools/, put on sys.path by harness)

ORG = prowjob.ORG
WAIT = 30.0


# ---- helpers ------------------------------------------------------------------------

base_time = harness.base_time
run_doc = harness.finished_run


def job_of(msg):
    """The "Job" field of a recorded Slack message."""
    return harness.fields_of(msg).get("job")


def member(cfg):
    """A copy of a consumer config for one more member of the group: same group and
    key prefix, its own (free) HTTP port."""
    c = copy.deepcopy(cfg)
    c["http"] = {}
    return c


def status_delta(before, after):
    """by_status counts of slackd that changed between two /_control/stats answers
    (slackd's stats are cumulative over the class; messages and faults are cleared
    per test)."""
    b, a = before.get("by_status", {}), after.get("by_status", {})
    out = {}
    for k, v in a.items():
        d = int(v) - int(b.get(k, 0))
        if d:
            out[k] = d
    return out


_RETRY = re.compile(r"slack delivery to receiver (\S+) failed \((\S+)\), attempt (\d+)"
                    r"(?:/\d+)?, retrying in (\d+) ms")


def retries(consumer):
    """The consumer's retry log lines: [(ts_ms, receiver, reason, attempt, delay_ms)]."""
    out = []
    for rec in consumer.logs():
        mt = _RETRY.search(rec.get("msg", ""))
        if mt:
            ts = datetime.datetime.strptime(rec["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            out.append((int(round(ts * 1000)), mt.group(1), mt.group(2), int(mt.group(3)),
                        int(mt.group(4))))
    return out


def report(name, **figures):
    """One line on stderr, and a JSON line in $HERALD_FAULTS_FIGURES if set."""
    text = " ".join("%s=%s" % (k, json.dumps(v, sort_keys=True) if isinstance(v, dict)
                                else v) for k, v in figures.items())
    sys.stderr.write("\nfaults: %s %s\n" % (name, text))
    sys.stderr.flush()
    path = os.environ.get("HERALD_FAULTS_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(dict(test=name, ts=int(time.time()), **figures),
                               sort_keys=True) + "\n")


class FaultsTest(HeraldTestCase):
    """Redis and slackd per class; a fresh broker, group and key prefix per test."""

    def broker_control(self, broker, path, **query):
        """POST to the devbroker control API; asserts it was accepted."""
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        st, body = broker.control_request("POST", url)
        self.assertEqual(st, 200, "devbroker %s: %s %r" % (url, st, body[:300]))
        return body

    # -- 1 --------------------------------------------------------------------------------

    def test_1_consumer_crash_duplicates_bounded_by_one_batch(self):
        n, batch = 60, 10
        t = base_time()
        docs = [run_doc("crash%02d-post-submit" % i, "crash%02d-controller" % i, t + 60 * i,
                        seq=i) for i in range(n)]
        want = {d["spec"]["job"] for d in docs}
        self.assertEqual(len(want), n)

        cfg = self.config()
        cfg["kafka"]["batch_size"] = batch
        # A slower Slack (every request held 200 ms) and two parallel transfers: a
        # batch of 10 alerts takes ~1 s to deliver, so the consumer can be killed with
        # part of a batch accepted by Slack but not yet confirmed in Redis -- the
        # crash window this test measures.
        cfg["delivery"]["parallel"] = 2
        self.slack.set_fault(channel="*", delay_ms=200, count=2 * n)
        c1 = self.start_consumer(member(cfg), name="consumer-1")
        c2 = self.start_consumer(member(cfg), name="consumer-2")

        def both_assigned():
            a1 = c1.metrics().sum("herald_partitions_assigned")
            a2 = c2.metrics().sum("herald_partitions_assigned")
            return a1 > 0 and a2 > 0 and a1 + a2 == 4
        self.wait_until(both_assigned, 45, what="both consumers to hold partitions")

        # The stream, in a few producer calls.
        self.produce(docs[0:15])
        self.produce(docs[15:30])
        self.wait_for(10, None, WAIT)

        # The victim: a member with a batch in hand. herald_events_consumed_total counts
        # an event when its batch is parsed, herald_alerts_sent_total when the batch's
        # deliveries are done, so consumed - sent is the batch in flight.
        def in_flight():
            best = None
            for c in (c1, c2):
                m = c.metrics()
                k = m.sum("herald_events_consumed_total") - m.sum("herald_alerts_sent_total")
                if k >= 3 and (best is None or k > best[1]):
                    best = (c, k)
            return best
        victim, batch_in_flight = self.wait_until(in_flight, WAIT, interval=0.03,
                                                  what="a consumer with a batch in flight")
        survivor = c2 if victim is c1 else c1
        time.sleep(0.3)  # let a few of its deliveries be accepted (~2 per 200 ms)
        received_at_kill = len(self.slack.messages())
        victim.proc.send_signal(signal.SIGKILL)
        self.assertEqual(victim.stop(), -signal.SIGKILL)
        killed_at = time.monotonic()
        c3 = self.start_consumer(member(cfg), name="consumer-3")
        self.produce(docs[30:45])
        self.produce(docs[45:60])

        def all_jobs():
            jobs = {job_of(m) for m in self.slack.messages()}
            return want <= jobs
        self.wait_until(all_jobs, 60, interval=0.2, what="all %d distinct alerts" % n)
        recovered_s = time.monotonic() - killed_at
        time.sleep(2.5)  # anything late (a redelivery) would show up now
        msgs = self.slack.messages()
        counts = collections.Counter(job_of(m) for m in msgs)
        missing = sorted(want - set(counts))
        extra = sorted(set(counts) - want)
        dups = sum(v - 1 for v in counts.values() if v > 1)
        absorbed = sum(c.metrics().sum("herald_events_suppressed_total", reason="duplicate")
                       for c in (survivor, c3))
        report("crash", alerts_expected=n, alerts_received=len(msgs), distinct=len(counts),
               duplicates=dups, bound=batch, victim=victim.name,
               victim_batch_in_flight=int(batch_in_flight), received_at_kill=received_at_kill,
               redelivered_absorbed_by_dedup=int(absorbed),
               recovered_s=round(recovered_s, 1))
        sys.stderr.write("faults: crash duplicates=%d of bound %d\n" % (dups, batch))
        self.assertEqual(missing, [], "alerts lost after the crash")
        self.assertEqual(extra, [], "unexpected alerts")
        self.assertEqual(len(msgs), n + dups)
        self.assertLessEqual(dups, batch, "duplicates over one batch (kafka.batch_size): %s"
                             % {k: v for k, v in counts.items() if v > 1})
        for c in (survivor, c3):
            self.assertTrue(c.proc.alive(), "%s died" % c.name)

    # -- 2 --------------------------------------------------------------------------------

    def kafka_faults(self, name, producer_props):
        """Produce 200 distinct events (20 of them failures) through Produce errors, a
        leader move and a broker down and up again; return what the consumer saw."""
        total, failures = 200, 20
        self.broker.stop()
        self.broker = self.start_broker(brokers=3, name="devbroker-3")
        cfg = self.config()
        # debug: the consumer logs every event that did not alert, so a missing or
        # doubled event can be named.
        c = self.start_consumer(cfg, env={"HERALD_LOG_LEVEL": "debug"})
        c.wait_assigned(WAIT)

        t = base_time()
        docs = []
        fail_idx = set(range(5, total, total // failures))  # 20 spread through the stream
        self.assertEqual(len(fail_idx), failures)
        for i in range(total):
            state = "failure" if i in fail_idx else "success"
            docs.append(run_doc("kf%03d-post-submit" % i, "kf%03d-controller" % i,
                                t + 60 * i, state=state, seq=i))

        # Produce errors queued before the first Produce request (they apply to the
        # next requests of that API, whichever broker gets them).
        self.broker_control(self.broker, "/errors", api="Produce",
                            code="NOT_LEADER_FOR_PARTITION", count=5)
        self.broker_control(self.broker, "/errors", api="Produce",
                            code="REQUEST_TIMED_OUT", count=3)

        # Paced at 3000x: 200 events 60 s apart take ~4 s, long enough to move a
        # leader and take a broker down and up again while producing. debug=msg,eos:
        # the producer logs each error it got and how its idempotence state moved.
        extra = ["-X", "debug=msg,eos"]
        for k, v in producer_props.items():
            extra += ["-X", "%s=%s" % (k, v)]
        result = {}

        def producer():
            try:
                result["r"] = harness.run_producer(self.logs, self.broker.bootstrap,
                                                   docs=docs, speed=3000, timeout=90,
                                                   extra=extra)
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                result["e"] = e
        th = threading.Thread(target=producer, daemon=True)
        started = time.monotonic()
        th.start()
        time.sleep(1.0)
        self.broker_control(self.broker, "/leader", topic="herald.events", partition=0, id=2)
        time.sleep(0.5)
        self.broker_control(self.broker, "/broker/down", id=3)
        time.sleep(1.0)
        self.broker_control(self.broker, "/broker/up", id=3)
        th.join(120)
        self.assertFalse(th.is_alive(), "producer thread did not finish")
        if "e" in result:
            raise result["e"]
        rc, out, err = result["r"]
        took = time.monotonic() - started

        try:
            self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= total,
                            20, what="%d events consumed" % total)
        except harness.HarnessError:
            pass  # counted and explained by the caller
        try:
            self.wait_for(failures, None, 10)
        except harness.HarnessError:
            pass  # counted and explained by the caller
        time.sleep(2.5)  # a late duplicate would show up now
        msgs = self.slack.messages()
        m = c.metrics()
        counts = collections.Counter(job_of(x) for x in msgs)
        # Which events the consumer saw: alerts by job, the others from debug lines.
        seen = collections.Counter()
        for rec in c.logs():
            mt = re.match(r"^event \S+ \((kf\d+-post-submit) \w+\): consumed",
                          rec.get("msg", ""))
            if mt:
                seen[mt.group(1)] += 1
        errors_seen = collections.Counter(
            mt.group(1) for mt in re.finditer(r"encountered error: Broker: ([^(]+?) \(", err))
        f = {
            "produced": total, "producer_rc": rc, "producer_summary": harness.producer_summary(out),
            "consumed": int(m.sum("herald_events_consumed_total")),
            "consumed_failure": int(m.sum("herald_events_consumed_total", state="failure")),
            "alerts_expected": failures, "alerts_received": len(msgs),
            "alerts_sent_metric": int(m.sum("herald_alerts_sent_total")),
            "distinct_alerts": len(counts),
            "duplicates": sum(v - 1 for v in counts.values() if v > 1),
            "missing": [d["spec"]["job"] for d in docs if seen[d["spec"]["job"]] == 0],
            "doubled_on_topic": sorted(j for j, k in seen.items() if k > 1),
            "suppressed_duplicate": int(m.sum("herald_events_suppressed_total",
                                              reason="duplicate")),
            "producer_errors_seen": dict(errors_seen),
            "producer_implicit_acks": [ln for ln in err.splitlines() if "IMPLICITACK" in ln],
            "producer_s": round(took, 1),
            "consumer_alive": c.proc.alive(),
        }
        report(name, **{k: (len(v) if k == "producer_implicit_acks" else v)
                        for k, v in f.items()},
               producer_props=producer_props,
               injected="NOT_LEADER_FOR_PARTITION x5, REQUEST_TIMED_OUT x3, leader p0->2, "
                        "broker 3 down 1s")
        self.assertIn("broker 3 down", self.broker.proc.stderr_text())
        self.assertIn("broker 3 up", self.broker.proc.stderr_text())
        return f, out, err

    def assert_exactly_once(self, f, out, err, note=""):
        total, failures = f["produced"], f["alerts_expected"]
        self.assertEqual(f["producer_rc"], 0, "producer exit %s\n%s\n%s"
                         % (f["producer_rc"], out, err[-3000:]))
        self.assertIn("published %d" % total, out)
        self.assertEqual(f["producer_summary"], {"read": total, "published": total,
                                                 "rejected": 0, "undelivered": 0}, out)
        self.assertTrue(f["consumer_alive"])
        self.assertEqual(f["doubled_on_topic"], [], "events on the topic twice")
        self.assertEqual(f["duplicates"], 0)
        self.assertEqual(f["suppressed_duplicate"], 0)
        self.assertEqual(
            (f["consumed"], f["missing"]), (total, []),
            "%sthe producer exited 0 with 'published %d' but the consumer consumed %d; "
            "events never seen: %s; the producer's idempotence log:\n%s"
            % (note, total, f["consumed"], f["missing"],
               "\n".join(f["producer_implicit_acks"])))
        self.assertEqual(f["consumed_failure"], failures)
        self.assertEqual(f["alerts_received"], failures)
        self.assertEqual(f["distinct_alerts"], failures)
        self.assertEqual(f["alerts_sent_metric"], failures)

    def test_2_kafka_faults_idempotent_producer_exactly_once_on_topic(self):
        # One Produce request in flight per connection. herald-devbroker is librdkafka's
        # mock cluster, which checks idempotent sequence numbers only for
        # transactional producers: with requests pipelined (the default 5), an injected
        # REQUEST_TIMED_OUT on one request (not appended) and the success of the next
        # (appended, sequence gap not refused) make librdkafka count the first as
        # "implicitly acked" -- right against real Kafka, which refuses the gap with
        # OUT_OF_ORDER_SEQUENCE_NUMBER, but on the mock one event is lost. See
        # test_2b and docs/reliability.md.
        f, out, err = self.kafka_faults(
            "kafka", {"max.in.flight.requests.per.connection": "1"})
        self.assertGreater(sum(f["producer_errors_seen"].values()), 0,
                           "the injected Produce errors never reached the producer")
        self.assert_exactly_once(f, out, err)

    @unittest.skipUnless(os.environ.get("HERALD_E2E_MOCK_GAP"),
                         "reproduces a herald-devbroker (librdkafka mock) limitation, not a "
                         "Herald bug; set HERALD_E2E_MOCK_GAP=1 to run it")
    def test_2b_kafka_faults_pipelined_devbroker_gap(self):
        # The producer as shipped (5 requests in flight). Fails on most runs with one
        # event lost on the devbroker; see test_2.
        f, out, err = self.kafka_faults("kafka_pipelined", {})
        self.assert_exactly_once(
            f, out, err, note="DEVBROKER LIMITATION (librdkafka mock: no idempotent "
            "sequence check for non-transactional producers): ")

    # -- 3 --------------------------------------------------------------------------------

    def test_3a_slack_429_retry_after_honoured(self):
        cfg = self.config()
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        stats0 = self.slack.stats()
        self.slack.set_fault(channel="releases", status=429, retry_after=1, count=2)
        t = base_time()
        t0_ms = int(time.time() * 1000)
        self.produce([run_doc("rl-post-submit", "rl-controller", t)])
        msgs = self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1, quiet=1.5)
        delay_s = (msgs[0]["received_ms"] - t0_ms) / 1000.0
        by_status = status_delta(stats0, self.slack.stats())
        m = c.metrics()
        r = retries(c)
        first_429_to_accept = ((msgs[0]["received_ms"] - r[0][0]) / 1000.0) if r else None
        report("slack_429", alerts_expected=1, alerts_received=len(msgs), by_status=by_status,
               retry_after_s=1, waits_ms=[x[4] for x in r],
               first_429_to_accepted_s=first_429_to_accept,
               produce_to_accepted_s=round(delay_s, 2))
        self.assertEqual(by_status, {"429": 2, "200": 1})
        # Two Retry-After: 1 answers: two waits of exactly 1 s (the 100 ms backoff of
        # this config would retry after ~0.1 and ~0.2 s), so at least 2 s from the
        # first attempt (which is after t0) to acceptance.
        self.assertEqual([(x[2], x[3], x[4]) for x in r],
                         [("ratelimited", 1, 1000), ("ratelimited", 2, 1000)],
                         "Retry-After not honoured: %s" % r)
        self.assertGreaterEqual(first_429_to_accept, 1.9, "Retry-After not honoured")
        self.assertGreaterEqual(delay_s, 1.9, "Retry-After not honoured")
        self.assertLess(delay_s, 15)
        self.assertEqual(m.sum("herald_alerts_sent_total"), 1)
        self.assertEqual(m.sum("herald_delivery_failures_total"), 0)
        self.assertEqual(m.sum("herald_dead_lettered_total"), 0)

    def test_3b_slack_5xx_retried_delivered_once(self):
        cfg = self.config()
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        stats0 = self.slack.stats()
        self.slack.set_fault(channel="releases", status=500, count=3)
        t = base_time()
        self.produce([run_doc("five-post-submit", "five-controller", t)])
        msgs = self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1, quiet=2.0)
        by_status = status_delta(stats0, self.slack.stats())
        m = c.metrics()
        r = retries(c)
        report("slack_5xx", alerts_expected=1, alerts_received=len(msgs), by_status=by_status,
               attempts=sum(by_status.values()), backoff_ms=[x[4] for x in r])
        self.assertEqual([(x[2], x[3]) for x in r],
                         [("http_500", 1), ("http_500", 2), ("http_500", 3)])
        # Exponential backoff from delivery.backoff (100 ms), minus up to 10% jitter.
        for (_, _, _, attempt, delay), base in zip(r, (100, 200, 400)):
            self.assertTrue(base * 0.9 - 1 <= delay <= base, (attempt, delay, base))
        self.assertEqual(by_status, {"500": 3, "200": 1})
        self.assertEqual(job_of(msgs[0]), "five-post-submit")
        self.assertEqual(m.sum("herald_alerts_sent_total"), 1)
        self.assertEqual(m.sum("herald_delivery_failures_total"), 0)
        self.assertEqual(m.sum("herald_dead_lettered_total"), 0)

    def test_3d_slack_timeout_retried_may_duplicate(self):
        # Slack holds the first request longer than delivery.timeout, then accepts it:
        # Herald gave up on that attempt and retries, so the channel gets the message
        # twice. At-least-once: a timed-out post may have been posted.
        cfg = self.config()
        cfg["delivery"] = dict(cfg["delivery"], timeout="1s")
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        stats0 = self.slack.stats()
        self.slack.set_fault(channel="releases", delay_ms=2500, count=1)
        t = base_time()
        self.produce([run_doc("slow-post-submit", "slow-controller", t)])
        self.wait_until(lambda: c.metrics().sum("herald_alerts_sent_total") >= 1, WAIT,
                        what="the alert accepted")
        self.wait_until(lambda: len(self.slack.messages("releases")) >= 2, 10,
                        what="the timed-out attempt recorded too")
        msgs = self.assert_quiet(2, quiet=1.5)
        r = retries(c)
        by_status = status_delta(stats0, self.slack.stats())
        m = c.metrics()
        report("slack_timeout", alerts_expected=1, alerts_received=len(msgs),
               by_status=by_status, retries=[(x[2], x[4]) for x in r],
               alerts_sent_metric=int(m.sum("herald_alerts_sent_total")))
        self.assertEqual([(x[2], x[3]) for x in r], [("timeout", 1)])
        self.assertEqual([job_of(x) for x in msgs], ["slow-post-submit"] * 2)
        self.assertEqual(m.sum("herald_alerts_sent_total"), 1)
        self.assertEqual(m.sum("herald_delivery_failures_total"), 0)

    def test_3c_slack_permanent_404_dead_lettered_nothing_else_lost(self):
        cfg = self.config()
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        stats0 = self.slack.stats()
        # #ci is gone for good; #releases is healthy.
        self.slack.set_fault(channel="ci", status=404, count=1000)
        t = base_time()
        lost = run_doc("gone-unit-test", "gone-controller", t, type="presubmit", seq=1)
        kept = run_doc("kept-post-submit", "kept-controller", t + 60, seq=2)
        self.produce([lost, kept])
        self.wait_until(lambda: c.metrics().sum("herald_delivery_failures_total") >= 1, WAIT,
                        what="the 404 counted")
        self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1, quiet=2.0)
        by_status = status_delta(stats0, self.slack.stats())
        m = c.metrics()
        report("slack_404", alerts_expected=2, alerts_received=len(msgs), by_status=by_status,
               delivery_failures=int(m.sum("herald_delivery_failures_total")),
               channel_not_found=int(m.sum("herald_delivery_failures_total",
                                           reason="channel_not_found")),
               dead_lettered_undeliverable=int(m.sum("herald_dead_lettered_total",
                                                     reason="undeliverable")))
        self.assertEqual(job_of(msgs[0]), "kept-post-submit")
        self.assertEqual(self.slack.messages("ci"), [])
        self.assertEqual(by_status, {"404": 1, "200": 1}, "a permanent 404 must not be retried")
        self.assertEqual(m.sum("herald_delivery_failures_total", receiver="ci",
                               reason="channel_not_found"), 1)
        self.assertEqual(m.sum("herald_delivery_failures_total"), 1)
        self.assertEqual(m.sum("herald_dead_lettered_total", reason="undeliverable"), 1)
        self.assertEqual(m.sum("herald_dead_lettered_total"), 1)
        self.assertEqual(m.sum("herald_alerts_sent_total", receiver="releases"), 1)
        self.assertEqual(m.sum("herald_dead_letter_errors_total"), 0,
                         "the dead-letter write was not acknowledged")

    # -- 4 --------------------------------------------------------------------------------

    def test_4_poison_input_rejected_counted_dead_lettered(self):
        t = base_time()
        ts = prowjob.rfc3339(t)

        def event(**kw):
            e = {"schema": 1, "id": "poison:failure", "job": "poison-post-submit",
                 "type": "postsubmit", "state": "failure", "org": ORG,
                 "repo": "poison-controller", "event_time": ts, "completion_time": ts,
                 "report": True}
            e.update(kw)
            return e
        missing = event(id="poison-missing:failure")
        del missing["state"]
        huge = json.dumps(event(id="poison-huge:failure", description="x" * (300 * 1024)))
        self.assertGreater(len(huge), 256 * 1024)
        self.assertLess(len(huge), 4 * 1024 * 1024)  # the producer's INPUT_MAX_LINE
        poison = [
            ("malformed_json", "this is not JSON {"),
            ("invalid_event", json.dumps(event(id="poison-type:failure", job=5))),
            ("invalid_event", json.dumps(missing)),
            ("too_large", huge),
            ("invalid_utf8", b'{"schema":1,"id":"poison-utf8:failure","job":"bad-\xff\xfe",'
                             b'"type":"postsubmit","state":"failure","event_time":"'
                             + ts.encode() + b'"}'),
            ("too_deep", "[" * 100 + "]" * 100),
        ]
        expected = collections.Counter(reason for reason, _ in poison)
        c = self.start_consumer()
        c.wait_assigned(WAIT)
        rc, out, err = self.produce([line for _, line in poison], raw=True)
        self.assertEqual(harness.producer_summary(out)["published"], len(poison), out)
        self.produce([run_doc("valid-post-submit", "valid-controller", t + 60, seq=1)])

        msgs = self.wait_for(1, None, WAIT)
        self.wait_until(lambda: c.metrics().sum("herald_events_rejected_total") >= len(poison),
                        WAIT, what="%d rejections" % len(poison))
        msgs = self.assert_quiet(1, quiet=2.0)
        m = c.metrics()
        rejected = {dict(k).get("reason"): int(v)
                    for k, v in m.get("herald_events_rejected_total", {}).items()}
        dead = {dict(k).get("reason"): int(v)
                for k, v in m.get("herald_dead_lettered_total", {}).items()}
        report("poison", sent=len(poison), rejected=rejected, dead_lettered=dead,
               dead_letter_errors=int(m.sum("herald_dead_letter_errors_total")),
               valid_alerts=len(msgs))
        self.assertEqual(job_of(msgs[0]), "valid-post-submit")
        self.assertEqual(rejected, dict(expected))
        self.assertEqual(m.sum("herald_dead_lettered_total"), len(poison))
        self.assertEqual(dead, dict(expected), "each poison message dead-lettered under its "
                         "reason")
        self.assertEqual(m.sum("herald_dead_letter_errors_total"), 0,
                         "dead-letter writes not acknowledged by Kafka")
        self.assertEqual(m.sum("herald_events_consumed_total"), 1)
        self.assertTrue(c.proc.alive())
        self.assertEqual(c.get("/healthz")[0], 200)
        logs = c.proc.stderr_text()
        self.assertEqual(len(re.findall(r"rejected event at herald\.events\[\d+\]@\d+", logs)),
                         len(poison), "each rejection logged with partition and offset")

    # -- 5 --------------------------------------------------------------------------------

    def test_5_sigterm_finishes_in_flight_then_no_resend(self):
        n = 5
        t = base_time()
        docs = [run_doc("term%d-post-submit" % i, "term%d-controller" % i, t + 60 * i, seq=i)
                for i in range(n)]
        cfg = self.config()
        c = self.start_consumer(member(cfg), name="consumer-1")
        c.wait_assigned(WAIT)
        self.slack.set_fault(channel="*", delay_ms=1500, count=n)
        stats0 = self.slack.stats()
        self.produce(docs)
        # All five in the consumer's hands (parsed), deliveries started and held by
        # slackd for 1.5 s each: stop it now.
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= n, WAIT,
                        interval=0.05, what="%d events consumed" % n)
        time.sleep(0.3)
        in_flight = n - len(self.slack.messages())
        self.assertGreater(in_flight, 0, "nothing in flight at SIGTERM: the test is void")
        t_term = time.monotonic()
        c.proc.send_signal(signal.SIGTERM)
        try:
            c.proc.proc.wait(timeout=15)
        except Exception:  # noqa: BLE001 - TimeoutExpired: reported below
            pass
        exit_s = time.monotonic() - t_term
        rc = c.stop()
        self.assertEqual(rc, 0, "SIGTERM must be a clean shutdown (exit 0), took %.1fs"
                         % exit_s)
        self.assertLess(exit_s, 15.0)
        after_stop = len(self.slack.messages())
        self.assertIn("stopped cleanly", c.proc.stderr_text())

        # A new member of the same group, nothing new produced: nothing is re-sent.
        c2 = self.start_consumer(member(cfg), name="consumer-2")
        c2.wait_assigned(WAIT)
        msgs = self.assert_quiet(n, quiet=3.0)
        m2 = c2.metrics()
        counts = collections.Counter(job_of(x) for x in msgs)
        by_status = status_delta(stats0, self.slack.stats())
        report("sigterm", alerts_expected=n, in_flight_at_sigterm=in_flight,
               received_at_exit=after_stop, exit_s=round(exit_s, 2), exit_code=rc,
               received_after_restart=len(msgs),
               redelivered_to_new_member=int(m2.sum("herald_events_consumed_total")),
               by_status=by_status)
        self.assertEqual(after_stop, n, "in-flight deliveries not finished before exit")
        self.assertEqual(set(counts), {d["spec"]["job"] for d in docs})
        self.assertEqual(max(counts.values()), 1)
        self.assertEqual(m2.sum("herald_events_consumed_total"), 0,
                         "offsets were not committed on shutdown: the new member got the "
                         "finished batch again")


if __name__ == "__main__":
    unittest.main()
