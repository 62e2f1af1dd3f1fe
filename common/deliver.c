/* deliver.c -- see deliver.h: the deliverer: attempts over libcurl's multi interface,
 * retries with backoff, and the two ways to drive them (deliverer_run, a batch;
 * deliverer_start/poll, one attempt at a time). What an answer means is
 * deliver_judge.c. */
#include "deliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "deliver_int.h"
#include "log.h"
#include "util.h"

#define DELIVER_POLL_MS 100 /* longest wait between looks at *stop */
#define DELIVER_PARALLEL_MAX 256

struct deliverer {
    struct xfer *live; /* attempts started by deliverer_start */
    CURLM *multi;
    struct deliver_opts o;
    uint64_t rng;  /* xorshift state for backoff jitter */
    size_t active; /* attempts started by deliverer_start, not yet polled */
};

void deliver_opts_default(struct deliver_opts *o)
{
    o->timeout_ms = 10000;
    o->max_attempts = 6;
    o->backoff_initial_ms = 1000;
    o->backoff_max_ms = 30000;
    o->give_up_ms = 120000;
    o->retry_after_max_ms = 120000;
    o->max_parallel = 8;
    o->shutdown_ms = 10000;
}

struct deliverer *deliverer_new(const struct deliver_opts *o, char *errstr,
                                size_t errstr_size)
{
    struct deliverer *d = calloc(1, sizeof(*d));

    if (!d) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (o)
        d->o = *o;
    else
        deliver_opts_default(&d->o);
    if (d->o.timeout_ms <= 0 || d->o.max_attempts < 1 || d->o.backoff_initial_ms < 0 ||
        d->o.backoff_max_ms < d->o.backoff_initial_ms || d->o.give_up_ms <= 0 ||
        d->o.retry_after_max_ms < 0 || d->o.max_parallel < 1 ||
        d->o.max_parallel > DELIVER_PARALLEL_MAX) {
        snprintf(errstr, errstr_size, "invalid delivery options");
        goto fail;
    }
    if (!(d->multi = curl_multi_init())) {
        snprintf(errstr, errstr_size, "curl_multi_init failed");
        goto fail;
    }
    d->rng = (uint64_t)util_now_ms() ^ (uint64_t)(uintptr_t)d ^ 0x9e3779b97f4a7c15ULL;
    return d;
fail:
    free(d);
    return NULL;
}

static void xfer_free(struct deliverer *d, struct xfer *x);

void deliverer_free(struct deliverer *d)
{
    if (!d)
        return;
    while (d->live)
        xfer_free(d, d->live);
    curl_multi_cleanup(d->multi);
    free(d);
}

/* Next backoff delay after `attempts` failed attempts: initial, doubling, capped,
 * minus up to 10% jitter so a batch of retries does not land at once. */
static int64_t backoff_ms(struct deliverer *d, int attempts)
{
    int64_t delay = d->o.backoff_initial_ms;

    for (int i = 1; i < attempts && delay < d->o.backoff_max_ms; i++)
        delay *= 2;
    if (delay > d->o.backoff_max_ms)
        delay = d->o.backoff_max_ms;
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    if (delay >= 10)
        delay -= (int64_t)(d->rng % (uint64_t)(delay / 10 + 1));
    return delay;
}

/* After a failed attempt: schedule the next one `delay` ms from now (-1: backoff), or
 * give up when attempts or time are exhausted. */
static void schedule_retry(struct deliverer *d, struct xfer *x, int64_t delay,
                           int64_t now)
{
    struct delivery *it = x->it;

    if (delay < 0)
        delay = backoff_ms(d, it->attempts);
    if (it->attempts >= d->o.max_attempts ||
        now + delay - x->first_ms >= d->o.give_up_ms) {
        it->status = DELIVER_GAVE_UP;
        x->done = true;
        return;
    }
    log_warn(
        "slack delivery to receiver %s failed (%s), attempt %d/%d, retrying in %lld ms",
        it->rcv->name, it->reason, it->attempts, d->o.max_attempts, (long long)delay);
    x->next_ms = now + delay;
}

/* An attempt ended: judge the answer and decide OK, permanent, retry or give up.
 * Releases the attempt's curl handle. */
static void xfer_end(struct deliverer *d, struct xfer *x, CURLcode cc)
{
    struct delivery *it = x->it;
    long code = 0;
    curl_off_t ra = 0;
    int64_t delay = -1; /* -1: exponential backoff */
    enum verdict v;
    bool ratelimited = false;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK)
        ra = 0;
    curl_multi_remove_handle(d->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;

    it->http_status = code;
    it->reason[0] = '\0';
    v = deliver_judge(x, cc, code, &ratelimited);
    it->retry_after_ms = ratelimited && ra > 0 ? (int64_t)ra * 1000 : 0;
    if (it->keep_answer && x->resp.data) {
        free(it->answer);
        it->answer = strdup(x->resp.data);
    }
    if (ratelimited && ra > 0) {
        delay = ra > d->o.retry_after_max_ms / 1000 ? d->o.retry_after_max_ms
                                                    : (int64_t)ra * 1000;
    }
    if (v == V_OK) {
        it->status = DELIVER_OK;
        it->reason[0] = '\0';
        it->done_ms = util_now_ms();
        x->done = true;
    } else if (v == V_PERMANENT) {
        it->status = DELIVER_PERMANENT;
        x->done = true;
    } else if (x->single) {
        it->status = DELIVER_GAVE_UP;
        x->done = true;
    } else {
        schedule_retry(d, x, delay, util_mono_ms());
    }
}

/* curl write callback: keep the first DELIVER_RESP_MAX bytes, drop the rest. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t len = size * nmemb, room = x->resp.max - x->resp.len;

    if (room > 0)
        buf_append(&x->resp, ptr, len < room ? len : room);
    return len;
}

/* Build the URL of a delivery: the webhook itself or <base>/<method>. */
static char *make_url(const struct receiver *r, const char *method)
{
    struct buf b;
    size_t n = strlen(r->url);

    if (r->type != RECEIVER_WEBAPI)
        return strdup(r->url);
    if (!method)
        method = "chat.postMessage";
    buf_init(&b, n + strlen(method) + 2);
    if (buf_printf(&b, "%s%s%s", r->url, n && r->url[n - 1] == '/' ? "" : "/", method) <
        0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* Add the Authorization header; the temporary copy of the token is wiped. */
static int add_auth(struct curl_slist **hdrs, const char *token)
{
    struct buf b;
    struct curl_slist *t;

    buf_init(&b, strlen(token) + 32);
    if (buf_printf(&b, "Authorization: Bearer %s", token) < 0) {
        buf_release(&b);
        return -1;
    }
    t = curl_slist_append(*hdrs, b.data);
    explicit_bzero(b.data, b.len);
    buf_release(&b);
    if (!t)
        return -1;
    *hdrs = t;
    return 0;
}

#define SETOPT(e, opt, val)                                                              \
    do {                                                                                 \
        if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK)                             \
            goto fail;                                                                   \
    } while (0)

/* Start the next attempt of x. Returns 0, or -1 (nothing started) on failure. */
static int xfer_start(struct deliverer *d, struct xfer *x, int64_t now)
{
    const struct receiver *r = x->it->rcv;
    struct curl_slist *t;
    CURL *e = NULL;
    int64_t tmo = d->o.timeout_ms, left;

    if (!x->url && !(x->url = make_url(r, x->it->method)))
        return -1;
    if (x->first_ms == 0)
        x->first_ms = now;
    left = d->o.give_up_ms - (now - x->first_ms);
    if (left < tmo) /* the attempt must not outlive the delivery */
        tmo = left > 100 ? left : 100;
    buf_reset(&x->resp);
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s",
             x->it->content_type ? x->it->content_type
                                 : "application/json; charset=utf-8");
    if (!(t = curl_slist_append(NULL, ct)))
        goto fail;
    x->hdrs = t;
    if (!(t = curl_slist_append(x->hdrs, "Expect:")))
        goto fail;
    x->hdrs = t;
    if (r->type == RECEIVER_WEBAPI && add_auth(&x->hdrs, r->token) < 0)
        goto fail;
    if (!(e = curl_easy_init()))
        goto fail;
    SETOPT(e, CURLOPT_URL, x->url);
    SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(e, CURLOPT_NOSIGNAL, 1L);
    SETOPT(e, CURLOPT_TIMEOUT_MS, (long)tmo);
    SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, (long)tmo);
    SETOPT(e, CURLOPT_POST, 1L);
    SETOPT(e, CURLOPT_POSTFIELDS, x->it->body);
    SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->it->body));
    SETOPT(e, CURLOPT_HTTPHEADER, x->hdrs);
    SETOPT(e, CURLOPT_USERAGENT, "herald/1");
    SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(e, CURLOPT_WRITEDATA, x);
    SETOPT(e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(d->multi, e) != CURLM_OK)
        goto fail;
    x->easy = e;
    x->it->attempts++;
    return 0;
fail:
    curl_easy_cleanup(e);
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    return -1;
}

/* Reset an item's outputs; a malformed item ends PERMANENT at once. */
static void item_init(struct delivery *it, struct xfer *x)
{
    const struct receiver *r = it->rcv;

    it->status = DELIVER_PENDING;
    it->attempts = 0;
    it->http_status = 0;
    it->reason[0] = '\0';
    it->ts[0] = '\0';
    it->done_ms = 0;
    it->retry_after_ms = 0;
    it->answer = NULL;
    x->it = it;
    buf_init(&x->resp, DELIVER_RESP_MAX);
    if (!r || !it->body || !r->url || (r->type == RECEIVER_WEBAPI && !r->token)) {
        snprintf(it->reason, sizeof(it->reason), "invalid_delivery");
        it->status = DELIVER_PERMANENT;
        x->done = true;
    }
}

/* Milliseconds to wait before the loop has something to do, at most DELIVER_POLL_MS. */
static int wait_ms(const struct xfer *xs, size_t n, size_t active, size_t parallel,
                   int64_t now)
{
    int64_t w = DELIVER_POLL_MS;

    for (size_t i = 0; i < n && active < parallel; i++) {
        if (xs[i].done || xs[i].easy)
            continue;
        if (xs[i].next_ms - now < w)
            w = xs[i].next_ms - now;
    }
    return w < 0 ? 0 : (int)w;
}

size_t deliverer_run(struct deliverer *d, struct delivery *items, size_t n,
                     const volatile int *stop)
{
    struct xfer *xs = NULL;
    size_t left = 0, active = 0, ok = 0, parallel;
    CURLMsg *m;
    int running, queued;

    if (!d || !items || n == 0)
        return 0;
    parallel = (size_t)d->o.max_parallel;
    if (!(xs = calloc(n, sizeof(*xs)))) {
        for (size_t i = 0; i < n; i++) {
            items[i].status = DELIVER_GAVE_UP;
            snprintf(items[i].reason, sizeof(items[i].reason), "out_of_memory");
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        item_init(&items[i], &xs[i]);
        left += !xs[i].done;
    }
    while (left > 0 && !(stop && *stop)) {
        int64_t now = util_mono_ms();
        for (size_t i = 0; i < n && active < parallel; i++) {
            struct xfer *x = &xs[i];
            if (x->done || x->easy || x->next_ms > now)
                continue;
            if (xfer_start(d, x, now) == 0) {
                active++;
                continue;
            }
            snprintf(x->it->reason, sizeof(x->it->reason), "internal_error");
            x->it->status = DELIVER_GAVE_UP;
            x->done = true;
            left--;
        }
        curl_multi_perform(d->multi, &running);
        while ((m = curl_multi_info_read(d->multi, &queued)) != NULL) {
            struct xfer *x;
            char *priv = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            x = (struct xfer *)(void *)priv;
            xfer_end(d, x, m->data.result); /* m is invalid after this */
            active--;
            if (x->done) {
                left--;
                ok += x->it->status == DELIVER_OK;
            }
        }
        if (left == 0)
            break;
        curl_multi_poll(d->multi, NULL, 0,
                        wait_ms(xs, n, active, parallel, util_mono_ms()), NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (xs[i].easy) { /* stopped: the item stays DELIVER_PENDING */
            curl_multi_remove_handle(d->multi, xs[i].easy);
            curl_easy_cleanup(xs[i].easy);
        }
        if (!xs[i].done)
            items[i].status = DELIVER_PENDING;
        curl_slist_free_all(xs[i].hdrs);
        free(xs[i].url);
        buf_release(&xs[i].resp);
    }
    free(xs);
    return ok;
}

/* ---- one attempt at a time (deliverer_start / deliverer_poll) ---- */

static void xfer_free(struct deliverer *d, struct xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        d->live = x->next;
    if (x->next)
        x->next->prev = x->prev;
    if (x->easy) {
        curl_multi_remove_handle(d->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->hdrs);
    free(x->url);
    buf_release(&x->resp);
    free(x);
}

int deliverer_start(struct deliverer *d, struct delivery *it)
{
    struct xfer *x = calloc(1, sizeof(*x));

    if (!x)
        return -1;
    item_init(it, x);
    x->single = true;
    if (x->done) { /* malformed: refused at once */
        buf_release(&x->resp);
        free(x);
        return 1;
    }
    /* One attempt: its time budget is the attempt's timeout. */
    int64_t give_up = d->o.give_up_ms;
    if (d->o.give_up_ms < d->o.timeout_ms)
        d->o.give_up_ms = d->o.timeout_ms;
    int rc = xfer_start(d, x, util_mono_ms());
    d->o.give_up_ms = give_up;
    if (rc < 0) {
        buf_release(&x->resp);
        free(x->url);
        free(x);
        return -1;
    }
    x->next = d->live;
    if (d->live)
        d->live->prev = x;
    d->live = x;
    d->active++;
    return 0;
}

static size_t drain(struct deliverer *d, struct delivery **done, size_t max)
{
    size_t n = 0;
    CURLMsg *m;
    int queued;

    while (n < max && (m = curl_multi_info_read(d->multi, &queued)) != NULL) {
        struct xfer *x;
        char *priv = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        x = (struct xfer *)(void *)priv;
        xfer_end(d, x, m->data.result); /* releases x->easy */
        done[n++] = x->it;
        d->active--;
        xfer_free(d, x);
    }
    return n;
}

size_t deliverer_poll(struct deliverer *d, int wait_ms, struct delivery **done,
                      size_t max)
{
    int running;
    size_t n;

    if (d->active == 0) {
        if (wait_ms > 0) /* nothing to drive: until the time is up or a wakeup */
            curl_multi_poll(d->multi, NULL, 0, wait_ms, NULL);
        return 0;
    }
    curl_multi_perform(d->multi, &running);
    if ((n = drain(d, done, max)) > 0)
        return n;
    curl_multi_poll(d->multi, NULL, 0, wait_ms, NULL);
    curl_multi_perform(d->multi, &running);
    return drain(d, done, max);
}

void deliverer_wakeup(struct deliverer *d)
{
    if (d && d->multi)
        curl_multi_wakeup(d->multi);
}

size_t deliverer_abort(struct deliverer *d, struct delivery **done, size_t max)
{
    size_t n = 0;

    while (d->live && n < max) {
        struct xfer *x = d->live;
        x->it->status = DELIVER_PENDING;
        snprintf(x->it->reason, sizeof(x->it->reason), "aborted");
        done[n++] = x->it;
        d->active--;
        xfer_free(d, x);
    }
    return n;
}

size_t deliverer_active(const struct deliverer *d)
{
    return d ? d->active : 0;
}
