/* record.h -- what herald-recorder writes: Kafka message values turned into rows of
 * the history (docs/schema.md).
 *
 * A run row is built from a job event (docs/events.md) with the service, stage, tier
 * and infrastructure cause classify.c gives it under the config's rules; an alert row
 * from an alert record (contracts §2). Rows are cJSON objects whose keys are the
 * columns herald_ingest() reads (recorder/migrations/).
 *
 * No state; every function may be called from any thread.
 */
#ifndef HERALD_RECORD_H
#define HERALD_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"

#define RECORD_ALERT_MAX_BYTES (64 * 1024) /* largest alert record accepted */

/* true if a message of the events topic is a watermark record (contracts §1): the
 * header herald-kind is "watermark" (kind_header, may be NULL when absent), or the
 * value is a JSON object whose "kind" is "watermark". */
bool record_is_watermark(const char *kind_header, const char *value, size_t len);

/* The run row of a job event (the value of an events-topic message). Returns a new
 * object (caller frees with cJSON_Delete), or NULL with the reason in errstr
 * ("event: id: missing") when the event is invalid. cfg is borrowed. */
cJSON *record_run(const struct config *cfg, const char *value, size_t len, char *errstr,
                  size_t errstr_size);

/* The alert row of an alert record. Needs alert_id, receiver, kind (non-empty
 * strings) and sent_ms (a number); every other field is optional and type-checked.
 * Returns a new object (caller frees), or NULL with the reason in errstr. */
cJSON *record_alert(const char *value, size_t len, char *errstr, size_t errstr_size);

/* The run key of an event id: "<prowjob name>:<state>" without ":<state>" (the id
 * itself if it does not end so). Writes into buf; returns 0, or -1 if it does not fit. */
int record_run_key(const char *id, const char *state, char *buf, size_t size);

/* The failure cause of a run: "infrastructure" when classify_infra names one,
 * "timeout" when the description says so, "test failure" for state failure, "error"
 * for state error; NULL for runs that did not fail. Static string. */
const char *record_cause(const char *state, const char *infra, const char *description);

/* true if base_ref looks like a release tag ("v1.6.0", "1.2"): a digit, or 'v' and a
 * digit, first. */
bool record_is_version(const char *base_ref);

#endif
