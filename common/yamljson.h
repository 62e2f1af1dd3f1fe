/* yamljson.h -- YAML documents as cJSON values (libyaml), for ProwJobs in YAML:
 * `kubectl get prowjobs -o yaml`, Deck's /prowjob?prowjob=NAME.
 *
 * Mappings become objects (keys must be scalars), sequences arrays. A plain scalar is
 * resolved as YAML 1.2's core schema does: null, ~ or empty -> null; true/false ->
 * bool; an integer or a float -> number; anything else a string. Quoted and block
 * scalars stay strings (tags are not read). Aliases are followed, but the whole
 * conversion is bounded (YAMLJSON_MAX_NODES values, YAMLJSON_MAX_DEPTH nesting) so an
 * alias bomb cannot grow memory. Thread-safe (no state).
 */
#ifndef HERALD_YAMLJSON_H
#define HERALD_YAMLJSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define YAMLJSON_MAX_NODES 1000000 /* values produced from one input */
#define YAMLJSON_MAX_DEPTH 64

/* Called for every document, in order: `doc` is owned by the callee, `line` is the
 * 1-based line where the document starts. Return 0 to go on, non-zero to stop. */
typedef int (*yamljson_cb)(void *opaque, cJSON *doc, long line);

/* Parse every YAML document in text[0..len). line0 is the line number of text's first
 * line in the input (for messages). Returns 0, the callback's non-zero value, or -1
 * with errstr ("line 12: mapping values are not allowed in this context") for a YAML
 * error or a limit; the documents before the bad one were already handed over. */
int yamljson_parse(const char *text, size_t len, long line0, yamljson_cb cb, void *opaque,
                   char *errstr, size_t errstr_size);

#endif
