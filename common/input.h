/* input.h -- read ProwJob documents from a file or stdin, as a stream.
 *
 * Accepted, in any sequence and any layout (NDJSON, pretty-printed values one after
 * another, concatenated files): a ProwJob object; a list {"items":[...]} (Deck's
 * /prowjobs.js, `kubectl get -o json`) or a JSON array of them, read item by item so
 * a list of any length costs one item's memory; a Kubernetes watch event
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}} (DELETED and
 * BOOKMARK are skipped; ERROR -- 410 Expired above all -- is reported as a bad
 * record); YAML (`kubectl get -o yaml`, Deck's /prowjob?prowjob=), detected by its
 * first line and read document by document at "---" lines; and a run's
 * started.json / finished.json from the job-log bucket when the file's path names the
 * run (logs/<job>/<build>/finished.json: common/prowlog.h).
 *
 * Values are handed over as they complete (common/jsonstream.h), so a stream that
 * never ends (`kubectl get -o json --watch`) is read value by value. Text that is not
 * valid UTF-8 is repaired (U+FFFD, logged once per value), not rejected.
 *
 * Not thread-safe: one reader per input.
 */
#ifndef HERALD_INPUT_H
#define HERALD_INPUT_H

#include <signal.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define INPUT_MAX_LINE (4 * 1024 * 1024)  /* bytes of one line for --raw */
#define INPUT_MAX_VALUE (8 * 1024 * 1024) /* bytes of one ProwJob (or watch event) */
#define INPUT_MAX_YAML (64 * 1024 * 1024) /* bytes of one YAML document */

struct input;

/* Open `path` ("-" = stdin). Returns NULL with errstr set. */
struct input *input_open(const char *path, char *errstr, size_t errstr_size);

/* A stream read that a signal interrupts ends the input when *run is 0 (run
 * borrowed; NULL: never). For `kubectl ... --watch | herald-producer -` to stop on
 * SIGTERM while nothing comes. */
void input_set_stop(struct input *in, const volatile sig_atomic_t *run);

/* Close (stdin is left open). NULL is accepted. */
void input_close(struct input *in);

/* The next ProwJob. Returns 1 with *pj (a borrowed object, valid until the next
 * call) and `where` ("events.ndjson:12" or "list.json:1 items[3]"); 0 at end of
 * input; -1 for a bad record: `where` and errstr say which and why, and the caller
 * may go on calling. Blocks while a stream has nothing complete to give. */
int input_next(struct input *in, const cJSON **pj, char *where, size_t where_size,
               char *errstr, size_t errstr_size);

/* Read the next raw line (for --raw). Returns its length, 0 for end of input (an
 * empty line is skipped), -1 on error; *line is borrowed until the next call. Do not
 * mix with input_next() on one input. */
long input_next_raw(struct input *in, const char **line, char *errstr,
                    size_t errstr_size);

/* Interpret one parsed JSON value (a ProwJob, or a watch event wrapping one) the way
 * input_next() does: returns 1 with *pj (borrowed from v), 0 if it carries no state
 * to publish (a BOOKMARK or DELETED watch event), -1 with errstr (a watch ERROR
 * event, not an object, "items" that is not an array). For sources that parse their
 * own streams (the watch, Deck). */
int input_interpret(const cJSON *v, const cJSON **pj, char *errstr, size_t errstr_size);

#endif
