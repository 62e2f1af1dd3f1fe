/* config_rules.c -- the sections of the configuration that say what alerts: dedup,
 * watermark, release, ecosystem, storm, classify and routes. */
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "config_int.h"
#include "util.h"

/* dedup.reminders: [1h, 4h, 24h] -- the last interval repeats. */
static void parse_reminders(struct cfgp *p, const yaml_node_t *n)
{
    struct config *c = p->c;
    struct strlist l;

    cfg_get_list(p, n, "dedup.reminders", &l);
    if (l.n == 0 || l.n > CONFIG_MAX_REMINDERS) {
        cfg_err(p, n, "dedup.reminders: expected 1 to %d durations",
                CONFIG_MAX_REMINDERS);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        int64_t ms;
        if (util_parse_duration(l.v[i], &ms) < 0 || ms < 60000) {
            cfg_err(p, n, "dedup.reminders: \"%s\" is not a duration of at least 1m",
                    l.v[i]);
            return;
        }
        c->reminders_ms[i] = ms;
    }
    c->nreminders = l.n;
    c->window_ms = c->reminders_ms[0];
}

void cfg_parse_dedup(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"window", "reminders", "failures_to_alert",
                                       "alert_states", NULL};
    /* States that mean a run failed: success or a state of a run still going is a
     * mistake that would turn every run into an alert. */
    static const char *const states[] = {"failure", "error", "aborted", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    cfg_check_keys(p, m, "dedup.", keys);
    if (cfg_mget(p, m, "window") && cfg_mget(p, m, "reminders"))
        cfg_err(p, cfg_mget(p, m, "window"),
                "dedup.window: give reminders or window, not both "
                "(window is the first reminder interval)");
    cfg_get_duration(p, m, "window", "dedup.", 60000, &c->window_ms);
    if (cfg_mget(p, m, "window")) {
        c->reminders_ms[0] = c->window_ms;
        c->nreminders = 1;
    }
    if ((n = cfg_mget(p, m, "reminders")) != NULL)
        parse_reminders(p, n);
    cfg_get_int(p, m, "failures_to_alert", "dedup.", 1, 1000, &c->failures_to_alert);
    if ((n = cfg_mget(p, m, "alert_states")) != NULL) {
        cfg_get_list(p, n, "dedup.alert_states", &c->alert_states);
        if (c->alert_states.n == 0)
            cfg_err(
                p, n,
                "dedup.alert_states: list at least one state (failure, error, aborted)");
        for (size_t i = 0; i < c->alert_states.n; i++) {
            const char *const *s;
            for (s = states; *s && strcmp(*s, c->alert_states.v[i]) != 0; s++)
                ;
            if (!*s)
                cfg_err(p, n,
                        "dedup.alert_states: \"%s\" is not a state of a failed run "
                        "(failure, error, aborted)",
                        c->alert_states.v[i]);
        }
    }
}

/* watermark: { idle_timeout } */
void cfg_parse_watermark(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"idle_timeout", NULL};

    cfg_check_keys(p, m, "watermark.", keys);
    cfg_get_duration(p, m, "idle_timeout", "watermark.", 1000, &p->c->wm_idle_ms);
}

static long release_index(const struct config *c, const char *stage)
{
    for (size_t i = 0; i < c->nrelease_stages; i++)
        if (strcmp(c->release_stages[i].stage, stage) == 0)
            return (long)i;
    return -1;
}

/* release: { stages: [{stage, after}], hold, stall_timeout } */
void cfg_parse_release(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"stages", "hold", "stall_timeout", NULL};
    static const char *const skeys[] = {"stage", "after", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    cfg_check_keys(p, m, "release.", keys);
    cfg_get_duration(p, m, "hold", "release.", 0, &c->release_hold_ms);
    cfg_get_duration(p, m, "stall_timeout", "release.", 0, &c->stall_ms);
    if (!(n = cfg_mget(p, m, "stages")))
        return;
    size_t cnt = n->type == YAML_SEQUENCE_NODE
                     ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                     : 0;
    struct release_stage *r;
    if (n->type != YAML_SEQUENCE_NODE || cnt > CLASSIFY_MAX_RULES) {
        cfg_err(p, n, "release.stages: expected a list of {stage, after} (at most %d)",
                CLASSIFY_MAX_RULES);
        return;
    }
    if (!(r = cfg_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(*r)))) {
        p->oom = true;
        return;
    }
    c->release_stages = r;
    c->nrelease_stages = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = cfg_node(p, *it);
        const char *name = cfg_get_scalar(p, e, "stage", "release.stages[].");
        struct strlist after;
        cfg_check_keys(p, e, "release.stages[].", skeys);
        cfg_get_list(p, cfg_mget(p, e, "after"), "release.stages[].after", &after);
        if (!cfg_is_map(e) || !name) {
            cfg_err(p, e, "release.stages[]: each entry needs a stage");
            continue;
        }
        if (release_index(c, name) >= 0) {
            cfg_err(p, e, "release.stages[]: stage \"%s\" listed twice", name);
            continue;
        }
        for (size_t i = 0; i < after.n; i++)
            if (release_index(c, after.v[i]) < 0)
                cfg_err(p, e,
                        "release.stages[].after: \"%s\" is not listed before \"%s\" "
                        "(list a stage after the stages it waits for)",
                        after.v[i], name);
        r[c->nrelease_stages++] =
            (struct release_stage){cfg_dup(p, name), after.v, after.n};
    }
}

/* ecosystem: { services, window, hold, stages, receiver }, or `ecosystem: off`. */
void cfg_parse_ecosystem(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"enabled", "services", "window", "hold",
                                       "stages",  "receiver", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    cfg_check_keys(p, m, "ecosystem.", keys);
    cfg_get_bool(p, m, "enabled", "ecosystem.", &c->eco_on);
    cfg_get_int(p, m, "services", "ecosystem.", 2, 100000, &c->eco_services);
    cfg_get_duration(p, m, "window", "ecosystem.", 1000, &c->eco_window_ms);
    cfg_get_duration(p, m, "hold", "ecosystem.", 0, &c->eco_hold_ms);
    if ((n = cfg_mget(p, m, "stages")) != NULL)
        cfg_get_list(p, n, "ecosystem.stages", &c->eco_stages);
    const char *rcv = cfg_get_scalar(p, m, "receiver", "ecosystem.");
    if (rcv && (c->eco_receiver = config_receiver_index(c, rcv)) < 0)
        cfg_err(p, cfg_mget(p, m, "receiver"),
                "ecosystem.receiver: no receiver named \"%s\"", rcv);
}

/* storm: { rate, burst } */
void cfg_parse_storm(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"rate", "burst", NULL};
    struct config *c = p->c;
    const char *v;
    double d;

    cfg_check_keys(p, m, "storm.", keys);
    if ((v = cfg_get_scalar(p, m, "rate", "storm.")) != NULL) {
        if (util_parse_double(v, &d) < 0 || !(d >= 0.01 && d <= 1000))
            cfg_err(
                p, cfg_mget(p, m, "rate"),
                "storm.rate: expected messages per second from 0.01 to 1000, got \"%s\"",
                v);
        else
            c->storm_rate = d;
    }
    cfg_get_int(p, m, "burst", "storm.", 1, 1000, &c->storm_burst);
}

void cfg_parse_classify(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"stages", "tiers", NULL};
    static const char *const skeys[] = {"name", "jobs", NULL};
    static const char *const tkeys[] = {"tier", "stages", "types", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    cfg_check_keys(p, m, "classify.", keys);
    if ((n = cfg_mget(p, m, "stages")) != NULL) {
        size_t cnt =
            n->type == YAML_SEQUENCE_NODE
                ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                : 0;
        struct stage_rule *r;
        if (n->type != YAML_SEQUENCE_NODE || cnt > CLASSIFY_MAX_RULES) {
            cfg_err(p, n, "classify.stages: expected a list of {name, jobs} (at most %d)",
                    CLASSIFY_MAX_RULES);
            return;
        }
        r = cfg_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(*r));
        if (!r) {
            p->oom = true;
            return;
        }
        c->classify.stages = r;
        c->classify.nstages = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            yaml_node_t *e = cfg_node(p, *it);
            struct strlist jobs;
            const char *name = cfg_get_scalar(p, e, "name", "classify.stages[].");
            cfg_check_keys(p, e, "classify.stages[].", skeys);
            cfg_get_list(p, cfg_mget(p, e, "jobs"), "classify.stages[].jobs", &jobs);
            if (!cfg_is_map(e) || !name || jobs.n == 0) {
                cfg_err(p, e, "classify.stages[]: each stage needs a name and jobs");
                continue;
            }
            r[c->classify.nstages].name = cfg_dup(p, name);
            r[c->classify.nstages].jobs = jobs.v;
            r[c->classify.nstages++].njobs = jobs.n;
        }
    }
    if ((n = cfg_mget(p, m, "tiers")) != NULL) {
        size_t cnt =
            n->type == YAML_SEQUENCE_NODE
                ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                : 0;
        struct tier_rule *r;
        if (n->type != YAML_SEQUENCE_NODE || cnt > CLASSIFY_MAX_RULES) {
            cfg_err(p, n, "classify.tiers: expected a list of {tier, stages, types}");
            return;
        }
        r = cfg_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(*r));
        if (!r) {
            p->oom = true;
            return;
        }
        c->classify.tiers = r;
        c->classify.ntiers = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            yaml_node_t *e = cfg_node(p, *it);
            const char *t = cfg_get_scalar(p, e, "tier", "classify.tiers[].");
            struct strlist st, ty;
            cfg_check_keys(p, e, "classify.tiers[].", tkeys);
            if (!t || tier_parse(t) < 0) {
                cfg_err(p, e,
                        "classify.tiers[].tier: expected critical, warning or info");
                continue;
            }
            cfg_get_list(p, cfg_mget(p, e, "stages"), "classify.tiers[].stages", &st);
            cfg_get_list(p, cfg_mget(p, e, "types"), "classify.tiers[].types", &ty);
            r[c->classify.ntiers++] =
                (struct tier_rule){(enum tier)tier_parse(t), st.v, st.n, ty.v, ty.n};
        }
    }
}

void cfg_parse_routes(struct cfgp *p, const yaml_node_t *n)
{
    static const char *const keys[] = {"match", "receivers", "continue", "drop", NULL};
    struct config *c = p->c;
    size_t cnt;

    if (n->type != YAML_SEQUENCE_NODE) {
        cfg_err(p, n, "routes: expected a list");
        return;
    }
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > CONFIG_MAX_LIST) {
        cfg_err(p, n, "routes: more than %d", CONFIG_MAX_LIST);
        return;
    }
    c->routes = cfg_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(struct route));
    if (!c->routes) {
        p->oom = true;
        return;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = cfg_node(p, *it), *m, *rn;
        struct route *r = &c->routes[c->nroutes];
        struct strlist names;

        if (!cfg_is_map(e)) {
            cfg_err(p, e, "routes[]: expected a mapping with match and receivers");
            continue;
        }
        cfg_check_keys(p, e, "routes[].", keys);
        r->line = (int)e->start_mark.line + 1;
        r->cont = true;
        cfg_get_bool(p, e, "continue", "routes[].", &r->cont);
        if ((m = cfg_mget(p, e, "match")) != NULL) {
            if (!cfg_is_map(m)) {
                cfg_err(p, m, "routes[].match: expected a mapping of field: glob(s)");
                continue;
            }
            for (yaml_node_pair_t *kv = m->data.mapping.pairs.start;
                 kv < m->data.mapping.pairs.top; kv++) {
                const char *k = cfg_sval(cfg_node(p, kv->key));
                int f = k ? field_parse(k) : -1;
                if (f < 0) {
                    cfg_err(
                        p, cfg_node(p, kv->key),
                        "routes[].match.%s: unknown field (expected service, repo, job, "
                        "stage, type, tier, state, org, base_ref)",
                        k ? k : "?");
                    continue;
                }
                cfg_get_list(p, cfg_node(p, kv->value), "routes[].match", &r->match[f]);
            }
        }
        rn = cfg_mget(p, e, "receivers");
        cfg_get_list(p, rn, "routes[].receivers", &names);
        cfg_get_bool(p, e, "drop", "routes[].", &r->drop);
        if (r->drop && names.n > 0) {
            cfg_err(p, e, "routes[]: drop: true and receivers contradict each other");
            continue;
        }
        if (names.n == 0 && !r->drop && !(rn && rn->type == YAML_SEQUENCE_NODE)) {
            cfg_err(p, e,
                    "routes[].receivers: a route needs receivers, or receivers: [] / "
                    "drop: true to drop what it matches");
            continue;
        }
        if (names.n == 0) {
            r->drop = true; /* receivers: [] */
            r->cont = false;
            c->nroutes++;
            continue;
        }
        r->receivers = cfg_alloc(&c->arena, names.n * sizeof(size_t));
        if (!r->receivers) {
            p->oom = true;
            return;
        }
        for (size_t i = 0; i < names.n; i++) {
            long idx = config_receiver_index(c, names.v[i]);
            if (idx < 0)
                cfg_err(p, rn, "routes[].receivers: no receiver named \"%s\"",
                        names.v[i]);
            else
                r->receivers[r->nreceivers++] = (size_t)idx;
        }
        c->nroutes++;
    }
}
