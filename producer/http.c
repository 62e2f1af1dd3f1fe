/* http.c -- see http.h. */
#include "http.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

int http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

struct sink {
    const struct http_req *r;
    bool stopped, over;
    int64_t last_tick; /* monotonic ms */
};

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
    struct sink *s = opaque;
    size_t len = size * n;

    if (s->r->on_data) {
        if (s->r->on_data(s->r->opaque, p, len) != 0) {
            s->stopped = true;
            return 0;
        }
        return len;
    }
    if (s->r->body && buf_append(s->r->body, p, len) < 0) {
        s->over = true;
        return 0;
    }
    return len;
}

static int on_progress(void *opaque, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    struct sink *s = opaque;

    (void)dt, (void)dn, (void)ut, (void)un;
    if (s->r->on_tick && util_mono_ms() - s->last_tick >= 500) {
        s->last_tick = util_mono_ms();
        s->r->on_tick(s->r->opaque);
    }
    if (s->r->run && !*s->r->run) {
        s->stopped = true;
        return 1;
    }
    return 0;
}

#define SET(opt, val)                                                                    \
    do {                                                                                 \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK) {                                 \
            snprintf(errstr, errstr_size, "libcurl: cannot set %s", #opt);               \
            goto out;                                                                    \
        }                                                                                \
    } while (0)

/* One easy handle per thread, reset between requests: its connection cache keeps
 * connections (and TLS sessions) to a host alive from one request to the next. */
static _Thread_local CURL *tl_easy;

void http_thread_done(void)
{
    if (tl_easy)
        curl_easy_cleanup(tl_easy);
    tl_easy = NULL;
}

int http_get(const struct http_req *r, long *status, char *errstr, size_t errstr_size)
{
    CURL *e = tl_easy ? tl_easy : (tl_easy = curl_easy_init());
    struct curl_slist *hdrs = NULL;
    struct sink s = {.r = r};
    char ebuf[CURL_ERROR_SIZE] = "", auth[8192];
    int rc = -1;

    *status = 0;
    if (!e) {
        snprintf(errstr, errstr_size, "libcurl: out of memory");
        return -1;
    }
    curl_easy_reset(e);
    for (const char *const *h = r->headers; h && *h; h++)
        hdrs = curl_slist_append(hdrs, *h);
    if (r->bearer) {
        int n = snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->bearer);
        if (n < 0 || (size_t)n >= sizeof(auth)) {
            snprintf(errstr, errstr_size, "bearer token longer than %zu bytes",
                     sizeof(auth) - 32);
            goto out;
        }
        hdrs = curl_slist_append(hdrs, auth);
    }
    SET(CURLOPT_URL, r->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_USERAGENT, "herald-producer/1");
    SET(CURLOPT_ERRORBUFFER, ebuf);
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        r->connect_timeout_ms ? r->connect_timeout_ms : 10000L);
    if (r->timeout_ms)
        SET(CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (r->low_speed_s) {
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, r->low_speed_s);
    }
    if (hdrs)
        SET(CURLOPT_HTTPHEADER, hdrs);
    if (r->gzip)
        SET(CURLOPT_ACCEPT_ENCODING, "gzip");
    if (r->ca_file)
        SET(CURLOPT_CAINFO, r->ca_file);
    if (r->ca_pem) {
        struct curl_blob b = {.data = (void *)(uintptr_t)r->ca_pem,
                              .len = strlen(r->ca_pem),
                              .flags = CURL_BLOB_COPY};
        SET(CURLOPT_CAINFO_BLOB, &b);
    }
    if (r->cert_file)
        SET(CURLOPT_SSLCERT, r->cert_file);
    if (r->key_file)
        SET(CURLOPT_SSLKEY, r->key_file);
    if (r->cert_pem) {
        struct curl_blob b = {.data = (void *)(uintptr_t)r->cert_pem,
                              .len = strlen(r->cert_pem),
                              .flags = CURL_BLOB_COPY};
        SET(CURLOPT_SSLCERT_BLOB, &b);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (r->key_pem) {
        struct curl_blob b = {.data = (void *)(uintptr_t)r->key_pem,
                              .len = strlen(r->key_pem),
                              .flags = CURL_BLOB_COPY};
        SET(CURLOPT_SSLKEY_BLOB, &b);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (r->insecure) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r->aws_sigv4) {
        SET(CURLOPT_AWS_SIGV4, r->aws_sigv4);
        SET(CURLOPT_USERPWD, r->aws_userpwd);
    }
    if (r->run || r->on_tick) {
        SET(CURLOPT_NOPROGRESS, 0L);
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, &s);
    }
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &s);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    if (cc == CURLE_OK ||
        ((cc == CURLE_WRITE_ERROR || cc == CURLE_ABORTED_BY_CALLBACK) && s.stopped)) {
        rc = 0;
    } else if (s.over) {
        snprintf(errstr, errstr_size, "response larger than %zu bytes", r->body->max);
    } else {
        snprintf(errstr, errstr_size, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
    }
out:
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    return rc;
}

int http_escape(const char *s, bool keep_slash, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                    c == '~' || (keep_slash && c == '/');
        if (o + (keep ? 1 : 3) >= size)
            return -1;
        if (keep) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (o >= size)
        return -1;
    out[o] = '\0';
    return 0;
}
