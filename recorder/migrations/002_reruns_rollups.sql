-- 002_reruns_rollups: human interventions (rerun_of, intervention), the releases
-- table, and the rollups behind /trends (docs/schema.md). Existing rows are backfilled.

-- Which runs are the same work run again: presubmits on the same pull SHA,
-- postsubmits on the same base_ref and base_sha, periodics of the same job.
ALTER TABLE runs ADD COLUMN rerun_key text GENERATED ALWAYS AS (
    CASE WHEN type IN ('presubmit', 'batch') THEN
             CASE WHEN pull_sha IS NOT NULL
                  THEN job || '|' || org || '/' || repo || '|' || pull_sha END
         WHEN type = 'postsubmit' THEN
             CASE WHEN base_sha IS NOT NULL
                  THEN job || '|' || org || '/' || repo || '|' || coalesce(base_ref, '')
                       || '|' || base_sha END
         ELSE job || '|' || org || '/' || repo
    END) STORED;
ALTER TABLE runs ADD COLUMN rerun_of text;       -- run_key of the run this one repeats
ALTER TABLE runs ADD COLUMN intervention text;   -- rerun | retest | test, or NULL
CREATE INDEX runs_rerun ON runs (rerun_key, start_ms, run_key);
CREATE INDEX runs_intervention ON runs (start_ms) WHERE intervention IS NOT NULL;
CREATE INDEX runs_failed_end ON runs (end_ms) WHERE state IN ('failure', 'error');

-- What a run with rerun predecessor `prev` (or none) is, from its labels and type:
-- /retest (label prow.k8s.io/retest), a rerun from Deck (label prow.k8s.io/re-run),
-- /test (a presubmit run again on the same pull SHA), a manual rerun (a postsubmit run
-- again on the same base after a failure).
CREATE FUNCTION herald_intervention(labels jsonb, type text, prev_key text,
                                    prev_state text)
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE
        WHEN labels->>'prow.k8s.io/retest' = 'true' THEN 'retest'
        WHEN labels ? 'prow.k8s.io/re-run' THEN 'rerun'
        WHEN prev_key IS NULL THEN NULL
        WHEN type IN ('presubmit', 'batch') THEN 'test'
        WHEN type = 'postsubmit' AND prev_state IN ('failure', 'error') THEN 'rerun'
    END
$fn$;

-- Recompute rerun_of and intervention for the runs `keys` and for the run after each
-- of them with the same rerun_key (a late predecessor changes its successor).
CREATE FUNCTION herald_link(keys text[]) RETURNS integer LANGUAGE sql AS $fn$
    WITH t AS (
        SELECT run_key FROM runs WHERE run_key = ANY(keys)
        UNION
        SELECT n.run_key FROM runs b
        CROSS JOIN LATERAL (
            SELECT q.run_key FROM runs q
            WHERE q.rerun_key = b.rerun_key AND (q.start_ms, q.run_key) > (b.start_ms, b.run_key)
            ORDER BY q.start_ms, q.run_key LIMIT 1) n
        WHERE b.run_key = ANY(keys) AND b.rerun_key IS NOT NULL),
    k AS (
        SELECT r.run_key, herald_intervention(r.labels, r.type, p.run_key, p.state) AS kind,
               p.run_key AS prev_key
        FROM t JOIN runs r USING (run_key)
        LEFT JOIN LATERAL (
            SELECT q.run_key, q.state FROM runs q
            WHERE r.rerun_key IS NOT NULL AND q.rerun_key = r.rerun_key
              AND (q.start_ms, q.run_key) < (r.start_ms, r.run_key)
            ORDER BY q.start_ms DESC, q.run_key DESC LIMIT 1) p ON true),
    u AS (
        UPDATE runs r SET intervention = k.kind,
                          rerun_of = CASE WHEN k.kind IS NOT NULL THEN k.prev_key END
        FROM k
        WHERE r.run_key = k.run_key
          AND (r.intervention IS DISTINCT FROM k.kind
               OR r.rerun_of IS DISTINCT FROM CASE WHEN k.kind IS NOT NULL THEN k.prev_key END)
        RETURNING 1)
    SELECT count(*)::integer FROM u
$fn$;

-- Backfill: every run's predecessor at once.
WITH p AS (
    SELECT run_key, labels, type,
           lag(run_key) OVER w AS prev_key, lag(state) OVER w AS prev_state
    FROM runs WHERE rerun_key IS NOT NULL
    WINDOW w AS (PARTITION BY rerun_key ORDER BY start_ms, run_key)),
k AS (SELECT run_key, prev_key, herald_intervention(labels, type, prev_key, prev_state) AS kind
      FROM p)
UPDATE runs r SET intervention = k.kind,
                  rerun_of = CASE WHEN k.kind IS NOT NULL THEN k.prev_key END
FROM k WHERE r.run_key = k.run_key AND k.kind IS NOT NULL;

-- One row per release (service, version): when its first run started and its latest
-- event; the board reads the newest releases of each service from here.
CREATE TABLE releases (
    service  text NOT NULL,
    version  text NOT NULL,
    first_ms bigint NOT NULL,
    last_ms  bigint NOT NULL,
    PRIMARY KEY (service, version)
);
CREATE INDEX releases_service ON releases (service, first_ms DESC);
CREATE INDEX releases_first ON releases (first_ms);
INSERT INTO releases (service, version, first_ms, last_ms)
SELECT service, version, min(start_ms), max(event_ms) FROM runs
WHERE version IS NOT NULL GROUP BY service, version;

-- The write of a batch, as in 001, and then the interventions and releases it touched.
CREATE OR REPLACE FUNCTION herald_ingest(r jsonb, a jsonb)
RETURNS TABLE (runs_written integer, alerts_written integer)
LANGUAGE plpgsql AS $fn$
DECLARE
    nr integer;
    na integer;
    keys text[];
BEGIN
    INSERT INTO runs AS o (run_key, job, type, org, repo, state, state_rank, service, stage,
                           tier, version, base_ref, base_sha, pull_number, pull_sha,
                           build_id, url, description, infra_cause, cause, labels,
                           start_ms, end_ms, event_ms, event_id)
    SELECT DISTINCT ON (x.run_key)
           x.run_key, x.job, x.type, x.org, x.repo, x.state, x.state_rank, x.service,
           x.stage, x.tier, x.version, x.base_ref, x.base_sha, x.pull_number, x.pull_sha,
           x.build_id, x.url, x.description, x.infra_cause, x.cause,
           coalesce(x.labels, '{}'), x.start_ms, x.end_ms, x.event_ms, x.event_id
    FROM jsonb_to_recordset(coalesce(r, '[]')) AS x(
           run_key text, job text, type text, org text, repo text, state text,
           state_rank smallint, service text, stage text, tier text, version text,
           base_ref text, base_sha text, pull_number bigint, pull_sha text, build_id text,
           url text, description text, infra_cause text, cause text, labels jsonb,
           start_ms bigint, end_ms bigint, event_ms bigint, event_id text)
    ORDER BY x.run_key, x.state_rank DESC, x.event_ms DESC, x.event_id DESC
    ON CONFLICT (run_key) DO UPDATE SET
           job = EXCLUDED.job, type = EXCLUDED.type, org = EXCLUDED.org,
           repo = EXCLUDED.repo, state = EXCLUDED.state, state_rank = EXCLUDED.state_rank,
           service = EXCLUDED.service, stage = EXCLUDED.stage, tier = EXCLUDED.tier,
           version = EXCLUDED.version, base_ref = EXCLUDED.base_ref,
           base_sha = EXCLUDED.base_sha, pull_number = EXCLUDED.pull_number,
           pull_sha = EXCLUDED.pull_sha, build_id = EXCLUDED.build_id, url = EXCLUDED.url,
           description = EXCLUDED.description, infra_cause = EXCLUDED.infra_cause,
           cause = EXCLUDED.cause, labels = EXCLUDED.labels, start_ms = EXCLUDED.start_ms,
           end_ms = EXCLUDED.end_ms, event_ms = EXCLUDED.event_ms,
           event_id = EXCLUDED.event_id
    WHERE (EXCLUDED.state_rank, EXCLUDED.event_ms, EXCLUDED.event_id)
          > (o.state_rank, o.event_ms, o.event_id);
    GET DIAGNOSTICS nr = ROW_COUNT;

    -- Interventions are linked when a run ends (a running rerun gets its link then);
    -- the releases of every run of the batch are brought up to date.
    SELECT array_agg(DISTINCT x->>'run_key') INTO keys
    FROM jsonb_array_elements(coalesce(r, '[]')) x;
    IF keys IS NOT NULL THEN
        PERFORM herald_link(array(SELECT DISTINCT x->>'run_key'
                                  FROM jsonb_array_elements(r) x
                                  WHERE (x->>'state_rank')::int = 3));
        INSERT INTO releases AS o (service, version, first_ms, last_ms)
        SELECT q.service, q.version, min(q.start_ms), max(q.event_ms)
        FROM runs q
        WHERE (q.service, q.version) IN (SELECT service, version FROM runs
                                         WHERE run_key = ANY(keys) AND version IS NOT NULL)
        GROUP BY q.service, q.version
        ON CONFLICT (service, version) DO UPDATE SET
            first_ms = EXCLUDED.first_ms, last_ms = EXCLUDED.last_ms
        WHERE (o.first_ms, o.last_ms) IS DISTINCT FROM (EXCLUDED.first_ms, EXCLUDED.last_ms);
    END IF;

    INSERT INTO alerts AS o (alert_id, receiver, kind, channel, incident, service, stage,
                             version, tier, job, org, repo, event_id, build_id, url,
                             event_ms, first_failure_ms, sent_ms, slack_ts, services)
    SELECT DISTINCT ON (x.alert_id, x.receiver)
           x.alert_id, x.receiver, x.kind, x.channel, x.incident, x.service, x.stage,
           x.version, x.tier, x.job, x.org, x.repo, x.event_id, x.build_id, x.url,
           x.event_ms, x.first_failure_ms, x.sent_ms, x.slack_ts, x.services
    FROM jsonb_to_recordset(coalesce(a, '[]')) AS x(
           alert_id text, receiver text, kind text, channel text, incident text,
           service text, stage text, version text, tier text, job text, org text,
           repo text, event_id text, build_id text, url text, event_ms bigint,
           first_failure_ms bigint, sent_ms bigint, slack_ts text, services jsonb)
    ORDER BY x.alert_id, x.receiver, x.sent_ms
    ON CONFLICT (alert_id, receiver) DO UPDATE SET
           kind = EXCLUDED.kind, channel = EXCLUDED.channel, incident = EXCLUDED.incident,
           service = EXCLUDED.service, stage = EXCLUDED.stage, version = EXCLUDED.version,
           tier = EXCLUDED.tier, job = EXCLUDED.job, org = EXCLUDED.org,
           repo = EXCLUDED.repo, event_id = EXCLUDED.event_id,
           build_id = EXCLUDED.build_id, url = EXCLUDED.url, event_ms = EXCLUDED.event_ms,
           first_failure_ms = EXCLUDED.first_failure_ms, sent_ms = EXCLUDED.sent_ms,
           slack_ts = EXCLUDED.slack_ts, services = EXCLUDED.services
    WHERE EXCLUDED.sent_ms < o.sent_ms;
    GET DIAGNOSTICS na = ROW_COUNT;
    RETURN QUERY SELECT nr, na;
END
$fn$;

-- Rollups for /trends, refreshed by the recorder (history.refresh) with
-- REFRESH MATERIALIZED VIEW CONCURRENTLY, so readers never wait. The clock is the
-- newest completion recorded (asof_ms): a replayed month reads as it did live.
--
-- trend_jobs: per job and window (7 and 30 days), this window and the one before:
-- runs, failures (failure + error), days with a failure, and TestGrid's flakiness:
-- flips (a failure right after a pass, whose streak of failures is shorter than 3)
-- over the runs that are not part of a streak of 3 or more failures.
CREATE MATERIALIZED VIEW trend_jobs AS
WITH asof AS (SELECT coalesce(max(end_ms), 0) AS t FROM runs),
r AS (
    SELECT job, org, repo, service, type, end_ms, state IN ('failure', 'error') AS failed
    FROM runs, asof
    WHERE end_ms > asof.t - 60 * 86400000::bigint AND end_ms <= asof.t
      AND state IN ('success', 'failure', 'error')),
s AS (
    SELECT r.*,
           sum(CASE WHEN failed THEN 0 ELSE 1 END) OVER w AS grp,
           lag(failed) OVER w AS prev_failed
    FROM r WINDOW w AS (PARTITION BY job, org, repo ORDER BY end_ms
                        ROWS UNBOUNDED PRECEDING)),
l AS (
    SELECT s.*, count(*) FILTER (WHERE failed)
                    OVER (PARTITION BY job, org, repo, grp) AS streak
    FROM s),
m AS (
    SELECT l.*, d.days, asof.t AS asof_ms,
           l.end_ms > asof.t - d.days * 86400000::bigint AS cur,
           l.end_ms <= asof.t - d.days * 86400000::bigint
             AND l.end_ms > asof.t - 2 * d.days * 86400000::bigint AS prev,
           failed AND prev_failed IS FALSE AND streak < 3 AS flip,
           NOT (failed AND streak >= 3) AS counted
    FROM l, asof, (VALUES (7), (30)) d(days))
SELECT days, job, org, repo, max(service) AS service, max(type) AS type,
       max(asof_ms) AS asof_ms,
       count(*) FILTER (WHERE cur) AS runs,
       count(*) FILTER (WHERE cur AND failed) AS failures,
       count(DISTINCT (end_ms / 86400000)) FILTER (WHERE cur AND failed) AS fail_days,
       count(*) FILTER (WHERE cur AND flip) AS flips,
       count(*) FILTER (WHERE cur AND counted) AS flake_runs,
       count(*) FILTER (WHERE prev) AS prev_runs,
       count(*) FILTER (WHERE prev AND failed) AS prev_failures,
       count(*) FILTER (WHERE prev AND flip) AS prev_flips,
       count(*) FILTER (WHERE prev AND counted) AS prev_flake_runs,
       max(end_ms) FILTER (WHERE cur AND failed) AS last_failure_ms
FROM m WHERE cur OR prev
GROUP BY days, job, org, repo;
CREATE UNIQUE INDEX trend_jobs_key ON trend_jobs (days, job, org, repo);

-- trend_service_days: runs and failures per service and UTC day, the last 30 days.
CREATE MATERIALIZED VIEW trend_service_days AS
WITH asof AS (SELECT coalesce(max(end_ms), 0) AS t FROM runs)
SELECT service, (end_ms / 86400000) AS day, max(asof.t) AS asof_ms, count(*) AS runs,
       count(*) FILTER (WHERE state IN ('failure', 'error')) AS failures
FROM runs, asof
WHERE end_ms > asof.t - 30 * 86400000::bigint AND end_ms <= asof.t
  AND state IN ('success', 'failure', 'error')
GROUP BY service, end_ms / 86400000;
CREATE UNIQUE INDEX trend_service_days_key ON trend_service_days (service, day);

-- trend_causes: failures by cause per window, this window and the one before;
-- infrastructure failures by what classify_infra named ("infrastructure: OOM kill").
CREATE MATERIALIZED VIEW trend_causes AS
WITH asof AS (SELECT coalesce(max(end_ms), 0) AS t FROM runs)
SELECT d.days,
       CASE WHEN r.cause = 'infrastructure' AND r.infra_cause IS NOT NULL
            THEN 'infrastructure: ' || r.infra_cause ELSE coalesce(r.cause, 'other') END AS cause,
       max(asof.t) AS asof_ms,
       count(*) FILTER (WHERE r.end_ms > asof.t - d.days * 86400000::bigint) AS failures,
       count(*) FILTER (WHERE r.end_ms <= asof.t - d.days * 86400000::bigint) AS prev_failures
FROM runs r, asof, (VALUES (7), (30)) d(days)
WHERE r.state IN ('failure', 'error')
  AND r.end_ms > asof.t - 2 * d.days * 86400000::bigint AND r.end_ms <= asof.t
GROUP BY 1, 2;
CREATE UNIQUE INDEX trend_causes_key ON trend_causes (days, cause);
