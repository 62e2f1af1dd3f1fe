"""herald-web in a real browser: Debian's chromium driven by playwright-core
(tests/node/dashboard-check.mjs), over a fixture history whose answers this test
knows, written by the real producer and recorder into a real PostgreSQL.

  - the board shows lambda v1.6.0's failed post-submit red and its chart update
    blocked, rds's missing chart update stale, and updates itself when a new release
    arrives (no reload);
  - the release page's graph has the DAG's nodes (coloured by state) and its edge
    chart-update <- post-submit; its alerts link to Slack;
  - the trends page ranks first the periodic that failed on five days;
  - the outcomes page's pipeline MTTD p50 equals the one computed here from the
    alert records (and, in OutcomesFromTheReceiverTest, from herald-slackd's
    received timestamps through the whole pipeline);
  - bad input: an unknown service or version is a 404 page, bad query parameters a
    400, a job named <script>...</script> stays text.

Screenshots of every page go to build/test-output/dashboard/ (HERALD_TEST_OUTPUT
overrides build/test-output) on every run.

Run: HERALD_BIN=bin python3 -m unittest tests/e2e/test_dashboard.py -v
"""

import json
import re
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dashboard  # noqa: E402
import harness  # noqa: E402
from dashboard import (Postgres, Recorder, Web, alert_record, history_config,  # noqa: E402
                       percentile_cont, run_states, wait_count)
from harness import DevBroker, HeraldTestCase, LogDir, wait_until  # noqa: E402

import prowjob  # noqa: E402

NODE_DIR = os.path.join(harness.REPO, "tests", "node")
CHECK = os.path.join(NODE_DIR, "dashboard-check.mjs")
CHROMIUM = "/usr/bin/chromium"
SCRIPT_JOB = '<script>alert("herald")</script>'
HOUR = 3600
DAY = 86400
RED = "rgb(207, 34, 46)"      # .st-failed
ORANGE = "rgb(188, 76, 0)"    # .st-blocked
PURPLE = "rgb(130, 80, 223)"  # .st-stale


def have_browser():
    return (os.access(CHROMIUM, os.X_OK) and
            os.path.isdir(os.path.join(NODE_DIR, "node_modules", "playwright-core")))


def release(svc, version, t, post="success", olm="success", chart="success", seq=0):
    """The tag-triggered runs of one release (each: pending, final); chart None = never
    ran. Returns the documents."""
    repo = svc + "-controller"
    sha = prowjob.fake_sha(svc, version)
    docs = []
    docs += run_states(svc + "-post-submit", "postsubmit", repo, post, t, t + 900, seq=seq,
                       base_ref=version, base_sha=sha)
    docs += run_states(svc + "-controller-olm-bundle-pr", "postsubmit", repo, olm, t + 2,
                       t + 500, seq=seq + 1, base_ref=version, base_sha=sha)
    if chart:
        docs += run_states("update-ack-chart", "postsubmit", repo, chart, t + 1, t + 1200,
                           seq=seq + 2, base_ref=version, base_sha=sha)
    return docs


def fixture(t_end):
    """The history: (documents, alert record lines, pipeline MTTDs in ms). t_end (epoch
    s) is the newest completion."""
    docs = []
    # Releases: lambda v1.6.0 fails at post-submit and then at the chart update; s3 ok;
    # rds v1.5.1 (after an older, complete v1.5.0) never ran its chart update.
    docs += release("lambda", "v1.6.0", t_end - 8 * HOUR, post="failure", chart="failure",
                    seq=10)
    docs += release("s3", "v1.2.1", t_end - 5 * HOUR, seq=20)
    docs += release("rds", "v1.5.0", t_end - 2 * DAY, seq=30)
    docs += release("rds", "v1.5.1", t_end - 4 * HOUR, chart=None, seq=40)
    # Periodics: upgrade-go-version fails once on each of five days; periodic-stale on
    # two; scan-controllers-cve once (a flip between passes).
    for k in range(7):
        start = t_end - k * DAY - 2 * HOUR
        docs += run_states("upgrade-go-version", "periodic", "test-infra",
                           "failure" if 1 <= k <= 5 else "success", start, start + 200,
                           seq=100 + k)
        docs += run_states("periodic-stale", "periodic", "test-infra",
                           "error" if k in (2, 4) else "success", start + 60, start + 160,
                           seq=200 + k, description="Pod pending timeout." if k in (2, 4)
                           else None)
        docs += run_states("scan-controllers-cve", "periodic", "test-infra",
                           "failure" if k == 3 else "success", start + 120, start + 800,
                           seq=300 + k)
        docs += run_states(SCRIPT_JOB, "periodic", "test-infra", "success", start + 30,
                           start + 90, seq=400 + k)
    # Interventions: a /retest and a /test on the same pull SHA.
    pull = [{"number": 612, "author": "octocat", "sha": "f" * 40, "title": "Add tags"}]
    docs += run_states("ec2-unit-test", "presubmit", "ec2-controller", "failure",
                       t_end - 6 * HOUR, t_end - 6 * HOUR + 300, seq=500, pulls=pull)
    docs += run_states("ec2-unit-test", "presubmit", "ec2-controller", "success",
                       t_end - 5 * HOUR, t_end - 5 * HOUR + 300, seq=501, pulls=pull,
                       labels={"prow.k8s.io/retest": "true"})
    docs += run_states("ec2-unit-test", "presubmit", "ec2-controller", "success",
                       t_end - 4 * HOUR, t_end - 4 * HOUR + 300, seq=502, pulls=pull)
    # The alerts Slack accepted (as the consumers publish them, contracts §2): detection
    # delays of 90, 45, 120 and 30 s; the lambda alert went to two receivers.
    lam = t_end - 8 * HOUR + 900
    delays = []
    alerts = []
    for i, (ev_s, delay, job, svc, receivers, extra) in enumerate([
            (lam, 90, "lambda-post-submit", "lambda", ("releases", "lambda"),
             {"version": "v1.6.0", "stage": "post-submit",
              "incident": "rel:lambda|v1.6.0", "slack_ts": "1764583201.000100"}),
            (t_end - DAY - 2 * HOUR + 200, 45, "upgrade-go-version", "test-infra", ("infra",),
             {"stage": "maintenance"}),
            (t_end - 3 * DAY - 2 * HOUR + 800, 120, "scan-controllers-cve", "test-infra",
             ("infra",), {"stage": "maintenance"}),
            (t_end - 6 * HOUR + 300, 30, "ec2-unit-test", "ec2", ("ci",), {"stage": "unit"})]):
        delays.append(delay * 1000)
        for rcv in receivers:
            alerts.append(alert_record("fx-%d" % i, ev_s * 1000, ev_s * 1000 + delay * 1000,
                                       receiver=rcv, job=job, service=svc,
                                       first_failure_ms=ev_s * 1000,
                                       org=prowjob.ORG, **extra))
    # A reminder is not a detection: it must not count.
    alerts.append(alert_record("fx-reminder", lam * 1000, lam * 1000 + 3600 * 1000,
                               receiver="releases", kind="reminder", job="lambda-post-submit",
                               service="lambda", version="v1.6.0",
                               incident="rel:lambda|v1.6.0"))
    return docs, alerts, delays


@unittest.skipUnless(have_browser(), "needs /usr/bin/chromium and tests/node/node_modules "
                     "(make deps installs both)")
class DashboardBrowserTest(unittest.TestCase):
    """One history, one recorder and herald-web for the class; each test reads pages."""

    @classmethod
    def setUpClass(cls):
        cls.logs = LogDir(cls.__name__)
        cls.procs = []
        cls.failed = False
        try:
            cls.pg = Postgres(cls.logs)
            cls.procs.append(cls.pg)
            cls.broker = DevBroker(cls.logs, topics=("herald.events:4", "herald.alerts:2"))
            cls.procs.append(cls.broker)
            cls.cfg = history_config(cls.broker, cls.pg, "rec-dashboard")
            cls.recorder = Recorder(cls.logs, cls.cfg)
            cls.procs.append(cls.recorder)
            cls.t_end = harness.base_time()
            docs, alerts, cls.delays = fixture(cls.t_end)
            cls.nruns = len(docs) // 2
            for args in ((docs, False, ()), (alerts, True, ("-t", "herald.alerts"))):
                rc, out, err = harness.run_producer(cls.logs, cls.broker.bootstrap,
                                                    docs=args[0], raw=args[1], extra=args[2])
                if rc != 0:
                    raise harness.HarnessError("producer: %s %s" % (out, err))
            wait_count(cls.pg, "runs", cls.nruns, watch=[cls.recorder.proc])
            wait_count(cls.pg, "alerts", len(alerts), watch=[cls.recorder.proc])
            cls.web = Web(cls.logs, cls.cfg)
            cls.procs.append(cls.web)
            # The trends rollups are refreshed after the writes (history.refresh 200ms).
            wait_until(lambda: cls.web.json("/api/trends?days=7")["failing"], 20,
                       what="the trends rollups")
            cls.out = dashboard.output_dir("dashboard")
            cls.report = cls.browse()
        except Exception:
            cls.tearDownClass(failed=True)
            raise

    @classmethod
    def browse(cls):
        plan = {"visits": [
            {"name": "board", "path": "/", "kind": "board"},
            {"name": "release-lambda", "path": "/release/lambda/v1.6.0", "kind": "release"},
            {"name": "trends-7d", "path": "/trends?days=7", "kind": "trends"},
            {"name": "trends-30d", "path": "/trends?days=30", "kind": "trends"},
            {"name": "outcomes", "path": "/outcomes", "kind": "outcomes"},
            {"name": "job-script", "path": "/job/%s/test-infra/%s" % (
                prowjob.ORG, urlquote(SCRIPT_JOB)), "kind": "job"},
            {"name": "job-periodic", "path": "/job/%s/test-infra/upgrade-go-version"
             % prowjob.ORG, "kind": "job"},
            {"name": "404-service", "path": "/release/nosuchservice/v1.0.0", "kind": "error"},
            {"name": "404-version", "path": "/release/lambda/v9.9.9", "kind": "error"},
            {"name": "400-days", "path": "/trends?days=8", "kind": "error"},
            {"name": "400-unknown", "path": "/?colour=red", "kind": "error"},
            {"name": "400-state", "path": "/?state=%3Cb%3E", "kind": "error"},
        ], "live": {"path": "/", "selector": 'tr.release[data-service="sqs"]'}}
        errf = open(cls.logs.file("browser.err"), "wb")
        p = subprocess.Popen(["node", CHECK, cls.web.base, cls.out], cwd=NODE_DIR,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf,
                             text=True)
        try:
            p.stdin.write(json.dumps(plan) + "\n")
            p.stdin.flush()
            line = p.stdout.readline()
            if line.strip() != "LIVE-READY":
                raise harness.HarnessError("browser: %r (see browser.err)" % line)
            # A new release arrives while the board is open.
            new = release("sqs", "v1.0.0", cls.t_end - 600, seq=900)
            rc, out, err = harness.run_producer(cls.logs, cls.broker.bootstrap, docs=new)
            if rc != 0:
                raise harness.HarnessError("producer: %s" % err)
            p.stdin.write("go\n")
            p.stdin.flush()
            out, _ = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout, errf):
                try:
                    f.close()
                except (OSError, ValueError):
                    pass
        if p.returncode != 0:
            raise harness.HarnessError("browser exited %s (see browser.err)" % p.returncode)
        return json.loads(out.strip().splitlines()[-1])

    @classmethod
    def tearDownClass(cls, failed=False):
        for proc in reversed(getattr(cls, "procs", [])):
            try:
                proc.stop()
            except Exception as e:  # noqa: BLE001
                sys.stderr.write("[dashboard] stopping %r: %r\n" % (proc, e))
        cls.procs = []
        if failed or cls.failed:
            cls.logs.dump()
        else:
            cls.logs.remove()

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            type(self).failed = True
        return out

    def visit(self, name):
        return self.report["visits"][name]

    # ---- the board --------------------------------------------------------------------

    def test_board_shows_the_failed_post_submit_red_and_the_chart_update_blocked(self):
        board = self.visit("board")
        self.assertEqual(board["status"], 200)
        rows = {(r["service"], r["version"]): r for r in board["rows"]}
        lam = rows[("lambda", "v1.6.0")]
        cells = {c["stage"]: c for c in lam["cells"]}
        self.assertEqual(cells["post-submit"]["state"], "failed")
        self.assertEqual(cells["post-submit"]["color"], RED)
        self.assertIn("lambda-post-submit", cells["post-submit"]["text"])
        self.assertEqual(cells["chart-update"]["state"], "blocked")
        self.assertEqual(cells["chart-update"]["color"], ORANGE)
        self.assertEqual(cells["olm-bundle"]["state"], "succeeded")
        self.assertEqual(lam["status"], "failed")
        # rds: its newest release never ran the chart update: stale; the older one,
        # complete, is not shown.
        rds = {c["stage"]: c for c in rows[("rds", "v1.5.1")]["cells"]}
        self.assertEqual(rds["chart-update"]["state"], "stale")
        self.assertEqual(rds["chart-update"]["color"], PURPLE)
        self.assertNotIn(("rds", "v1.5.0"), rows)
        # What needs attention first: failed, then stale, then the rest.
        order = [r["service"] for r in board["rows"]]
        self.assertEqual(order[:2], ["lambda", "rds"], order)
        self.assertEqual(self.report["requests_elsewhere"], [])
        # The 404 and 400 pages visited make the browser log their status; nothing else.
        self.assertEqual([e for e in self.report["console_errors"]
                          if "status of 404" not in e and "status of 400" not in e], [])

    def test_board_updates_itself(self):
        live = self.report["live"]
        self.assertTrue(live["appeared"])
        self.assertFalse(live["reloaded"], "the page was reloaded instead of updated")

    def test_board_filters(self):
        st, body = self.web.get("/api/board?state=blocked")
        self.assertEqual(st, 200)
        got = json.loads(body)
        self.assertEqual([s["service"] for s in got["services"]], ["lambda"])
        got = self.web.json("/api/board?service=r*&stage=chart-update")
        self.assertEqual([s["service"] for s in got["services"]], ["rds"])
        self.assertEqual([c["stage"] for c in got["services"][0]["releases"][0]["cells"]],
                         ["chart-update"])

    # ---- the release page -------------------------------------------------------------

    def test_release_graph_has_the_dag_nodes_and_edges(self):
        rel = self.visit("release-lambda")
        self.assertEqual(rel["status"], 200)
        nodes = {n["stage"]: n for n in rel["nodes"]}
        self.assertEqual(list(nodes), ["post-submit", "olm-bundle", "chart-update"])
        self.assertEqual(nodes["post-submit"]["state"], "failed")
        self.assertEqual(nodes["post-submit"]["fill"], "#cf222e")
        self.assertEqual(nodes["chart-update"]["state"], "blocked")
        self.assertEqual(nodes["olm-bundle"]["state"], "succeeded")
        self.assertEqual(rel["edges"], [{"from": "post-submit", "to": "chart-update"}])
        # DAG order: chart-update is drawn to the right of what it waits for.
        self.assertGreater(nodes["chart-update"]["box"][0], nodes["post-submit"]["box"][0])
        self.assertEqual(rel["timeline"], 3)
        # The alerts about the release, with their Slack link where there is a ts.
        self.assertEqual(sorted(a["kind"] for a in rel["alerts"]),
                         ["failure", "failure", "reminder"])
        self.assertIn("https://ack.slack.example/archives/releases/p1764583201000100",
                      [a["slack"] for a in rel["alerts"]])

    # ---- trends -----------------------------------------------------------------------

    def test_trends_rank_the_periodic_that_failed_five_days_first(self):
        for name in ("trends-7d", "trends-30d"):
            t = self.visit(name)
            self.assertEqual(t["status"], 200)
            first = t["failing"][0]
            self.assertEqual(first["job"], "upgrade-go-version", t["failing"][:3])
            self.assertEqual(first["cells"][4:6], ["5", "5"])  # failures, days failing
        t = self.visit("trends-7d")
        self.assertIn("infrastructure: pod pending timeout\t2\t0",
                      [c.lower() for c in t["causes"]])
        self.assertGreater(t["heatmap_cells"], 0)
        # scan-controllers-cve failed once between passes: a flip (TestGrid).
        self.assertIn("scan-controllers-cve", t["flaky"])
        api = self.web.json("/api/trends?days=7")
        self.assertEqual(api["failing"][0]["fail_days"], 5)

    # ---- outcomes ---------------------------------------------------------------------

    def test_outcomes_mttd_is_what_the_alert_records_say(self):
        o = self.visit("outcomes")
        self.assertEqual(o["status"], 200)
        want = percentile_cont(self.delays, 0.5)
        self.assertEqual(o["mttd_pipeline_p50_ms"], want)
        self.assertEqual(o["plots"], 5)
        api = self.web.json("/api/outcomes")
        self.assertEqual(api["totals"]["mttd_pipeline"]["n"], len(self.delays))
        self.assertEqual(api["totals"]["mttd_pipeline"]["p90_ms"],
                         percentile_cont(self.delays, 0.9))
        iv = api["totals"]["interventions"]
        self.assertEqual((iv["retest"], iv["test"]), (1, 1))
        rel = api["totals"]["releases"]
        # s3, rds v1.5.0 and sqs (published during the live test) succeeded; lambda
        # failed and its 6 h are over; rds v1.5.1 lacks its chart update but is still
        # inside its window: pending, not counted.
        self.assertEqual((rel["n"], rel["succeeded"], rel["first_pass"], rel["pending"]),
                         (4, 3, 3, 1), rel)

    # ---- bad input --------------------------------------------------------------------

    def test_unknown_release_is_a_404_page(self):
        for name in ("404-service", "404-version"):
            v = self.visit(name)
            self.assertEqual(v["status"], 404, name)
            self.assertIn("404", v["h1"])
            self.assertIn("no release", v["text"])

    def test_bad_query_parameters_are_400(self):
        self.assertEqual(self.visit("400-days")["status"], 400)
        self.assertIn("days: expected 7 or 30", self.visit("400-days")["text"])
        self.assertIn('unknown query parameter "colour"', self.visit("400-unknown")["text"])
        self.assertEqual(self.visit("400-state")["status"], 400)
        for path in ("/api/job/a/b/c?limit=0", "/api/job/a/b/c?limit=x",
                     "/api/outcomes?weeks=53", "/api/board?service=a%20b",
                     "/api/board?stage=nope", "/release/lambda", "/nope"):
            st, body = self.web.get(path)
            self.assertIn(st, (400, 404), path)
            if path.startswith("/api/"):
                self.assertIn("error", json.loads(body), path)

    def test_a_job_named_script_stays_text(self):
        j = self.visit("job-script")
        self.assertEqual(j["status"], 200)
        self.assertEqual(j["h1"], SCRIPT_JOB)
        self.assertEqual(self.report["dialogs"], [])
        self.assertFalse([s for s in j["scripts"] if "herald" in s], j["scripts"])
        self.assertEqual(j["runs"], 7)
        # The Deck link carries the name percent-encoded, not as markup.
        self.assertEqual(j["deck"], "https://prow.ack.example/?job=" + urlquote(SCRIPT_JOB))
        st, body = self.web.get("/trends?days=30")
        self.assertNotIn(b"<script>alert", body)

    def test_screenshots_are_written(self):
        for name in ("board", "release-lambda", "trends-7d", "outcomes", "job-script",
                     "404-service", "board-live"):
            path = os.path.join(self.out, name + ".png")
            self.assertTrue(os.path.getsize(path) > 1000, path)
            self.assertGreater(os.path.getmtime(path), time.time() - 600, path)


def consumer_publishes_alert_records(logs, cfg):
    """true if this herald-consumer knows kafka.alerts_topic (contracts §2)."""
    path = dashboard.write_config(logs, cfg, "check")
    p = subprocess.run([harness.binary("herald-consumer"), "--check-config", path],
                       capture_output=True, text=True, timeout=30)
    return p.returncode == 0


class OutcomesFromTheReceiverTest(HeraldTestCase):
    """The whole pipeline: producer -> consumer -> herald-slackd, the consumer's alert
    records -> recorder -> PostgreSQL -> herald-web. The pipeline MTTD on /outcomes must
    be what herald-slackd's received timestamps say (within the second the receiver's
    clock reads before the consumer's does)."""

    def start_broker(self, **kw):
        kw.setdefault("topics", ("herald.events:4", "herald.dead-letter:1", "herald.alerts:2"))
        return super().start_broker(**kw)

    def test_mttd_on_the_page_is_what_the_receiver_saw(self):
        cfg = self.config()
        cfg["kafka"]["alerts_topic"] = "herald.alerts"
        if not consumer_publishes_alert_records(self.logs, cfg):
            self.skipTest("herald-consumer does not publish alert records yet "
                          "(kafka.alerts_topic, contracts §2): the lead adds them")
        pg = Postgres(self.logs)
        self.addCleanup(pg.stop)
        hist = history_config(self.broker, pg, "rec-" + self.group)
        consumer = self.start_consumer(cfg)
        consumer.wait_assigned()
        rec = Recorder(self.logs, hist)
        self.addCleanup(rec.stop)
        web = Web(self.logs, hist)
        self.addCleanup(web.stop)
        now = int(time.time())
        jobs = ["s3-unit-test", "ec2-unit-test", "iam-unit-test", "sns-unit-test"]
        completion = {}
        docs = []
        for i, job in enumerate(jobs):
            end = now - 5 + i
            completion[job] = end * 1000
            docs.append(harness.finished_run(job, job.split("-")[0] + "-controller", end,
                                             type="presubmit", seq=i))
        self.produce(docs=docs)
        msgs = self.wait_for(len(jobs), timeout=30)
        received = {}
        for m in msgs:
            text = harness.payload_text(m)
            for job in jobs:
                if job in text and job not in received:
                    received[job] = m["received_ms"]
        self.assertEqual(sorted(received), sorted(jobs))
        want = percentile_cont([received[j] - completion[j] for j in jobs], 0.5)
        wait_count(pg, "alerts", len(jobs), watch=[rec.proc])
        st, body = web.get("/outcomes")
        self.assertEqual(st, 200)
        got = float(re.search(rb'id="mttd-pipeline-p50-ms" data-ms="(\d+)"', body).group(1))
        self.assertLessEqual(abs(got - want), 1000, "page %s ms, receiver %s ms" % (got, want))


class SlackLinksToTheDashboardTest(HeraldTestCase):
    """With web.public_url set, a release alert links to its release graph and a job's
    alert to the job's history, and herald-web serves both pages from what the recorder
    wrote."""

    def start_broker(self, **kw):
        kw.setdefault("topics", ("herald.events:4", "herald.dead-letter:1", "herald.alerts:2"))
        return super().start_broker(**kw)

    def test_the_links_in_slack_open_the_release_and_the_job(self):
        pg = Postgres(self.logs)
        self.addCleanup(pg.stop)
        hist = history_config(self.broker, pg, "rec-" + self.group)
        rec = Recorder(self.logs, hist)
        self.addCleanup(rec.stop)
        web = Web(self.logs, hist)
        self.addCleanup(web.stop)
        cfg = self.config(web={"public_url": web.base + "/"},
                          release={"hold": "0s", "stall_timeout": "0s"})
        cfg["kafka"]["alerts_topic"] = "herald.alerts"
        consumer = self.start_consumer(cfg)
        consumer.wait_assigned()
        now = int(time.time())
        release = harness.finished_run("lambda-post-submit", "lambda-controller", now - 5,
                                       base_ref="v1.6.0", seq=1)
        job = "s3 unit/test"  # a name that needs percent-encoding in a path
        pre = harness.finished_run(job, "s3-controller", now - 4, type="presubmit", seq=2)
        self.produce(docs=[release, pre])
        msgs = self.wait_for(2, timeout=30)
        links = {}
        for m in msgs:
            for url in re.findall(r"<(" + re.escape(web.base) + r"[^|>]*)\|On the dashboard>",
                                  json.dumps(m["payload"])):
                links.setdefault(url, m)
        want_release = web.base + "/release/lambda/v1.6.0"
        want_job = web.base + "/job/aws-controllers-k8s/s3-controller/s3%20unit%2Ftest"
        self.assertEqual(sorted(links), sorted([want_release, want_job]),
                         [harness.payload_text(m) for m in msgs])
        wait_count(pg, "alerts", 2, watch=[rec.proc])
        st, body = web.get(want_release[len(web.base):])
        self.assertEqual(st, 200, body[:300])
        self.assertIn(b"lambda-post-submit", body)
        st, body = web.get(want_job[len(web.base):])
        self.assertEqual(st, 200, body[:300])
        self.assertIn(b"s3 unit/test", body)


def urlquote(s):
    import urllib.parse
    return urllib.parse.quote(s, safe="")


if __name__ == "__main__":
    unittest.main()
