/* pjfit.h -- the ProwJob fields Herald reads, fitted to the event's limits.
 *
 * A valid ProwJob must never be lost to a field Herald does not need, and the
 * producer must never publish an event a consumer would refuse (docs/events.md). So
 * before normalising, event_from_prowjob() takes a fitted copy of just the fields it
 * reads:
 *
 *   - every string is made valid UTF-8 (bad bytes become U+FFFD) and, when longer
 *     than the cap, cut at a character boundary and marked with a trailing "…"
 *     (U+2026), so it is at most the cap in bytes;
 *   - labels and annotations keep string values only; a value over the cap is cut and
 *     marked when Herald reads that key (prow.k8s.io/..., testgrid-...), otherwise
 *     dropped (kubectl's 4.4 kB last-applied-configuration costs nothing); keys over
 *     PJFIT_MAX_KEY bytes are dropped, and a map stops growing at PJFIT_MAX_MAP bytes;
 *   - spec.reporter_config.slack keeps channel, host, job_states_to_report (strings),
 *     report and report_template; `report: false` there (how Prow records
 *     job_states_to_report: []) sets spec.report false;
 *   - pulls stop at EVENT_MAX_PULLS.
 *
 * A value of the wrong type where Herald needs one (spec.job a number) is copied as
 * it is, so the normaliser still names it. PJFIT_TIGHT cuts further (strings to
 * PJFIT_TIGHT_FIELD bytes, maps to PJFIT_TIGHT_MAP bytes of the keys Herald reads,
 * four pulls of PJFIT_TIGHT_VALUE-byte fields): the retry when
 * an event would still encode to more than EVENT_MAX_BYTES. Thread-safe.
 */
#ifndef HERALD_PJFIT_H
#define HERALD_PJFIT_H

#include <cjson/cJSON.h>

#define PJFIT_MAX_KEY 512         /* bytes of a label or annotation key */
#define PJFIT_MAX_MAP (64 * 1024) /* bytes of the labels (or annotations) kept */
#define PJFIT_TIGHT_FIELD 1024    /* bytes of a string at PJFIT_TIGHT */
#define PJFIT_TIGHT_VALUE 256     /* bytes of a map value or pull field at PJFIT_TIGHT */
#define PJFIT_TIGHT_MAP 4096      /* bytes of a map at PJFIT_TIGHT */
#define PJFIT_MARK "\xe2\x80\xa6" /* U+2026 HORIZONTAL ELLIPSIS, ends a cut string */

enum pjfit_level { PJFIT_NORMAL = 0, PJFIT_TIGHT = 1 };

/* A fitted copy of pj (borrowed; any JSON value: a non-object is copied whole so the
 * caller reports it). Returns a new value (caller frees) or NULL if memory ran out. */
cJSON *pjfit_prowjob(const cJSON *pj, enum pjfit_level level);

/* true if Herald reads the label or annotation `key` (prow.k8s.io/..., testgrid-...). */
int pjfit_key_used(const char *key);

/* Copy s fitted to at most max bytes (valid UTF-8, cut and marked if longer).
 * Returns a new string (caller frees) or NULL. */
char *pjfit_string(const char *s, size_t max);

#endif
