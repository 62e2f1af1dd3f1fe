"""test_engine.py -- the rules (docs/rules.md), case by case: events in, messages out.

Each case runs a small history through herald-backtest, which feeds it to the
consumer's own stages and a real redis-server (no Kafka, no HTTP), and compares the
messages each channel would get. Seconds in all. The live pipeline makes the same
decisions on the same history (test_determinism.py checks that).
"""

import json
import os
import subprocess
import unittest

import harness
import prowjob

HOUR, MIN, DAY = 3600, 60, 86400
ORG = prowjob.ORG


def run(job, repo, t, state="failure", type="postsubmit", seq=0, dur=600, **kw):
    """A finished run of job in ORG/repo that took dur seconds and ended at t."""
    if type in ("presubmit", "batch") and "pulls" not in kw:
        kw["pulls"] = [{"number": 100 + seq, "author": "octocat"}]
    return prowjob.make_prowjob(job, type, ORG, repo, state, start=t - dur, completion=t,
                                build_id=prowjob.snowflake_build_id(t - dur, seq=seq % 4096),
                                **kw)


def started(job, repo, t, seq=0, **kw):
    """The pending state of a run that started at t."""
    return prowjob.make_prowjob(job, "postsubmit", ORG, repo, "pending", start=t,
                                completion=None,
                                build_id=prowjob.snowflake_build_id(t, seq=seq % 4096), **kw)


def svc_run(svc, stage_job, t, ver, state="failure", seq=0, **kw):
    """A run of one of ACK's release jobs of service svc at version ver."""
    job = {"post-submit": "%s-post-submit" % svc, "chart": "update-ack-chart",
           "olm": "%s-controller-olm-bundle-pr" % svc}[stage_job]
    return run(job, "%s-controller" % svc, t, state=state, seq=seq, base_ref=ver, **kw)


T0 = 1795000000 // 60 * 60  # 2026-11-18, whole minutes


class EngineCase(unittest.TestCase):

    def setUp(self):
        self.logs = harness.LogDir(self._testMethodName)
        self.addCleanup(self.logs.remove)

    def config(self, **sections):
        """Two webhook receivers: critical stages to #releases, the rest to #ci."""
        c = {"receivers": [{"name": "releases", "type": "webhook", "channel": "#releases",
                            "url": "http://127.0.0.1:9/hooks/releases"},
                           {"name": "ci", "type": "webhook", "channel": "#ci",
                            "url": "http://127.0.0.1:9/hooks/ci"}],
             "routes": [{"match": {"tier": "critical"}, "receivers": ["releases"],
                         "continue": False}],
             "default_receiver": "ci",
             "ecosystem": {"enabled": False},
             "release": {"stall_timeout": "0s"}}
        for k, v in sections.items():
            if isinstance(v, dict) and isinstance(c.get(k), dict):
                c[k] = dict(c[k], **v)
            else:
                c[k] = v
        return c

    def backtest(self, docs, config, extra=()):
        """Run docs through config; return the messages (dicts) and the table text."""
        hist = harness.write_ndjson(self.logs, docs, "history.ndjson")
        path = self.logs.file("config.yaml")
        with open(path, "w") as f:
            f.write(harness.to_yaml(config))
        msgs = self.logs.file("messages.ndjson")
        p = subprocess.run([harness.binary("herald-backtest"), "-c", path, "--messages", msgs]
                           + list(extra) + [hist], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, "herald-backtest: %s\n%s" % (p.stdout, p.stderr))
        with open(msgs) as f:
            return [json.loads(line) for line in f if line.strip()], p.stdout

    def kinds(self, msgs):
        return [(m["dest"], m["kind"], m["subject"]) for m in msgs]

    # ---- job level ---------------------------------------------------------------------

    def test_threshold_then_alert_then_recovery(self):
        cfg = self.config(dedup={"failures_to_alert": 3})
        docs = [run("label-sync", "test-infra", T0 + i * HOUR, type="periodic", seq=i)
                for i in range(3)]
        docs.append(run("label-sync", "test-infra", T0 + 3 * HOUR, "success",
                        type="periodic", seq=3))
        docs.append(run("label-sync", "test-infra", T0 + 4 * HOUR, "success",
                        type="periodic", seq=4))
        msgs, _ = self.backtest(docs, cfg)
        self.assertEqual(self.kinds(msgs), [("#ci", "failure", "label-sync"),
                                            ("#ci", "recovered", "label-sync")])
        self.assertEqual(msgs[0]["failures"], 3)

    def test_annotation_overrides_the_threshold(self):
        docs = [run("label-sync", "test-infra", T0 + i * HOUR, type="periodic", seq=i,
                    annotations={"testgrid-num-failures-to-alert": "2"}) for i in range(2)]
        msgs, _ = self.backtest(docs, self.config(dedup={"failures_to_alert": 5}))
        self.assertEqual(self.kinds(msgs), [("#ci", "failure", "label-sync")])

    def test_copies_of_one_state_alert_once(self):
        """A watch delivers one copy per crier patch: the same ProwJob state, 4 times."""
        one = run("label-sync", "test-infra", T0, type="periodic")
        msgs, _ = self.backtest([one, dict(one), dict(one), dict(one)], self.config())
        self.assertEqual(self.kinds(msgs), [("#ci", "failure", "label-sync")])

    def test_daily_job_failing_five_days_reminders_back_off(self):
        docs = [run("docs-release", "community", T0 + d * DAY, type="periodic", seq=d)
                for d in range(5)]
        docs.append(run("docs-release", "community", T0 + 5 * DAY, "success",
                        type="periodic", seq=5))
        msgs, _ = self.backtest(docs, self.config())
        self.assertEqual([m["kind"] for m in msgs],
                         ["failure", "reminder", "reminder", "recovered"])

    def test_hourly_job_reminders_at_1h_4h_then_daily(self):
        docs = [run("periodic-stale", "test-infra", T0 + h * HOUR, type="periodic", seq=h)
                for h in range(31)]
        msgs, _ = self.backtest(docs, self.config())
        # alert at h0; reminders at h1 (1 h, 1 run), h5 (4 h, 2 runs), h29 (24 h, 4 runs)
        self.assertEqual([m["kind"] for m in msgs], ["failure"] + ["reminder"] * 3)
        self.assertEqual([m["suppressed"] for m in msgs[1:]], [0, 3, 23])

    def test_superseded_abort_is_nothing_and_oom_is_infrastructure(self):
        docs = [run("rds-post-submit", "rds-controller", T0, "aborted",
                    description="Aborted as the newer version of this job is running."),
                run("sns-post-submit", "sns-controller", T0 + 60, "error", seq=1,
                    description="Job pod was OOM killed by the cluster.")]
        msgs, _ = self.backtest(docs, self.config(dedup={"alert_states":
                                                         ["failure", "error", "aborted"]}))
        self.assertEqual(self.kinds(msgs), [("#releases", "failure", "sns-post-submit")])

    def test_default_routes_drop_presubmits_and_pending_never_alerts(self):
        cfg = self.config()
        del cfg["routes"]  # no routes: section: the built-in one drops presubmits
        docs = [run("s3-unit-test", "s3-controller", T0, type="presubmit"),
                run("s3-kind-e2e", "s3-controller", T0 + 60, "error", type="presubmit", seq=1),
                started("ec2-post-submit", "ec2-controller", T0 + 120, seq=2),
                run("label-sync", "test-infra", T0 + 180, type="periodic", seq=3)]
        msgs, _ = self.backtest(docs, cfg)
        self.assertEqual(self.kinds(msgs), [("#ci", "failure", "label-sync")])

    def test_a_drop_route_drops(self):
        cfg = self.config(routes=[{"match": {"job": "periodic-*"}, "receivers": []},
                                  {"match": {"type": "presubmit"}, "drop": True},
                                  {"match": {"tier": "critical"}, "receivers": ["releases"]}])
        docs = [run("periodic-close", "test-infra", T0, type="periodic"),
                run("s3-unit-test", "s3-controller", T0 + 60, type="presubmit", seq=1),
                run("label-sync", "test-infra", T0 + 120, type="periodic", seq=2)]
        msgs, _ = self.backtest(docs, cfg)
        self.assertEqual(self.kinds(msgs), [("#ci", "failure", "label-sync")])

    def test_another_version_is_a_new_problem(self):
        docs = [svc_run("s3", "post-submit", T0, "v1.0.0"),
                svc_run("s3", "post-submit", T0 + HOUR, "v1.0.1", seq=1)]
        msgs, _ = self.backtest(docs, self.config())
        self.assertEqual([(m["kind"], m["version"]) for m in msgs],
                         [("failure", "v1.0.0"), ("failure", "v1.0.1")])

    # ---- release level -----------------------------------------------------------------

    def test_chart_update_after_post_submit_is_one_alert(self):
        docs = [svc_run("s3", "post-submit", T0, "v1.2.3"),
                svc_run("s3", "chart", T0 + 200, "v1.2.3", seq=1)]
        msgs, _ = self.backtest(docs, self.config())
        self.assertEqual(self.kinds(msgs), [("#releases", "failure", "s3-post-submit")])
        self.assertEqual(len(msgs[0]["lines"]), 1)
        self.assertIn("update-ack-chart", msgs[0]["lines"][0])

    def test_acks_timing_chart_update_fails_nine_minutes_before_post_submit(self):
        """update-ack-chart waits at most 5 min for post-submit's chart: it fails first."""
        docs = [svc_run("lambda", "chart", T0, "v1.6.0"),
                svc_run("lambda", "post-submit", T0 + 9 * MIN, "v1.6.0", seq=1)]
        msgs, _ = self.backtest(docs, self.config())
        self.assertEqual(self.kinds(msgs), [("#releases", "failure", "lambda-post-submit")])
        self.assertEqual(msgs[0]["version"], "v1.6.0")
        self.assertIn("update-ack-chart", msgs[0]["lines"][0])

    def test_chart_update_alone_waits_for_post_submit_to_pass(self):
        docs = [svc_run("ecr", "chart", T0, "v0.3.0"),
                svc_run("ecr", "post-submit", T0 + 10 * MIN, "v0.3.0", "success", seq=1)]
        msgs, _ = self.backtest(docs, self.config())
        self.assertEqual(self.kinds(msgs), [("#releases", "failure", "update-ack-chart")])
        self.assertEqual(msgs[0]["lines"], [])

    def test_downstream_after_the_alert_went_is_counted_on_webhooks(self):
        docs = [svc_run("iam", "post-submit", T0, "v2.0.0"),
                svc_run("iam", "chart", T0 + 45 * MIN, "v2.0.0", seq=1)]
        msgs, _ = self.backtest(docs, self.config(release={"hold": "10m"}))
        self.assertEqual(self.kinds(msgs), [("#releases", "failure", "iam-post-submit")])

    def test_release_stalled_when_the_next_stage_never_starts(self):
        cfg = self.config(release={"stall_timeout": "30m"})
        docs = [svc_run("kms", "post-submit", T0, "v1.0.0", "success"),
                run("label-sync", "test-infra", T0 + 2 * HOUR, "success", type="periodic")]
        msgs, _ = self.backtest(docs, cfg)
        self.assertEqual([(m["kind"], m["stage"], m["version"]) for m in msgs],
                         [("stalled", "chart-update", "v1.0.0")])

    def test_no_false_stall_when_the_next_stage_finished_first(self):
        """The chart update completed before the post-submit's success was read."""
        cfg = self.config(release={"stall_timeout": "30m"})
        docs = [svc_run("sqs", "chart", T0, "v1.1.0", "success"),
                svc_run("sqs", "post-submit", T0 + 11 * MIN, "v1.1.0", "success", seq=1),
                svc_run("sqs", "olm", T0 + 12 * MIN, "v1.1.0", "success", seq=2)]
        msgs, _ = self.backtest(docs, cfg)
        self.assertEqual(msgs, [])

    # ---- ecosystem level ---------------------------------------------------------------

    SVCS = ["acm", "apigatewayv2", "applicationautoscaling", "cloudtrail", "dynamodb", "ec2",
            "ecr", "eks", "elasticache", "emrcontainers", "iam", "kms", "lambda", "memorydb",
            "mq", "networkfirewall", "opensearchservice", "pipes", "prometheusservice", "rds",
            "s3", "sagemaker", "secretsmanager", "sfn", "sns", "sqs", "ssm", "wafv2",
            "eventbridge", "route53"]

    def eco_config(self):
        return self.config(ecosystem={"enabled": True, "services": 5, "window": "15m",
                                      "hold": "5m"})

    def test_thirty_service_wave_is_one_incident_naming_everyone(self):
        """One root cause, 30 services: chart updates fail first, then post-submits."""
        docs = []
        for i, s in enumerate(self.SVCS):
            t = T0 + 20 * i
            docs.append(svc_run(s, "chart", t, "v1.%d.0" % i, seq=2 * i))
            docs.append(svc_run(s, "post-submit", t + 9 * MIN, "v1.%d.0" % i, seq=2 * i + 1))
        for i, s in enumerate(self.SVCS):
            docs.append(svc_run(s, "post-submit", T0 + 3 * HOUR + 20 * i, "v1.%d.0" % i,
                                "success", seq=100 + i))
        msgs, _ = self.backtest(docs, self.eco_config())
        self.assertEqual([m["kind"] for m in msgs],
                         ["ecosystem", "ecosystem-update", "ecosystem-recovered"])
        first, update, rec = msgs
        self.assertEqual(first["stage"], "post-submit")
        self.assertEqual(len(first["services"]), 5)
        self.assertEqual(sorted(update["services"]), sorted(self.SVCS))
        self.assertEqual(sorted(rec["services"]), sorted(self.SVCS))
        for m in msgs:
            self.assertEqual(m["dest"], "#releases")

    def test_covered_only_for_that_incident(self):
        """s3 was folded into the post-submit incident; its failure of the next release,
        after the incident recovered, is a new problem."""
        docs = [svc_run(s, "post-submit", T0 + 30 * i, "v1.0.0", seq=i)
                for i, s in enumerate(self.SVCS[:6])]
        docs += [svc_run(s, "post-submit", T0 + HOUR + 30 * i, "v1.0.0", "success",
                         seq=10 + i) for i, s in enumerate(self.SVCS[:6])]
        docs.append(svc_run("acm", "post-submit", T0 + 5 * HOUR, "v1.0.1", seq=30,
                            description="Job pod was evicted by the cluster."))
        msgs, _ = self.backtest(docs, self.eco_config())
        self.assertEqual([m["kind"] for m in msgs],
                         ["ecosystem", "ecosystem-update", "ecosystem-recovered", "failure"])
        self.assertEqual((msgs[-1]["service"], msgs[-1]["version"]), ("acm", "v1.0.1"))

    def test_a_quiet_window_ends_the_incident(self):
        docs = [svc_run(s, "post-submit", T0 + 30 * i, "v1.0.0", seq=i)
                for i, s in enumerate(self.SVCS[:5])]
        # three hours later, five others: a new incident, not the old one
        docs += [svc_run(s, "post-submit", T0 + 3 * HOUR + 30 * i, "v2.0.0", seq=10 + i)
                 for i, s in enumerate(self.SVCS[5:10])]
        msgs, _ = self.backtest(docs, self.eco_config())
        self.assertEqual([m["kind"] for m in msgs], ["ecosystem", "ecosystem"])
        self.assertNotEqual(msgs[0]["incident"], msgs[1]["incident"])

    def test_four_services_stay_per_service_alerts(self):
        docs = [svc_run(s, "post-submit", T0 + 30 * i, "v1.0.0", seq=i)
                for i, s in enumerate(self.SVCS[:4])]
        msgs, _ = self.backtest(docs, self.eco_config())
        self.assertEqual([m["kind"] for m in msgs], ["failure"] * 4)

    def test_a_long_run_of_edits_of_one_incident_is_drained(self):
        """150 pull requests of 30 services fail one stage at once on a Web API channel:
        the incident's message is edited as each joins. More than 100 edits queued in a
        row, each followed by a newer one, are dropped over several claims; the channel
        is drained (it was once taken for empty and left with its queue: a hang), and
        the last edit names every service."""
        cfg = self.config(receivers=[{"name": "ci", "type": "webapi", "token": "x",
                                      "url": "http://127.0.0.1:9/api", "channel": "#ci"}],
                          routes=[], default_receiver="ci",
                          ecosystem={"enabled": True, "services": 3, "window": "15m",
                                     "hold": "0s"},
                          storm={"rate": 1000, "burst": 1000})
        docs = [run("%s-unit-test" % s, "%s-controller" % s, T0, type="presubmit",
                    seq=i * 5 + k, pulls=[{"number": 1000 + i * 5 + k, "author": "a"}])
                for k in range(5) for i, s in enumerate(self.SVCS)]
        msgs, _ = self.backtest(docs, cfg)
        edits = [m for m in msgs if m["thread"] == "update"]
        self.assertTrue(edits, [m["kind"] for m in msgs])
        self.assertLess(len(edits), 10, "edits queued behind a newer one were sent")
        self.assertEqual(sorted(edits[-1]["services"]), sorted(self.SVCS))

    # ---- routing -----------------------------------------------------------------------

    def test_per_service_channels_from_one_web_api_receiver(self):
        cfg = self.config(receivers=[{"name": "ack", "type": "webapi", "token": "x",
                                      "url": "http://127.0.0.1:9/api",
                                      "channel": "#ack-{service}"}],
                          routes=[{"receivers": ["ack"]}], default_receiver="ack")
        docs = [svc_run("s3", "post-submit", T0, "v1.0.0"),
                svc_run("ec2", "post-submit", T0 + 60, "v1.0.0", seq=1)]
        msgs, _ = self.backtest(docs, cfg)
        self.assertEqual(sorted(m["dest"] for m in msgs), ["#ack-ec2", "#ack-s3"])

    # ---- event time --------------------------------------------------------------------

    def test_batch_size_and_file_order_change_nothing(self):
        docs = [svc_run(s, "post-submit", T0 + 30 * i, "v1.0.0", seq=i)
                for i, s in enumerate(self.SVCS[:12])]
        docs += [svc_run("lambda", "chart", T0 + HOUR, "v9.0.0", seq=40),
                 svc_run("lambda", "post-submit", T0 + HOUR + 9 * MIN, "v9.0.0", seq=41),
                 run("docs-release", "community", T0, type="periodic", seq=42)]
        docs += [run("docs-release", "community", T0 + d * DAY, type="periodic", seq=50 + d)
                 for d in range(1, 4)]
        results = []
        for bs, order in ((1, docs), (7, list(reversed(docs))), (500, docs)):
            cfg = self.eco_config()
            cfg["kafka"] = {"batch_size": bs}
            msgs, _ = self.backtest(order, cfg)
            results.append([json.dumps(m, sort_keys=True) for m in msgs])
        self.assertEqual(results[0], results[1])
        self.assertEqual(results[0], results[2])
        self.assertGreater(len(results[0]), 3)


if __name__ == "__main__":
    unittest.main()
