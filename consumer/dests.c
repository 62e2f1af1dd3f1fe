/* dests.c -- see dests.h. */
#include "dests.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

int dests_format(const struct receiver *r, const struct facts *f, char *out, size_t size)
{
    char ch[DESTS_MAX_LEN];
    int n;

    if (r->type == RECEIVER_WEBHOOK) {
        n = snprintf(out, size, "w:%s", r->name);
        return n < 0 || (size_t)n >= size ? -1 : 0;
    }
    const char *vals[4] = {"ecosystem", NULL, NULL, NULL};
    if (f) {
        vals[0] = f->service;
        vals[1] = f->stage;
        vals[2] = f->ev ? f->ev->repo : NULL;
        vals[3] = f->ev ? f->ev->org : NULL;
    }
    if (util_template_expand(r->channel ? r->channel : "", vals, ch, sizeof(ch)) < 0)
        return -1;
    n = snprintf(out, size, "a:%s#%s", r->name, ch);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void add(struct dests *out, const struct receiver *r, const struct facts *f)
{
    if (out->n == DESTS_MAX)
        return;
    if (dests_format(r, f, out->v[out->n], sizeof(out->v[out->n])) < 0) {
        log_warn("receiver %s: its channel for service %s does not fit; not sent there",
                 r->name, f && f->service ? f->service : "-");
        return;
    }
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->v[i], out->v[out->n]) == 0)
            return;
    out->n++;
}

/* reporter_config.slack.channel on the ProwJob: the receiver for that channel, or a
 * Web API receiver posting to it. Returns true if it decided. */
static bool prow_channel(const struct config *cfg, const struct facts *f,
                         struct dests *out)
{
    const cJSON *ch =
        f->ev && f->ev->reporter_slack
            ? cJSON_GetObjectItemCaseSensitive(f->ev->reporter_slack, "channel")
            : NULL;
    const struct receiver *api = NULL;

    if (!cJSON_IsString(ch) || !*ch->valuestring)
        return false;
    const char *want = ch->valuestring + (ch->valuestring[0] == '#');
    for (size_t i = 0; i < cfg->nreceivers; i++) {
        const struct receiver *r = &cfg->receivers[i];
        if (r->channel && !strchr(r->channel, '{') &&
            strcmp(r->channel + (r->channel[0] == '#'), want) == 0) {
            add(out, r, f);
            return true;
        }
        if (!api && r->type == RECEIVER_WEBAPI)
            api = r;
    }
    if (!api) {
        log_debug(
            "%s: reporter_config.slack.channel %s has no receiver; routing by rules",
            f->ev->id, ch->valuestring);
        return false;
    }
    int n = snprintf(out->v[0], sizeof(out->v[0]), "a:%s#%s", api->name, ch->valuestring);
    if (n < 0 || (size_t)n >= sizeof(out->v[0]))
        return false;
    out->n = 1;
    return true;
}

void dests_route(const struct config *cfg, const struct facts *f, struct dests *out)
{
    size_t idx[DESTS_MAX], n;

    out->n = 0;
    out->dropped = false;
    out->route_line = 0;
    n = router_route_ex(cfg, f, idx, DESTS_MAX, &out->route_line, &out->dropped);
    if (out->dropped)
        return;
    if (prow_channel(cfg, f, out))
        return;
    for (size_t i = 0; i < n; i++)
        add(out, &cfg->receivers[idx[i]], f);
}

const struct receiver *dests_receiver(const struct config *cfg, const char *d,
                                      char *channel, size_t channel_size)
{
    const char *name = d + 2, *hash = NULL;
    size_t nl;

    if (channel_size)
        channel[0] = '\0';
    if ((d[0] != 'w' && d[0] != 'a') || d[1] != ':')
        return NULL;
    if (d[0] == 'a' && !(hash = strchr(name, '#')))
        return NULL;
    nl = hash ? (size_t)(hash - name) : strlen(name);
    for (size_t i = 0; i < cfg->nreceivers; i++) {
        const struct receiver *r = &cfg->receivers[i];
        if (strlen(r->name) != nl || strncmp(r->name, name, nl) != 0)
            continue;
        if ((r->type == RECEIVER_WEBAPI) != (d[0] == 'a'))
            return NULL;
        if (hash)
            snprintf(channel, channel_size, "%s", hash + 1);
        return r;
    }
    return NULL;
}
