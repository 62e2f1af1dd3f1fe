/* pages.h -- herald-web's pages; each handler answers its HTML page or, under /api/,
 * the same data as JSON (docs/dashboard.md lists the fields).
 *
 *   page_board     /                          the release board
 *   page_release   /release/<service>/<version>  one release: graph, timeline, alerts
 *   page_job       /job/<org>/<repo>/<job>    the runs of one job
 *   page_trends    /trends                    failing and flaky jobs, causes, heat map
 *   page_outcomes  /outcomes                  MTTD, success rate, interventions, TTR
 *
 * Handlers run on a server thread with r->pg borrowed for the call.
 */
#ifndef HERALD_WEB_PAGES_H
#define HERALD_WEB_PAGES_H

#include <microhttpd.h>

#include "server.h"

enum MHD_Result page_board(struct req *r);
enum MHD_Result page_release(struct req *r);
enum MHD_Result page_job(struct req *r);
enum MHD_Result page_trends(struct req *r);
enum MHD_Result page_outcomes(struct req *r);

/* Shared by the pages (pages.c). */

/* Run a query whose single value is JSON text and parse it. Returns a new cJSON
 * (caller frees), or NULL with r->pg->err set. */
cJSON *query_json(struct req *r, const char *what, const char *sql, int nparams,
                  const char *const *params);

/* Answer the database's error: 503 when it is unreachable, 500 otherwise. */
enum MHD_Result reply_db_error(struct req *r);

/* A PostgreSQL text[] literal of the release stages ("{\"post-submit\",...}"). */
int stages_array(const struct config *cfg, struct buf *out);

/* A glob (* and ?) as a LIKE pattern (%, _ and \ escaped). */
int glob_to_like(const char *glob, struct buf *out);

/* JSON helpers: a member's string (NULL if absent or not a string), number (def if
 * absent), boolean. */
const char *jstr(const cJSON *o, const char *key);
double jnum(const cJSON *o, const char *key, double def);

/* The cells of one release (board.c): rel has first_ms and "stages", an object of
 * stage -> the latest run ({state, start_ms, end_ms, job, url, runs, ...} or null).
 * Returns a new object {status, severity, cells: [...]} (caller frees) or NULL. */
cJSON *board_release_cells(const struct config *cfg, const cJSON *rel, int64_t asof);

/* A link to a Slack message (web.slack_url + channel + ts) into b; returns 1 if one
 * was written, 0 if there is not enough to build one, -1 when b is full. */
int link_slack(struct buf *b, const struct config *cfg, const char *channel,
               const char *ts);

/* An alerts table (release and job pages). */
int render_alerts(struct buf *b, const struct config *cfg, const cJSON *alerts);

/* A runs table (release and job pages); show_stage adds the stage column. */
int render_runs(struct buf *b, const cJSON *runs, bool show_stage);

/* The alert columns as json_build_object arguments, for table alias a. */
extern const char alert_cols[];

/* Links: the job page of a run row (org, repo, job), a release page. */
int link_job(struct buf *b, const char *org, const char *repo, const char *job);
int link_release(struct buf *b, const char *service, const char *version);

#endif
