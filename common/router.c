/* router.c -- route matching. */
#include "router.h"

#include <stdbool.h>

#include "util.h"

const char *facts_get(const struct facts *f, enum field fld)
{
    const char *v = NULL;

    switch (fld) {
    case FIELD_SERVICE:
        v = f->service;
        break;
    case FIELD_REPO:
        v = f->ev->repo;
        break;
    case FIELD_JOB:
        v = f->ev->job;
        break;
    case FIELD_STAGE:
        v = f->stage;
        break;
    case FIELD_TYPE:
        v = f->ev->type;
        break;
    case FIELD_TIER:
        v = tier_name(f->tier);
        break;
    case FIELD_STATE:
        v = f->ev->state;
        break;
    case FIELD_ORG:
        v = f->ev->org;
        break;
    case FIELD_BASE_REF:
        v = f->ev->base_ref;
        break;
    case FIELD__COUNT:
        break;
    }
    return v ? v : "";
}

static bool route_matches(const struct route *r, const struct facts *f)
{
    for (int fld = 0; fld < FIELD__COUNT; fld++) {
        const struct strlist *l = &r->match[fld];
        bool any = l->n == 0;
        for (size_t i = 0; i < l->n && !any; i++)
            any = util_glob_match(l->v[i], facts_get(f, (enum field)fld));
        if (!any)
            return false;
    }
    return true;
}

static size_t add_unique(size_t *out, size_t n, size_t max, size_t idx)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] == idx)
            return n;
    if (n < max)
        out[n++] = idx;
    return n;
}

size_t router_route(const struct config *c, const struct facts *f, size_t *out,
                    size_t max, int *route_line)
{
    return router_route_ex(c, f, out, max, route_line, NULL);
}

size_t router_route_ex(const struct config *c, const struct facts *f, size_t *out,
                       size_t max, int *route_line, bool *dropped)
{
    size_t n = 0;
    bool matched = false;

    if (route_line)
        *route_line = 0;
    if (dropped)
        *dropped = false;
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct route *r = &c->routes[i];
        if (!route_matches(r, f))
            continue;
        if (r->drop) {
            if (route_line)
                *route_line = r->line;
            if (dropped)
                *dropped = true;
            return 0;
        }
        if (!matched && route_line)
            *route_line = r->line;
        matched = true;
        for (size_t j = 0; j < r->nreceivers; j++)
            n = add_unique(out, n, max, r->receivers[j]);
        if (!r->cont)
            break;
    }
    if (!matched && c->default_receiver >= 0)
        n = add_unique(out, n, max, (size_t)c->default_receiver);
    return n;
}
