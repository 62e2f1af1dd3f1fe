/* event_int.h -- private to the event module (event.c: the event, its JSON form;
 * event_prowjob.c: a ProwJob as an event); nothing else includes it. The public
 * manual is event.h.
 *
 * The field readers below read a member of a JSON object into an event's field.
 * path ("spec.", "" at the top) prefixes name in the message; on error they return
 * -1 with errstr set ("spec.job: not a string"), or -1 with errstr untouched when
 * memory ran out. An absent or null member is not an error. Threads: any; they touch
 * only their arguments.
 */
#ifndef HERALD_EVENT_INT_H
#define HERALD_EVENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "event.h"

/* A string member of obj (may be NULL) as a new string in *out (NULL if absent); -1 if
 * present but not a string, or longer than EVENT_MAX_FIELD. */
int event_get_str(const cJSON *obj, const char *name, const char *path, char **out,
                  char *errstr, size_t errstr_size);

/* An RFC 3339 time member of obj in ms since the epoch (0 if absent or ""). */
int event_get_time(const cJSON *obj, const char *name, const char *path, int64_t *out,
                   char *errstr, size_t errstr_size);

/* An object of strings (labels, annotations) as a new cJSON in *out, an empty object
 * if absent; the caller frees. */
int event_get_string_map(const cJSON *obj, const char *name, const char *path,
                         cJSON **out, char *errstr, size_t errstr_size);

/* The pull requests in arr (may be NULL) into ev->pulls, at most EVENT_MAX_PULLS. */
int event_get_pulls(struct event *ev, const cJSON *arr, const char *path, char *errstr,
                    size_t errstr_size);

/* The checks both parsers make once the fields are in place: job, type and state
 * present, type and state known. 0, or -1 with errstr set. */
int event_validate(struct event *ev, char *errstr, size_t errstr_size);

#endif
