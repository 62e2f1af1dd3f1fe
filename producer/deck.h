/* deck.h -- herald-producer --deck URL: poll Deck's /prowjobs.js, for Prow
 * installations where Herald has no cluster access (docs/sources.md).
 *
 *   GET URL/prowjobs.js?omit=decoration_config,pod_spec   (gzip)
 *
 * every --interval (default 30 s, as Deck refreshes its own cache). The response is
 * the whole list every time (no resourceVersion, no ETag): it is read item by item as
 * it streams in, and each ProwJob goes through live_handle(), so only state changes
 * are published. A failed poll (a transport error, an HTTP error, a truncated body)
 * is logged and counted, and the next poll comes at its time.
 */
#ifndef HERALD_DECK_H
#define HERALD_DECK_H

#include <signal.h>
#include <stdint.h>

#include "live.h"

struct deck_opts {
    const char *url; /* Deck's base URL, or a full .../prowjobs.js URL */
    int64_t interval_ms;
    const volatile sig_atomic_t *run;
    const char *ca_file; /* may be NULL */
    bool insecure;
};

/* Poll until *o->run is 0. Returns 0. */
int deck_run(struct live *l, const struct deck_opts *o);

/* The URL deck_run() polls for base (a new string; caller frees): base +
 * "/prowjobs.js?omit=decoration_config,pod_spec" unless base already names
 * prowjobs.js. Annotations are kept: they carry testgrid-num-failures-to-alert. */
char *deck_url(const char *base);

/* The watermark source id of a Deck: "deck:<host[:port]>" (stable across restarts). */
void deck_source_id(const char *base, char *out, size_t size);

#endif
