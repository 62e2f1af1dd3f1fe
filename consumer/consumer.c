/* consumer.c -- see consumer.h: the loop that carries a batch through the stages. */
#include "consumer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "failopen.h"
#include "log.h"
#include "util.h"

#define IDLE_STEP_MS 1000       /* a step with no batch: watermark sources go idle */
#define SILENCE_REFRESH_MS 1000 /* how long loaded silences are trusted */
#define REDIS_BACKOFF_MAX_MS 5000
#define STATE_LOST_READY_MS 10000 /* not ready this long after Redis lost the state */

static void on_dead_letter(void *opaque, const char *kind, const char *why,
                           const char *source, const char *value, size_t len)
{
    struct consumer *c = opaque;

    intake_dead_letter(&c->in, kind, why, source, source, source ? strlen(source) : 0,
                       value, len);
}

static void on_record(void *opaque, const char *key, const char *value, size_t len)
{
    struct consumer *c = opaque;

    intake_record(&c->in, key, value, len);
}

int consumer_init(struct consumer *c, const struct config *cfg, const char *name,
                  struct metrics *m, const volatile int *stop, char *errstr,
                  size_t errstr_size)
{
    struct sender_io io = {.dead_letter = on_dead_letter, .record = on_record};

    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->name = name;
    c->metrics = m;
    c->stop = stop;
    atomic_init(&c->redis_ok, 0);
    atomic_init(&c->state_lost, 0);
    io.opaque = c;
    rconn_init(&c->redis, cfg->redis_host, cfg->redis_port, cfg->redis_db,
               cfg->redis_password, cfg->redis_timeout_ms);
    if (engine_init(&c->eng, &c->redis, cfg, name, errstr, errstr_size) < 0)
        return -1;
    if (storied_init(&c->storied) < 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (silence_setup(&c->redis) < 0) {
        snprintf(errstr, errstr_size, "cannot register the silence scripts");
        return -1;
    }
    if (sender_init(&c->snd, cfg, m, &io, stop, errstr, errstr_size) < 0)
        return -1;
    return intake_init(&c->in, cfg, name, m, errstr, errstr_size);
}

/* ---- per batch ---- */

static void on_reject(void *opaque, const struct batch_msg *m, const char *reason,
                      const char *why)
{
    struct consumer *c = opaque;
    char src[320];

    snprintf(src, sizeof(src), "%s[%" PRId32 "]@%" PRId64, m->topic ? m->topic : "-",
             m->partition, m->offset);
    metrics_count(c->metrics, "herald_events_rejected_total",
                  "Events that failed validation.", "reason", reason, NULL, NULL);
    log_warn("rejected event at %s: %s", src, why);
    intake_dead_letter(&c->in, reason, why, src, m->key, m->keylen, m->value, m->len);
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

static void count_map(struct consumer *c, const cJSON *map, const char *name,
                      const char *help, const char *label)
{
    const cJSON *e;
    char labels[256];

    cJSON_ArrayForEach(e, map)
    {
        labels[0] = '\0';
        metrics_labels_add(labels, sizeof(labels), label, e->string ? e->string : "");
        metrics_counter_add(c->metrics, name, help, e->valuedouble, labels);
    }
}

/* Metrics of one step, and the silences' MATCHED counters. */
static void account(struct consumer *c, const struct engine_out *o)
{
    const char *ids[64];
    int64_t counts[64];
    size_t n = 0;
    char err[256];
    const cJSON *e;

    if (o->alerts > 0)
        sender_wake(&c->snd);
    count_map(c, o->suppressed, "herald_events_suppressed_total",
              "Failures that did not alert.", "reason");
    if (o->failed) {
        metrics_counter_add(
            c->metrics, "herald_engine_errors_total",
            "Events or timers a rule failed on (dropped; a bug to report).",
            (double)o->failed, "");
        cJSON_ArrayForEach(e, o->errors)
        {
            if (cJSON_IsString(e))
                log_error("%s: the rules failed on %s", c->name, e->valuestring);
        }
    }
    if (o->held)
        metrics_counter_add(c->metrics, "herald_alerts_held_total",
                            "Failure alerts held for related failures.", (double)o->held,
                            "");
    if (o->fast)
        metrics_counter_add(
            c->metrics, "herald_events_unchanged_total",
            "Events that could change nothing (a success of a healthy job).",
            (double)o->fast, "");
    if (o->late)
        metrics_counter_add(c->metrics, "herald_events_late_total",
                            "Events that arrived behind the watermark.", (double)o->late,
                            "");
    if (o->dup)
        metrics_counter_add(c->metrics, "herald_events_duplicate_total",
                            "Redeliveries and copies of events already taken.",
                            (double)o->dup, "");
    metrics_gauge_set(
        c->metrics, "herald_watermark_seconds",
        "The group watermark (event time; absent sources hold nothing).",
        o->wm > 0 && o->wm < 9007199254740991LL ? (double)o->wm / 1000.0 : 0, "");
    metrics_gauge_set(c->metrics, "herald_events_waiting",
                      "Events waiting for the watermark.", (double)o->pending, "");
    cJSON_ArrayForEach(e, o->silences)
    {
        if (n == 64 || !e->string)
            break;
        ids[n] = e->string;
        counts[n++] = (int64_t)e->valuedouble;
    }
    if (n && silence_count(&c->redis, c->cfg->key_prefix, ids, counts, n, err,
                           sizeof(err)) < 0)
        log_warn("cannot count silenced events: %s", err);
}

/* Redis lost Herald's state (a failover to a replica that had not caught up, a restart
 * without persistence): say so, start a new epoch, read again from Kafka what Redis
 * needed. */
static void state_lost(struct consumer *c)
{
    char err[256];

    atomic_store(&c->state_lost, 1);
    c->state_lost_ms = util_mono_ms();
    metrics_count(c->metrics, "herald_redis_state_lost_total",
                  "Times Redis was found without Herald's state.", NULL, NULL, NULL,
                  NULL);
    log_error(
        "%s: REDIS LOST HERALD'S STATE (epoch %s is gone): held alerts, job history and "
        "silences are gone; re-reading from the last committed offsets "
        "(docs/reliability.md)",
        c->name, c->eng.epoch);
    if (engine_epoch(&c->eng, true, err, sizeof(err)) < 0)
        log_error("%s: %s", c->name, err);
    intake_rewind(&c->in);
}

/* The batch's events the engine could not take light (engine_out.need), in full, into
 * in (their jobs are known to have a story from now on). full: room for b->nev. */
static void resend_full(struct consumer *c, const struct batch *b,
                        const struct engine_out *o, struct engine_event *full,
                        struct engine_in *in)
{
    for (size_t i = 0; i < o->nneed; i++) {
        full[i] = b->ev[o->need[i]];
        full[i].light = false;
        storied_add(&c->storied, full[i].key);
        storied_add(&c->storied, full[i].bkey);
    }
    in->ev = full;
    in->nev = o->nneed;
    in->nwm = 0; /* taken by the first call */
}

/* Counts of a first call (the light one) into the second's. */
static void add_counts(struct engine_out *to, const struct engine_out *from)
{
    to->fast += from->fast;
    to->dup += from->dup;
    to->buffered += from->buffered;
    to->late += from->late;
}

/* The result of a step sent fail-open: nothing decided, no offset held back (a pin of
 * 0 would move the partition's commit back to its start). */
static void nothing_pinned(struct engine_out *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < ENGINE_MAX_TPS; i++)
        out->pins[i] = -1;
}

/* One engine call of step(). */
static int step_in(struct consumer *c, const struct batch *b, const struct engine_in *inp,
                   struct engine_out *out)
{
    struct engine_in in = *inp;
    char err[512];
    int64_t backoff = 200;
    struct deliverer *d;

    for (;;) {
        if (!c->have_epoch && engine_epoch(&c->eng, true, err, sizeof(err)) >= 0)
            c->have_epoch = true;
        if (c->have_epoch && engine_step(&c->eng, &in, out, err, sizeof(err)) == 0) {
            atomic_store(&c->redis_ok, 1);
            if (atomic_load(&c->state_lost) && !out->epoch_lost &&
                util_mono_ms() - c->state_lost_ms >= STATE_LOST_READY_MS)
                atomic_store(&c->state_lost, 0); /* rebuilt what could be rebuilt */
            if (!out->epoch_lost)
                return 0;
            engine_out_release(out);
            state_lost(c);
            return 1;
        }
        atomic_store(&c->redis_ok, 0);
        metrics_count(c->metrics, "herald_redis_errors_total",
                      "Redis operations that failed.", "op", "step", NULL, NULL);
        if (b->nev == 0 && b->nwm == 0) /* an idle step: nothing to hold, try later */
            return -1;
        if (c->cfg->redis_fail_open && !b->nev) {
            /* watermarks only: nothing waits for them while events go out at once, and
             * holding them would hold back the events behind them */
            nothing_pinned(out);
            return 0;
        }
        if (c->cfg->redis_fail_open &&
            (d = deliverer_new(&c->cfg->delivery, err, sizeof(err)))) {
            failopen_send(c->cfg, d, c->metrics, b);
            deliverer_free(d);
            nothing_pinned(out);
            return 0;
        }
        log_warn("%s: redis unavailable (%s): holding a batch of %zu events", c->name,
                 err, b->nev);
        intake_wait(&c->in, backoff);
        if (*c->stop)
            return -1;
        backoff = backoff * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : backoff * 2;
    }
}

/* One step, retried while Redis is away (holding the batch and staying in the group),
 * or sent fail-open. A step that could not take some light events runs again with them
 * in full. Returns 0 when done (offsets may be stored), 1 if the batch must be dropped
 * without storing (state lost: it is read again), -1 if stopped first. */
static int step(struct consumer *c, const struct batch *b, struct engine_out *out)
{
    struct engine_in in;
    struct engine_out first = {0};
    struct engine_event *full = NULL;
    int rc;

    size_t nlight = 0;

    batch_input(b, &in);
    for (size_t i = 0; i < b->nev; i++)
        nlight += b->ev[i].light;
    if (nlight)
        metrics_counter_add(c->metrics, "herald_events_light_total",
                            "Events sent to the engine without their facts and JSON "
                            "(a success of a job with no story here).",
                            (double)nlight, "");
    rc = step_in(c, b, &in, out);
    if (rc == 0 && out->nneed > 0) { /* (0: the epoch was not lost) */
        metrics_counter_add(c->metrics, "herald_events_resent_total",
                            "Light events the engine needed in full (their job had a "
                            "story this consumer had not seen).",
                            (double)out->nneed, "");
        if (!(full = calloc(out->nneed, sizeof(*full)))) {
            log_error("%s: out of memory for a batch of %zu", c->name, b->nev);
            engine_out_release(out);
            return 1; /* not stored: read again */
        }
        first = *out;
        resend_full(c, b, &first, full, &in);
        rc = step_in(c, b, &in, out);
        if (rc == 0)
            add_counts(out, &first);
        engine_out_release(&first);
        free(full);
    }
    return rc;
}

static void run_batch(struct consumer *c, const struct batch_msg *msgs, size_t n)
{
    struct batch_ctx ctx = {.cfg = c->cfg,
                            .silences = &c->silences,
                            .storied = &c->storied,
                            .reject = on_reject,
                            .opaque = c};
    struct batch b;
    struct engine_out out;
    int rc;

    load_silences(c);
    if (batch_build(&b, &ctx, msgs, n) < 0) {
        log_error("%s: out of memory for a batch of %zu", c->name, n);
        return;
    }
    for (size_t i = 0; i < b.nev; i++) {
        metrics_count(c->metrics, "herald_events_consumed_total",
                      "Valid job events consumed.", "state", b.events[i].state, NULL,
                      NULL);
        log_debug("event %s (%s %s): consumed", b.events[i].id, b.events[i].job,
                  b.events[i].state);
    }
    if (b.dropped)
        metrics_counter_add(c->metrics, "herald_events_dropped_total",
                            "Events a route with drop: true dropped.", (double)b.dropped,
                            "");
    rc = step(c, &b, &out);
    intake_resume(&c->in);
    if (rc == 0) {
        metrics_counter_add(c->metrics, "herald_batches_total",
                            "Batches of consumed messages the engine stepped.", 1, "");
        account(c, &out);
        intake_done(&c->in, (const char *const *)b.tps, out.pins, b.ntps);
        engine_out_release(&out);
    }
    batch_release(&b);
    c->last_step_ms = util_mono_ms();
}

/* A step with nothing new: what the watermark has passed meanwhile (or a source going
 * idle) is decided, and the bound of one step is caught up with. */
static void idle_step(struct consumer *c)
{
    struct batch b;
    struct engine_out out;

    memset(&b, 0, sizeof(b));
    if (step(c, &b, &out) == 0) {
        account(c, &out);
        bool more = out.more;
        engine_out_release(&out);
        if (more)
            return; /* step again at once */
    }
    c->last_step_ms = util_mono_ms();
}

int consumer_run(struct consumer *c)
{
    char err[256];

    if (sender_start(&c->snd, err, sizeof(err)) < 0)
        log_error("%s: %s: alerts are queued in Redis but not sent by this consumer",
                  c->name, err);
    while (!*c->stop) {
        const struct batch_msg *msgs;
        size_t n = intake_poll(&c->in, c->stop, &msgs);
        if (n > 0)
            run_batch(c, msgs, n);
        else if (util_mono_ms() - c->last_step_ms >= IDLE_STEP_MS)
            idle_step(c);
    }
    sender_join(&c->snd);
    return 0;
}

void consumer_release(struct consumer *c)
{
    if (!c)
        return;
    intake_release(&c->in);
    sender_release(&c->snd);
    engine_release(&c->eng);
    silence_set_release(&c->silences);
    storied_release(&c->storied);
    rconn_release(&c->redis);
}

int consumer_ready(void *opaque, char *why, size_t why_size)
{
    struct consumer *c = opaque;

    if (!atomic_load(&c->in.kafka_ok)) {
        snprintf(why, why_size, "kafka: all brokers down");
        return 1;
    }
    if (!atomic_load(&c->redis_ok)) {
        snprintf(why, why_size, "redis unreachable");
        return 1;
    }
    if (atomic_load(&c->state_lost)) {
        snprintf(why, why_size,
                 "redis lost herald's state; rebuilt from kafka since the last "
                 "committed offsets (see the log)");
        return 1;
    }
    return 0;
}
