"""herald-recorder against a real PostgreSQL (initdb + pg_ctl, started here), the
development broker and, for the outage test, the real consumer and Slack receiver:

    idempotence under redelivery (a second group re-reads everything; the same history
    published twice; alert records redelivered), a recorder killed in the middle of a
    batch, the database down for 20 s and back (nothing lost, alerts unaffected),
    migrations from an empty database and from the previous schema version, and bad
    records skipped without losing the good ones.

Run: HERALD_BIN=bin python3 -m unittest tests/e2e/test_recorder.py -v
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dashboard  # noqa: E402
import harness  # noqa: E402
from dashboard import (Postgres, Recorder, alert_record, history_config, many_runs,  # noqa: E402
                       run_states, table_digest, wait_count)
from harness import HeraldTestCase, wait_until  # noqa: E402

import prowjob  # noqa: E402

TOPICS = ("herald.events:4", "herald.dead-letter:1", "herald.alerts:2")


class RecorderTest(HeraldTestCase):
    """Redis, slackd and PostgreSQL per class; a fresh broker, groups and an empty
    database per test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.pg = Postgres(cls.class_logs)
        except Exception:
            cls._stop_class_procs()
            cls.class_logs.dump()
            raise
        cls._class_procs.append(cls.pg)

    def setUp(self):
        super().setUp()
        if not self._pg_running():  # a failed outage test may have left it stopped
            self.pg.up()
        self.pg.reset()

    def _pg_running(self):
        try:
            self.pg.psql("SELECT 1")
            return True
        except RuntimeError:
            return False

    def start_broker(self, **kw):
        kw.setdefault("topics", TOPICS)
        return super().start_broker(**kw)

    def history(self, group=None, **overrides):
        return history_config(self.broker, self.pg, group or ("rec-" + self.group), **overrides)

    def start_recorder(self, cfg=None, name="recorder", **kw):
        r = Recorder(self.logs, cfg or self.history(), name=name, **kw)
        self.addCleanup(r.stop)
        self._running.append(r)
        return r

    def publish_alerts(self, lines):
        self.produce(docs=lines, raw=True, extra=("-t", "herald.alerts"))

    def wait_read(self, rec, n, timeout=60):
        """Until the recorder has read n messages (every result counted)."""
        return wait_until(lambda: harness.check_alive([rec.proc]) or rec.messages() >= n,
                          timeout, interval=0.2, what="%s read %d messages" % (rec.name, n))

    # ---- idempotence -------------------------------------------------------------------

    def test_redelivery_changes_nothing(self):
        t0 = harness.base_time()
        docs, finals = many_runs(120, t0)
        alerts = [alert_record("a%d" % i, (t0 + 600 + i) * 1000, (t0 + 700 + i) * 1000,
                               job="s3-unit-test", service="s3") for i in range(10)]
        self.produce(docs=docs)
        self.publish_alerts(alerts)
        rec = self.start_recorder()
        wait_count(self.pg, "runs", len(finals), watch=[rec.proc])
        wait_count(self.pg, "alerts", 10, watch=[rec.proc])
        self.wait_read(rec, len(docs) + len(alerts))
        # Every run is in its final state, with its completion time.
        self.assertEqual(self.pg.count("runs", "state_rank = 3 AND end_ms IS NOT NULL"),
                         len(finals))
        self.assertEqual(self.pg.count("runs", "state = 'failure'"),
                         sum(1 for s in finals.values() if s == "failure"))
        runs0 = table_digest(self.pg, "runs", "run_key")
        alerts0 = table_digest(self.pg, "alerts", "alert_id, receiver")

        # 1. The same history and alert records published again (a replay, a producer
        #    retry), plus alert records delivered again later (sent_ms later).
        self.produce(docs=docs)
        self.publish_alerts(alerts)
        self.publish_alerts([alert_record("a%d" % i, (t0 + 600 + i) * 1000,
                                          (t0 + 900 + i) * 1000, job="s3-unit-test",
                                          service="s3") for i in range(10)])
        self.wait_read(rec, 2 * (len(docs) + len(alerts)) + len(alerts))
        # 2. A second recorder in a new group re-reads the whole topic: every message
        #    is delivered once more.
        rec2 = self.start_recorder(self.history(group="rec2-" + self.group), name="recorder2")
        self.wait_read(rec2, 2 * (len(docs) + len(alerts)) + len(alerts))
        time.sleep(1.0)  # any straggling write would land now
        self.assertEqual(table_digest(self.pg, "runs", "run_key"), runs0)
        self.assertEqual(table_digest(self.pg, "alerts", "alert_id, receiver"), alerts0)
        # the earliest delivery is kept
        self.assertEqual(int(self.pg.scalar("SELECT sent_ms FROM alerts WHERE alert_id = 'a0'")),
                         (t0 + 700) * 1000)

    def test_older_state_never_overwrites_a_newer_one(self):
        t0 = harness.base_time()
        pend, final = run_states("lambda-post-submit", "postsubmit", "lambda-controller",
                                 "failure", t0, t0 + 900, base_ref="v1.6.0")
        self.produce(docs=[final, pend])  # the final state first, then a stale pending
        rec = self.start_recorder()
        self.wait_read(rec, 2)
        wait_count(self.pg, "runs", 1, watch=[rec.proc])
        time.sleep(0.5)
        row = self.pg.scalar("SELECT state || ' ' || end_ms || ' ' || version || ' ' || stage "
                             "FROM runs")
        self.assertEqual(row, "failure %d v1.6.0 post-submit" % ((t0 + 900) * 1000))

    # ---- a recorder killed in the middle of a batch --------------------------------------

    def test_killed_mid_batch_loses_nothing(self):
        t0 = harness.base_time()
        rec = self.start_recorder()  # creates the schema
        # Hold the runs table: the recorder's next batch blocks inside herald_ingest()
        # with its transaction open and its offsets not stored.
        locker = subprocess.Popen(
            [os.path.join(self.pg.pg.bin, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p",
             str(self.pg.port), "-U", "postgres", "-d", "herald", "-c",
             "BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(lambda: locker.poll() is None and os.killpg(locker.pid, signal.SIGKILL))
        wait_until(lambda: self.pg.count("pg_locks l JOIN pg_class c ON c.oid = l.relation",
                                         "c.relname = 'runs' AND l.mode = 'AccessExclusiveLock' "
                                         "AND l.granted") == 1, 10, what="the lock on runs")
        docs, finals = many_runs(80, t0)
        self.produce(docs=docs)
        wait_until(lambda: self.pg.count("pg_stat_activity",
                                         "application_name = 'recorder' AND wait_event_type = "
                                         "'Lock' AND query LIKE '%herald_ingest%'") == 1,
                   30, interval=0.1, what="the recorder blocked in the middle of a batch")
        rec.stop(signal.SIGKILL)
        self.assertEqual(rec.proc.returncode, -signal.SIGKILL)
        # The killed recorder's server session would still commit its statement once
        # the lock is released (nobody told it the client is gone): end it first, as a
        # crash of the database side of the batch would.
        self.pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = 'recorder'")
        self.pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()")
        locker.wait(timeout=10)
        self.assertEqual(self.pg.count("runs"), 0, "nothing of the killed batch committed")
        rec2 = self.start_recorder(name="recorder-restarted")
        wait_count(self.pg, "runs", len(finals), watch=[rec2.proc])
        got = dict(line.split("|") for line in
                   self.pg.psql("SELECT run_key, state FROM runs").split())
        self.assertEqual(got, finals)

    # ---- the database down for 20 s -----------------------------------------------------

    def test_database_down_20s_loses_nothing_and_alerts_go_on(self):
        t0 = harness.base_time()
        consumer = self.start_consumer()
        consumer.wait_assigned()
        rec = self.start_recorder()
        first = [harness.finished_run("s3-post-submit", "s3-controller", t0, base_ref="v1.2.3",
                                      state="success", seq=1)]
        self.produce(docs=first)
        wait_count(self.pg, "runs", 1, watch=[rec.proc])

        self.pg.down()
        down_at = time.monotonic()
        # While the database is away: failures the consumers alert on, and their alert
        # records (published here until the consumers publish them, contracts §2).
        fails = [harness.finished_run(svc + "-post-submit", svc + "-controller", t0 + 60 * i,
                                      base_ref="v1.%d.0" % i, seq=10 + i,
                                      description="Job failed.")
                 for i, svc in enumerate(("iam", "rds", "sns"))]
        more, finals = many_runs(40, t0 + 600)
        self.produce(docs=fails + more)
        msgs = self.wait_for(3, "releases", timeout=15)  # sent with the database down
        self.assertLess(time.monotonic() - down_at, 20, "alerts waited for the database")
        self.publish_alerts([alert_record("down-%d" % i, (t0 + 60 * i) * 1000,
                                          harness_now_ms(), receiver="releases")
                             for i in range(3)])
        self.assertTrue(rec.proc.alive())
        wait_until(lambda: rec.metrics().get_value("herald_recorder_db_up") == 0, 10,
                   what="the recorder noticed the database is down")
        time.sleep(max(0.0, 20 - (time.monotonic() - down_at)))
        self.assertTrue(rec.proc.alive(), "the recorder exited while the database was down")
        self.pg.up()
        wait_count(self.pg, "runs", 1 + 3 + len(finals), timeout=60, watch=[rec.proc])
        wait_count(self.pg, "alerts", 3, watch=[rec.proc])
        self.assertEqual(self.pg.count("runs", "stage = 'post-submit' AND state = 'failure'"), 3)
        log = rec.proc.stderr_text()
        self.assertIn("holding the batch and retrying", log)
        self.assertIn("history database is back", log)
        self.assertNotIn("revoked", log, "the recorder left its group while waiting")
        self.assertEqual(len(self.slack.messages("releases")), 3)
        self.assertEqual(len(msgs), 3)

    # ---- migrations ---------------------------------------------------------------------

    def migrate(self, *extra):
        path = dashboard.write_config(self.logs, self.history(), "migrate")
        return subprocess.run([harness.binary("herald-recorder"), "-c", path, "--migrate-only"]
                              + list(extra), capture_output=True, text=True, timeout=60)

    def test_migration_from_an_empty_database(self):
        rec = self.start_recorder()
        self.assertEqual(self.pg.psql("SELECT version || ' ' || name FROM herald_schema "
                                      "ORDER BY version").split("\n")[:2],
                         ["1 runs_alerts", "2 reruns_rollups"])
        self.assertIn("applied migration 002_reruns_rollups", rec.proc.stderr_text())
        # A second start applies nothing.
        rec.stop()
        rec2 = self.start_recorder(name="recorder2")
        self.assertNotIn("applied migration", rec2.proc.stderr_text())
        self.assertEqual(self.pg.count("herald_schema"), 2)

    def test_migration_from_the_previous_schema_keeps_and_backfills(self):
        p = self.migrate("--migrate-to", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("schema version 1", p.stdout)
        self.assertEqual(self.pg.scalar("SELECT max(version) FROM herald_schema"), "1")
        # Rows written by the version-1 schema (its herald_ingest): a postsubmit that
        # failed and was run again on the same commit, a /retest, a release.
        t0 = harness.base_time() * 1000
        sha = prowjob.fake_sha("lambda", "v1.6.0")

        def row(key, job, type, state, start, **kw):
            r = {"run_key": key, "job": job, "type": type, "org": "aws-controllers-k8s",
                 "repo": "lambda-controller", "state": state, "state_rank": 3,
                 "service": "lambda", "stage": kw.pop("stage", "post-submit"),
                 "tier": "critical", "start_ms": start, "end_ms": start + 60000,
                 "event_ms": start + 60000, "event_id": key + ":" + state, "labels": {}}
            r.update(kw)
            return r
        rows = [row("r1", "lambda-post-submit", "postsubmit", "failure", t0, base_ref="v1.6.0",
                    base_sha=sha, version="v1.6.0"),
                row("r2", "lambda-post-submit", "postsubmit", "success", t0 + 120000,
                    base_ref="v1.6.0", base_sha=sha, version="v1.6.0"),
                row("r3", "lambda-unit-test", "presubmit", "success", t0, stage="unit",
                    pull_number=5, pull_sha="abc", labels={"prow.k8s.io/retest": "true"})]
        self.pg.psql("SELECT * FROM herald_ingest('%s'::jsonb, '[]'::jsonb)"
                     % json.dumps(rows).replace("'", "''"))
        self.assertEqual(self.pg.count("runs"), 3)
        rec = self.start_recorder()
        self.assertIn("applied migration 002_reruns_rollups", rec.proc.stderr_text())
        self.assertNotIn("applied migration 001", rec.proc.stderr_text())
        self.assertEqual(self.pg.count("runs"), 3, "the rows survived the migration")
        self.assertEqual(self.pg.scalar("SELECT intervention || ' ' || rerun_of FROM runs "
                                        "WHERE run_key = 'r2'"), "rerun r1")
        self.assertEqual(self.pg.scalar("SELECT intervention FROM runs WHERE run_key = 'r3'"),
                         "retest")
        self.assertEqual(self.pg.scalar("SELECT first_ms FROM releases "
                                        "WHERE service = 'lambda' AND version = 'v1.6.0'"),
                         str(t0))
        # The new schema takes new events, and links them to the old rows.
        pend, final = run_states("lambda-post-submit", "postsubmit", "lambda-controller",
                                 "success", t0 // 1000 + 600, t0 // 1000 + 900,
                                 base_ref="v1.6.0", base_sha=sha,
                                 labels={"prow.k8s.io/re-run": "2"})
        self.produce(docs=[pend, final])
        wait_count(self.pg, "runs", 4, watch=[rec.proc])
        self.assertEqual(self.pg.scalar("SELECT intervention || ' ' || rerun_of FROM runs "
                                        "WHERE run_key = '%s'" % final["metadata"]["name"]),
                         "rerun r2")

    def test_a_newer_schema_is_refused(self):
        self.assertEqual(self.migrate().returncode, 0)
        self.pg.psql("INSERT INTO herald_schema VALUES (99, 'from_the_future', 0)")
        p = self.migrate()
        self.assertEqual(p.returncode, 1)
        self.assertIn("schema version 99, newer than this binary's 2", p.stderr)

    # ---- bad records ----------------------------------------------------------------------

    def test_watermarks_and_bad_records_are_skipped(self):
        t0 = harness.base_time()
        good = harness.finished_run("s3-post-submit", "s3-controller", t0, base_ref="v1.2.3")
        lines = [json.dumps({"schema": 1, "kind": "watermark", "source": "replay:h:1:2",
                             "watermark_ms": 1, "partitions": 4, "final": False}),
                 '{"schema":1,"id":"x:failure"}',           # no job, type, state
                 "not json at all",
                 json.dumps(good)]
        self.produce(docs=[json.dumps(prowjob_event(good))] + lines[:3], raw=True)
        self.publish_alerts(['{"schema":1,"alert_id":"a"}',   # no receiver, kind, sent_ms
                             '{"schema":2,"alert_id":"a","receiver":"r","kind":"failure",'
                             '"sent_ms":1}',
                             alert_record("ok", t0 * 1000, t0 * 1000 + 5000)])
        rec = self.start_recorder()
        self.wait_read(rec, 7)
        wait_count(self.pg, "runs", 1, watch=[rec.proc])
        wait_count(self.pg, "alerts", 1, watch=[rec.proc])
        m = rec.metrics()
        # the raw one, and the producer's own start and final record on each partition
        # of the topic it wrote (--raw sends them too: docs/events.md): herald.events has
        # 4, herald.alerts 2. Skipped on either topic, never "rejected".
        self.assertEqual(m.sum("herald_recorder_messages_total", result="watermark"),
                         1 + 2 * 4 + 2 * 2)
        self.assertEqual(m.sum("herald_recorder_messages_total", topic="herald.events",
                               result="rejected"), 2)
        self.assertEqual(m.sum("herald_recorder_messages_total", topic="herald.alerts",
                               result="rejected"), 2)
        log = rec.proc.stderr_text()
        self.assertIn("alert: receiver: missing", log)
        self.assertIn("alert: schema: not 1", log)


def harness_now_ms():
    return int(time.time() * 1000)


def prowjob_event(doc):
    """A job event (docs/events.md) for a finished ProwJob, as the producer writes it,
    so that a raw file can mix events with other records."""
    st, spec, md = doc["status"], doc["spec"], doc["metadata"]
    refs = spec.get("refs") or {}
    ev = {"schema": 1, "id": md["name"] + ":" + st["state"], "job": spec["job"],
            "type": spec["type"], "state": st["state"], "build_id": st["build_id"],
            "prowjob": md["name"], "org": refs.get("org"), "repo": refs.get("repo"),
            "base_ref": refs.get("base_ref"), "base_sha": refs.get("base_sha"),
            "url": st["url"], "description": st.get("description"),
            "start_time": st["startTime"], "completion_time": st["completionTime"],
            "event_time": st["completionTime"], "observed_time": st["completionTime"],
            "report": True, "labels": md["labels"], "annotations": {}}
    return {k: v for k, v in ev.items() if v is not None}


if __name__ == "__main__":
    unittest.main()
