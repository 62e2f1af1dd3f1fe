/* deck.c -- see deck.h. */
#include "deck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "input.h"
#include "jsonstream.h"
#include "log.h"
#include "util.h"

struct poll {
    struct live *l;
    struct jstream *js;
    long items, errors;
    char host[256];
};

char *deck_url(const char *base)
{
    size_t n = strlen(base);
    char *out = malloc(n + 64);

    if (!out)
        return NULL;
    if (strstr(base, "prowjobs.js")) {
        memcpy(out, base, n + 1);
        return out;
    }
    while (n > 0 && base[n - 1] == '/')
        n--;
    snprintf(out, n + 64, "%.*s/prowjobs.js?omit=decoration_config,pod_spec", (int)n,
             base);
    return out;
}

static int on_item(void *opaque, const struct jstream_value *v)
{
    struct poll *p = opaque;
    char where[512];
    cJSON *doc;
    const cJSON *pj;
    char err[512];

    if (v->kind == JSTREAM_LIST_END)
        return 0;
    if (v->kind == JSTREAM_ERROR) {
        snprintf(where, sizeof(where), "deck %s%s", p->host,
                 v->index >= 0 ? " items[...]" : "");
        publisher_reject(p->l->p, where, v->error);
        p->errors++;
        return 0;
    }
    snprintf(where, sizeof(where), "deck %s items[%ld]", p->host, v->index);
    if (!(doc = cJSON_ParseWithLength(v->text, v->len))) {
        publisher_reject(p->l->p, where, "malformed JSON");
        return 0;
    }
    if (input_interpret(doc, &pj, err, sizeof(err)) == 1) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(pj, "metadata");
        const cJSON *name = md ? cJSON_GetObjectItemCaseSensitive(md, "name") : NULL;
        if (cJSON_IsString(name))
            snprintf(where, sizeof(where), "deck %s %.200s", p->host, name->valuestring);
        p->items++;
        live_handle(p->l, pj, where);
        live_settle(p->l);
    } else {
        publisher_reject(p->l->p, where, err[0] ? err : "not a ProwJob");
    }
    cJSON_Delete(doc);
    return 0;
}

static int on_data(void *opaque, const char *data, size_t len)
{
    struct poll *p = opaque;
    return jstream_feed(p->js, data, len, on_item, p, NULL) < 0;
}

static void count(struct live *l, const char *name, const char *help)
{
    metrics_counter_add(l->m, name, help, 1, NULL);
}

int deck_run(struct live *l, const struct deck_opts *o)
{
    char *url = deck_url(o->url);
    struct poll p = {.l = l};
    const char *h = strstr(o->url, "://");

    if (!url || !(p.js = jstream_new(INPUT_MAX_VALUE))) {
        free(url);
        log_error("out of memory");
        return -1;
    }
    snprintf(p.host, sizeof(p.host), "%.*s", (int)strcspn(h ? h + 3 : o->url, "/?"),
             h ? h + 3 : o->url);
    log_info("polling %s every %lld s", url, (long long)(o->interval_ms / 1000));
    while (*o->run) {
        int64_t started = util_mono_ms();
        struct http_req r = {.url = url,
                             .gzip = true,
                             .timeout_ms = 120000,
                             .low_speed_s = 30,
                             .run = o->run,
                             .on_data = on_data,
                             .opaque = &p,
                             .ca_file = o->ca_file,
                             .insecure = o->insecure};
        long status;
        char err[512];
        long before = l->changed, unchanged = l->unchanged;

        p.items = p.errors = 0;
        count(l, "herald_producer_deck_polls_total", "Polls of Deck's /prowjobs.js.");
        if (http_get(&r, &status, err, sizeof(err)) < 0) {
            log_error("deck %s: %s", p.host, err);
            count(l, "herald_producer_deck_errors_total", "Failed polls of Deck.");
            jstream_finish(p.js, NULL, NULL);
        } else if (status != 200) {
            log_error("deck %s: HTTP %ld from %s", p.host, status, url);
            count(l, "herald_producer_deck_errors_total", "Failed polls of Deck.");
            jstream_finish(p.js, NULL, NULL);
        } else {
            jstream_finish(p.js, on_item, &p);
            log_info("deck %s: %ld ProwJobs, %ld published, %ld unchanged%s", p.host,
                     p.items, l->changed - before, l->unchanged - unchanged,
                     p.errors ? " (the response was broken; see above)" : "");
        }
        live_settle(l);
        while (*o->run && util_mono_ms() - started < o->interval_ms)
            util_sleep_ms(50, NULL);
    }
    jstream_free(p.js);
    free(url);
    return 0;
}

void deck_source_id(const char *base, char *out, size_t size)
{
    const char *h = strstr(base, "://");
    char host[128];
    size_t n;

    h = h ? h + 3 : base;
    n = strcspn(h, "/?#");
    snprintf(host, sizeof(host), "%.*s", (int)(n < sizeof(host) ? n : sizeof(host) - 1),
             h);
    for (char *c = host; *c; c++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-",
                    *c))
            *c = '-';
    snprintf(out, size, "deck:%s", host[0] ? host : "deck");
}
