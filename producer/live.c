/* live.c -- see live.h. */
#include "live.h"

#include <stdio.h>
#include <stdlib.h>

#include "event.h"
#include "log.h"
#include "util.h"

static void count(struct live *l, const char *name, const char *help)
{
    char lbl[METRICS_LABELS_MAX + 1] = "";

    metrics_labels_add(lbl, sizeof(lbl), "source", l->label);
    metrics_counter_add(l->m, name, help, 1, lbl);
}

int live_handle(struct live *l, const cJSON *pj, const char *where)
{
    struct event ev;
    char err[1024];

    l->seen++;
    atomic_fetch_add(&l->p->read, 1);
    count(l, "herald_producer_prowjobs_seen_total", "ProwJob states read, by source.");
    if (event_from_prowjob(&ev, pj, util_now_ms(), err, sizeof(err)) < 0) {
        publisher_reject(l->p, where, err);
        return -1;
    }
    /* The deterministic id names the ProwJob; without a name, the id stands in. */
    const char *name = ev.prowjob && *ev.prowjob ? ev.prowjob : ev.id;
    if (!state_changed(l->st, name, ev.state)) {
        l->unchanged++;
        count(l, "herald_producer_unchanged_total",
              "ProwJob states read that had been published already, by source.");
        event_release(&ev);
        return 0;
    }
    int rc = publisher_event(l->p, &ev, name, err, sizeof(err));
    if (rc == -2) {
        publisher_reject(l->p, where, err);
    } else if (rc == 0) {
        state_record(l->st, name, ev.state);
        l->changed++;
        log_debug("%s: %s", where, ev.id);
    }
    event_release(&ev);
    return rc == 0 ? 1 : -1;
}

void live_retry_failed(struct live *l)
{
    char *names[64];
    size_t n;

    while ((n = publisher_take_failed(l->p, names, 64)) > 0)
        for (size_t i = 0; i < n; i++) {
            log_warn("%s: its event was not delivered; it is published again on the next "
                     "relist",
                     names[i]);
            state_forget(l->st, names[i]);
            free(names[i]);
        }
}
