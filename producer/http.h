/* http.h -- one HTTP GET with libcurl, for the producer's sources (the Kubernetes
 * API, Deck, S3, GCS). The body streams to a callback (a watch never ends) or into a
 * bounded buffer. TLS with a CA file or in-memory PEM, client certificates, bearer
 * tokens, SigV4 (CURLOPT_AWS_SIGV4), gzip. Every transfer has a connect timeout and
 * a low-speed limit; a total timeout unless it is a stream.
 *
 * Call http_global_init() once from main() before threads. http_get() may be called
 * from any thread: each thread keeps one easy handle, so its connections stay alive
 * between requests (http_thread_done() frees it).
 */
#ifndef HERALD_HTTP_H
#define HERALD_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct http_req {
    const char *url;
    const char *bearer; /* Authorization: Bearer (secret; never logged) */
    const char *const
        *headers;        /* extra "Name: value" lines, NULL-terminated; may be NULL */
    const char *ca_file; /* PEM file of CAs to trust, or NULL */
    const char *ca_pem;  /* PEM text of CAs (kubeconfig *-data), or NULL */
    const char *cert_file, *key_file; /* client certificate and key (PEM files) */
    const char *cert_pem, *key_pem;   /* ... or PEM text */
    bool insecure;           /* skip TLS verification (tests, insecure-skip-tls-verify) */
    const char *aws_sigv4;   /* "aws:amz:REGION:s3", or NULL */
    const char *aws_userpwd; /* "ACCESS_KEY:SECRET_KEY" (secret) */
    bool gzip;               /* ask for and decode gzip */
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* whole transfer; 0 = none (a stream) */
    long low_speed_s;        /* abort if under 1 byte/s for this long; 0 = none */
    /* streaming: return 0 to go on, non-zero to stop the transfer (not an error) */
    int (*on_data)(void *opaque, const char *data, size_t len);
    void *opaque;
    struct buf *body;                 /* without on_data: the body goes here (bounded) */
    const volatile sig_atomic_t *run; /* may be NULL: the transfer stops (not an error)
                                         within a second once *run is 0 */
    void (*on_tick)(void *opaque);    /* may be NULL: called about every second during
                                         the transfer, idle or not (with `opaque`) */
};

/* curl_global_init; returns 0 or -1. */
int http_global_init(void);

/* Perform the GET. Returns 0 when the transfer ended (any HTTP status, in *status;
 * also when on_data stopped it), or -1 with errstr for a transport error (connect,
 * TLS, timeout, a body over the buffer's limit). */
int http_get(const struct http_req *r, long *status, char *errstr, size_t errstr_size);

/* Free the calling thread's libcurl handle (and its kept-alive connections). Call at
 * the end of a thread that used http_get(). */
void http_thread_done(void);

/* Percent-encode s for a URL query value or path part (RFC 3986 unreserved kept; '/'
 * kept when keep_slash) into out. Returns 0, or -1 if it did not fit. */
int http_escape(const char *s, bool keep_slash, char *out, size_t size);

#endif
