"""test_holes.py -- the holes a fault campaign found (issue "Nothing lost, nothing
doubled"), each reproduced and counted: expected / delivered / duplicated / lost.

Same real parts as test_faults.py: redis-server (behind a delaying TCP proxy where a
test needs late replies), herald-devbroker with its control API, herald-slackd with
injected faults, and the real herald-producer / herald-consumer. Each test prints one
line "faults: ..." with its counts (docs/reliability.md quotes them).

    HERALD_BIN=bin python3 -m unittest tests/e2e/test_holes.py -v
"""

import collections
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HeraldTestCase  # noqa: E402
from test_faults import job_of, member, report, status_delta  # noqa: E402

run_doc = harness.finished_run
base_time = harness.base_time
WAIT = 30.0


def counts(expected, msgs, key=job_of):
    """expected / delivered / duplicated / lost of a list of expected keys."""
    got = collections.Counter(key(m) for m in msgs)
    return {"expected": len(expected), "delivered": sum(got[k] for k in expected),
            "duplicated": sum(max(0, got[k] - 1) for k in expected),
            "lost": sum(1 for k in expected if got[k] == 0)}


class DelayProxy:
    """A TCP proxy to Redis that can hold back its replies (the command ran; only the
    answer is late), for testing what a timed-out script call left behind."""

    def __init__(self, port):
        self.target = port
        self.delay_s = 0.0
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.stop_ev = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop_ev.is_set():
            try:
                r, _, _ = select.select([self.lsock], [], [], 0.2)
                if r:
                    c, _ = self.lsock.accept()
                    threading.Thread(target=self._pipe, args=(c,), daemon=True).start()
            except (OSError, ValueError):
                return  # closed

    def _pipe(self, c):
        s = socket.create_connection(("127.0.0.1", self.target))
        try:
            while not self.stop_ev.is_set():
                r, _, _ = select.select([c, s], [], [], 0.2)
                for x in r:
                    data = x.recv(65536)
                    if not data:
                        return
                    if x is s and self.delay_s:
                        time.sleep(self.delay_s)
                    (s if x is c else c).sendall(data)
        except OSError:
            pass
        finally:
            c.close()
            s.close()

    def close(self):
        self.stop_ev.set()
        self.lsock.close()


class HolesTest(HeraldTestCase):

    def cfg(self, **kw):
        c = self.config()
        c.update(kw)
        return c

    def broker_control(self, path, **query):
        url = path + "?" + urllib.parse.urlencode(query)
        st, body = self.broker.control_request("POST", url)
        self.assertEqual(st, 200, "devbroker %s: %s %r" % (url, st, body[:300]))

    # -- 1: two alerts of one job in one batch, then a crash --------------------------

    def test_01_failure_and_recovery_in_one_batch_then_sigkill(self):
        """A job's failure and its recovery decided in one batch; Slack answers 503, and
        the consumer is killed between two attempts, before Slack took either. The next
        consumer must send both, the failure first."""
        t = base_time()
        cfg = self.cfg(delivery={"timeout": "2s", "backoff": "1s", "backoff_max": "1s",
                                 "max_attempts": 100, "give_up_after": "60s"})
        c = self.start_consumer(cfg, name="consumer-1")
        c.wait_assigned(WAIT)
        self.slack.set_fault(channel="releases", status=503, count=100000)
        self.produce([run_doc("one-post-submit", "one-controller", t),
                      run_doc("one-post-submit", "one-controller", t + 600, "success",
                              seq=1)])
        self.wait_until(lambda: self.slack.stats().get("by_status", {}).get("503", 0) >= 2,
                        WAIT, what="the alerts tried and refused twice")
        c.proc.send_signal(signal.SIGKILL)  # between two attempts
        self.assertEqual(c.stop(), -signal.SIGKILL)  # killed on purpose: not watched
        self.slack.clear()
        self.start_consumer(member(cfg), name="consumer-2").wait_assigned(WAIT)
        msgs = self.wait_for(1, "releases", WAIT)
        time.sleep(3.0)
        msgs = self.slack.messages("releases")
        kinds = [("recovered" if "recovered" in harness.payload_text(m) else "failure")
                 for m in msgs]
        f = {"expected": 2, "delivered": len(msgs), "lost": int("failure" not in kinds) +
             int("recovered" not in kinds), "duplicated": len(msgs) - len(set(kinds))}
        report("two_alerts_one_batch_sigkill", **f)
        self.assertEqual(f["lost"], 0, kinds)
        self.assertEqual(f["duplicated"], 0)  # nothing was accepted before the kill
        self.assertEqual(kinds[-1], "recovered", "the recovery came before the failure")

    # -- 2: a Slack outage longer than any retry budget --------------------------------

    def test_02_slack_outage_longer_than_the_retry_budget(self):
        cfg = self.cfg(delivery={"timeout": "2s", "backoff": "100ms", "backoff_max": "500ms",
                                 "max_attempts": 3, "give_up_after": "2s"})
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        self.slack.set_fault(channel="releases", status=503, count=100000)
        self.slack.set_fault(channel="ci", status=429, retry_after=3, count=1)
        t = base_time()
        t0 = time.monotonic()
        self.produce([run_doc("out-post-submit", "out-controller", t),
                      run_doc("label-sync", "test-infra", t + 1, type="periodic", seq=1)])
        ci = self.wait_for(1, "ci", WAIT)
        ci_s = time.monotonic() - t0
        time.sleep(6.0)  # three times give_up_after: the old code gave up here
        self.assertEqual(len(self.slack.messages("releases")), 0)
        self.slack.clear()  # Slack is back
        msgs = self.wait_for(1, "releases", WAIT)
        m = c.metrics()
        f = counts(["out-post-submit"], msgs)
        f.update(dead_lettered=int(m.sum("herald_dead_lettered_total")),
                 retries_503=int(m.sum("herald_delivery_retries_total", reason="http_503")),
                 retry_after_s=3, ci_delivered_after_s=round(ci_s, 1))
        report("slack_outage_longer_than_budget", **f)
        self.assertEqual((f["delivered"], f["lost"], f["dead_lettered"]), (1, 0, 0))
        self.assertGreater(f["retries_503"], 5)
        self.assertGreaterEqual(ci_s, 3.0, "a 429's Retry-After (3 s) not honoured")
        self.assertEqual(job_of(ci[0]), "label-sync")

    # -- 3: a Redis reply that arrives after the timeout --------------------------------

    def test_03_late_redis_replies_lose_and_double_nothing(self):
        proxy = DelayProxy(self.redis.port)
        self.addCleanup(proxy.close)
        cfg = self.cfg(redis={"host": "127.0.0.1", "port": proxy.port,
                              "key_prefix": self.prefix, "timeout": "300ms"},
                       release={"hold": "0s", "stall_timeout": "10m"})
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        t = base_time()
        jobs = ["late%02d-post-submit" % i for i in range(10)]
        docs = [run_doc(j, j.split("-")[0] + "-controller", t + 10 * i, seq=i)
                for i, j in enumerate(jobs)]
        # a release whose chart update never starts: its stall is due 10 min later
        docs.append(run_doc("stl-post-submit", "stl-controller", t + 200, "success",
                            base_ref="v1.0.0", seq=20))
        docs.append(run_doc("label-sync", "test-infra", t + 3600, "success",
                            type="periodic", seq=21))
        proxy.delay_s = 0.6  # every reply late: every script call times out, and ran
        self.produce(docs)
        time.sleep(6.0)
        proxy.delay_s = 0.0
        msgs = self.wait_for(11, timeout=WAIT)
        time.sleep(2.0)
        msgs = self.slack.messages()
        f = counts(jobs, msgs)
        stalls = [m for m in msgs if "release stalled" in harness.payload_text(m)]
        f.update(stalls=len(stalls),
                 redis_errors=int(c.metrics().sum("herald_redis_errors_total")))
        report("late_redis_replies", **f)
        self.assertEqual((f["delivered"], f["duplicated"], f["lost"]), (10, 0, 0))
        self.assertEqual(len(stalls), 1, "the due release stall")
        self.assertGreater(f["redis_errors"], 0, "the test is void: no reply was late")

    # -- 4: Redis restarted empty -------------------------------------------------------

    def test_04_redis_restarted_empty_is_detected_and_rebuilt(self):
        from test_ops import start_redis
        port = harness.free_port()
        redis = start_redis(self.logs, port, "redis-a")
        self.addCleanup(lambda: redis.stop())
        cfg = self.cfg(redis={"host": "127.0.0.1", "port": port, "key_prefix": self.prefix},
                       release={"hold": "30m", "stall_timeout": "0s"})
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        live = self.live(lateness="1h")
        t = base_time()
        svcs = ["rb%d" % i for i in range(4)]
        # four releases whose post-submit failed: held until their chart updates finish
        live.send([run_doc("%s-post-submit" % s, "%s-controller" % s, t + 60 * i,
                           base_ref="v1.0.0", seq=i) for i, s in enumerate(svcs)])
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 4, WAIT,
                        what="4 events consumed")
        time.sleep(1.5)
        self.assertEqual(len(self.slack.messages()), 0, "held: nothing sent yet")
        redis.stop()
        redis = start_redis(self.logs, port, "redis-b")  # empty: no persistence
        self.wait_until(lambda: c.metrics().sum("herald_redis_state_lost_total") >= 1, WAIT,
                        what="the lost state detected")
        st, body = c.get("/readyz")
        live.send([run_doc("label-sync", "test-infra", t + 4 * 3600, "success",
                           type="periodic", seq=9)])
        msgs = self.wait_for(4, timeout=WAIT)
        time.sleep(2.0)
        msgs = self.slack.messages()
        f = counts(["%s-post-submit" % s for s in svcs], msgs)
        f.update(readyz_after=st, detected=int(c.metrics().sum("herald_redis_state_lost_total")))
        report("redis_restarted_empty", **f)
        self.assertEqual(f["lost"], 0)
        self.assertEqual(st, 503, body)
        self.assertIn(b"lost", body)
        self.assertIn("REDIS LOST HERALD'S STATE", c.proc.stderr_text())

    # -- 5: a broker that lost its log --------------------------------------------------

    def test_05_offsets_past_the_end_of_the_log_read_from_the_start(self):
        for p in range(4):
            self.broker_control("/commit", group=self.group, topic="herald.events",
                                partition=p, offset=1000)
        t = base_time()
        jobs = ["lost%d-post-submit" % i for i in range(5)]
        self.produce([run_doc(j, j.split("-")[0] + "-controller", t + i, seq=i)
                      for i, j in enumerate(jobs)])
        c = self.start_consumer()
        msgs = self.wait_for(5, "releases", WAIT)
        f = counts(jobs, msgs)
        f.update(resets=int(c.metrics().sum("herald_offset_resets_total")))
        report("broker_lost_its_log", **f)
        self.assertEqual((f["delivered"], f["lost"]), (5, 0))
        self.assertGreaterEqual(f["resets"], 1)
        self.assertIn("does not hold our offset", c.proc.stderr_text())

    # -- 6: a stall timer, its consumer killed while sending it --------------------------

    def test_06_release_stall_survives_its_consumer(self):
        """The stall timer is due and taken; Slack is away (503), and the consumer is
        killed while it waits to try again. The next consumer must send it."""
        cfg = self.cfg(release={"hold": "0s", "stall_timeout": "10m"},
                       delivery={"timeout": "2s", "backoff": "1s", "backoff_max": "1s",
                                 "max_attempts": 100, "give_up_after": "60s"})
        c = self.start_consumer(cfg, name="consumer-1")
        c.wait_assigned(WAIT)
        self.slack.set_fault(channel="releases", status=503, count=100000)
        t = base_time()
        self.produce([run_doc("st-post-submit", "st-controller", t, "success",
                              base_ref="v2.0.0"),
                      run_doc("label-sync", "test-infra", t + 3600, "success",
                              type="periodic", seq=1)])
        self.wait_until(lambda: self.slack.stats().get("by_status", {}).get("503", 0) >= 2,
                        WAIT, what="the stall tried and refused twice")
        c.proc.send_signal(signal.SIGKILL)  # between two attempts
        self.assertEqual(c.stop(), -signal.SIGKILL)  # killed on purpose: not watched
        self.slack.clear()
        self.start_consumer(member(cfg), name="consumer-2").wait_assigned(WAIT)
        msgs = self.wait_for(1, "releases", WAIT)
        time.sleep(1.0)
        msgs = self.slack.messages("releases")
        f = {"expected": 1, "delivered": len(msgs), "lost": int(not msgs),
             "duplicated": max(0, len(msgs) - 1)}
        report("stall_timer_consumer_killed", **f)
        self.assertEqual(f["lost"], 0)
        self.assertLessEqual(f["duplicated"], 1)
        self.assertIn("release stalled", harness.payload_text(msgs[0]))

    def test_07b_a_send_longer_than_a_minute_is_not_taken_over(self):
        """One held alert; Slack takes 65 s to answer (inside delivery.timeout). The other
        consumer must not take it over and send it again while the first still sends."""
        cfg = self.cfg(release={"hold": "1m", "stall_timeout": "0s"},
                       delivery={"timeout": "80s", "backoff": "1s", "backoff_max": "1s",
                                 "max_attempts": 3, "give_up_after": "3m"})
        cs = [self.start_consumer(member(cfg), name="c%d" % i) for i in range(2)]
        for c in cs:
            c.wait_assigned(WAIT)
        self.slack.set_fault(channel="releases", delay_ms=65000, count=1)
        t = base_time()
        self.produce([run_doc("hl-post-submit", "hl-controller", t, base_ref="v3.0.0"),
                      run_doc("label-sync", "test-infra", t + 3600, "success",
                              type="periodic", seq=1)])
        self.wait_for(1, "releases", 120)
        time.sleep(8.0)  # past the answer: a second copy would be here by now
        msgs = self.slack.messages("releases")
        f = counts(["hl-post-submit"], msgs)
        report("send_longer_than_the_old_lease", **f)
        self.assertEqual((f["delivered"], f["duplicated"], f["lost"]), (1, 0, 0))

    # -- 7 and 8: slow Slack, two consumers; Slack answering after the timeout ----------

    def test_07_slow_slack_two_consumers_send_each_alert_once(self):
        cfg = self.cfg(delivery={"timeout": "5s", "backoff": "100ms", "backoff_max": "1s"})
        cs = [self.start_consumer(member(cfg), name="c%d" % i) for i in range(2)]
        for c in cs:
            c.wait_assigned(WAIT)
        self.slack.set_fault(channel="*", delay_ms=2500, count=20)
        t = base_time()
        jobs = ["slow%d-post-submit" % i for i in range(6)]
        self.produce([run_doc(j, j.split("-")[0] + "-controller", t + i, seq=i)
                      for i, j in enumerate(jobs)])
        msgs = self.wait_for(6, "releases", 60)
        time.sleep(3.0)
        f = counts(jobs, self.slack.messages("releases"))
        report("slow_slack_two_consumers", **f)
        self.assertEqual((f["delivered"], f["duplicated"], f["lost"]), (6, 0, 0))

    def test_08_slack_answering_after_the_timeout(self):
        api = {"name": "api", "type": "webapi", "channel": "#api", "url": self.slack.api_url(),
               "token": self.slack.TOKEN}
        cfg = self.cfg(delivery={"timeout": "1s", "backoff": "100ms", "backoff_max": "500ms"},
                       receivers=self.config()["receivers"] + [api],
                       routes=[{"match": {"job": "wapi-*"}, "receivers": ["api"],
                                "continue": False},
                               {"match": {"tier": "critical"}, "receivers": ["releases"],
                                "continue": False}])
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        self.slack.set_fault(channel="releases", delay_ms=2500, count=1)
        self.slack.set_fault(channel="#api", delay_ms=2500, count=1)
        t = base_time()
        self.produce([run_doc("hook-post-submit", "hook-controller", t),
                      run_doc("wapi-post-submit", "wapi-controller", t + 1, seq=1)])
        self.wait_until(lambda: c.metrics().sum("herald_alerts_sent_total") >= 2, WAIT,
                        what="both accepted")
        time.sleep(4.0)
        hook = self.slack.messages("releases")
        webapi = self.slack.messages("#api")
        fh, fa = counts(["hook-post-submit"], hook), counts(["wapi-post-submit"], webapi)
        report("slack_answers_after_timeout", webhook=fh, webapi=fa)
        self.assertEqual(fh["lost"], 0)
        self.assertLessEqual(fh["duplicated"], 1, "webhook: at most one duplicate per timeout")
        self.assertEqual((fa["delivered"], fa["duplicated"]), (1, 0),
                         "Web API: found in the channel's history, not posted again")

    # -- 9: a permanent refusal is not retried forever -----------------------------------

    def test_09_a_refused_alert_goes_to_the_fallback_once(self):
        cfg = self.cfg(release={"hold": "1m", "stall_timeout": "0s"})
        cfg["receivers"] = cfg["receivers"] + [{"name": "fallback", "type": "webhook",
                                                "channel": "#fb",
                                                "url": self.slack.hook_url("fallback")}]
        cfg["delivery"] = dict(cfg["delivery"], fallback_receiver="fallback")
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        stats0 = self.slack.stats()
        self.slack.set_fault(channel="releases", status=404, error="channel_not_found",
                             count=1000)
        t = base_time()
        self.produce([run_doc("nf-post-submit", "nf-controller", t, base_ref="v1.0.0")])
        self.wait_for(1, "fallback", WAIT)
        time.sleep(5.0)
        by = status_delta(stats0, self.slack.stats())
        m = c.metrics()
        f = {"expected": 1, "refused_attempts": by.get("404", 0),
             "fallback": len(self.slack.messages("fallback")),
             "dead_lettered": int(m.sum("herald_dead_lettered_total", reason="undeliverable"))}
        report("refused_not_resent", **f)
        self.assertEqual(f, {"expected": 1, "refused_attempts": 1, "fallback": 1,
                             "dead_lettered": 1})

    # -- 10: one slow channel does not hold up the others ---------------------------------

    def test_10_a_dead_receiver_does_not_block_other_channels(self):
        cfg = self.cfg(delivery={"timeout": "2s", "backoff": "100ms", "backoff_max": "1s"})
        c = self.start_consumer(cfg)
        c.wait_assigned(WAIT)
        self.slack.set_fault(channel="releases", delay_ms=60000, count=1000)
        t = base_time()
        self.produce([run_doc("dead-post-submit", "dead-controller", t)])
        time.sleep(1.0)  # its delivery hangs
        t0 = time.monotonic()
        self.produce([run_doc("label-sync", "test-infra", t + 1, type="periodic", seq=1)])
        self.wait_for(1, "ci", WAIT)
        took = time.monotonic() - t0
        report("dead_receiver_head_of_line", ci_delivered_after_s=round(took, 2))
        self.assertLess(took, 5.0, "#ci waited behind a dead receiver")

    # -- 11: SIGTERM within a bound the config states ------------------------------------

    def test_11_sigterm_within_shutdown_timeout_nothing_lost(self):
        cfg = self.cfg(delivery={"timeout": "20s", "backoff": "100ms", "backoff_max": "1s",
                                 "shutdown_timeout": "2s"})
        c = self.start_consumer(cfg, name="consumer-1")
        c.wait_assigned(WAIT)
        self.slack.set_fault(channel="releases", delay_ms=30000, count=1)
        t = base_time()
        self.produce([run_doc("term-post-submit", "term-controller", t)])
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 1, WAIT,
                        what="consumed")
        time.sleep(0.5)
        t0 = time.monotonic()
        c.proc.send_signal(signal.SIGTERM)
        c.proc.proc.wait(timeout=20)
        exit_s = time.monotonic() - t0
        self.slack.clear()
        self.start_consumer(member(cfg), name="consumer-2").wait_assigned(WAIT)
        msgs = self.wait_for(1, "releases", WAIT)
        f = counts(["term-post-submit"], msgs)
        f.update(exit_s=round(exit_s, 1), shutdown_timeout_s=2)
        report("sigterm_bound", **f)
        self.assertLess(exit_s, 6.0, "shutdown took longer than its bound")
        self.assertEqual(f["lost"], 0)

    # -- 13: mention injection in every event field, every message kind ------------------

    def test_13_no_event_string_reaches_slack_unescaped(self):
        bad = "<!channel> <!here> <@U12345> <#C12345> <!subteam^S123> &"
        t = base_time()
        cfg = {"receivers": [{"name": "r", "type": "webhook", "channel": "#r",
                              "url": "http://127.0.0.1:9/hooks/r"}],
               "routes": [{"receivers": ["r"]}],
               "release": {"hold": "10m", "stall_timeout": "30m"},
               "ecosystem": {"services": 2, "window": "15m", "hold": "5m",
                             "stages": ["post-submit"]}}
        def evil(job, repo, tt, state="failure", seq=0, **kw):
            d = run_doc(job, repo, tt, state, seq=seq, description=bad, **kw)
            d["status"]["build_id"] = bad
            d["status"]["url"] = "https://prow.example/view?x=" + bad
            for r in [d["spec"].get("refs")] + d["spec"].get("extra_refs", []):
                if r:
                    r["base_sha"] = bad
            d["metadata"]["annotations"]["x"] = bad
            return d
        H = 3600
        v = "v1.0.0<!here>"
        docs = [
            # job level: failure, reminder, recovered
            evil("label-sync", "test-infra", t, type="periodic"),
            evil("label-sync", "test-infra", t + 2 * H, type="periodic", seq=1),
            evil("label-sync", "test-infra", t + 3 * H, "success", type="periodic", seq=2),
            # release: the OLM bundle fails, then another stage: a consequence
            evil("evc-controller-olm-bundle-pr", "evc-controller", t, base_ref=v, seq=3),
            evil("evc-post-submit", "evc-controller", t + 2 * H, base_ref=v, seq=4),
            # release stalled: post-submit passed, the chart update never started
            evil("ev9-post-submit", "ev9-controller", t + 4 * H, "success", base_ref=v,
                 seq=5),
            # held, then passed again before it went: the success's build in the note
            evil("evp-post-submit", "evp-controller", t + 10 * H, base_ref=v, seq=6),
            evil("evp-post-submit", "evp-controller", t + 10 * H + 60, "success",
                 base_ref=v, seq=7)]
        # ecosystem: two services, a third joins later; all recover
        for i in range(3):
            docs.append(evil("ev%d-post-submit" % i, "ev%d-controller" % i,
                             t + 6 * H + 300 * i, base_ref=v, seq=10 + i))
            docs.append(evil("ev%d-post-submit" % i, "ev%d-controller" % i,
                             t + 8 * H + i, "success", base_ref=v, seq=20 + i))
        hist = harness.write_ndjson(self.logs, docs, "evil.ndjson")
        path = self.logs.file("evil.yaml")
        with open(path, "w") as f:
            f.write(harness.to_yaml(cfg))
        out = self.logs.file("bodies.ndjson")
        p = subprocess.run([harness.binary("herald-backtest"), "-c", path, "--messages", out,
                            "--bodies", hist], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(out) as f:
            msgs = [json.loads(x) for x in f if x.strip()]
        kinds = sorted({m["kind"] for m in msgs})
        raw = [m for m in msgs if any(x in m["body"] for x in
                                      ("<!channel>", "<!here>", "<@U", "<#C", "<!subteam"))]
        report("mention_injection", messages=len(msgs), kinds=kinds, unescaped=len(raw))
        self.assertEqual(raw, [])
        self.assertTrue([m for m in msgs if m.get("passed_again")], "the held-then-passed case")
        for k in ("failure", "reminder", "recovered", "consequence", "ecosystem",
                  "ecosystem-update", "ecosystem-recovered", "stalled"):
            self.assertIn(k, kinds)


    def test_13b_live_held_alert_note_is_escaped(self):
        """The case the campaign found, through the live consumer: a held release alert
        whose job passed again before it went names the success's build_id."""
        bad = "<!channel> <!here> <@U12345> <#C12345> <!subteam^S123>"
        cfg = self.cfg(release={"hold": "10m", "stall_timeout": "0s"})
        self.start_consumer(cfg).wait_assigned(WAIT)
        t = base_time()
        fail = run_doc("evp-post-submit", "evp-controller", t, base_ref="v1.0.0", seq=1)
        ok = run_doc("evp-post-submit", "evp-controller", t + 60, "success",
                     base_ref="v1.0.0", seq=2)
        ok["status"]["build_id"] = bad
        tick = run_doc("label-sync", "test-infra", t + 3600, "success", type="periodic",
                       seq=3)
        self.produce([fail, ok, tick])
        msgs = self.wait_for(1, "releases", WAIT)
        time.sleep(1.0)
        msgs = self.slack.messages()
        text = " ".join(harness.payload_text(m) for m in msgs)
        raw = [x for x in ("<!channel>", "<!here>", "<@U", "<#C", "<!subteam") if x in text]
        report("held_note_injection", messages=len(msgs), unescaped=len(raw))
        self.assertIn("evp-post-submit", text)
        self.assertIn("&lt;!channel&gt;", text, "the build is named in the note, escaped")
        self.assertEqual(raw, [])

if __name__ == "__main__":
    import unittest
    unittest.main()
