/* stream.c -- see stream.h. */
#include "stream.h"

#include <stdio.h>
#include <string.h>

#include "event.h"
#include "input.h"
#include "log.h"
#include "util.h"

int stream_run(struct publisher *p, const char *path, const volatile sig_atomic_t *run)
{
    char err[1024], where[1024];
    struct input *in = input_open(path, err, sizeof(err));
    const cJSON *pj;
    int rc;

    if (!in) {
        atomic_fetch_add(&p->read, 1);
        publisher_reject(p, path, err);
        publisher_watermark(p, -WATERMARK_MS_LIMIT, true, false);
        return -1;
    }
    input_set_stop(in, run);
    publisher_start_heartbeat(p, PUBLISH_CLOCK_STREAM);
    while (*run &&
           (rc = input_next(in, &pj, where, sizeof(where), err, sizeof(err))) != 0) {
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
        if (publisher_event(p, &ev, NULL, err, sizeof(err)) == -2)
            publisher_reject(p, where, err);
        event_release(&ev);
    }
    publisher_stop_heartbeat(p);
    input_close(in);
    /* The end of the input: this source publishes nothing more. */
    int64_t w = publisher_clock_ms(p);
    publisher_watermark(p, w == PUBLISH_WM_NONE ? -WATERMARK_MS_LIMIT : w, true, false);
    return 0;
}

int stream_run_raw(struct publisher *p, char *const *paths, int npaths,
                   const volatile sig_atomic_t *run)
{
    char err[1024];
    int status = 0;

    /* Raw lines carry no event time we trust: the start record claims nothing. */
    publisher_watermark(p, -WATERMARK_MS_LIMIT, false, false);
    for (int i = 0; i < npaths && *run; i++) {
        struct input *in = input_open(paths[i], err, sizeof(err));
        const char *line;
        long n;
        if (!in) {
            atomic_fetch_add(&p->read, 1);
            publisher_reject(p, paths[i], err);
            status = -1;
            continue;
        }
        while (*run && (n = input_next_raw(in, &line, err, sizeof(err))) != 0) {
            atomic_fetch_add(&p->read, 1);
            if (n < 0) {
                atomic_fetch_add(&p->rejected, 1);
                log_error("rejected %s", err);
                continue;
            }
            publisher_send(p, "test/raw", 8, line, (size_t)n, -WATERMARK_MS_LIMIT, NULL);
        }
        input_close(in);
    }
    publisher_watermark(p, -WATERMARK_MS_LIMIT, true, false);
    return status;
}
