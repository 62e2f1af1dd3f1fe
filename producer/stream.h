/* stream.h -- stdin as a stream (contracts §1): `kubectl get prowjobs -o json --watch |
 * herald-producer -` never ends, so each value is published as it completes, with the
 * stream clock's watermark (newest event time - lateness; now - lateness once the
 * stream has been idle for the lateness) from the publisher's heartbeat thread, and a
 * final record at the end of the input.
 *
 * Also --raw (a test tool): every input line published unchanged under the key
 * test/raw, between a start record at -2^53 and a final record, so that consumers are
 * not held by a source that never says it is done.
 */
#ifndef HERALD_STREAM_H
#define HERALD_STREAM_H

#include <signal.h>

#include "publish.h"

/* Publish every ProwJob of `path` ("-" = stdin) as it is read. Bad documents are
 * rejected through the publisher and the stream goes on. Returns 0, or -1 if the
 * input cannot be opened (logged and counted). Sends the final record at the end of
 * the input or when *run becomes 0. */
int stream_run(struct publisher *p, const char *path, const volatile sig_atomic_t *run);

/* --raw: publish every line of every path unchanged. Returns 0, or -1 if one could
 * not be opened (logged and counted; the others are still published). */
int stream_run_raw(struct publisher *p, char *const *paths, int npaths,
                   const volatile sig_atomic_t *run);

#endif
