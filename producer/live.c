/* live.c -- see live.h. */
#include "live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "util.h"

static void count(struct live *l, const char *name, const char *help)
{
    char lbl[METRICS_LABELS_MAX + 1] = "";

    metrics_labels_add(lbl, sizeof(lbl), "source", l->label);
    metrics_counter_add(l->m, name, help, 1, lbl);
}

/* The name's hash for the in-process cache; 0 marks an empty slot. */
static uint64_t hash(const char *s)
{
    uint64_t h = util_fnv1a(s);
    return h ? h : 1;
}

static struct live_seen *slot(struct live *l, const char *name, uint64_t *h)
{
    *h = hash(name);
    return &l->seen_cache[*h % LIVE_CACHE];
}

int live_handle(struct live *l, const cJSON *pj, const char *where)
{
    struct event ev;
    char err[1024], track[STATE_MAX_NAME + 32];
    uint64_t h;

    l->seen++;
    atomic_fetch_add(&l->p->read, 1);
    count(l, "herald_producer_prowjobs_seen_total", "ProwJob states read, by source.");
    if (event_from_prowjob(&ev, pj, util_now_ms(), err, sizeof(err)) < 0) {
        publisher_reject(l->p, where, err);
        return -1;
    }
    /* The deterministic id names the ProwJob; without a name, the id stands in. */
    const char *name = ev.prowjob && *ev.prowjob ? ev.prowjob : ev.id;
    struct live_seen *c = slot(l, name, &h);
    bool same = c->hash == h && strcmp(c->state, ev.state) == 0;
    if (same || !state_claim(l->st, name, ev.state)) {
        l->unchanged++;
        count(l, "herald_producer_unchanged_total",
              "ProwJob states read that had been published already, by source.");
        c->hash = h;
        snprintf(c->state, sizeof(c->state), "%s", ev.state);
        event_release(&ev);
        return 0;
    }
    snprintf(track, sizeof(track), "%.*s\t%s", STATE_MAX_NAME, name, ev.state);
    int rc = publisher_event(l->p, &ev, track, err, sizeof(err));
    if (rc == -2) {
        publisher_reject(l->p, where, err);
    } else if (rc == 0) {
        c->hash = h;
        snprintf(c->state, sizeof(c->state), "%s", ev.state);
        l->changed++;
        log_debug("%s: %s", where, ev.id);
    }
    event_release(&ev);
    return rc == 0 ? 1 : -1;
}

void live_settle(struct live *l)
{
    struct publish_settled done[256];
    size_t n;

    while ((n = publisher_take_settled(l->p, done, 256)) > 0)
        for (size_t i = 0; i < n; i++) {
            char *tab = strchr(done[i].track, '\t');
            if (tab) {
                *tab = '\0';
                if (done[i].ok) {
                    state_confirm(l->st, done[i].track, tab + 1);
                } else {
                    state_unclaim(l->st, done[i].track, tab + 1);
                    uint64_t h;
                    struct live_seen *c = slot(l, done[i].track, &h);
                    if (c->hash == h)
                        c->hash = 0;
                    log_warn("%s: its %s event was not delivered; it is published again "
                             "when the source next reads it",
                             done[i].track, tab + 1);
                }
            }
            free(done[i].track);
        }
}
