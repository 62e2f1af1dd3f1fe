/* watch.h -- herald-producer --watch: follow ProwJobs in the Kubernetes API as crier
 * and Deck do, list then watch (docs/sources.md).
 *
 *   GET /apis/prow.k8s.io/v1/namespaces/NS/prowjobs?limit=500[&continue=T]
 *   GET ...?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=300
 *
 * Lists are read item by item as they stream in (memory does not grow with the
 * cluster). The watch goes on from the last resourceVersion it saw (events and
 * BOOKMARKs); 410 Gone, as the HTTP status or as an in-stream ERROR event, or an
 * expired continue token, means list again. A watch that ends is watched again at
 * once when it did work, after a growing backoff (0.5 s to 30 s) when it ended at
 * once; a connection that breaks is the same. The token is read again on every
 * connection. Every ProwJob goes through live_handle(): published only when its
 * state changed.
 */
#ifndef HERALD_WATCH_H
#define HERALD_WATCH_H

#include <signal.h>

#include "kube.h"
#include "live.h"

#define WATCH_MAX_SELECTOR 1024 /* bytes of --selector */

struct watch_opts {
    const struct kube *k;             /* borrowed */
    const char *selector;             /* label selector, or NULL */
    const volatile sig_atomic_t *run; /* the loop ends when *run is 0 */
    long watch_timeout_s;             /* asked of the server (default 300) */
};

/* List and watch until *o->run is 0. Returns 0. */
int watch_run(struct live *l, const struct watch_opts *o);

#endif
