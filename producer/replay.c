/* replay.c -- see replay.h. */
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "log.h"
#include "util.h"

void replay_init(struct replay *r, size_t max_events)
{
    memset(r, 0, sizeof(*r));
    r->max_events = max_events ? max_events : 1;
}

void replay_release(struct replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].id);
        free(r->items[i].key);
        free(r->items[i].json);
    }
    free(r->items);
    memset(r, 0, sizeof(*r));
}

int replay_add(struct replay *r, const struct event *ev, char *errstr, size_t errstr_size)
{
    char key[EVENT_MAX_FIELD * 3 + 8];
    struct replay_item it = {0};
    int kl;

    if (r->n >= r->max_events) {
        snprintf(
            errstr, errstr_size,
            "the input holds more than %zu events, the most a replay sorts in memory: "
            "split it by time, or raise --max-events",
            r->max_events);
        return -1;
    }
    it.json = event_encode(ev, errstr, errstr_size); /* what consumers accept */
    kl = event_key(ev, key, sizeof(key));
    if (!it.json || kl < 0) {
        if (it.json)
            snprintf(errstr, errstr_size, "cannot encode the event key (too large)");
        free(it.json);
        return -2;
    }
    it.len = strlen(it.json);
    if (r->bytes + it.len > REPLAY_MAX_BYTES) {
        free(it.json);
        snprintf(errstr, errstr_size,
                 "the input's events take more than %zu MiB, the most a replay sorts in "
                 "memory: split it by time",
                 REPLAY_MAX_BYTES >> 20);
        return -1;
    }
    it.event_ms = ev->event_ms;
    it.id = strdup(ev->id);
    it.key = strdup(key);
    if (!it.id || !it.key)
        goto oom;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        struct replay_item *n = realloc(r->items, cap * sizeof(*n));
        if (!n)
            goto oom;
        r->items = n;
        r->cap = cap;
    }
    r->items[r->n++] = it;
    r->bytes += it.len;
    return 0;
oom:
    free(it.id);
    free(it.key);
    free(it.json);
    snprintf(errstr, errstr_size, "out of memory after %zu events", r->n);
    return -1;
}

int replay_read_path(struct replay *r, struct publisher *p, const char *path)
{
    char err[1024], where[1024];
    struct input *in = input_open(path, err, sizeof(err));
    const cJSON *pj;
    int rc, status = 0;

    if (!in) {
        atomic_fetch_add(&p->read, 1);
        publisher_reject(p, path, err);
        return -1;
    }
    while ((rc = input_next(in, &pj, where, sizeof(where), err, sizeof(err))) != 0) {
        struct event ev;
        atomic_fetch_add(&p->read, 1);
        if (rc < 0) {
            publisher_reject(p, where, err);
            continue;
        }
        if (event_from_prowjob(&ev, pj, util_now_ms(), err, sizeof(err)) < 0) {
            publisher_reject(p, where, err);
            continue;
        }
        rc = replay_add(r, &ev, err, sizeof(err));
        event_release(&ev);
        if (rc == -2) {
            publisher_reject(p, where, err);
        } else if (rc < 0) {
            log_error("%s: %s", where, err);
            status = -1;
            break;
        }
    }
    input_close(in);
    return status;
}

static int cmp_items(const void *a, const void *b)
{
    const struct replay_item *x = a, *y = b;

    if (x->event_ms != y->event_ms)
        return x->event_ms < y->event_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

void replay_sort(struct replay *r)
{
    if (r->n > 1)
        qsort(r->items, r->n, sizeof(r->items[0]), cmp_items);
}

/* Wait until monotonic time `due`, publishing the replay position as a heartbeat
 * every PUBLISH_HEARTBEAT_MS: all events before `next_ms` are published, and the
 * position is where the paced clock is now. */
static void wait_paced(struct publisher *p, int64_t due, int64_t first_ms,
                       int64_t start_mono, double speed, int64_t next_ms,
                       const volatile sig_atomic_t *run)
{
    while (*run) {
        int64_t now = util_mono_ms(), left = due - now;
        if (left <= 0)
            break;
        if (now - p->wm_mono >= PUBLISH_HEARTBEAT_MS) {
            int64_t pos = first_ms + (int64_t)((double)(now - start_mono) * speed);
            publisher_watermark(p, pos < next_ms - 1 ? pos : next_ms - 1, false, true);
        }
        rd_kafka_poll(p->rk, (int)(left > 100 ? 100 : left));
    }
}

size_t replay_publish(struct replay *r, struct publisher *p, double speed,
                      const volatile sig_atomic_t *run)
{
    int64_t first_ms, start_mono;
    size_t i;

    if (r->n == 0) {
        /* Nothing to replay: announce the source and finish it. */
        publisher_watermark(p, -WATERMARK_MS_LIMIT, false, false);
        publisher_watermark(p, -WATERMARK_MS_LIMIT, true, false);
        return 0;
    }
    first_ms = r->items[0].event_ms;
    publisher_watermark(p, first_ms - 1, false, false);
    start_mono = util_mono_ms();
    for (i = 0; i < r->n && *run; i++) {
        const struct replay_item *it = &r->items[i];
        if (speed > 0 && i > 0) {
            int64_t due =
                start_mono + (int64_t)((double)(it->event_ms - first_ms) / speed);
            if (due > util_mono_ms()) {
                /* Always before a pause: everything up to the last event is out. */
                publisher_watermark(p, r->items[i - 1].event_ms, false, false);
                wait_paced(p, due, first_ms, start_mono, speed, it->event_ms, run);
                if (!*run)
                    break;
            }
        }
        publisher_send(p, it->key, strlen(it->key), it->json, it->len, it->event_ms,
                       NULL);
        if ((i + 1 == r->n || r->items[i + 1].event_ms != it->event_ms) &&
            publisher_wm_due(p))
            publisher_watermark(p, it->event_ms, false, false);
    }
    publisher_watermark(p, r->items[i ? i - 1 : 0].event_ms, true, false);
    return i;
}
