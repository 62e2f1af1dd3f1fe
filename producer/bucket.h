/* bucket.h -- herald-producer --bucket URL: read a job-log bucket's history
 * (docs/sources.md) into a replay set, as fast as the bucket answers.
 *
 * Walks logs/<job>/<build>/ and pr-logs/pull/<org_repo>/<pr>/<job>/<build>/ (and
 * pr-logs/pull/batch/<job>/<build>/) below the URL's prefix with `parallel` requests
 * in flight (listings and reads on one pool of threads). Each run is read from its
 * prowjob.json, else built from started.json + finished.json + its path
 * (common/prowlog.h). --since / --until are start times; build ids are snowflakes,
 * so a listing starts after the first id of --since (S3 start-after, GCS startOffset)
 * and stops at the first id of --until, without reading what is outside. A progress
 * line on stderr every second (folders listed, runs read, rate, ETA).
 */
#ifndef HERALD_BUCKET_H
#define HERALD_BUCKET_H

#include <signal.h>
#include <stdint.h>

#include "publish.h"
#include "replay.h"

struct bucket_opts {
    const char *url;            /* s3://, gs:// or a folder */
    int64_t since_ms, until_ms; /* run start time range; 0 = open */
    int parallel;               /* requests in flight (threads), >= 1 */
    const char *link_base;      /* status.url = link_base/<run folder>, or NULL */
    const volatile sig_atomic_t *run;
};

/* Read every run in range into r. Bad objects are rejected through the publisher
 * (named, counted) and the walk goes on. Returns 0, or -1 with errstr: the bucket
 * cannot be opened or listed at its top, or r is full (nothing is published then). */
int bucket_read(struct replay *r, struct publisher *p, const struct bucket_opts *o,
                char *errstr, size_t errstr_size);

#endif
