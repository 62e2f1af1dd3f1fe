"""dashboard.py -- helpers for the history and dashboard tests (Python 3 stdlib only).

Beside harness.py (whose helpers it uses and does not change): a real PostgreSQL
cluster per test class (tools/pgtmp.py: initdb + pg_ctl on a free loopback port),
herald-recorder and herald-web as processes, and builders for run histories and alert
records whose answers the tests know.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import HarnessError, Process, binary, free_port, http, to_yaml, wait_until  # noqa: E402

import pgtmp  # noqa: E402  (tools/, put on sys.path by harness)
import prowjob  # noqa: E402

ORG = prowjob.ORG
OUTPUT = os.environ.get("HERALD_TEST_OUTPUT") or os.path.join(harness.REPO, "build",
                                                               "test-output")


class Postgres:
    """A throwaway cluster under the log dir; stopped (and removed) by stop()."""

    def __init__(self, logdir, name="postgres"):
        # Its own directory, not the log dir: as root the server runs as the postgres
        # user, who cannot enter the (0700) log dir.
        self.base = tempfile.mkdtemp(prefix="herald-%s-" % name)
        self.logdir = logdir
        try:
            self.pg = pgtmp.start_new(self.base)
        except Exception:
            shutil.rmtree(self.base, ignore_errors=True)
            raise
        self.port = self.pg.port
        self.dsn = self.pg.dsn

    def psql(self, sql, **kw):
        return self.pg.psql(sql, **kw)

    def scalar(self, sql):
        out = self.psql(sql).strip()
        return out.splitlines()[0] if out else None

    def count(self, table, where="true"):
        return int(self.scalar("SELECT count(*) FROM %s WHERE %s" % (table, where)))

    def down(self):
        """Stop the server (fast: connections are cut), keep the data."""
        self.pg.stop("fast")

    def up(self):
        """Start it again on the same port."""
        self.pg.start()

    def stop(self):
        self.pg.stop("immediate")
        try:  # keep the server log with the test's logs
            shutil.copy(self.pg.log, self.logdir.file("postgres.log"))
        except OSError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)

    def reset(self):
        """An empty database (drop everything the recorder created)."""
        self.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")


def history_config(broker, pg, group, **overrides):
    """A config for the recorder and herald-web: kafka and history sections filled in,
    one receiver (the config needs one), the default release DAG."""
    cfg = {
        "kafka": {"brokers": broker.bootstrap, "topic": "herald.events", "batch_wait": "50ms",
                  "properties": {"session.timeout.ms": "6000",
                                 "heartbeat.interval.ms": "500"}},
        "receivers": [{"name": "ci", "type": "webhook", "channel": "#ci",
                       "url": "http://127.0.0.1:9/hooks/ci"}],
        "history": {"dsn": pg.dsn, "group": group, "alerts_topic": "herald.alerts",
                    "listen": "127.0.0.1:%d" % free_port(), "refresh": "200ms",
                    "batch_size": 200},
        "web": {"listen": "127.0.0.1:0", "public_url": "http://dashboard.example",
                "slack_url": "https://ack.slack.example",
                "deck_url": "https://prow.ack.example"},
    }
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = dict(cfg[k], **v)
        else:
            cfg[k] = v
    return cfg


def write_config(logdir, cfg, name):
    path = logdir.file(name + ".yaml")
    with open(path, "w") as f:
        f.write(to_yaml(cfg))
    return path


class Recorder:
    """herald-recorder with its own config file; metrics on history.listen."""

    def __init__(self, logdir, cfg, name="recorder", wait=True):
        self.name = name
        self.cfg = cfg
        self.config_path = write_config(logdir, cfg, name)
        self.http = "http://" + cfg["history"]["listen"]
        self.proc = Process(name, [binary("herald-recorder"), "-c", self.config_path,
                                   "--name", name], logdir,
                            env={"HERALD_LOG_FORMAT": "text"})
        if wait:
            self.wait_member()

    def wait_member(self, timeout=30.0):
        self.proc.wait_line(r"member of group", timeout=timeout, stream="stderr")
        self.proc.wait_line(r"assigned [1-9]", timeout=timeout, stream="stderr")

    def metrics(self):
        st, body = http("GET", self.http + "/metrics", timeout=5)
        if st != 200:
            raise HarnessError("%s /metrics: HTTP %s" % (self.name, st))
        return harness.parse_metrics(body.decode("utf-8", "replace"))

    def messages(self):
        """Messages read so far (every result: recorded, watermark, rejected)."""
        return self.metrics().sum("herald_recorder_messages_total")

    def stop(self, sig=signal.SIGTERM):
        return self.proc.stop(sig)


class Web:
    """herald-web on a free port; .base is its URL."""

    def __init__(self, logdir, cfg, name="web"):
        self.config_path = write_config(logdir, cfg, name)
        self.proc = Process(name, [binary("herald-web"), "-c", self.config_path, "--listen",
                                   "127.0.0.1:0"], logdir)
        try:
            self.base = "http://" + self.proc.wait_line(r"^LISTEN=(\S+)$").group(1)
            wait_until(lambda: http("GET", self.base + "/readyz")[0] == 200, 30,
                       what="herald-web /readyz")
        except Exception:
            self.proc.stop()
            raise

    def get(self, path):
        return http("GET", self.base + path, timeout=10)

    def json(self, path):
        st, body = self.get(path)
        if st != 200:
            raise HarnessError("GET %s: %s %s" % (path, st, body[:300]))
        return json.loads(body)

    def stop(self):
        return self.proc.stop()


# ---- histories whose answers the tests know -----------------------------------------

def run_states(job, type, repo, state, start, completion, seq=0, **kw):
    """The ProwJob documents of one run: pending, then its final state."""
    build = prowjob.snowflake_build_id(start, seq=seq % 4096)
    if type in ("presubmit", "batch") and "pulls" not in kw:
        kw["pulls"] = [{"number": 100 + seq % 900, "author": "octocat", "title": "PR"}]
    pend = prowjob.make_prowjob(job, type, ORG if repo else None, repo, "pending", start,
                                None, build, **kw)
    final = prowjob.make_prowjob(job, type, ORG if repo else None, repo, state, start,
                                 completion, build, **kw)
    return [pend, final]


def many_runs(n, t0, failing_every=7):
    """n runs of a few jobs (pending + final documents each), one every 30 s from t0:
    returns (docs, {run name: final state})."""
    jobs = [("s3-unit-test", "presubmit", "s3-controller"),
            ("ec2-verify-code-gen", "presubmit", "ec2-controller"),
            ("iam-kind-e2e", "presubmit", "iam-controller"),
            ("periodic-close", "periodic", "test-infra")]
    docs, finals = [], {}
    for i in range(n):
        job, type, repo = jobs[i % len(jobs)]
        state = "failure" if i % failing_every == 3 else "success"
        start = t0 + i * 30
        pair = run_states(job, type, repo, state, start, start + 600, seq=i)
        docs += pair
        finals[pair[1]["metadata"]["name"]] = state
    return docs, finals


def alert_record(alert_id, event_ms, sent_ms, receiver="ci", kind="failure", **kw):
    """One alert record as the consumers publish it (contracts §2), compact JSON."""
    rec = {"schema": 1, "alert_id": alert_id, "kind": kind, "receiver": receiver,
           "channel": "#" + receiver, "event_ms": event_ms, "sent_ms": sent_ms}
    rec.update(kw)
    return json.dumps(rec, separators=(",", ":"))


def percentile_cont(values, q):
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    v = sorted(values)
    if not v:
        return None
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def output_dir(name):
    """A folder under the test output folder (kept after the run: screenshots)."""
    path = os.path.join(OUTPUT, name)
    os.makedirs(path, exist_ok=True)
    return path


def wait_count(pg, table, n, timeout=60.0, where="true", watch=()):
    def ok():
        harness.check_alive(watch)
        return pg.count(table, where) == n
    try:
        wait_until(ok, timeout, interval=0.2, what="%d rows in %s where %s" % (n, table, where))
    except HarnessError:
        raise HarnessError("%s: %d rows where %s, wanted %d" % (table, pg.count(table, where),
                                                                  where, n))


def table_digest(pg, table, order):
    """md5 of every row of a table, in order: equal digests = equal contents."""
    return pg.scalar("SELECT md5(coalesce(string_agg(t::text, '\n' ORDER BY %s), '')) "
                     "FROM %s t" % (order, table))


def now_ms():
    return int(time.time() * 1000)
