/* pages.c -- what the pages share: JSON queries, links, parameters. */
#include "pages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "log.h"

cJSON *query_json(struct req *r, const char *what, const char *sql, int nparams,
                  const char *const *params)
{
    PGresult *res = pg_query(r->pg, what, sql, nparams, params);
    const char *v;
    cJSON *out = NULL;

    if (!res)
        return NULL;
    v = pg_value(res, 0, 0);
    if (!v || !(out = cJSON_Parse(v)))
        snprintf(r->pg->err, sizeof(r->pg->err), "%s: no JSON answer", what);
    PQclear(res);
    return out;
}

enum MHD_Result reply_db_error(struct req *r)
{
    log_warn("web: %s", r->pg->err);
    if (!r->pg->conn)
        return reply_error(r, 503,
                           "the history database is unreachable; try again shortly");
    if (strstr(r->pg->err, "does not exist"))
        return reply_error(r, 503,
                           "the history schema is not there yet: start "
                           "herald-recorder, which creates it");
    return reply_error(r, 500, "the history query failed: %s", r->pg->err);
}

int stages_array(const struct config *cfg, struct buf *out)
{
    if (buf_puts(out, "{") < 0)
        return -1;
    for (size_t i = 0; i < cfg->nrelease_stages; i++) {
        if (i && buf_puts(out, ",") < 0)
            return -1;
        if (buf_puts(out, "\"") < 0)
            return -1;
        for (const char *p = cfg->release_stages[i].stage; *p; p++)
            if ((*p == '"' || *p == '\\' ? buf_puts(out, "\\") : 0) < 0 ||
                buf_append(out, p, 1) < 0)
                return -1;
        if (buf_puts(out, "\"") < 0)
            return -1;
    }
    return buf_puts(out, "}");
}

int glob_to_like(const char *glob, struct buf *out)
{
    for (const char *p = glob; *p; p++) {
        int rc;
        switch (*p) {
        case '*':
            rc = buf_puts(out, "%");
            break;
        case '?':
            rc = buf_puts(out, "_");
            break;
        case '%':
        case '_':
        case '\\':
            rc = buf_printf(out, "\\%c", *p);
            break;
        default:
            rc = buf_append(out, p, 1);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double jnum(const cJSON *o, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int link_job(struct buf *b, const char *org, const char *repo, const char *job)
{
    return buf_puts(b, "/job/") < 0 || html_path(b, org ? org : "-") < 0 ||
                   buf_puts(b, "/") < 0 || html_path(b, repo ? repo : "-") < 0 ||
                   buf_puts(b, "/") < 0 || html_path(b, job) < 0
               ? -1
               : 0;
}

int link_release(struct buf *b, const char *service, const char *version)
{
    return buf_puts(b, "/release/") < 0 || html_path(b, service) < 0 ||
                   buf_puts(b, "/") < 0 || html_path(b, version) < 0
               ? -1
               : 0;
}
