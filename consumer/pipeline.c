/* pipeline.c -- one batch of Kafka messages through classify -> rules (engine.c, in
 * Redis) -> silences -> route -> storm control -> deliver -> acknowledge, and the
 * periodic tick that sends what the hold, the stall timers and the digests release.
 * All Redis work of a batch is pipelined. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "consumer.h"
#include "engine.h"
#include "event.h"
#include "log.h"
#include "router.h"
#include "send.h"
#include "silence.h"
#include "slack.h"
#include "storm.h"
#include "util.h"

#define TICK_MS 500               /* how often the hold and the digests are checked */
#define SILENCE_REFRESH_MS 1000   /* how long loaded silences are trusted */
#define HOLD_LEASE_MS 60000       /* a released held alert is ours this long */
#define TICK_MAX 100              /* held alerts, stalls per tick */

/* Per-message working state. */
struct work {
    struct event ev;
    bool valid;
    const char *stage;
    enum tier tier;
    const char *infra;      /* infrastructure cause, or NULL */
    char version[128];      /* release version, "" if none */
    const char *silence;    /* id of the silence that matched, or NULL */
    long req;               /* index into the engine requests, or -1 */
    const char *receivers[PIPELINE_MAX_RECEIVERS];
    size_t nreceivers;
};

/* Prow's own switches on the ProwJob: spec.report and reporter_config.slack. */
static bool wants_alert(const struct config *cfg, const struct event *ev, const char **why)
{
    bool in = false;

    for (size_t i = 0; i < cfg->alert_states.n && !in; i++)
        in = strcmp(cfg->alert_states.v[i], ev->state) == 0;
    if (!in) {
        *why = "state does not alert";
        return false;
    }
    if (!ev->report) {
        *why = "spec.report is false";
        return false;
    }
    const cJSON *st = ev->reporter_slack
                          ? cJSON_GetObjectItemCaseSensitive(ev->reporter_slack,
                                                             "job_states_to_report")
                          : NULL;
    if (cJSON_IsArray(st)) {
        const cJSON *s;
        bool listed = false;
        cJSON_ArrayForEach(s, st) listed |= cJSON_IsString(s) && !strcmp(s->valuestring, ev->state);
        if (!listed) {
            *why = "reporter_config.slack.job_states_to_report excludes the state";
            return false;
        }
    }
    if (classify_superseded(ev)) {
        *why = "aborted because a newer run replaced it";
        return false;
    }
    return true;
}

/* What the run means for the job's state: fail, ok, start or skip. */
static const char *event_class(const struct config *cfg, const struct event *ev,
                               const char **why)
{
    *why = NULL;
    if (wants_alert(cfg, ev, why))
        return "fail";
    if (strcmp(ev->state, "success") == 0)
        return "ok";
    if (!strcmp(ev->state, "pending") || !strcmp(ev->state, "triggered") ||
        !strcmp(ev->state, "scheduling"))
        return "start";
    return "skip";
}

/* A release version: a tag-like base ref ("v1.2.3", "1.2.3-rc1"), else "". */
static void release_version(const struct event *ev, char *out, size_t size)
{
    const char *r = ev->base_ref;

    out[0] = '\0';
    if (!r)
        return;
    const char *p = r + (*r == 'v');
    if (*p < '0' || *p > '9')
        return;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.' && p[1] >= '0' && p[1] <= '9')
        snprintf(out, size, "%s", r);
}

/* The stage's ancestors and successors in the release DAG as ",a,b," lists. Returns
 * false if the stage is not in the DAG. */
static bool dag_lists(const struct config *cfg, const char *stage, char *anc, size_t asz,
                      char *succ, size_t ssz)
{
    const char *todo[64];
    size_t ntodo = 0, n = 0;
    bool in = false;

    snprintf(anc, asz, ",");
    snprintf(succ, ssz, ",");
    for (size_t i = 0; i < cfg->nrelease_stages; i++) {
        const struct release_stage *s = &cfg->release_stages[i];
        if (strcmp(s->stage, stage) == 0) {
            in = true;
            for (size_t j = 0; j < s->nafter && ntodo < 64; j++)
                todo[ntodo++] = s->after[j];
        }
        for (size_t j = 0; j < s->nafter; j++)
            if (strcmp(s->after[j], stage) == 0) {
                n = strlen(succ);
                snprintf(succ + n, ssz - n, "%s,", s->stage);
            }
    }
    /* Ancestors: the stages listed before (config order is topological). */
    while (ntodo > 0) {
        const char *a = todo[--ntodo];
        char probe[160];
        snprintf(probe, sizeof(probe), ",%s,", a);
        if (strstr(anc, probe))
            continue;
        n = strlen(anc);
        snprintf(anc + n, asz - n, "%s,", a);
        for (size_t i = 0; i < cfg->nrelease_stages; i++)
            if (strcmp(cfg->release_stages[i].stage, a) == 0)
                for (size_t j = 0; j < cfg->release_stages[i].nafter && ntodo < 64; j++)
                    todo[ntodo++] = cfg->release_stages[i].after[j];
    }
    return in;
}

static bool eco_stage(const struct config *cfg, const char *stage)
{
    if (!cfg->eco_on || strcmp(stage, "other") == 0)
        return false;
    for (size_t i = 0; i < cfg->eco_stages.n; i++)
        if (util_glob_match(cfg->eco_stages.v[i], stage))
            return true;
    return false;
}

/* N for this job: its testgrid-num-failures-to-alert annotation, else the config. */
static int threshold_of(const struct config *cfg, const struct event *ev)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev->annotations,
                                                      "testgrid-num-failures-to-alert");
    long long n;

    if (cJSON_IsString(a) && util_parse_int(a->valuestring, 1, 1000, &n) == 0)
        return (int)n;
    return cfg->failures_to_alert;
}

/* The job's state key: per job, and per pull request for presubmits (a presubmit
 * failing on one PR says nothing about another). */
static int job_key(const struct consumer *c, const struct event *ev, char *out, size_t size)
{
    char id[ENGINE_MAX_KEY - 64];
    int n;

    if (strcmp(ev->type, "presubmit") == 0 && ev->npulls > 0)
        n = snprintf(id, sizeof(id), "%s/%s/%s#%ld", ev->org ? ev->org : "",
                     ev->repo ? ev->repo : "", ev->job, ev->pulls[0].number);
    else
        n = snprintf(id, sizeof(id), "%s/%s/%s", ev->org ? ev->org : "",
                     ev->repo ? ev->repo : "", ev->job);
    if (n < 0 || (size_t)n >= sizeof(id))
        return -1;
    return engine_key(out, size, c->cfg->key_prefix, "job", id);
}

/* Refresh the silences at most once a second; on a Redis error keep the old set. */
static void load_silences(struct consumer *c)
{
    int64_t now = util_mono_ms();
    char err[256];

    if (c->silences_loaded_ms && now - c->silences_loaded_ms < SILENCE_REFRESH_MS)
        return;
    if (silence_load(&c->redis, c->cfg->key_prefix, util_now_ms(), &c->silences, err,
                     sizeof(err)) < 0) {
        log_debug("cannot load silences (%s); using the %zu loaded before", err,
                  c->silences.n);
        return;
    }
    c->silences_loaded_ms = now;
}

/* ---- sending ---- */

void work_note_silence(struct work *w, const char *id)
{
    w->silence = id;
}

void work_note_receiver(struct work *w, const char *name)
{
    if (w->nreceivers < PIPELINE_MAX_RECEIVERS)
        w->receivers[w->nreceivers++] = name;
}

static void send_due(struct consumer *c);
static void send_in_order(struct consumer *c, struct out *outs, size_t n);

/* ---- the event clock ---- */

/* After a batch: how far each of its partitions is read. */
static void note_progress(struct consumer *c, struct batch_item *items, struct work *w,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = items[i].msg;
        struct consumer_part *p;
        if (items[i].skip ||
            !(p = consumer_part(c, rd_kafka_topic_name(m->rkt), m->partition)))
            continue;
        if (m->offset + 1 > p->next_offset)
            p->next_offset = m->offset + 1;
        if (w[i].valid && w[i].ev.event_ms > p->last_ms)
            p->last_ms = w[i].ev.event_ms;
    }
}

void pipeline_report_progress(struct consumer *c)
{
    const char *np[CONSUMER_MAX_PARTS], *vp[CONSUMER_MAX_PARTS];
    char vals[CONSUMER_MAX_PARTS][24], err[256];
    size_t k = 0;

    if (!c->assigned)
        return;
    for (int i = 0; i < c->assigned->cnt && k < CONSUMER_MAX_PARTS; i++) {
        const rd_kafka_topic_partition_t *tp = &c->assigned->elems[i];
        struct consumer_part *p = consumer_part(c, tp->topic, tp->partition);
        int64_t lo = -1, hi = -1;
        if (!p)
            continue;
        rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi);
        /* Behind: messages exist past what we processed (or we know of messages and
         * have read none). Unknown high watermark: not fetched yet, nothing known. */
        bool behind = hi >= 0 && (p->next_offset >= 0 ? p->next_offset < hi : hi > lo);
        if (behind)
            snprintf(vals[k], sizeof(vals[k]), "%" PRId64, p->last_ms);
        else
            snprintf(vals[k], sizeof(vals[k]), "eof");
        np[k] = p->name;
        vp[k] = vals[k];
        k++;
    }
    if (engine_parts(&c->redis, c->cfg->key_prefix, np, vp, k, err, sizeof(err)) < 0)
        log_debug("cannot report partition progress: %s", err);
}

/* ---- a batch ---- */

/* The alert a decision asks for. */
static void alert_from(const struct config *cfg, struct out *o, struct work *w,
                       const struct engine_decision *d, int threshold)
{
    o->w = w;
    o->label = w->ev.id;
    o->f = (struct facts){&w->ev, w->ev.service, w->stage, w->tier};
    o->a = (struct alert){.kind = d->kind,
                          .ev = &w->ev,
                          .service = w->ev.service,
                          .stage = w->stage,
                          .tier = w->tier,
                          .suppressed = d->suppressed,
                          .suppressed_since_ms = d->suppressed_since,
                          .infra_cause = w->infra,
                          .failures = d->failures,
                          .failing_since_ms = d->failing_since,
                          .first_build = d->first_build[0] ? d->first_build : NULL,
                          .threshold = threshold,
                          .version = w->version[0] ? w->version : NULL,
                          .lines = (const char *const *)d->lines,
                          .nlines = d->nlines,
                          .more = d->more,
                          .window_ms = d->kind == ALERT_ECOSYSTEM ? cfg->eco_window_ms : 0,
                          .started_ms = d->started};
    o->ts = d->ts;
}

/* The decision record `heraldctl explain` shows. Returns a new string or NULL. */
static char *explain_json(const struct consumer *c, const struct work *w,
                          const struct engine_decision *d, const char *why)
{
    cJSON *o = cJSON_CreateObject(), *st, *rc;
    char win[48];
    char *s = NULL;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "event", w->ev.id);
    cJSON_AddStringToObject(o, "job", w->ev.job);
    cJSON_AddStringToObject(o, "state", w->ev.state);
    cJSON_AddStringToObject(o, "service", w->ev.service);
    cJSON_AddStringToObject(o, "stage", w->stage);
    cJSON_AddStringToObject(o, "tier", tier_name(w->tier));
    if (w->version[0])
        cJSON_AddStringToObject(o, "version", w->version);
    if (d) {
        cJSON_AddStringToObject(o, "decision", engine_verdict_name(d->verdict));
        cJSON_AddStringToObject(o, "reason", d->verdict == ENGINE_ALERT
                                                 ? alert_kind_name(d->kind) : d->reason);
        cJSON_AddStringToObject(o, "rule", d->detail);
        if ((st = cJSON_AddObjectToObject(o, "job_state"))) {
            cJSON_AddNumberToObject(st, "failures", (double)d->failures);
            if (d->failing_since)
                cJSON_AddNumberToObject(st, "failing_since", (double)d->failing_since);
            if (d->suppressed)
                cJSON_AddNumberToObject(st, "suppressed", (double)d->suppressed);
        }
    } else {
        cJSON_AddStringToObject(o, "decision", "no-alert");
        cJSON_AddStringToObject(o, "reason", "state");
        cJSON_AddStringToObject(o, "rule", why ? why : "not a failure");
    }
    if (w->silence)
        cJSON_AddStringToObject(o, "silence", w->silence);
    util_human_duration(c->cfg->window_ms, win, sizeof(win));
    cJSON_AddStringToObject(o, "window", win);
    if (w->nreceivers && (rc = cJSON_AddArrayToObject(o, "receivers")))
        for (size_t i = 0; i < w->nreceivers; i++)
            cJSON_AddItemToArray(rc, cJSON_CreateString(w->receivers[i]));
    cJSON_AddNumberToObject(o, "decided_at", (double)util_now_ms());
    cJSON_AddStringToObject(o, "consumer", c->name);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void write_explain(struct consumer *c, struct work *w, struct engine_req *reqs,
                          size_t n)
{
    const char **ids = calloc(n + 1, sizeof(*ids));
    char **jsons = calloc(n + 1, sizeof(*jsons));
    size_t k = 0;
    char err[256];

    if (!ids || !jsons)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!w[i].valid)
            continue;
        const struct engine_decision *d = w[i].req >= 0 ? &reqs[w[i].req].d : NULL;
        if ((jsons[k] = explain_json(c, &w[i], d, NULL)))
            ids[k++] = w[i].ev.id;
    }
    if (engine_explain(&c->redis, c->cfg->key_prefix, ids, (const char *const *)jsons, k, err,
                       sizeof(err)) < 0)
        log_warn("cannot keep decision records for heraldctl explain: %s", err);
out:
    for (size_t i = 0; jsons && i < k; i++)
        free(jsons[i]);
    free(ids);
    free(jsons);
}

/* Parse and classify one message into w. Returns false if it was rejected. */
static bool take_message(struct consumer *c, rd_kafka_message_t *m, struct work *w)
{
    const struct config *cfg = c->cfg;
    char err[512], src[256];

    int rc = event_from_json(&w->ev, m->payload, m->len, err, sizeof(err));
    if (rc < 0) {
        const char *reason = event_error_name(rc);
        count(c, "herald_events_rejected_total", "Events that failed validation.", "reason",
              reason, NULL, NULL);
        snprintf(src, sizeof(src), "%s[%" PRId32 "]@%" PRId64, rd_kafka_topic_name(m->rkt),
                 m->partition, m->offset);
        log_warn("rejected event at %s: %s", src, err);
        consumer_dlq(c, reason, err, src, m->key, m->key_len, m->payload, m->len);
        return false;
    }
    count(c, "herald_events_consumed_total", "Valid job events consumed.", "state",
          w->ev.state, NULL, NULL);
    free(w->ev.service); /* the consumer's rules decide, not the producer's */
    if (!(w->ev.service = classify_service(&cfg->classify, &w->ev))) {
        log_error("out of memory classifying %s", w->ev.id);
        event_release(&w->ev);
        return false;
    }
    w->stage = classify_stage(&cfg->classify, &w->ev);
    w->tier = classify_tier(&cfg->classify, &w->ev, w->stage);
    w->infra = classify_infra(&w->ev);
    release_version(&w->ev, w->version, sizeof(w->version));
    w->valid = true;
    return true;
}

/* Fill the engine request for w. Returns 0, or -1 if its key would not fit. */
static int make_req(struct consumer *c, struct work *w, const char *cls, const void *payload,
                    size_t len, struct engine_req *q)
{
    const struct config *cfg = c->cfg;

    memset(q, 0, sizeof(*q));
    if (job_key(c, &w->ev, q->key, sizeof(q->key)) < 0)
        return -1;
    q->event_id = w->ev.id;
    q->cls = cls;
    q->event_ms = w->ev.event_ms;
    q->build = w->ev.build_id;
    q->threshold = threshold_of(cfg, &w->ev);
    q->service = w->ev.service;
    q->stage = w->stage;
    q->version = w->version;
    if (!w->version[0] ||
        !dag_lists(cfg, w->stage, q->anc, sizeof(q->anc), q->succ, sizeof(q->succ))) {
        q->anc[0] = q->succ[0] = '\0';
        q->version = "";
    }
    q->eco = eco_stage(cfg, w->stage);
    struct facts f = {&w->ev, w->ev.service, w->stage, w->tier};
    const struct silence *s = silence_match(&c->silences, &f);
    q->silenced = s != NULL;
    if (s && strcmp(cls, "fail") == 0)
        w->silence = s->id; /* counted for the batch by pipeline_process */
    q->payload = payload;
    q->payload_len = len;
    q->job = w->ev.job;
    q->state = w->ev.state;
    return 0;
}

/* Fail-open: Redis is down and the config prefers duplicates to waiting. */
static void fail_open(struct consumer *c, struct work *w, size_t n)
{
    struct out *outs = calloc(n + 1, sizeof(*outs));
    size_t no = 0;
    const char *why;

    if (!outs)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!w[i].valid || !wants_alert(c->cfg, &w[i].ev, &why))
            continue;
        struct engine_decision d = {.kind = ALERT_FAILURE};
        alert_from(c->cfg, &outs[no++], &w[i], &d, c->cfg->failures_to_alert);
    }
    if (no)
        log_warn("redis unavailable: %zu alerts sent without dedup (fail-open)", no);
    count(c, "herald_fail_open_batches_total", "Batches alerted without dedup.", NULL, NULL,
          NULL, NULL);
    send_alerts(c, outs, no);
    free(outs);
}

int pipeline_process(struct consumer *c, struct batch_item *items, size_t n, bool use_redis)
{
    const struct config *cfg = c->cfg;
    struct work *w = calloc(n ? n : 1, sizeof(*w));
    struct engine_req *reqs = calloc(n ? n : 1, sizeof(*reqs));
    struct out *outs = calloc(n ? n : 1, sizeof(*outs));
    size_t nreq = 0, nout = 0;
    char err[512];
    int rc = 0;

    if (!w || !reqs || !outs) {
        log_error("out of memory for a batch of %zu", n);
        rc = -1;
        goto done;
    }
    if (use_redis)
        load_silences(c);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = items[i].msg;
        const char *why = NULL, *cls;

        w[i].req = -1;
        if (items[i].skip || !take_message(c, m, &w[i]))
            continue;
        cls = event_class(cfg, &w[i].ev, &why);
        if (make_req(c, &w[i], cls, m->payload, m->len, &reqs[nreq]) < 0) {
            log_warn("event %s: job key too long; not tracked", w[i].ev.id);
            continue;
        }
        w[i].req = (long)nreq++;
    }
    if (!use_redis) {
        fail_open(c, w, n);
        goto done;
    }
    {
        const char **sil = calloc(n + 1, sizeof(*sil));
        size_t ns = 0;
        for (size_t i = 0; sil && i < n; i++)
            if (w[i].silence)
                sil[ns++] = w[i].silence;
        count_silences(c, sil, ns);
        free(sil);
    }
    note_progress(c, items, w, n);
    if (engine_decide(&c->redis, cfg->key_prefix, cfg, reqs, nreq, err, sizeof(err)) < 0) {
        atomic_store(&c->redis_ok, 0);
        count(c, "herald_redis_errors_total", "Redis operations that failed.", "op", "decide",
              NULL, NULL);
        log_warn("redis unavailable (%s): holding a batch of %zu events", err, n);
        rc = -1;
        goto done;
    }
    atomic_store(&c->redis_ok, 1);
    for (size_t i = 0; i < n; i++) {
        if (w[i].req < 0)
            continue;
        struct engine_req *q = &reqs[w[i].req];
        struct engine_decision *d = &q->d;
        if (d->verdict == ENGINE_ALERT)
            log_debug("event %s (%s %s): alert: %s: %s", w[i].ev.id, w[i].ev.job,
                      w[i].ev.state, alert_kind_name(d->kind), d->detail);
        else
            log_debug("event %s (%s %s): no alert: %s: %s: %s", w[i].ev.id, w[i].ev.job,
                      w[i].ev.state, engine_verdict_name(d->verdict), d->reason, d->detail);
        switch (d->verdict) {
        case ENGINE_ALERT: {
            struct out *o = &outs[nout++];
            alert_from(cfg, o, &w[i], d, q->threshold);
            o->do_ack = true;
            o->ack.key = q->key;
            o->ack.id = w[i].ev.id;
            o->ack.kind = d->kind;
            if (d->kind == ALERT_FAILURE && q->version[0])
                engine_release_key(o->ack.rel, sizeof(o->ack.rel), cfg->key_prefix,
                                   w[i].ev.service, q->version);
            if (d->kind == ALERT_ECOSYSTEM)
                engine_eco_key(o->ack.eco, sizeof(o->ack.eco), cfg->key_prefix, w[i].stage);
            if (d->kind == ALERT_ECOSYSTEM || d->kind == ALERT_ECO_RECOVERED) {
                o->a.ev = NULL; /* about the stage, not this run */
                o->a.service = "";
            }
            break;
        }
        case ENGINE_SUPPRESS:
            /* "recovered": a success noted on its job's held alert, not a failure */
            if (strcmp(d->reason, "recovered") != 0)
                count_suppressed(c, d->reason);
            break;
        case ENGINE_DUPLICATE:
            if (strcmp(q->cls, "fail") == 0)
                count_suppressed(c, "duplicate");
            break;
        case ENGINE_HELD:
            count(c, "herald_alerts_held_total", "Failure alerts held for related failures.",
                  NULL, NULL, NULL, NULL);
            break;
        case ENGINE_NONE:
            break;
        }
    }
    /* What this batch moved the event clock past goes first: a held failure alert
     * is sent before the recovery decided after it. */
    pipeline_report_progress(c);
    send_due(c);
    send_in_order(c, outs, nout);
    write_explain(c, w, reqs, n);
done:
    for (size_t i = 0; outs && i < nout; i++)
        out_release(&outs[i]);
    for (size_t i = 0; reqs && i < nreq; i++)
        engine_decision_release(&reqs[i].d);
    for (size_t i = 0; w && i < n; i++)
        if (w[i].valid)
            event_release(&w[i].ev);
    free(w);
    free(reqs);
    free(outs);
    return rc;
}

/* How many outs before outs[i] are about the same job. */
static size_t job_round(const struct out *outs, size_t i)
{
    size_t r = 0;

    for (size_t j = 0; j < i; j++)
        r += !outs[j].ack.held && outs[j].ack.key && outs[i].ack.key &&
             strcmp(outs[j].ack.key, outs[i].ack.key) == 0;
    return r;
}

/* A follow-up whose incident opened in this batch: reply in the thread the earlier
 * out just opened (its ts were not in Redis when the batch was decided). */
static void thread_after(struct out *o, const struct out *prev)
{
    if (o->a.kind == ALERT_FAILURE || o->a.kind == ALERT_ECOSYSTEM || prev->ack.nts == 0 ||
        (o->ts && cJSON_GetArraySize(o->ts) > 0) || !(o->owned_ts = cJSON_CreateObject()))
        return;
    for (size_t k = 0; k < prev->ack.nts; k++)
        cJSON_AddStringToObject(o->owned_ts, prev->ack.rcv[k], prev->ack.ts[k]);
    o->ts = o->owned_ts;
}

/* Send a batch's alerts. Several about one job (a failure and its recovery, in one
 * batch) go one after another, each after the one before it was accepted, so
 * Slack shows them in order and a follow-up can reply in the new thread. */
static void send_in_order(struct consumer *c, struct out *outs, size_t n)
{
    struct out *sorted = calloc(n + 1, sizeof(*sorted));
    size_t *round = calloc(n + 1, sizeof(*round)), *sround = calloc(n + 1, sizeof(*sround));
    size_t k = 0, start;

    if (!sorted || !round || !sround) {
        free(sorted);
        free(round);
        free(sround);
        send_alerts(c, outs, n); /* out of memory: at least send them */
        ack_alerts(c, outs, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        round[i] = job_round(outs, i);
    for (size_t r = 0; k < n; r++)
        for (size_t i = 0; i < n; i++)
            if (round[i] == r) {
                sround[k] = r;
                sorted[k++] = outs[i];
            }
    for (start = 0; start < n;) {
        size_t end = start + 1, r = sround[start];
        while (end < n && sround[end] == r)
            end++;
        for (size_t i = start; r > 0 && i < end; i++)
            for (size_t j = start; j-- > 0;)
                if (!sorted[j].ack.held && strcmp(sorted[j].ack.key, sorted[i].ack.key) == 0) {
                    thread_after(&sorted[i], &sorted[j]);
                    break;
                }
        send_alerts(c, sorted + start, end - start);
        ack_alerts(c, sorted + start, end - start);
        start = end;
    }
    memcpy(outs, sorted, n * sizeof(*outs)); /* the caller releases them */
    free(sorted);
    free(round);
    free(sround);
}

/* ---- the tick: the hold, stall timers, digests ---- */

/* A held alert released by the hold, as an out. Returns 0 or -1 (bad stored event). */
static int held_out(struct consumer *c, const struct engine_held *h, struct out *o,
                    struct work *w, char *note, size_t note_size)
{
    const struct config *cfg = c->cfg;
    char err[256];

    memset(w, 0, sizeof(*w));
    w->req = -1;
    if (event_from_json(&w->ev, h->event_json, strlen(h->event_json), err, sizeof(err)) < 0) {
        log_error("held alert %s: stored event unreadable: %s", h->id, err);
        return -1;
    }
    free(w->ev.service);
    if (!(w->ev.service = classify_service(&cfg->classify, &w->ev))) {
        event_release(&w->ev);
        return -1;
    }
    w->valid = true;
    w->stage = classify_stage(&cfg->classify, &w->ev);
    w->tier = classify_tier(&cfg->classify, &w->ev, w->stage);
    w->infra = classify_infra(&w->ev);
    release_version(&w->ev, w->version, sizeof(w->version));
    struct engine_decision d = {.kind = ALERT_FAILURE,
                                .failures = h->failures,
                                .failing_since = h->failing_since,
                                .lines = h->lines,
                                .nlines = h->nlines,
                                .more = h->total_lines > (int64_t)h->nlines
                                            ? h->total_lines - (int64_t)h->nlines : 0};
    snprintf(d.first_build, sizeof(d.first_build), "%s", h->first_build);
    alert_from(cfg, o, w, &d, h->threshold);
    o->w = NULL;
    o->label = h->id;
    o->do_ack = true;
    o->ack.held = true;
    o->ack.id = h->id;
    o->ts = NULL;
    if (h->recovered[0]) {
        char ts[40];
        const char *bar = strchr(h->recovered, '|');
        long long ms = 0;
        if (bar)
            util_parse_int(bar + 1, 0, INT64_MAX, &ms);
        snprintf(note, note_size, "Passed again since: build %.*s at %s",
                 bar ? (int)(bar - h->recovered) : 0, h->recovered,
                 util_format_time_s(ms, ts, sizeof(ts)));
        o->a.extra = note;
    }
    return 0;
}

/* A stall timer that fired, as an out: "svc|version|stage|start|finish". */
static int stall_out(struct consumer *c, char *m, struct out *o, const char **line,
                     char *buf, size_t size, struct event *dummy)
{
    char *parts[4] = {0};
    size_t np = 0;
    char stall[48];

    for (char *p = m; np < 4; np++) {
        parts[np] = p;
        char *bar = strchr(p, '|');
        if (!bar) {
            np++;
            break;
        }
        *bar = '\0';
        p = bar + 1;
    }
    if (np < 4)
        return -1;
    util_human_duration(c->cfg->stall_ms, stall, sizeof(stall));
    if (strcmp(parts[3], "finish") == 0)
        snprintf(buf, size, "%s started and did not finish within %s", parts[2], stall);
    else
        snprintf(buf, size, "%s did not start within %s after the stage before it succeeded",
                 parts[2], stall);
    *line = buf;
    static char postsubmit[] = "postsubmit", pending[] = "pending", none[] = "";
    memset(dummy, 0, sizeof(*dummy));
    dummy->type = postsubmit;
    dummy->state = pending;
    dummy->job = none;
    dummy->id = none;
    o->label = "release stall";
    o->f = (struct facts){dummy, parts[0], parts[2], TIER_CRITICAL};
    o->f.tier = classify_tier(&c->cfg->classify, dummy, parts[2]);
    o->a = (struct alert){.kind = ALERT_STALLED,
                          .service = parts[0],
                          .stage = parts[2],
                          .tier = o->f.tier,
                          .version = parts[1],
                          .lines = line,
                          .nlines = 1};
    return 0;
}

/* Send the held alerts and stall timers that are due by the event clock. */
static void send_due(struct consumer *c)
{
    struct engine_due due;
    struct out *outs = NULL;
    struct work *w = NULL;
    struct event *dummies = NULL;
    const char **lines = NULL;
    char (*notes)[160] = NULL, (*bufs)[256] = NULL, err[256];
    size_t no = 0;
    if (engine_due(&c->redis, c->cfg->key_prefix, util_now_ms(), HOLD_LEASE_MS, TICK_MAX, &due,
                   err, sizeof(err)) < 0) {
        log_debug("tick: %s", err);
        return;
    }
    size_t cap = due.nheld + due.nstalls + 1;
    outs = calloc(cap, sizeof(*outs));
    w = calloc(cap, sizeof(*w));
    dummies = calloc(cap, sizeof(*dummies));
    lines = calloc(cap, sizeof(*lines));
    notes = calloc(cap, sizeof(*notes));
    bufs = calloc(cap, sizeof(*bufs));
    if (!outs || !w || !dummies || !lines || !notes || !bufs)
        goto out;
    for (size_t i = 0; i < due.nheld; i++)
        if (held_out(c, &due.held[i], &outs[no], &w[no], notes[no], sizeof(notes[no])) == 0)
            no++;
    for (size_t i = 0; i < due.nstalls; i++)
        if (stall_out(c, due.stalls[i], &outs[no], &lines[no], bufs[no], sizeof(bufs[no]),
                      &dummies[no]) == 0)
            no++;
    if (no) {
        log_debug("tick: event clock %" PRId64 ": %zu held alerts and %zu stalls due",
                  due.clock, due.nheld, due.nstalls);
        send_alerts(c, outs, no);
        ack_alerts(c, outs, no);
    }
out:
    for (size_t i = 0; w && i < no; i++)
        if (w[i].valid)
            event_release(&w[i].ev);
    free(outs);
    free(w);
    free(dummies);
    free(lines);
    free(notes);
    free(bufs);
    engine_due_release(&due);
}

void pipeline_tick(struct consumer *c)
{
    int64_t now = util_mono_ms();

    if (now - c->last_tick_ms < TICK_MS)
        return;
    c->last_tick_ms = now;
    load_silences(c);
    pipeline_report_progress(c);
    send_due(c);
    send_digests(c);
}
