/* input.h -- read ProwJob documents from a file or stdin.
 *
 * Accepted: one JSON object (pretty-printed or not); a list {"items":[...]} as Deck's
 * /prowjobs.js and `kubectl get prowjobs -o json` give it; a Kubernetes watch event
 * {"type":"ADDED","object":{...}}; or NDJSON, one of those per line. NDJSON is
 * detected when the first non-empty line is a complete JSON value; otherwise the
 * whole input is one document (at most INPUT_MAX_DOC bytes).
 */
#ifndef HERALD_INPUT_H
#define HERALD_INPUT_H

#include <stdio.h>

#include <cjson/cJSON.h>

#define INPUT_MAX_LINE (4 * 1024 * 1024)  /* bytes of one NDJSON line */
#define INPUT_MAX_DOC (256 * 1024 * 1024) /* bytes of a whole-file document */

struct input;

/* Open `path` ("-" = stdin). Returns NULL with errstr set. */
struct input *input_open(const char *path, char *errstr, size_t errstr_size);
void input_close(struct input *in);

/* The next ProwJob. Returns 1 with *pj (a borrowed object, valid until the next
 * call) and `where` ("events.ndjson:12" or "list.json:1 items[3]"); 0 at end of
 * input; -1 for a bad record: `where` and errstr say which and why, and the caller
 * may go on calling. */
int input_next(struct input *in, const cJSON **pj, char *where, size_t where_size,
               char *errstr, size_t errstr_size);

/* Read the next raw line (for --raw). Returns its length, 0 for end of input (an
 * empty line is skipped), -1 on error; *line is borrowed until the next call. */
long input_next_raw(struct input *in, const char **line, char *errstr,
                    size_t errstr_size);

#endif
