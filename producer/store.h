/* store.h -- a job-log bucket to list and read: S3 (producer/s3.c), public GCS over
 * its JSON API, or a local folder that mirrors one.
 *
 *   s3://BUCKET/PREFIX  SigV4 with the standard AWS environment: AWS_ACCESS_KEY_ID,
 *                       AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or the web-identity
 *                       token file (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, as EKS
 *                       sets them); AWS_REGION / AWS_DEFAULT_REGION (us-east-1);
 *                       AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for another endpoint
 *                       (path-style). No credentials: unsigned (a public bucket).
 *   gs://BUCKET/PREFIX  https://storage.googleapis.com/storage/v1 (HERALD_GCS_ENDPOINT
 *                       for another), no authentication.
 *   anything else       a local folder.
 *
 * Thread-safe: a store is read-only after store_open(); every call makes its own
 * requests.
 */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define STORE_MAX_KEY 1024
#define STORE_MAX_OBJECT (16 * 1024 * 1024) /* bytes of one object read */

struct store;

/* One entry of a listing: a sub-folder ("logs/job/", is_prefix) or an object key.
 * Return 0 to go on, non-zero to stop the listing there. */
typedef int (*store_entry_cb)(void *opaque, const char *name, bool is_prefix);

/* Open url. *prefix_out (may be NULL) gets the prefix inside the bucket ("" or
 * "a/b/"), borrowed from the store. Returns NULL with errstr. */
struct store *store_open(const char *url, const char **prefix_out, char *errstr,
                         size_t errstr_size);

void store_close(struct store *s);

/* "s3", "gs" or "file". */
const char *store_kind(const struct store *s);

/* The bucket's name ("" for a folder). */
const char *store_bucket(const struct store *s);

/* List one level below prefix (which ends in '/'), in key order, every page; only
 * names after start_after (may be NULL) when the backend can skip (S3 start-after,
 * GCS startOffset; a folder filters). recursive: every key below prefix instead, no
 * sub-folders (S3 only, for servers that do not list the sub-folders of nested keys;
 * the others always list one level). Returns 0, or -1 with errstr. */
int store_list(struct store *s, const char *prefix, const char *start_after,
               bool recursive, store_entry_cb cb, void *opaque, char *errstr,
               size_t errstr_size);

/* Read one object into out (reset first; at most STORE_MAX_OBJECT). Returns 0, 1 if
 * it does not exist, -1 with errstr. */
int store_get(struct store *s, const char *key, struct buf *out, char *errstr,
              size_t errstr_size);

/* --- backends (store.c dispatches) --- */
struct s3;
struct s3 *s3_open(const char *bucket, char *errstr, size_t errstr_size);
void s3_close(struct s3 *s);
int s3_list(struct s3 *s, const char *prefix, const char *start_after, bool recursive,
            store_entry_cb cb, void *opaque, char *errstr, size_t errstr_size);
int s3_get(struct s3 *s, const char *key, struct buf *out, char *errstr,
           size_t errstr_size);

#endif
