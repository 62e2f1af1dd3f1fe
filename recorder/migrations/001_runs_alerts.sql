-- 001_runs_alerts: the history's first schema (docs/schema.md).
-- One row per ProwJob run (its latest state), one row per (alert, receiver) that Slack
-- accepted, and herald_ingest(), which writes a batch of both in one call.

CREATE TABLE runs (
    run_key       text PRIMARY KEY,          -- metadata.name, else job:build_id:start_ms
    job           text NOT NULL,
    type          text NOT NULL,             -- presubmit | postsubmit | periodic | batch
    org           text NOT NULL,             -- '-' when the run has no refs
    repo          text NOT NULL,             -- '-' when the run has no refs
    state         text NOT NULL,             -- the latest state seen
    state_rank    smallint NOT NULL,         -- 0 scheduling .. 3 final: states never go back
    service       text NOT NULL,             -- classify_service
    stage         text NOT NULL,             -- classify_stage ("other")
    tier          text NOT NULL,             -- critical | warning | info
    version       text,                      -- the release tag (base_ref) of a release stage
    base_ref      text,
    base_sha      text,
    pull_number   bigint,                    -- first pull of a presubmit or batch
    pull_sha      text,
    build_id      text,
    url           text,                      -- Deck/Spyglass
    description   text,
    infra_cause   text,                      -- classify_infra ("OOM kill"), or NULL
    cause         text,                      -- failures: infrastructure | timeout | test failure | error
    labels        jsonb NOT NULL DEFAULT '{}',
    start_ms      bigint NOT NULL,           -- epoch ms; the event time when unknown
    end_ms        bigint,                    -- completion, epoch ms; NULL while running
    event_ms      bigint NOT NULL,           -- event time of the state recorded
    event_id      text NOT NULL              -- the event recorded (its id)
);
CREATE INDEX runs_end ON runs (end_ms);
CREATE INDEX runs_job ON runs (job, org, repo, start_ms DESC);
CREATE INDEX runs_release ON runs (service, version, stage, start_ms DESC)
    WHERE version IS NOT NULL;

CREATE TABLE alerts (
    alert_id         text NOT NULL,          -- deterministic (contract §2)
    receiver         text NOT NULL,
    kind             text NOT NULL,
    channel          text,
    incident         text,
    service          text,
    stage            text,
    version          text,
    tier             text,
    job              text,
    org              text,
    repo             text,
    event_id         text,
    build_id         text,
    url              text,
    event_ms         bigint,                 -- event time of the run (or timer)
    first_failure_ms bigint,                 -- the incident's first failure
    sent_ms          bigint NOT NULL,        -- Slack accepted it (the earliest delivery)
    slack_ts         text,
    services         jsonb,
    PRIMARY KEY (alert_id, receiver)
);
CREATE INDEX alerts_sent ON alerts (sent_ms);
CREATE INDEX alerts_release ON alerts (service, version);
CREATE INDEX alerts_job ON alerts (job, org, repo);

-- Write one batch: r is a JSON array of runs, a of alerts (docs/schema.md). A run
-- changes only when the new state is later (rank, then event time, then id); an alert
-- keeps its earliest delivery. So a redelivered batch changes nothing.
CREATE FUNCTION herald_ingest(r jsonb, a jsonb)
RETURNS TABLE (runs_written integer, alerts_written integer)
LANGUAGE plpgsql AS $fn$
DECLARE
    nr integer;
    na integer;
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
