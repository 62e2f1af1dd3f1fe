#!/usr/bin/env python3
"""bench_dashboard.py -- the history's two performance figures (docs/dashboard.md).

  1. ingest vs replay: the same replayed history (N job events already on the topic)
     read by herald-consumer (real Redis, Slack-compatible receiver) and, separately,
     by herald-recorder (real PostgreSQL); events per second of each and their ratio
     (recorder / consumer: >= 1 means the recorder keeps up with a replay).
  2. queries at scale: R runs (default one million, a year of a large Prow) in the
     runs table as herald-recorder writes them, the releases table and the trends
     rollups refreshed; then the board's and the trends' JSON fetched K times each by
     a client over HTTP from herald-web: p50, p95, max.

Prints a small table and writes JSON (--out, default bench/out/dashboard.json).
Stdlib only; uses tests/e2e/harness.py to run the real binaries (HERALD_BIN, default
bin/) and tools/pgtmp.py for the database. Bounded: --events (default 20000), --runs,
--requests (default 200). Not part of make test.

    python3 bench/dashboard/bench_dashboard.py
    python3 bench/dashboard/bench_dashboard.py --runs 100000 --events 5000   # quicker
"""

import argparse
import json
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import dashboard  # noqa: E402
import harness  # noqa: E402

# ---- 1. ingest rate vs the consumers' replay rate -------------------------------------


def history(n_events, t0):
    """n_events documents (pending + final of n/2 runs), few failures: a replay in
    which Slack is not the bottleneck."""
    docs, _ = dashboard.many_runs(n_events // 2, t0, failing_every=97)
    return docs


def rate(read, total, timeout):
    """Poll read() (messages handled so far) until it reaches total; events/s measured
    from the first message to the last (start-up and group join left out)."""
    t_first = c_first = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = read()
        now = time.monotonic()
        if c > 0 and t_first is None:
            t_first, c_first = now, c
        if c >= total:
            if now - t_first <= 0:
                return float("inf"), 0.0
            return (total - c_first) / (now - t_first), now - t_first
        time.sleep(0.02)
    raise harness.HarnessError("only %d of %d messages in %ds" % (read(), total, timeout))


def ingest(logs, n_events, batch, reps=3):
    procs = []
    try:
        redis = harness.Redis(logs)
        procs.append(redis)
        slack = harness.SlackReceiver(logs)
        procs.append(slack)
        broker = harness.DevBroker(logs, topics=("herald.events:4", "herald.dead-letter:1",
                                                 "herald.alerts:2"))
        procs.append(broker)
        pg = dashboard.Postgres(logs)
        procs.append(pg)
        docs = history(n_events, harness.base_time() - 3 * 86400)
        rc, out, err = harness.run_producer(logs, broker.bootstrap, docs=docs, timeout=600)
        if rc != 0:
            raise harness.HarnessError("producer: %s" % err[-500:])
        # Alternate consumer and recorder runs (the machine is shared: medians of reps),
        # each a new group reading the whole topic from the start.
        c_rates, r_rates = [], []
        for rep in range(reps):
            cfg = harness.consumer_config(broker, redis, slack, "bench-consumer-%d" % rep,
                                          "bench%d:" % rep)
            cfg["kafka"]["batch_size"] = 500
            consumer = harness.Consumer(logs, cfg, name="consumer-%d" % rep)
            try:
                def consumed():
                    m = consumer.metrics()
                    return (m.sum("herald_events_consumed_total") +
                            m.sum("herald_events_rejected_total"))
                c_rates.append(rate(consumed, len(docs), 600)[0])
            finally:
                consumer.stop()
            pg.reset()
            hist = dashboard.history_config(broker, pg, "bench-recorder-%d" % rep,
                                            history={"refresh": "60s", "batch_size": batch})
            rec = dashboard.Recorder(logs, hist, name="recorder-%d" % rep)
            try:
                r_rates.append(rate(rec.messages, len(docs), 600)[0])
            finally:
                rec.stop()
        runs = pg.count("runs")
        c_med, r_med = sorted(c_rates)[len(c_rates) // 2], sorted(r_rates)[len(r_rates) // 2]
        return {"events": len(docs), "runs_written": runs, "repetitions": reps,
                "batch_size": batch,
                "consumer_events_per_s": round(c_med),
                "consumer_runs_events_per_s": [round(x) for x in c_rates],
                "recorder_events_per_s": round(r_med),
                "recorder_runs_events_per_s": [round(x) for x in r_rates],
                "ratio_recorder_to_consumer": round(r_med / c_med, 2)}
    finally:
        for p in reversed(procs):
            p.stop()


# ---- 2. board and trends at one million runs --------------------------------------------

FILL_SQL = """
-- R runs over the last 365 days before now: 77 services; per service 8 presubmits,
-- its post-submit, olm-bundle and the shared update-ack-chart on each release (one a
-- week per service), and 20 periodics; 93%% success, 5%% failure, 1%% error, 1%% aborted.
INSERT INTO runs (run_key, job, type, org, repo, state, state_rank, service, stage, tier,
                  version, base_ref, base_sha, pull_number, pull_sha, build_id, url,
                  description, infra_cause, cause, labels, start_ms, end_ms, event_ms,
                  event_id)
SELECT 'bench-' || i, j.job, j.type, 'aws-controllers-k8s', j.repo, s.state, 3, j.service,
       j.stage, j.tier, j.version, j.base_ref, md5(j.repo || (i / 50)), j.pull,
       CASE WHEN j.pull IS NOT NULL THEN md5(j.repo || j.pull) END, (2125000000000000000 + i)::text,
       'https://prow.example/view/' || i, s.descr,
       CASE WHEN s.state = 'error' THEN 'pod evicted' END,
       CASE WHEN s.state = 'failure' THEN 'test failure'
            WHEN s.state = 'error' THEN 'infrastructure' END,
       '{}'::jsonb, t.start_ms, t.start_ms + 300000 + (i %% 1200) * 1000,
       t.start_ms + 300000 + (i %% 1200) * 1000, 'bench-' || i || ':' || s.state
FROM generate_series(1, %(runs)d) AS i,
LATERAL (SELECT (%(now)d - (365 * 86400000::bigint) * i / %(runs)d) AS start_ms) t,
LATERAL (SELECT 'svc' || (i %% 77) AS service, (i / 77) %% 40 AS k) v,
LATERAL (SELECT
   CASE WHEN v.k < 28 THEN v.service || '-job-' || (v.k %% 8)
        WHEN v.k = 28 THEN v.service || '-post-submit'
        WHEN v.k = 29 THEN v.service || '-controller-olm-bundle-pr'
        WHEN v.k = 30 THEN 'update-ack-chart'
        ELSE 'periodic-' || (i %% 20) END AS job,
   CASE WHEN v.k < 28 THEN 'presubmit' WHEN v.k <= 30 THEN 'postsubmit'
        ELSE 'periodic' END AS type,
   CASE WHEN v.k > 30 THEN 'test-infra' ELSE v.service || '-controller' END AS repo,
   CASE WHEN v.k > 30 THEN 'test-infra' ELSE v.service END AS service,
   CASE WHEN v.k < 28 THEN 'unit' WHEN v.k = 28 THEN 'post-submit'
        WHEN v.k = 29 THEN 'olm-bundle' WHEN v.k = 30 THEN 'chart-update'
        ELSE 'maintenance' END AS stage,
   CASE WHEN v.k BETWEEN 28 AND 30 THEN 'critical' WHEN v.k > 30 THEN 'warning'
        ELSE 'info' END AS tier,
   CASE WHEN v.k BETWEEN 28 AND 30 THEN 'v1.' || ((%(now)d - t.start_ms) / 604800000) || '.0'
        END AS version,
   CASE WHEN v.k BETWEEN 28 AND 30 THEN 'v1.' || ((%(now)d - t.start_ms) / 604800000) || '.0'
        ELSE 'main' END AS base_ref,
   CASE WHEN v.k < 28 THEN 100 + (i / 400) %% 900 END AS pull) j,
LATERAL (SELECT CASE WHEN i %% 100 < 93 THEN 'success' WHEN i %% 100 < 98 THEN 'failure'
                     WHEN i %% 100 < 99 THEN 'error' ELSE 'aborted' END AS state,
                CASE WHEN i %% 100 < 93 THEN 'Job succeeded.' WHEN i %% 100 < 98 THEN 'Job failed.'
                     WHEN i %% 100 < 99 THEN 'Job pod was evicted by the cluster.'
                     ELSE 'Job aborted.' END AS descr) s;
INSERT INTO releases (service, version, first_ms, last_ms)
SELECT service, version, min(start_ms), max(event_ms) FROM runs
WHERE version IS NOT NULL GROUP BY service, version
ON CONFLICT DO NOTHING;
ANALYZE runs;
ANALYZE releases;
"""


def percentile(v, q):
    v = sorted(v)
    k = max(0, min(len(v) - 1, int(round(q * (len(v) - 1)))))
    return v[k]


def timed_gets(url, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
            if r.status != 200:
                raise harness.HarnessError("%s: %s" % (url, r.status))
        out.append((time.perf_counter() - t) * 1000)
    return out, len(body)


def queries(logs, n_runs, n_requests):
    procs = []
    try:
        pg = dashboard.Postgres(logs)
        procs.append(pg)
        broker = harness.DevBroker(logs, topics=("herald.events:1", "herald.alerts:1"))
        procs.append(broker)
        cfg = dashboard.history_config(broker, pg, "bench-q", history={"refresh": "1h"})
        path = dashboard.write_config(logs, cfg, "migrate")
        import subprocess
        subprocess.run([harness.binary("herald-recorder"), "-c", path, "--migrate-only"],
                       check=True, capture_output=True, timeout=120)
        t = time.monotonic()
        pg.psql(FILL_SQL % {"runs": n_runs, "now": int(time.time() * 1000)}, timeout=3600)
        fill_s = time.monotonic() - t
        t = time.monotonic()
        for v in ("trend_jobs", "trend_service_days", "trend_causes"):
            pg.psql("REFRESH MATERIALIZED VIEW CONCURRENTLY %s" % v, timeout=3600)
        refresh_s = time.monotonic() - t
        runs = pg.count("runs")
        releases = pg.count("releases")
        web = dashboard.Web(logs, cfg)
        procs.append(web)
        result = {"runs": runs, "releases": releases, "fill_seconds": round(fill_s, 1),
                  "rollup_refresh_seconds": round(refresh_s, 2), "requests": n_requests,
                  "endpoints": {}}
        for name, p in (("board", "/api/board"), ("trends_7d", "/api/trends?days=7"),
                        ("trends_30d", "/api/trends?days=30"), ("outcomes", "/api/outcomes"),
                        ("board_page", "/"), ("trends_page", "/trends?days=30")):
            timed_gets(web.base + p, 3)  # warm the caches
            ms, size = timed_gets(web.base + p, n_requests if name != "outcomes" else 20)
            result["endpoints"][name] = {"path": p, "p50_ms": round(percentile(ms, 0.5), 1),
                                         "p95_ms": round(percentile(ms, 0.95), 1),
                                         "max_ms": round(max(ms), 1), "bytes": size,
                                         "n": len(ms)}
        return result
    finally:
        for p in reversed(procs):
            p.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20000, help="replayed events (default 20000)")
    ap.add_argument("--runs", type=int, default=1000000, help="runs in the table (default 1e6)")
    ap.add_argument("--requests", type=int, default=200, help="requests per endpoint")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "dashboard.json"))
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-queries", action="store_true")
    ap.add_argument("--batch", type=int, default=1000, help="history.batch_size")
    args = ap.parse_args(argv)
    logs = harness.LogDir("bench-dashboard")
    ok = False
    try:
        res = {"bench": "dashboard", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": {"cpus": os.cpu_count()}}
        if not args.skip_ingest:
            res["ingest"] = ingest(logs, args.events, args.batch)
        if not args.skip_queries:
            res["queries"] = queries(logs, args.runs, args.requests)
        ok = True
    finally:
        if ok:
            logs.remove()
        else:
            logs.dump()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    print("dashboard benchmark (%d CPUs)" % os.cpu_count())
    if "ingest" in res:
        i = res["ingest"]
        print("  %-34s %10s   %s" % ("replay of %d events" % i["events"], "events/s",
                                      "(median of %d runs: each)" % i["repetitions"]))
        print("  %-34s %10d   %s" % ("herald-consumer (Redis, Slack)", i["consumer_events_per_s"],
                                    i["consumer_runs_events_per_s"]))
        print("  %-34s %10d   %s" % ("herald-recorder (PostgreSQL)", i["recorder_events_per_s"],
                                    i["recorder_runs_events_per_s"]))
        print("  %-34s %10.2f" % ("ratio recorder / consumer", i["ratio_recorder_to_consumer"]))
    q = res.get("queries")
    if not q:
        print("  wrote %s" % os.path.relpath(args.out, REPO))
        return 0
    print("  %d runs, %d releases (filled in %.0f s; rollups refreshed in %.2f s)" % (
        q["runs"], q["releases"], q["fill_seconds"], q["rollup_refresh_seconds"]))
    print("  %-22s %8s %8s %8s %9s" % ("endpoint", "p50 ms", "p95 ms", "max ms", "bytes"))
    for name, e in q["endpoints"].items():
        print("  %-22s %8.1f %8.1f %8.1f %9d" % (e["path"], e["p50_ms"], e["p95_ms"], e["max_ms"],
                                              e["bytes"]))
    print("  wrote %s" % os.path.relpath(args.out, REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
