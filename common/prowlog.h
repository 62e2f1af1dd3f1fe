/* prowlog.h -- Prow's job-log bucket layout (GCS or S3, or a local mirror of one).
 *
 *   logs/<job>/<build_id>/                         periodics and postsubmits
 *   pr-logs/pull/<org>_<repo>/<pr>/<job>/<build_id>/ presubmits (path_strategy explicit)
 *   pr-logs/pull/batch/<job>/<build_id>/           batches
 *
 * each run holding started.json ({"timestamp": epoch s, "pull", "repos", ...}),
 * finished.json ({"timestamp", "passed", "result": SUCCESS|FAILURE|ABORTED, ...}) and,
 * on newer Prows, prowjob.json (the whole ProwJob). Build ids are snowflakes: the
 * run's start time is in the id.
 *
 * Thread-safe (no state).
 */
#ifndef HERALD_PROWLOG_H
#define HERALD_PROWLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define PROWLOG_SNOWFLAKE_EPOCH_MS 1288834974657LL /* bwmarrin/snowflake's epoch */
#define PROWLOG_MAX_PART 1024                      /* bytes of one path part */

enum prowlog_kind {
    PROWLOG_NONE = 0,
    PROWLOG_LOGS,  /* logs/<job>/<build>/ */
    PROWLOG_PULL,  /* pr-logs/pull/<org_repo>/<pr>/<job>/<build>/ */
    PROWLOG_BATCH, /* pr-logs/pull/batch/<job>/<build>/ */
};

struct prowlog_path {
    enum prowlog_kind kind;
    char job[PROWLOG_MAX_PART];
    char build[PROWLOG_MAX_PART];
    char org[PROWLOG_MAX_PART];  /* PULL: before the first '_' of <org_repo> */
    char repo[PROWLOG_MAX_PART]; /* PULL: after it */
    long pr;                     /* PULL */
    size_t dir_len;              /* bytes of the path up to and including "<build>/" */
};

/* The start time (epoch ms) a snowflake build id carries: (id >> 22) + the epoch.
 * Returns 0 and sets *ms, or -1 if build is not a decimal snowflake of a plausible
 * time (2010..2100). */
int prowlog_snowflake_ms(const char *build, int64_t *ms);

/* The smallest snowflake id whose time is >= ms (for listing from --since). */
uint64_t prowlog_snowflake_at(int64_t ms);

/* Find the run a path names: the last "logs/<job>/<build>/" or
 * "pr-logs/pull/<org_repo>/<pr>/<job>/<build>/" in it (a file below the run's folder,
 * such as .../finished.json, or the folder itself with or without the slash). Returns
 * true and fills p, or false if the path is not in the bucket layout. */
bool prowlog_path_parse(const char *path, struct prowlog_path *p);

/* true if doc looks like a started.json or finished.json (a "timestamp" number and no
 * ProwJob "spec"). *finished is set for a finished.json (it has "passed" or
 * "result"). */
bool prowlog_is_artifact(const cJSON *doc, bool *finished);

/* Build a ProwJob (a new cJSON object, caller frees) for the run at `p` from its
 * started.json and finished.json (either may be NULL, not both; borrowed): spec.job
 * and the type from the path (logs/ with refs is a postsubmit, without a periodic),
 * refs from the path and started.json's "repos"/"pull", status.state from
 * finished.json's result (else passed; no finished.json: pending), the times from the
 * timestamps (else the snowflake), status.build_id, and status.url when url_base
 * (may be NULL, e.g. "https://prow.example.com/view/s3/bucket") is given:
 * url_base + "/" + the run's folder. Returns NULL with errstr. */
cJSON *prowlog_make_prowjob(const struct prowlog_path *p, const char *dir,
                            const cJSON *started, const cJSON *finished,
                            const char *url_base, char *errstr, size_t errstr_size);

#endif
