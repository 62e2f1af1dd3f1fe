/* util.c -- see util.h: signals, numbers, strings (JSON escaping, globs, UTF-8,
 * channel templates), reading a file, the bounded buffer. Time is util_time.c. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void util_stop_signals(void (*handler)(int), sigset_t *old_mask)
{
    struct sigaction sa;
    sigset_t block;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (old_mask) {
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        sigprocmask(SIG_BLOCK, &block, old_mask);
    }
}

int util_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int util_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end != '\0' || v < 0 || v != v)
        return -1;
    *out = v;
    return 0;
}

void util_json_escape(const char *in, char *out, size_t size)
{
    size_t o = 0;

    if (size == 0)
        return;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        char tmp[8];
        const char *rep = NULL;
        size_t rl;
        switch (*p) {
        case '"':
            rep = "\\\"";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case '\n':
            rep = "\\n";
            break;
        case '\r':
            rep = "\\r";
            break;
        case '\t':
            rep = "\\t";
            break;
        default:
            if (*p < 0x20) {
                snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
                rep = tmp;
            }
        }
        if (rep) {
            rl = strlen(rep);
            if (o + rl >= size)
                break;
            memcpy(out + o, rep, rl);
            o += rl;
        } else {
            if (o + 1 >= size)
                break;
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

uint64_t util_fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

bool util_glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;

    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' || *pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

bool util_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;

    while (s < end) {
        unsigned c = *s;
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            /* ASCII, most of any event: eight bytes at a time while none is high */
            uint64_t w;
            s++;
            while (end - s >= 8 && (memcpy(&w, s, 8), (w & 0x8080808080808080ULL) == 0))
                s += 8;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - s) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

char *util_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

const char *util_strerror(int err, char *buf, size_t size)
{
    /* POSIX strerror_r (we build with _POSIX_C_SOURCE, so not the GNU variant). */
    if (strerror_r(err, buf, size) != 0)
        snprintf(buf, size, "error %d", err);
    return buf;
}

/* What a non-regular file is, for error messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "an unusual kind of file";
}

char *util_read_file(const char *path, size_t max, size_t *len, char *errstr,
                     size_t errstr_size)
{
    char eb[128];
    struct buf b;
    char chunk[65536];
    struct stat st;
    ssize_t n;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just
     * below); on a regular file the flag changes nothing. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path,
                 util_strerror(errno, eb, sizeof(eb)));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path,
                 util_strerror(errno, eb, sizeof(eb)));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errstr, errstr_size, "%s: not a regular file (%s); refusing to read it",
                 path, file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    buf_init(&b, max);
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(errstr, errstr_size, "%s: %s", path,
                     util_strerror(errno, eb, sizeof(eb)));
            goto fail;
        }
        if (buf_append(&b, chunk, (size_t)n) < 0) {
            snprintf(errstr, errstr_size, "%s: larger than %zu bytes", path, max);
            goto fail;
        }
    }
    close(fd);
    if (!b.data && buf_append(&b, "", 0) < 0) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, len);
fail:
    close(fd);
    buf_release(&b);
    return NULL;
}

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    if (!b)
        return;
    free(b->data);
    buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (len > b->max || b->len > b->max - len)
        return -1;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *d = b->data;

    if (len)
        *len = b->len;
    buf_init(b, b->max);
    return d;
}

int util_template_expand(const char *tpl, const char *const values[4], char *out,
                         size_t size)
{
    static const char *const names[] = {"service", "stage", "repo", "org"};
    size_t o = 0;

    for (const char *p = tpl; *p;) {
        const char *v = NULL;
        size_t vl;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return -1;
            for (size_t i = 0; i < 4 && !v; i++)
                if (strlen(names[i]) == (size_t)(end - p - 1) &&
                    strncmp(p + 1, names[i], (size_t)(end - p - 1)) == 0)
                    v = values && values[i] ? values[i] : "";
            if (!v)
                return -1;
            p = end + 1;
        } else {
            v = p++;
            vl = 1;
            if (o + vl >= size)
                return -1;
            out[o++] = *v;
            continue;
        }
        vl = strlen(v);
        if (o + vl >= size)
            return -1;
        memcpy(out + o, v, vl);
        o += vl;
    }
    if (o >= size)
        return -1;
    out[o] = '\0';
    return 0;
}

int util_template_check(const char *tpl)
{
    static const char *const probe[4] = {"s", "s", "r", "o"};
    char out[1024];

    return util_template_expand(tpl, probe, out, sizeof(out));
}

int buf_json_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char esc[8];
    size_t start = b->len;
    const unsigned char *p = (const unsigned char *)(s ? s : ""), *run = p;

    if (buf_append(b, "\"", 1) < 0)
        return -1;
    for (;; p++) {
        size_t n = 2;
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue; /* part of a run of plain bytes, appended at once below */
        if (p > run && buf_append(b, run, (size_t)(p - run)) < 0)
            goto fail;
        if (!*p)
            break;
        esc[0] = '\\';
        switch (*p) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            n = 6;
        }
        if (buf_append(b, esc, n) < 0)
            goto fail;
        run = p + 1;
    }
    if (buf_append(b, "\"", 1) == 0)
        return 0;
fail:
    b->len = start;
    b->data[start] = '\0';
    return -1;
}
