/* batch.c -- see batch.h. */
#include "batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "dag.h"
#include "dests.h"
#include "event.h"
#include "log.h"
#include "router.h"
#include "util.h"
#include "watermark.h"

#define FACTS_MAX (64 * 1024) /* bytes of one event's facts */

/* ---- classification ---- */

/* Prow's own switches on the ProwJob (spec.report, reporter_config.slack), and the
 * superseded abort: a failure that must not count. */
static bool counts_as_failure(const struct config *cfg, const struct event *ev,
                              const char **why)
{
    bool in = false;

    for (size_t i = 0; i < cfg->alert_states.n && !in; i++)
        in = strcmp(cfg->alert_states.v[i], ev->state) == 0;
    if (!in)
        return false;
    if (!ev->report) {
        *why = "Prow's reporting is off for this job (spec.report or reporter_config)";
        return false;
    }
    const cJSON *st =
        ev->reporter_slack
            ? cJSON_GetObjectItemCaseSensitive(ev->reporter_slack, "job_states_to_report")
            : NULL;
    if (cJSON_IsArray(st)) {
        const cJSON *s;
        bool listed = false;
        cJSON_ArrayForEach(s, st) listed |=
            cJSON_IsString(s) && !strcmp(s->valuestring, ev->state);
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

const char *batch_class(const struct config *cfg, const struct event *ev,
                        const char **why)
{
    *why = NULL;
    if (counts_as_failure(cfg, ev, why))
        return "fail";
    if (strcmp(ev->state, "success") == 0)
        return "ok";
    if (!strcmp(ev->state, "pending") || !strcmp(ev->state, "triggered") ||
        !strcmp(ev->state, "scheduling"))
        return "start";
    return "skip";
}

void batch_release_version(const struct event *ev, char *out, size_t size)
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

static int put_key_part(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '%' || *p == '/' || *p == '#' || *p < 0x20 || *p == 0x7f) {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (buf_append(b, e, 3) < 0)
                return -1;
        } else if (buf_append(b, p, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

char *batch_job_key(const struct event *ev, bool with_pull)
{
    struct buf b;

    buf_init(&b, 3 * 3 * EVENT_MAX_FIELD + 64);
    if (put_key_part(&b, ev->org) < 0 || buf_puts(&b, "/") < 0 ||
        put_key_part(&b, ev->repo) < 0 || buf_puts(&b, "/") < 0 ||
        put_key_part(&b, ev->job) < 0 ||
        (with_pull && strcmp(ev->type, "presubmit") == 0 && ev->npulls > 0 &&
         buf_printf(&b, "#%ld", ev->pulls[0].number) < 0)) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* N for this job: its testgrid-num-failures-to-alert annotation, else the config. */
static int threshold_of(const struct config *cfg, const struct event *ev)
{
    const char *a = event_annotation(ev, "testgrid-num-failures-to-alert");
    long long n;

    if (a && util_parse_int(a, 1, 1000, &n) == 0)
        return (int)n;
    return cfg->failures_to_alert;
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

/* ---- facts ---- */

static int put_dests(struct buf *b, const struct dests *d)
{
    int rc = buf_puts(b, "[");
    for (size_t i = 0; i < d->n && rc == 0; i++)
        rc = (i ? buf_puts(b, ",") : 0) || buf_json_str(b, d->v[i]);
    return rc || buf_puts(b, "]");
}

static int put_str(struct buf *b, const char *key, const char *v)
{
    return buf_printf(b, ",\"%s\":", key) < 0 || buf_json_str(b, v) < 0 ? -1 : 0;
}

/* Where a stall of each stage of this release would go: the stage itself and the
 * stages after it, each routed as a run of that stage. {"stage": {"d": [...], "tier"}} */
static int put_stall_dests(struct buf *b, const struct config *cfg, const struct facts *f,
                           long si)
{
    bool next[CLASSIFY_MAX_RULES] = {false};
    int rc = buf_puts(b, ",\"sd\":{");
    bool first = true;

    dag_successors(cfg, (size_t)si, next);
    next[si] = true;
    for (size_t i = 0; i < cfg->nrelease_stages && rc == 0; i++) {
        if (!next[i])
            continue;
        struct facts g = *f;
        g.stage = cfg->release_stages[i].stage;
        g.tier = classify_tier(&cfg->classify, f->ev, g.stage);
        struct dests d;
        dests_route(cfg, &g, &d);
        rc = (first ? 0 : buf_puts(b, ",")) || buf_json_str(b, g.stage) ||
             buf_puts(b, ":{\"d\":") || put_dests(b, &d) ||
             put_str(b, "tier", tier_name(g.tier)) || buf_puts(b, "}");
        first = false;
    }
    return rc || buf_puts(b, "}");
}

/* The facts the rules need (docs/rules.md lists them), as JSON. */
static char *facts_json(const struct config *cfg, const struct facts *f, const char *key,
                        const char *bkey, const char *cls, const char *version,
                        const struct dests *d, const char *silence, const char *tp,
                        int64_t off, long si)
{
    const struct event *ev = f->ev;
    struct buf b;
    int rc;

    buf_init(&b, FACTS_MAX);
    rc = buf_puts(&b, "{\"k\":") || buf_json_str(&b, key) || put_str(&b, "bk", bkey) ||
         put_str(&b, "c", cls) || put_str(&b, "svc", f->service) ||
         put_str(&b, "stg", f->stage) || put_str(&b, "ver", version) ||
         put_str(&b, "job", ev->job) || put_str(&b, "st", ev->state) ||
         put_str(&b, "b", ev->build_id) || put_str(&b, "url", ev->url) ||
         put_str(&b, "tier", tier_name(f->tier)) ||
         buf_printf(&b, ",\"N\":%d,\"eco\":%d,\"off\":%" PRId64, threshold_of(cfg, ev),
                    eco_stage(cfg, f->stage) ? 1 : 0, off) < 0 ||
         put_str(&b, "sil", silence ? silence : "") || put_str(&b, "tp", tp) ||
         buf_puts(&b, ",\"d\":") || put_dests(&b, d) ||
         (si >= 0 && version[0] && put_stall_dests(&b, cfg, f, si)) || buf_puts(&b, "}");
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* ---- the batch ---- */

static const char *tp_of(struct batch *b, const struct batch_msg *m)
{
    char name[300];

    snprintf(name, sizeof(name), "%s:%" PRId32, m->topic ? m->topic : "", m->partition);
    for (size_t i = 0; i < b->ntps; i++)
        if (strcmp(b->tps[i], name) == 0)
            return b->tps[i];
    if (b->ntps == ENGINE_MAX_TPS || !(b->tps[b->ntps] = strdup(name)))
        return NULL;
    return b->tps[b->ntps++];
}

static void reject(const struct batch_ctx *ctx, struct batch *b,
                   const struct batch_msg *m, const char *reason, const char *why)
{
    b->rejected++;
    if (ctx->reject)
        ctx->reject(ctx->opaque, m, reason, why);
}

static int take_watermark(const struct batch_ctx *ctx, struct batch *b,
                          const struct batch_msg *m)
{
    struct watermark w;
    char err[256];

    if (watermark_parse(&w, m->value, m->len, err, sizeof(err)) < 0) {
        reject(ctx, b, m, "bad_watermark", err);
        return 0;
    }
    struct engine_wm *x = &b->wm[b->nwm];
    if (!(x->source = strdup(w.source)))
        return -1;
    x->partition = m->partition;
    x->ms = w.watermark_ms;
    x->final = w.final;
    x->partitions = w.partitions;
    b->nwm++;
    return 0;
}

static int take_event(const struct batch_ctx *ctx, struct batch *b,
                      const struct batch_msg *m)
{
    const struct config *cfg = ctx->cfg;
    struct event *ev = &b->events[b->nev];
    struct engine_event *q = &b->ev[b->nev];
    const char *why, *tp;
    char err[512], version[EVENT_MAX_FIELD + 1];
    int rc = event_from_json(ev, m->value, m->len, err, sizeof(err));

    if (rc < 0) {
        reject(ctx, b, m, event_error_name(rc), err);
        return 0;
    }
    free(ev->service); /* the consumer's rules decide, not the producer's */
    if (!(ev->service = classify_service(&cfg->classify, ev)) || !(tp = tp_of(b, m)))
        goto oom;
    struct facts f = {ev, ev->service, classify_stage(&cfg->classify, ev), TIER_INFO};
    f.tier = classify_tier(&cfg->classify, ev, f.stage);
    struct dests d;
    dests_route(cfg, &f, &d);
    if (d.dropped) {
        b->dropped++;
        log_debug("event %s (%s %s): dropped by the route at line %d", ev->id, ev->job,
                  ev->state, d.route_line);
        event_release(ev);
        return 0;
    }
    const char *cls = batch_class(cfg, ev, &why);
    const struct silence *s = ctx->silences && strcmp(cls, "fail") == 0
                                  ? silence_match(ctx->silences, &f)
                                  : NULL;
    batch_release_version(ev, version, sizeof(version));
    long si = version[0] ? dag_index(cfg, f.stage) : -1;
    memset(q, 0, sizeof(*q));
    q->t = ev->event_ms;
    q->cls = cls;
    q->rel = si >= 0;
    q->offset = m->offset;
    q->payload = m->value;
    q->payload_len = m->len;
    if (!(q->id = strdup(ev->id)) || !(q->key = batch_job_key(ev, true)) ||
        !(q->bkey = batch_job_key(ev, false)) || !(q->tp = strdup(tp)) ||
        !(q->facts = facts_json(cfg, &f, q->key, q->bkey, cls, si >= 0 ? version : "", &d,
                                s ? s->id : NULL, tp, m->offset, si)))
        goto oom;
    q->light = ctx->storied && strcmp(cls, "fail") != 0 && !q->rel &&
               !storied_has(ctx->storied, q->key) && !storied_has(ctx->storied, q->bkey);
    if (!q->light) { /* a failure, a release run, or a known story */
        storied_add(ctx->storied, q->key);
        storied_add(ctx->storied, q->bkey);
    }
    b->nev++;
    return 0;
oom:
    event_release(ev);
    if (q->id || q->key || q->tp) {
        free(q->id);
        free(q->key);
        free(q->bkey);
        free(q->tp);
        memset(q, 0, sizeof(*q));
    }
    return -1;
}

int batch_build(struct batch *b, const struct batch_ctx *ctx,
                const struct batch_msg *msgs, size_t n)
{
    memset(b, 0, sizeof(*b));
    b->wm = calloc(n + 1, sizeof(*b->wm));
    b->ev = calloc(n + 1, sizeof(*b->ev));
    b->events = calloc(n + 1, sizeof(*b->events));
    b->tps = calloc(ENGINE_MAX_TPS, sizeof(*b->tps));
    if (!b->wm || !b->ev || !b->events || !b->tps)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const struct batch_msg *m = &msgs[i];
        bool wm = m->kind ? strcmp(m->kind, WATERMARK_KIND) == 0 : false;
        if (!m->value || m->len == 0) {
            reject(ctx, b, m, "invalid_event", "empty message");
            continue;
        }
        if ((wm ? take_watermark(ctx, b, m) : take_event(ctx, b, m)) < 0)
            goto oom;
        if (wm && !tp_of(b, m))
            goto oom;
    }
    return 0;
oom:
    batch_release(b);
    return -1;
}

void batch_release(struct batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->wm && i < b->nwm; i++)
        free(b->wm[i].source);
    for (size_t i = 0; b->ev && i < b->nev; i++) {
        free(b->ev[i].id);
        free(b->ev[i].key);
        free(b->ev[i].bkey);
        free(b->ev[i].tp);
        free(b->ev[i].facts);
        event_release(&b->events[i]);
    }
    for (size_t i = 0; b->tps && i < b->ntps; i++)
        free(b->tps[i]);
    free(b->wm);
    free(b->ev);
    free(b->events);
    free(b->tps);
    memset(b, 0, sizeof(*b));
}

void batch_input(const struct batch *b, struct engine_in *in)
{
    in->wm = b->wm;
    in->nwm = b->nwm;
    in->ev = b->ev;
    in->nev = b->nev;
    in->tps = (const char *const *)b->tps;
    in->ntps = b->ntps;
}
