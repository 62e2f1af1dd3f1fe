/* storied.h -- the jobs this consumer has seen with a story: a failure, a release run,
 * or an event the engine could not take without its facts. A bounded set of job keys.
 *
 * The engine takes a success of a job with no story (no failure, nothing waiting, no
 * release) without storing anything (docs/rules.md "Events that cannot change
 * anything"). Such an event need not carry its facts and its JSON to Redis: batch.c
 * sends it light when neither its job key nor its key without the pull request is in
 * this set. The set is only a guess, never a decision: a light event the engine finds
 * has a story after all (a job this consumer did not see fail -- partitions move) comes
 * back as needed and is sent again in full (engine.h), and its key is added here.
 *
 * When the set is full it starts again empty (every job then costs one full send
 * before it is known again). One set per consumer thread; not thread-safe.
 */
#ifndef HERALD_STORIED_H
#define HERALD_STORIED_H

#include <stdbool.h>
#include <stddef.h>

#define STORIED_MAX 65536 /* keys kept before the set starts again */

struct storied {
    char **slot; /* open addressing, 2 * STORIED_MAX slots; owned */
    size_t n;
};

/* An empty set. Returns 0, or -1 when memory ran out. */
int storied_init(struct storied *s);
void storied_release(struct storied *s);

/* true if key is in the set. NULL-safe (s or key NULL: false). */
bool storied_has(const struct storied *s, const char *key);

/* Add key (copied). A full set is emptied first. Out of memory: nothing is added (the
 * next event of the job is sent in full anyway when it matters). NULL-safe. */
void storied_add(struct storied *s, const char *key);

#endif
