/* board.c -- the release board (/ and /api/board): one row per service with its
 * latest release and those still in flight, one cell per stage of the release DAG
 * (release.stages), sorted so that what needs attention comes first.
 *
 * A cell's state: succeeded, failed (failure or error), aborted, running (triggered or
 * pending), blocked (a stage it waits for failed or is blocked, and it did not
 * succeed), stale (everything it waits for succeeded -- or it waits for nothing and
 * the release started -- longer than release.stall_timeout ago, and it never ran),
 * waiting (not run yet, within the timeout). The clock is the newest event recorded.
 * A release's status is its worst cell: failed > blocked > stale > running > waiting
 * > aborted > succeeded; a service's is its worst release shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "pages.h"

#define BOARD_RELEASES 3 /* newest releases per service considered */
#define DEFAULT_STALL_MS (3600 * 1000LL)

static const char *const states[] = {"succeeded", "aborted", "waiting", "running",
                                     "stale",     "blocked", "failed"};

static int severity(const char *s)
{
    for (int i = 0; i < (int)(sizeof(states) / sizeof(states[0])); i++)
        if (!strcmp(states[i], s))
            return i == 1 ? 2 : i; /* aborted ranks with waiting */
    return 0;
}

static bool valid_state(const char *s)
{
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (!strcmp(states[i], s))
            return true;
    return false;
}

static const char *run_state(const char *prow)
{
    if (!prow)
        return "waiting";
    if (!strcmp(prow, "success"))
        return "succeeded";
    if (!strcmp(prow, "failure") || !strcmp(prow, "error"))
        return "failed";
    if (!strcmp(prow, "aborted"))
        return "aborted";
    return "running";
}

static long stage_index(const struct config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->nrelease_stages; i++)
        if (!strcmp(cfg->release_stages[i].stage, stage))
            return (long)i;
    return -1;
}

/* Compute the cells of one release row (from the query) into a new object. */
cJSON *board_release_cells(const struct config *cfg, const cJSON *rel, int64_t asof)
{
    size_t n = cfg->nrelease_stages;
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(rel, "stages");
    cJSON *out = cJSON_CreateObject(), *cells = cJSON_AddArrayToObject(out, "cells");
    const char **cs = calloc(n ? n : 1, sizeof(*cs));
    int64_t *ends = calloc(n ? n : 1, sizeof(*ends));
    int64_t stall = cfg->stall_ms > 0 ? cfg->stall_ms : DEFAULT_STALL_MS;
    int worst = 0;
    const char *status = "succeeded";

    if (!out || !cells || !cs || !ends) {
        free(cs);
        free(ends);
        cJSON_Delete(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct release_stage *rs = &cfg->release_stages[i];
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(stages, rs->stage);
        bool up_bad = false, up_ok = true;
        int64_t ref = (int64_t)jnum(rel, "first_ms", 0);
        const char *st, *why = NULL;
        cJSON *cell;

        if (cJSON_IsNull(run))
            run = NULL;
        for (size_t k = 0; k < rs->nafter; k++) {
            long u = stage_index(cfg, rs->after[k]);
            if (u < 0 || (size_t)u >= i)
                continue;
            if (!strcmp(cs[u], "failed") || !strcmp(cs[u], "blocked"))
                up_bad = true;
            if (strcmp(cs[u], "succeeded") != 0)
                up_ok = false;
            else if (ends[u] > ref)
                ref = ends[u];
        }
        st = run_state(run ? jstr(run, "state") : NULL);
        if (run && up_bad && (!strcmp(st, "failed") || !strcmp(st, "aborted"))) {
            st = "blocked";
            why = "a stage it waits for failed";
        } else if (!run && up_bad) {
            st = "blocked";
            why = "a stage it waits for failed";
        } else if (!run && up_ok && asof - ref > stall) {
            st = "stale";
            why = "should have run by now";
        }
        cs[i] = st;
        ends[i] = run ? (int64_t)jnum(run, "end_ms", 0) : 0;
        if (!(cell = run ? cJSON_Duplicate(run, 1) : cJSON_CreateObject()))
            break;
        if (run)
            cJSON_AddStringToObject(cell, "run_state", jstr(run, "state"));
        cJSON_DeleteItemFromObjectCaseSensitive(cell, "state");
        cJSON_AddStringToObject(cell, "stage", rs->stage);
        cJSON_AddStringToObject(cell, "state", st);
        if (why)
            cJSON_AddStringToObject(cell, "why", why);
        if (run && jnum(run, "end_ms", 0) > 0)
            cJSON_AddNumberToObject(cell, "duration_ms",
                                    jnum(run, "end_ms", 0) - jnum(run, "start_ms", 0));
        cJSON_AddItemToArray(cells, cell);
        if (severity(st) > worst) {
            worst = severity(st);
            status = st;
        }
    }
    cJSON_AddStringToObject(out, "status", status);
    cJSON_AddNumberToObject(out, "severity", worst);
    free(cs);
    free(ends);
    return out;
}

struct svc {
    const char *name;
    cJSON *obj;
    int severity;
    double last;
};

static int svc_cmp(const void *a, const void *b)
{
    const struct svc *x = a, *y = b;

    if (x->severity != y->severity)
        return y->severity - x->severity;
    if (x->last != y->last)
        return y->last > x->last ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* The board's data: query, cells, filters, order. */
static cJSON *board_data(struct req *r, const char *service, const char *stage,
                         const char *state)
{
    static const char sql[] =
        "WITH asof AS (SELECT greatest((SELECT max(end_ms) FROM runs), "
        "  (SELECT max(last_ms) FROM releases), 0) AS t), "
        "svc AS (SELECT DISTINCT service FROM releases WHERE $1::text IS NULL OR service "
        "LIKE $1), "
        "rel AS (SELECT x.* FROM svc CROSS JOIN LATERAL (SELECT * FROM releases x "
        "  WHERE x.service = svc.service ORDER BY x.first_ms DESC LIMIT 3) x) "
        "SELECT json_build_object('asof_ms', (SELECT t FROM asof), 'releases', "
        " coalesce(json_agg(json_build_object('service', rel.service, 'version', "
        "rel.version, "
        "  'first_ms', rel.first_ms, 'last_ms', rel.last_ms, 'stages', "
        "  (SELECT json_object_agg(st.stage, (SELECT json_build_object('state', q.state, "
        "     'job', q.job, 'org', q.org, 'repo', q.repo, 'url', q.url, 'build_id', "
        "q.build_id, "
        "     'start_ms', q.start_ms, 'end_ms', q.end_ms, 'description', q.description, "
        "     'infra_cause', q.infra_cause, 'runs', (SELECT count(*) FROM runs c "
        "       WHERE c.service = rel.service AND c.version = rel.version AND c.stage = "
        "st.stage)) "
        "     FROM runs q WHERE q.service = rel.service AND q.version = rel.version "
        "       AND q.stage = st.stage ORDER BY q.start_ms DESC, q.run_key DESC LIMIT "
        "1)) "
        "   FROM unnest($2::text[]) st(stage))) "
        "  ORDER BY rel.service, rel.first_ms DESC), '[]')) FROM rel";
    struct buf like, arr;
    const char *params[2];
    cJSON *q = NULL, *out = NULL, *list;
    const cJSON *rel;
    struct svc *svcs = NULL;
    size_t nsvc = 0, cap = 0;
    int64_t asof;

    buf_init(&like, 1024);
    buf_init(&arr, 64 * 1024);
    if ((service && glob_to_like(service, &like) < 0) || stages_array(r->cfg, &arr) < 0)
        goto out;
    params[0] = service ? like.data : NULL;
    params[1] = arr.data;
    if (!(q = query_json(r, "board", sql, 2, params)))
        goto out;
    asof = (int64_t)jnum(q, "asof_ms", 0);
    out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "asof_ms", (double)asof);
    {
        cJSON *st = cJSON_AddArrayToObject(out, "stages");
        for (size_t i = 0; i < r->cfg->nrelease_stages; i++) {
            const struct release_stage *rs = &r->cfg->release_stages[i];
            if (stage && strcmp(stage, rs->stage) != 0)
                continue;
            cJSON *o = cJSON_CreateObject();
            cJSON *after = cJSON_AddArrayToObject(o, "after");
            cJSON_AddStringToObject(o, "stage", rs->stage);
            for (size_t k = 0; k < rs->nafter; k++)
                cJSON_AddItemToArray(after, cJSON_CreateString(rs->after[k]));
            cJSON_AddItemToArray(st, o);
        }
    }
    cJSON_ArrayForEach(rel, cJSON_GetObjectItemCaseSensitive(q, "releases"))
    {
        const char *name = jstr(rel, "service");
        cJSON *cells = board_release_cells(r->cfg, rel, asof), *ro;
        struct svc *s = NULL;
        if (!name || !cells) {
            cJSON_Delete(cells);
            continue;
        }
        for (size_t i = 0; i < nsvc; i++)
            if (!strcmp(svcs[i].name, name))
                s = &svcs[i];
        if (!s) {
            if (nsvc == cap) {
                size_t nc = cap ? cap * 2 : 64;
                struct svc *ns = realloc(svcs, nc * sizeof(*ns));
                if (!ns) {
                    cJSON_Delete(cells);
                    break;
                }
                svcs = ns;
                cap = nc;
            }
            s = &svcs[nsvc++];
            s->name = name;
            s->obj = cJSON_CreateObject();
            cJSON_AddStringToObject(s->obj, "service", name);
            cJSON_AddArrayToObject(s->obj, "releases");
            s->severity = -1;
            s->last = 0;
        }
        /* The newest release always; older ones only while in flight. */
        list = cJSON_GetObjectItemCaseSensitive(s->obj, "releases");
        bool newest = cJSON_GetArraySize(list) == 0;
        if (!newest && !strcmp(jstr(cells, "status"), "succeeded")) {
            cJSON_Delete(cells);
            continue;
        }
        ro = cJSON_CreateObject();
        cJSON_AddStringToObject(ro, "version", jstr(rel, "version"));
        cJSON_AddNumberToObject(ro, "first_ms", jnum(rel, "first_ms", 0));
        cJSON_AddNumberToObject(ro, "last_ms", jnum(rel, "last_ms", 0));
        cJSON_AddStringToObject(ro, "status", jstr(cells, "status"));
        cJSON_AddBoolToObject(ro, "latest", newest);
        cJSON_AddBoolToObject(ro, "in_flight",
                              strcmp(jstr(cells, "status"), "succeeded") != 0);
        {
            cJSON *c = cJSON_DetachItemFromObjectCaseSensitive(cells, "cells"), *cell,
                  *keep;
            keep = cJSON_CreateArray();
            bool match = !state || !strcmp(state, jstr(cells, "status"));
            cJSON_ArrayForEach(cell, c)
            {
                if (stage && strcmp(stage, jstr(cell, "stage")) != 0)
                    continue;
                if (state && !strcmp(state, jstr(cell, "state")))
                    match = true;
                cJSON_AddItemToArray(keep, cJSON_Duplicate(cell, 1));
            }
            cJSON_Delete(c);
            cJSON_AddItemToObject(ro, "cells", keep);
            if (!match) {
                cJSON_Delete(ro);
                cJSON_Delete(cells);
                continue;
            }
        }
        if ((int)jnum(cells, "severity", 0) > s->severity)
            s->severity = (int)jnum(cells, "severity", 0);
        if (jnum(rel, "last_ms", 0) > s->last)
            s->last = jnum(rel, "last_ms", 0);
        cJSON_AddItemToArray(list, ro);
        cJSON_Delete(cells);
    }
    qsort(svcs, nsvc, sizeof(*svcs), svc_cmp);
    list = cJSON_AddArrayToObject(out, "services");
    for (size_t i = 0; i < nsvc; i++) {
        if (cJSON_GetArraySize(
                cJSON_GetObjectItemCaseSensitive(svcs[i].obj, "releases")) == 0) {
            cJSON_Delete(svcs[i].obj);
            continue;
        }
        cJSON_AddStringToObject(svcs[i].obj, "status",
                                svcs[i].severity >= 0 ? states[svcs[i].severity]
                                                      : "succeeded");
        cJSON_AddItemToArray(list, svcs[i].obj);
    }
out:
    free(svcs);
    cJSON_Delete(q);
    buf_release(&like);
    buf_release(&arr);
    return out;
}

/* One cell: badge, duration, runs, link to the run on Deck. */
static int render_cell(struct buf *b, const cJSON *c)
{
    const char *st = jstr(c, "state"), *url = jstr(c, "url"), *why = jstr(c, "why");
    double runs = jnum(c, "runs", 0), dur = jnum(c, "duration_ms", -1);

    if (buf_puts(b, "<td class=\"cell\" data-stage=\"") < 0 ||
        html_text(b, jstr(c, "stage")) < 0 || buf_puts(b, "\" data-state=\"") < 0 ||
        html_text(b, st) < 0 || buf_puts(b, "\">") < 0)
        return -1;
    if (url && (buf_puts(b, "<a href=\"") < 0 || html_text(b, url) < 0 ||
                buf_puts(b, "\" title=\"the run on Deck\">") < 0))
        return -1;
    if (html_badge(b, st, NULL) < 0 || (url && buf_puts(b, "</a>") < 0))
        return -1;
    if (jstr(c, "job") &&
        (buf_puts(b, "<small>") < 0 || html_text(b, jstr(c, "job")) < 0 ||
         buf_puts(b, "</small>") < 0))
        return -1;
    if (dur >= 0 && (buf_puts(b, "<small>took ") < 0 ||
                     html_duration(b, (int64_t)dur) < 0 || buf_puts(b, "</small>") < 0))
        return -1;
    if (runs > 1 && buf_printf(b, "<small>%.0f runs (reruns)</small>", runs) < 0)
        return -1;
    if (why && (buf_puts(b, "<small>") < 0 || html_text(b, why) < 0 ||
                buf_puts(b, "</small>") < 0))
        return -1;
    return buf_puts(b, "</td>");
}

static int render_table(const cJSON *d, struct buf *b)
{
    const cJSON *st, *svc;

    if (buf_puts(b, "<p class=\"muted\">As of ") < 0 ||
        html_time(b, (int64_t)jnum(d, "asof_ms", 0)) < 0 ||
        buf_puts(
            b,
            " (the newest event recorded). Refreshes every 10 s.</p>"
            "<table id=\"board-table\"><thead><tr><th>Service</th><th>Release</th>") < 0)
        return -1;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(d, "stages"))
    {
        if (buf_puts(b, "<th>") < 0 || html_text(b, jstr(st, "stage")) < 0 ||
            buf_puts(b, "</th>") < 0)
            return -1;
    }
    if (buf_puts(b, "<th>Last event</th></tr></thead><tbody>") < 0)
        return -1;
    cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(d, "services"))
    {
        const cJSON *rel;
        cJSON_ArrayForEach(rel, cJSON_GetObjectItemCaseSensitive(svc, "releases"))
        {
            const cJSON *c;
            struct buf href;
            buf_init(&href, 4096);
            link_release(&href, jstr(svc, "service"), jstr(rel, "version"));
            if (buf_puts(b, "<tr class=\"release\" data-service=\"") < 0 ||
                html_text(b, jstr(svc, "service")) < 0 ||
                buf_puts(b, "\" data-version=\"") < 0 ||
                html_text(b, jstr(rel, "version")) < 0 ||
                buf_puts(b, "\" data-status=\"") < 0 ||
                html_text(b, jstr(rel, "status")) < 0 || buf_puts(b, "\"><td><b>") < 0 ||
                html_text(b, jstr(svc, "service")) < 0 ||
                buf_puts(b, "</b></td><td><a href=\"") < 0 ||
                html_text(b, href.data) < 0 || buf_puts(b, "\">") < 0 ||
                html_text(b, jstr(rel, "version")) < 0 || buf_puts(b, "</a> ") < 0 ||
                html_badge(b, jstr(rel, "status"), NULL) < 0 ||
                (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rel, "latest"))
                     ? 0
                     : buf_puts(b, "<small class=\"muted\"> older, in flight</small>")) <
                    0 ||
                buf_puts(b, "</td>") < 0) {
                buf_release(&href);
                return -1;
            }
            buf_release(&href);
            cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rel, "cells"))
            {
                if (render_cell(b, c) < 0)
                    return -1;
            }
            if (buf_puts(b, "<td>") < 0 ||
                html_time(b, (int64_t)jnum(rel, "last_ms", 0)) < 0 ||
                buf_puts(b, "</td></tr>") < 0)
                return -1;
        }
    }
    return buf_puts(b, "</tbody></table>");
}

static int render_board(const struct req *r, const cJSON *d, struct buf *b)
{
    const char *service = req_param(r, "service"), *stage = req_param(r, "stage"),
               *state = req_param(r, "state");

    if (html_head(b, "Release board", "board") < 0 ||
        buf_puts(b,
                 "<h1>Release board</h1><form class=\"filters\" method=\"get\" "
                 "action=\"/\"><label>Service (glob)<input name=\"service\" value=\"") <
            0 ||
        html_text(b, service) < 0 ||
        buf_puts(b, "\"></label><label>Stage<select name=\"stage\"><option value=\"\">all"
                    "</option>") < 0)
        return -1;
    for (size_t i = 0; i < r->cfg->nrelease_stages; i++) {
        const char *s = r->cfg->release_stages[i].stage;
        if (buf_puts(b, "<option") < 0 ||
            (stage && !strcmp(stage, s) && buf_puts(b, " selected") < 0) ||
            buf_puts(b, ">") < 0 || html_text(b, s) < 0 || buf_puts(b, "</option>") < 0)
            return -1;
    }
    if (buf_puts(b,
                 "</select></label><label>State<select name=\"state\"><option value=\"\">"
                 "any</option>") < 0)
        return -1;
    for (size_t i = sizeof(states) / sizeof(states[0]); i-- > 0;)
        if (buf_printf(b, "<option%s>%s</option>",
                       state && !strcmp(state, states[i]) ? " selected" : "",
                       states[i]) < 0)
            return -1;
    if (buf_puts(b, "</select></label><button>Filter</button></form><div id=\"board\">") <
            0 ||
        render_table(d, b) < 0 ||
        buf_puts(
            b,
            "</div><script>\n"
            "(function(){var u=new URL(location.href);u.searchParams.set('partial','1');"
            "setInterval(function(){fetch(u).then(function(r){return r.ok?r.text():null})"
            ".then(function(t){if(t!==null)document.getElementById('board').innerHTML=t;}"
            ")"
            ".catch(function(){});},10000);})();\n</script>") < 0)
        return -1;
    return html_foot(b);
}

enum MHD_Result page_board(struct req *r)
{
    const char *service = req_param(r, "service"), *stage = req_param(r, "stage"),
               *state = req_param(r, "state"), *partial = req_param(r, "partial");
    enum MHD_Result ret;
    cJSON *d;

    if (service && !*service)
        service = NULL;
    if (stage && !*stage)
        stage = NULL;
    if (state && !*state)
        state = NULL;
    if (service && !param_is_name(service, true))
        return reply_error(r, 400,
                           "service: expected a name or a glob of [A-Za-z0-9._-*?], "
                           "at most %d bytes",
                           WEB_SEGMENT_MAX);
    if (stage && stage_index(r->cfg, stage) < 0)
        return reply_error(r, 400, "stage: not a stage of release.stages");
    if (state && !valid_state(state))
        return reply_error(r, 400,
                           "state: expected failed, blocked, stale, running, waiting, "
                           "aborted or succeeded");
    if (partial && strcmp(partial, "1") != 0)
        return reply_error(r, 400, "partial: expected 1");
    if (!(d = board_data(r, service, stage, state)))
        return reply_db_error(r);
    if (partial && !r->api) {
        struct buf b;
        buf_init(&b, WEB_PAGE_MAX);
        if (render_table(d, &b) < 0) {
            cJSON_Delete(d);
            buf_release(&b);
            return reply_error(r, 500, "the board is too large to render");
        }
        cJSON_Delete(d);
        return reply_raw(r, "text/html; charset=utf-8", &b);
    }
    ret = reply_page(r, d, render_board);
    cJSON_Delete(d);
    return ret;
}
