"""Issue 3: alerts people trust -- job state across runs, the release and ecosystem
levels, storm control, silences, Web API threads, explanations (docs/rules.md).

Same real stack as the pipeline tests: redis-server, herald-devbroker, herald-slackd,
the real herald-producer, herald-consumer and heraldctl. Holds and stall timers run on
the event clock, so a test moves time on the way a live system does: with a later
event (an unrelated success far enough ahead), produced once the earlier events were
consumed -- as it would arrive an hour later, not in the same batch."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import base_time, fields_of, finished_run, payload_text  # noqa: E402

WAIT = 30.0


def failure(job, repo, t, **kw):
    return finished_run(job, repo, t, **kw)


def success(job, repo, t, **kw):
    return finished_run(job, repo, t, state="success", **kw)


def tick(t):
    """An unrelated passing run at event time t: moves the event clock on."""
    return success("label-sync", "test-infra", t)


def header(msg):
    for a in msg["payload"].get("attachments", []):
        for b in a.get("blocks", []):
            if b.get("type") == "header":
                return b["text"]["text"]
    return ""


class RulesTest(harness.HeraldTestCase):

    def cfg(self, **sections):
        c = self.config()
        for k, v in sections.items():
            c[k] = v
        return c

    # -- job level -----------------------------------------------------------------------

    def test_threshold_three_failures_alert_on_the_third(self):
        t = base_time()
        c = self.start_consumer(self.cfg(dedup={"window": "1h", "failures_to_alert": 3}))
        runs = [failure("s3-post-submit", "s3-controller", t + 60 * i, seq=i) for i in range(3)]
        self.produce(runs[:2])
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 2, WAIT,
                        what="2 events consumed")
        self.assert_quiet(0)
        self.assertEqual(c.metrics().sum("herald_events_suppressed_total", reason="threshold"), 2)
        self.produce(runs[2:])
        msgs = self.wait_for(1, "releases", WAIT)
        self.assert_quiet(1)
        self.assertIn("Failed 3 times in a row", payload_text(msgs[0]))

    def test_threshold_from_the_job_annotation(self):
        t = base_time()
        self.start_consumer()  # config N = 1; the job says 2
        ann = {"testgrid-num-failures-to-alert": "2"}
        self.produce([failure("ec2-post-submit", "ec2-controller", t, annotations=ann)])
        self.assert_quiet(0)
        self.produce([failure("ec2-post-submit", "ec2-controller", t + 60, seq=1,
                              annotations=ann)])
        self.wait_for(1, "releases", WAIT)
        self.assert_quiet(1)

    def test_failure_then_success_gives_a_recovery(self):
        t = base_time()
        self.start_consumer()
        self.produce([failure("iam-post-submit", "iam-controller", t),
                      failure("iam-post-submit", "iam-controller", t + 600, seq=1),
                      success("iam-post-submit", "iam-controller", t + 1800, seq=2)])
        msgs = self.wait_for(2, "releases", WAIT)
        msgs = self.assert_quiet(2)
        first, rec = sorted(msgs, key=lambda m: m["seq"])
        self.assertIn("failed", header(first))
        self.assertIn("recovered", header(rec))
        self.assertIn("Recovered after 2 failures", payload_text(rec))
        # A success with nothing failing before it says nothing.
        self.produce([success("iam-post-submit", "iam-controller", t + 2400, seq=3)])
        self.assert_quiet(2)

    def test_superseded_abort_is_not_a_failure_and_infra_errors_are_labelled(self):
        t = base_time()
        self.start_consumer(self.cfg(dedup={"window": "1h",
                                            "alert_states": ["failure", "error", "aborted"]}))
        self.produce([
            failure("rds-unit-test", "rds-controller", t, state="aborted", type="presubmit",
                    description="Aborted as the newer version of this job is running."),
            failure("sns-post-submit", "sns-controller", t + 60, state="error", seq=1,
                    description="Job pod was OOM killed by the cluster."),
        ])
        msgs = self.wait_for(1, timeout=WAIT)
        msgs = self.assert_quiet(1)
        self.assertEqual(fields_of(msgs[0]).get("job"), "sns-post-submit")
        self.assertIn("(infrastructure)", header(msgs[0]))
        self.assertIn("OOM kill", payload_text(msgs[0]))

    # -- release level -------------------------------------------------------------------

    def release_config(self):
        return self.cfg(release={"hold": "6m", "stall_timeout": "0s"})

    def test_chart_update_after_post_submit_is_one_alert_naming_both(self):
        t = base_time()
        c = self.start_consumer(self.release_config())
        live = self.live(lateness="1h")  # the watermark: newest event time - 1 h
        live.send([
            failure("s3-post-submit", "s3-controller", t, base_ref="v1.2.3"),
            failure("update-ack-chart", "s3-controller", t + 200, base_ref="v1.2.3", seq=1),
        ])
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 2, WAIT,
                        what="2 events consumed")
        self.assert_quiet(0)  # held: the watermark has not passed the hold yet
        live.send([tick(t + 7200)])
        msgs = self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1)
        m = msgs[0]
        self.assertEqual(fields_of(m).get("stage"), "post-submit")
        self.assertIn("v1.2.3", header(m))
        self.assertIn("Also failed in this release", payload_text(m))
        self.assertIn("update-ack-chart", payload_text(m))
        # Held first, then joined (or, if the batch had them the other way round, both
        # held and the upstream one took over).
        mt = c.metrics()
        self.assertEqual(mt.sum("herald_alerts_held_total") +
                         mt.sum("herald_events_suppressed_total", reason="correlation"), 2)

    def test_upstream_failure_arriving_second_becomes_the_alert(self):
        t = base_time()
        c = self.start_consumer(self.release_config())
        self.produce([
            failure("update-ack-chart", "ec2-controller", t, base_ref="v0.9.0"),
            failure("ec2-post-submit", "ec2-controller", t + 300, base_ref="v0.9.0", seq=1),
        ])
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 2, WAIT,
                        what="2 events consumed")
        self.produce([tick(t + 3600)])
        msgs = self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1)
        self.assertEqual(fields_of(msgs[0]).get("job"), "ec2-post-submit")
        self.assertIn("update-ack-chart", payload_text(msgs[0]))

    def test_release_stalled_when_the_next_stage_never_starts(self):
        t = base_time()
        self.start_consumer(self.cfg(release={"hold": "0s", "stall_timeout": "30m"}))
        self.produce([success("lambda-post-submit", "lambda-controller", t, base_ref="v1.0.0"),
                      tick(t + 3600)])
        msgs = self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1)
        self.assertIn("release stalled at chart-update", header(msgs[0]))
        self.assertIn("v1.0.0", header(msgs[0]))
        # The next stage did start in time for another version: no stall.
        self.slack.clear()
        self.produce([success("lambda-post-submit", "lambda-controller", t + 4000,
                              base_ref="v1.0.1", seq=1),
                      success("update-ack-chart", "lambda-controller", t + 4300,
                              base_ref="v1.0.1", seq=2),
                      tick(t + 9000)])
        self.assert_quiet(0, quiet=3.0)

    def test_release_stalled_when_a_started_stage_never_finishes(self):
        t = base_time()
        self.start_consumer(self.cfg(release={"hold": "0s", "stall_timeout": "30m"}))
        started = harness.prowjob.make_prowjob(
            "dynamodb-post-submit", "postsubmit", harness.prowjob.ORG, "dynamodb-controller",
            "pending", start=t, completion=None,
            build_id=harness.prowjob.snowflake_build_id(t), base_ref="v2.0.0")
        self.produce([started])
        self.assert_quiet(0)
        self.produce([tick(t + 3600)])
        msgs = self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1)
        self.assertIn("dynamodb v2.0.0", header(msgs[0]))
        self.assertIn("release stalled at post-submit", header(msgs[0]))
        self.assertIn("started and did not finish", payload_text(msgs[0]))

    # -- ecosystem level -----------------------------------------------------------------

    SERVICES = ["acm", "apigatewayv2", "applicationautoscaling", "cloudtrail", "dynamodb",
                "ec2", "ecr", "eks", "elasticache", "emrcontainers", "iam", "kms"]

    def test_twelve_services_failing_kind_e2e_make_one_ecosystem_alert(self):
        t = base_time()
        c = self.start_consumer(self.cfg(ecosystem={"services": 5, "window": "15m",
                                                    "hold": "5m"}))
        runs = [failure("%s-kind-e2e" % s, "%s-controller" % s, t + 50 * i, type="presubmit",
                        seq=i) for i, s in enumerate(self.SERVICES)]
        self.produce(runs)
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 12, WAIT,
                        what="12 events consumed")
        msgs = self.wait_for(2, timeout=WAIT)
        msgs = self.assert_quiet(2, quiet=3.0)
        first, last = sorted(msgs, key=lambda m: m["seq"])

        def named(m):
            return [s for s in self.SERVICES if '"%s' % s in payload_text(m) or
                    " %s" % s in payload_text(m) or "\\n%s" % s in payload_text(m)]
        # Sent when the 5th service failed, with the services so far; once no service
        # joined for the window, one follow-up names all twelve.
        n = int(re.search(r"Ecosystem: (\d+) services failing e2e", header(first)).group(1))
        self.assertEqual(n, 5)
        self.assertEqual(len(named(first)), n, "the alert lists the services it counts")
        self.assertEqual(sorted(named(last)), sorted(self.SERVICES))
        mt = c.metrics()
        self.assertEqual(mt.sum("herald_alerts_by_kind_total", kind="ecosystem"), 1)
        self.assertEqual(mt.sum("herald_alerts_by_kind_total", kind="ecosystem-update"), 1)
        self.assertEqual(mt.sum("herald_alerts_by_kind_total", kind="failure"), 0)
        # They recover: one recovery message for the incident, none per service.
        self.produce([success("%s-kind-e2e" % s, "%s-controller" % s, t + 4000 + 30 * i,
                              type="presubmit", seq=100 + i)
                      for i, s in enumerate(self.SERVICES)])
        msgs = self.wait_for(3, timeout=WAIT)
        msgs = self.assert_quiet(3)
        rec = max(msgs, key=lambda m: m["seq"])
        self.assertIn("Ecosystem: e2e recovered", header(rec))
        self.assertIn("All 12 services recovered", payload_text(rec))
        for s in self.SERVICES:
            self.assertIn(s, payload_text(rec))

    def test_updates_of_two_incidents_in_one_channel_are_coalesced(self):
        """Two stages fail across twelve services at once, on one Web API channel that
        takes one message a second: each incident's message is edited (chat.update) as
        services join, but a queued edit that a newer edit of the same message follows
        is not sent, even with the other incident's edits between them."""
        t = base_time()
        api = [{"name": n, "type": "webapi", "token": harness.SlackReceiver.TOKEN,
                "channel": "#ci", "url": self.slack.api_url()} for n in ("releases", "ci")]
        c = self.start_consumer(self.cfg(receivers=api, routes=[],
                                         ecosystem={"services": 3, "window": "15m",
                                                    "hold": "0s"},
                                         storm={"rate": 2, "burst": 1}))
        runs = []
        for i, s in enumerate(self.SERVICES):
            runs.append(failure("%s-kind-e2e" % s, "%s-controller" % s, t + 2 * i,
                                type="presubmit", seq=2 * i))
            runs.append(failure("%s-unit-test" % s, "%s-controller" % s, t + 2 * i + 1,
                                type="presubmit", seq=2 * i + 1))
        self.produce(runs, speed=10)  # 0.1 s apart: decided over many steps

        def settled():
            m = self.slack.messages()
            full = [x for x in m if x.get("api") == "webapi-update" and
                    "12 services failing" in header(x)]
            return m if len(full) >= 2 else None
        msgs = self.wait_until(settled, 60, what="both incidents' messages naming all 12")
        time.sleep(2.0)
        msgs = self.slack.messages()
        edits = [m for m in msgs if m.get("api") == "webapi-update"]
        joins = 2 * (len(self.SERVICES) - 3)  # services joining after each incident opened
        self.assertLess(len(edits), joins // 2,
                        "queued edits of the same message were each sent: %d of %d" %
                        (len(edits), joins))

    def test_four_services_stay_per_service_alerts(self):
        t = base_time()
        self.start_consumer(self.cfg(ecosystem={"services": 5, "window": "15m",
                                                "hold": "5m"}))
        runs = [failure("%s-kind-e2e" % s, "%s-controller" % s, t + 50 * i, type="presubmit",
                        seq=i) for i, s in enumerate(self.SERVICES[:4])]
        self.produce(runs + [tick(t + 3600)])
        self.wait_for(4, timeout=WAIT)
        msgs = self.assert_quiet(4)
        self.assertFalse(any("Ecosystem" in header(m) for m in msgs))

    def test_full_speed_replay_keeps_holds(self):
        """Everything published at once, the later 'tick' included: partitions are read
        at different speeds, but a partition with events still to read holds the event
        clock back, so the holds end as they would live."""
        t = base_time()
        cfg = self.cfg(release={"hold": "6m", "stall_timeout": "0s"},
                       ecosystem={"services": 5, "window": "15m", "hold": "5m"})
        cfg["kafka"]["batch_size"] = 2  # many small batches: partitions interleave
        self.start_consumer(cfg)
        runs = [failure("%s-kind-e2e" % s, "%s-controller" % s, t + 50 * i, type="presubmit",
                        seq=i) for i, s in enumerate(self.SERVICES)]
        runs += [failure("s3-post-submit", "s3-controller", t + 100, base_ref="v1.2.3",
                         seq=50),
                 failure("update-ack-chart", "s3-controller", t + 300, base_ref="v1.2.3",
                         seq=51),
                 tick(t + 3600)]
        self.produce(runs)
        self.wait_for(3, timeout=WAIT)
        msgs = self.assert_quiet(3, quiet=3.0)
        heads = sorted(header(m) for m in msgs)
        eco = [m for m in msgs if "Ecosystem:" in header(m)]
        # the alert when the 5th service joined, and one follow-up naming all 12
        self.assertEqual(len(eco), 2, heads)
        last = max(eco, key=lambda m: m["seq"])
        for svc in self.SERVICES:
            self.assertIn(svc, payload_text(last))
        rel = [m for m in msgs if "s3 v1.2.3" in header(m)]
        self.assertEqual(len(rel), 1, heads)
        self.assertIn("update-ack-chart", payload_text(rel[0]))

    # -- storm control -------------------------------------------------------------------

    def test_thirty_alerts_in_a_second_keep_the_rate_and_every_one_arrives(self):
        """Storm control delays, it never drops or folds: 30 first alerts for one
        channel within a second all arrive, once each, at the channel's rate."""
        t = base_time()
        c = self.start_consumer(self.cfg(storm={"rate": 5, "burst": 3}))
        runs = [failure("periodic-check-%02d" % i, "test-infra", t + i, type="periodic",
                        seq=i) for i in range(30)]
        self.produce(runs)
        msgs = self.wait_for(30, "ci", timeout=WAIT)
        msgs = self.assert_quiet(30, "ci")
        jobs = sorted(fields_of(m).get("job") for m in msgs)
        self.assertEqual(jobs, sorted(r["spec"]["job"] for r in runs))
        # The rate: in any span, at most burst + rate * span (+1 for the bucket's
        # fractional refill).
        times = sorted(m["received_ms"] for m in msgs)
        for i in range(len(times)):
            for j in range(i, len(times)):
                span = (times[j] - times[i]) / 1000.0
                self.assertLessEqual(j - i + 1, 3 + span * 5 + 1, "rate limit broken: %s" % times)
        self.assertGreaterEqual((times[-1] - times[0]) / 1000.0, (30 - 3 - 1) / 5.0 - 0.5)
        self.assertEqual(c.metrics().sum("herald_alerts_sent_total", receiver="ci"), 30)

    # -- silences and explanations ---------------------------------------------------------

    def heraldctl(self, *args, expect=0):
        argv = [harness.binary("heraldctl"), "-r", "%s:%d" % (self.redis.host, self.redis.port),
                "--prefix", self.prefix] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, expect, "heraldctl %s: %s %s" % (args, p.stdout, p.stderr))
        return p.stdout

    def test_silence_suppresses_matching_alerts_and_counts_them(self):
        t = base_time()
        sid = self.heraldctl("silence", "add", "--match", "service=lambda", "--match",
                             "stage=olm-bundle", "--for", "2h", "--reason",
                             "OLM queue is being fixed").strip()
        self.assertRegex(sid, r"^[0-9a-f]{12}$")
        c = self.start_consumer()
        silenced = failure("lambda-controller-olm-bundle-pr", "lambda-controller", t)
        self.produce([silenced,
                      failure("s3-controller-olm-bundle-pr", "s3-controller", t + 60, seq=1)])
        msgs = self.wait_for(1, timeout=WAIT)
        msgs = self.assert_quiet(1)
        self.assertEqual(fields_of(msgs[0]).get("service"), "s3")
        self.assertEqual(c.metrics().sum("herald_events_suppressed_total", reason="silence"), 1)
        rows = [json.loads(l) for l in self.heraldctl("silence", "list", "--json").splitlines()]
        self.assertEqual([(r["id"], r["matched"]) for r in rows], [(sid, 1)])
        # The decision is explained.
        eid = "%s:failure" % silenced["metadata"]["name"]
        out = self.heraldctl("explain", eid)
        self.assertIn("silence: %s" % sid, out)
        self.assertIn("decision: suppressed", out)
        # Expired, the next failure alerts again (after the window: a new alert).
        self.heraldctl("silence", "expire", sid)
        time.sleep(1.5)  # consumers reload silences every second
        self.produce([failure("lambda-controller-olm-bundle-pr", "lambda-controller",
                              t + 7200, seq=2)])
        self.wait_for(2, timeout=WAIT)

    # -- Slack Web API: one incident, one thread -------------------------------------------

    def test_webapi_follow_ups_are_thread_replies(self):
        t = base_time()
        cfg = self.cfg(receivers=[
            {"name": "releases", "type": "webapi", "channel": "#releases",
             "url": self.slack.api_url(), "token": harness.SlackReceiver.TOKEN},
            {"name": "ci", "type": "webhook", "url": self.slack.hook_url("ci")}])
        self.start_consumer(cfg)
        self.produce([failure("eks-post-submit", "eks-controller", t)])
        root = self.wait_for(1, "#releases", WAIT)[0]
        self.assertTrue(root.get("ts"))
        self.assertNotIn("thread_ts", root)
        self.produce([failure("eks-post-submit", "eks-controller", t + 3700, seq=1),
                      success("eks-post-submit", "eks-controller", t + 4000, seq=2)])
        msgs = self.wait_for(3, "#releases", WAIT)
        msgs = self.assert_quiet(3, "#releases")
        replies = sorted((m for m in msgs if m is not root and m["seq"] != root["seq"]),
                         key=lambda m: m["seq"])
        self.assertIn("still failing", header(replies[0]))
        self.assertIn("recovered", header(replies[1]))
        for r in replies:
            self.assertEqual(r.get("thread_ts"), root["ts"], "a follow-up must be a thread reply")

    def test_webapi_failure_and_recovery_in_one_batch_stay_in_order_and_thread(self):
        t = base_time()
        cfg = self.cfg(receivers=[
            {"name": "releases", "type": "webapi", "channel": "#releases",
             "url": self.slack.api_url(), "token": harness.SlackReceiver.TOKEN},
            {"name": "ci", "type": "webhook", "url": self.slack.hook_url("ci")}])
        self.start_consumer(cfg)
        self.produce([failure("acm-post-submit", "acm-controller", t),
                      success("acm-post-submit", "acm-controller", t + 600, seq=1)])
        self.wait_for(2, "#releases", WAIT)
        first, second = sorted(self.assert_quiet(2, "#releases"), key=lambda m: m["seq"])
        self.assertIn("failed", header(first))
        self.assertIn("recovered", header(second))
        self.assertEqual(second.get("thread_ts"), first["ts"])

    def test_webapi_release_consequence_is_a_reply_in_the_release_thread(self):
        t = base_time()
        cfg = self.cfg(receivers=[
            {"name": "releases", "type": "webapi", "channel": "#releases",
             "url": self.slack.api_url(), "token": harness.SlackReceiver.TOKEN},
            {"name": "ci", "type": "webhook", "url": self.slack.hook_url("ci")}])
        self.start_consumer(cfg)  # release hold 0s: the first alert goes at once
        self.produce([failure("rds-post-submit", "rds-controller", t, base_ref="v1.4.0")])
        root = self.wait_for(1, "#releases", WAIT)[0]
        self.produce([failure("update-ack-chart", "rds-controller", t + 300,
                              base_ref="v1.4.0", seq=1)])
        msgs = self.wait_for(2, "#releases", WAIT)
        msgs = self.assert_quiet(2, "#releases")
        reply = max(msgs, key=lambda m: m["seq"])
        self.assertIn("(consequence)", header(reply))
        self.assertIn("update-ack-chart", payload_text(reply))
        self.assertEqual(reply.get("thread_ts"), root["ts"])

    def test_reporter_config_channel_routes_to_that_channel(self):
        t = base_time()
        cfg = self.cfg(receivers=[
            {"name": "bot", "type": "webapi", "channel": "#ack-bots",
             "url": self.slack.api_url(), "token": harness.SlackReceiver.TOKEN},
            {"name": "ci", "type": "webhook", "url": self.slack.hook_url("ci")}],
            routes=[], default_receiver="ci")
        self.start_consumer(cfg)
        self.produce([failure("docs-release", "test-infra", t, type="periodic",
                              reporter_slack={"channel": "#docs-team"})])
        msgs = self.wait_for(1, "#docs-team", WAIT)
        self.assertEqual(msgs[0]["payload"].get("channel"), "#docs-team")
        self.assert_quiet(1)


if __name__ == "__main__":
    unittest.main()
