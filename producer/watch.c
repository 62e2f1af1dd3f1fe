/* watch.c -- see watch.h. */
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "jsonstream.h"
#include "log.h"
#include "util.h"

#define WATCH_BACKOFF_MIN 500   /* ms */
#define WATCH_BACKOFF_MAX 30000 /* ms */
#define WATCH_PAGE 500
#define WATCH_MAX_RV 256
#define WATCH_MAX_URL 32768

struct cycle {
    struct live *l;
    const struct watch_opts *o;
    bool listing;
    char rv[WATCH_MAX_RV]; /* the resourceVersion to go on from */
    char cont[4096];       /* list: the continue token of the next page */
    long events;           /* values handled in this request */
    bool relist;           /* 410: list again */
    int status_code;       /* a Status object in the body: its code */
    char status_msg[512];
};

static void count(struct live *l, const char *name, const char *help, const char *k,
                  const char *v)
{
    char lbl[METRICS_LABELS_MAX + 1] = "";
    if (k)
        metrics_labels_add(lbl, sizeof(lbl), k, v);
    metrics_counter_add(l->m, name, help, 1, lbl);
}

static void sleep_run(int64_t ms, const volatile sig_atomic_t *run)
{
    int64_t until = util_mono_ms() + ms;
    while (*run && util_mono_ms() < until)
        util_sleep_ms(50, NULL);
}

static void take_rv(struct cycle *c, const cJSON *obj)
{
    const cJSON *md = obj ? cJSON_GetObjectItemCaseSensitive(obj, "metadata") : NULL;
    const cJSON *rv = md ? cJSON_GetObjectItemCaseSensitive(md, "resourceVersion") : NULL;
    if (cJSON_IsString(rv) && rv->valuestring[0] &&
        strlen(rv->valuestring) < WATCH_MAX_RV)
        snprintf(c->rv, sizeof(c->rv), "%s", rv->valuestring);
}

static void handle(struct cycle *c, const cJSON *pj, const char *fallback)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(pj, "metadata");
    const cJSON *name = md ? cJSON_GetObjectItemCaseSensitive(md, "name") : NULL;
    char where[512];

    snprintf(where, sizeof(where), "watch %s/%.200s", c->o->k->ns,
             cJSON_IsString(name) ? name->valuestring : fallback);
    live_handle(c->l, pj, where);
    live_settle(c->l);
}

/* A Status object (an error body, or the object of an ERROR event). */
static void take_status(struct cycle *c, const cJSON *st)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(st, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(st, "message");
    c->status_code = cJSON_IsNumber(code) ? (int)code->valuedouble : 0;
    snprintf(c->status_msg, sizeof(c->status_msg), "%.500s",
             cJSON_IsString(msg) ? msg->valuestring : "");
    if (c->status_code == 410)
        c->relist = true;
}

static int on_value(void *opaque, const struct jstream_value *v)
{
    struct cycle *c = opaque;
    cJSON *doc;

    if (v->kind == JSTREAM_ERROR) {
        log_error("watch %s: %s", c->o->k->ns, v->error);
        count(c->l, "herald_producer_watch_errors_total", "Broken responses of the API.",
              NULL, NULL);
        return 0;
    }
    if (!(doc = cJSON_ParseWithLength(v->text, v->len)))
        return 0;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
    if (v->kind == JSTREAM_LIST_END) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
        const cJSON *ct = md ? cJSON_GetObjectItemCaseSensitive(md, "continue") : NULL;
        take_rv(c, doc);
        c->cont[0] = '\0';
        if (cJSON_IsString(ct) && strlen(ct->valuestring) < sizeof(c->cont))
            snprintf(c->cont, sizeof(c->cont), "%s", ct->valuestring);
    } else if (v->kind == JSTREAM_ITEM) {
        c->events++;
        handle(c, doc, "items[?]");
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0) {
        take_status(c, doc);
    } else if (!c->listing) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "type");
        const cJSON *obj = cJSON_GetObjectItemCaseSensitive(doc, "object");
        const char *t = cJSON_IsString(type) ? type->valuestring : "";
        c->events++;
        if (strcmp(t, "ERROR") == 0) {
            take_status(c, obj);
            cJSON_Delete(doc);
            return 1; /* the stream is over */
        }
        take_rv(c, obj);
        if (strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0)
            handle(c, obj, "?");
    }
    cJSON_Delete(doc);
    return 0;
}

struct feed {
    struct jstream *js;
    struct cycle *c;
};

/* While a watch is idle, the delivery reports of what it published still settle. */
static void on_tick(void *opaque)
{
    struct feed *f = opaque;
    live_settle(f->c->l);
}

static int on_data(void *opaque, const char *data, size_t len)
{
    struct feed *f = opaque;
    size_t used = 0;
    int rc = jstream_feed(f->js, data, len, on_value, f->c, &used);
    return rc != 0;
}

/* One request: a list page or a watch. Returns the HTTP status, or -1. */
static long request(struct cycle *c, const char *url, long timeout_ms)
{
    struct http_req r = {.url = url,
                         .gzip = true,
                         .timeout_ms = timeout_ms,
                         .run = c->o->run,
                         .low_speed_s = c->listing ? 60 : 0};
    struct feed f = {.js = jstream_new(INPUT_MAX_VALUE), .c = c};
    char token[16384], err[512];
    long status = -1;
    const char *const hdrs[] = {"Accept: application/json", NULL};

    if (!f.js)
        return -1;
    r.headers = hdrs;
    if (kube_auth(c->o->k, &r, token, sizeof(token), err, sizeof(err)) < 0) {
        log_error("watch: %s", err);
        goto out;
    }
    r.on_data = on_data;
    r.on_tick = on_tick;
    r.opaque = &f;
    c->events = 0;
    c->status_code = 0;
    c->status_msg[0] = '\0';
    if (http_get(&r, &status, err, sizeof(err)) < 0) {
        log_warn("watch %s: %s: %s", c->o->k->ns, c->listing ? "list" : "watch", err);
        status = -1;
    } else {
        jstream_finish(f.js, on_value, c);
    }
out:
    jstream_free(f.js);
    return status;
}

static void url_of(const struct cycle *c, char *url, size_t size, bool watch)
{
    char sel[WATCH_MAX_SELECTOR * 3 + 32] = "", tok[4096 * 3] = "";
    const struct watch_opts *o = c->o;
    int n;

    char stok[WATCH_MAX_SELECTOR * 3 + 1];
    if (o->selector && http_escape(o->selector, false, stok, sizeof(stok)) == 0)
        snprintf(sel, sizeof(sel), "&labelSelector=%s", stok);
    if (watch) {
        http_escape(c->rv, false, tok, sizeof(tok));
        n = snprintf(
            url, size,
            "%s/apis/prow.k8s.io/v1/namespaces/%s/prowjobs?watch=1&resourceVersion=%s"
            "&allowWatchBookmarks=true&timeoutSeconds=%ld%s",
            o->k->server, o->k->ns, tok, o->watch_timeout_s, sel);
    } else {
        char cont[4096 * 3 + 16] = "";
        if (c->cont[0] && http_escape(c->cont, false, tok, sizeof(tok)) == 0)
            snprintf(cont, sizeof(cont), "&continue=%s", tok);
        n = snprintf(url, size,
                     "%s/apis/prow.k8s.io/v1/namespaces/%s/prowjobs?limit=%d%s%s",
                     o->k->server, o->k->ns, WATCH_PAGE, cont, sel);
    }
    if (n < 0 || (size_t)n >= size)
        url[0] = '\0'; /* cannot happen within the bounds above; the request then fails */
}

/* The plain reason for a refused request. */
static void refused(struct cycle *c, long status, const char *what)
{
    if (status == 401 || status == 403)
        log_error(
            "%s prowjobs.prow.k8s.io in %s: HTTP %ld %s -- the credentials (%s) need "
            "get, list and watch on prowjobs in namespace %s "
            "(a RoleBinding there: deploy/k8s/prow-rbac)",
            what, c->o->k->ns, status, c->status_msg, c->o->k->where, c->o->k->ns);
    else
        log_error("%s prowjobs.prow.k8s.io in %s: HTTP %ld %s", what, c->o->k->ns, status,
                  c->status_msg);
    count(c->l, "herald_producer_watch_errors_total", "Broken responses of the API.",
          NULL, NULL);
}

/* List every page. Returns 0 with c->rv set, or -1 (backoff). */
static int list_all(struct cycle *c)
{
    char url[WATCH_MAX_URL];
    long status;

    c->listing = true;
    c->cont[0] = '\0';
    c->rv[0] = '\0';
    do {
        url_of(c, url, sizeof(url), false);
        status = request(c, url, 300000);
        live_settle(c->l);
        if (status == 410) {
            /* the continue token expired: start the list again */
            log_warn("watch %s: the list's continue token expired; listing again",
                     c->o->k->ns);
            count(c->l, "herald_producer_relists_total", "Lists started again.", "reason",
                  "continue_expired");
            c->cont[0] = '\0';
            c->rv[0] = '\0';
            continue;
        }
        if (status != 200) {
            if (status > 0)
                refused(c, status, "list");
            return -1;
        }
    } while (c->cont[0] && *c->o->run);
    c->listing = false;
    return c->rv[0] ? 0 : -1;
}

int watch_run(struct live *l, const struct watch_opts *o)
{
    struct cycle c = {.l = l, .o = o};
    int64_t backoff = WATCH_BACKOFF_MIN;
    bool listed = false;
    char url[WATCH_MAX_URL];

    log_info("watching prowjobs.prow.k8s.io in %s at %s (%s)%s%s", o->k->ns, o->k->server,
             o->k->where, o->selector ? " with selector " : "",
             o->selector ? o->selector : "");
    while (*o->run) {
        if (!listed) {
            count(l, "herald_producer_relists_total", "Lists started again.", "reason",
                  c.relist ? "gone" : "start");
            c.relist = false;
            if (list_all(&c) < 0) {
                sleep_run(backoff, o->run);
                backoff =
                    backoff * 2 > WATCH_BACKOFF_MAX ? WATCH_BACKOFF_MAX : backoff * 2;
                continue;
            }
            listed = true;
            log_info("watch %s: listed, %ld published, %ld unchanged; watching from "
                     "resourceVersion %s",
                     o->k->ns, l->changed, l->unchanged, c.rv);
        }
        int64_t started = util_mono_ms();
        url_of(&c, url, sizeof(url), true);
        c.relist = false;
        long status = request(&c, url, (o->watch_timeout_s + 30) * 1000);
        live_settle(l);
        if (!*o->run)
            break;
        count(l, "herald_producer_watch_restarts_total", "Watches started again.", NULL,
              NULL);
        if (status == 410 || c.relist) {
            log_info("watch %s: resourceVersion %s is gone (410: %s); listing again",
                     o->k->ns, c.rv, c.status_msg);
            listed = false;
            c.relist = true;
            continue;
        }
        if (status > 0 && status != 200)
            refused(&c, status, "watch");
        else if (c.status_code)
            log_error("watch %s: ERROR %d: %s", o->k->ns, c.status_code, c.status_msg);
        if (status == 200 && !c.status_code &&
            (c.events > 0 || util_mono_ms() - started >= 10000)) {
            backoff = WATCH_BACKOFF_MIN; /* a normal end: watch again at once */
            continue;
        }
        sleep_run(backoff, o->run);
        backoff = backoff * 2 > WATCH_BACKOFF_MAX ? WATCH_BACKOFF_MAX : backoff * 2;
    }
    return 0;
}
