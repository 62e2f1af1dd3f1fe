/* httpmsg.h -- HTTP/1.1 syntax for common/httpd.c: finding and parsing a request
 * head, reason phrases, header checks, and the "host:port" listen addresses.
 *
 * Strict by design (the server faces port scans and junk): one request line
 * "METHOD /target HTTP/1.x" with an upper-case method of at most 16 letters and a
 * target without spaces or control bytes; header lines "Name: value" without line
 * folding, NULs or control bytes; at most HTTPMSG_MAX_HEADERS of them; one
 * Content-Length (digits only) or none; no Transfer-Encoding. Lines may end in CRLF
 * or LF. No state; every function is thread-safe.
 */
#ifndef HERALD_HTTPMSG_H
#define HERALD_HTTPMSG_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPMSG_MAX_HEADERS 32
#define HTTPMSG_METHOD_MAX 16 /* bytes of a method name */

/* A parsed request head. Every pointer is into the buffer given to
 * httpmsg_parse_head(), which is cut into NUL-terminated strings in place. */
struct httpmsg_head {
    const char *method;
    const char *path;  /* the target before any '?' (not %-decoded) */
    const char *query; /* after the '?', "" if none */
    size_t nheaders;
    const char *names[HTTPMSG_MAX_HEADERS];  /* as sent */
    const char *values[HTTPMSG_MAX_HEADERS]; /* without surrounding blanks */
    size_t content_length;                   /* 0 when absent */
};

/* Where the body starts in buf[0..len): just past the empty line ending the head, or
 * 0 if the head is not complete yet. *scan (0 at first) is where to go on looking
 * next time, after more bytes were appended: each byte is looked at about once. */
size_t httpmsg_head_end(const char *buf, size_t len, size_t *scan);

/* Parse the request head buf[0..len), where len is what httpmsg_head_end() returned
 * (buf[len] must be writable: it is set to NUL). Fills *out. Returns 0, or the status
 * to answer with: 400 (malformed), 413 (Content-Length over body_max), 431 (too many
 * headers), 501 (Transfer-Encoding), 505 (not HTTP/1.0 or 1.1). */
int httpmsg_parse_head(char *buf, size_t len, size_t body_max, struct httpmsg_head *out);

/* The value of header `name` (case-insensitive) in names/values[0..n), or NULL. */
const char *httpmsg_header(const char *const *names, const char *const *values, size_t n,
                           const char *name);

/* The reason phrase of a status ("Not Found"), "Status" for codes it does not know.
 * Static string. */
const char *httpmsg_reason(int status);

/* true if s has no control bytes (nor spaces, unless `spaces`). */
bool httpmsg_printable(const char *s, bool spaces);

/* Parse a listen address, "host:port": "127.0.0.1:9464", "0.0.0.0:9464", ":9464"
 * (every IPv4 interface) or "[::1]:9464"; the host must be numeric, the port
 * 0..65535. Writes a struct sockaddr_in or sockaddr_in6 into addr[0..addr_size)
 * (28 bytes are enough) and its length into *addr_len. Returns 0, or -1 with the
 * reason in errstr ("listen address '...': ..."). */
int httpmsg_parse_listen(const char *where, void *addr, size_t addr_size,
                         unsigned *addr_len, char *errstr, size_t errstr_size);

#endif
