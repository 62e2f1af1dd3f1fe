/* mrkdwn.c -- see mrkdwn.h. */
#include "mrkdwn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026 */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if p starts an invalid one. */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2;
    else if ((c & 0xf0) == 0xe0)
        n = 3;
    else if ((c & 0xf8) == 0xf0)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
    return util_utf8_valid((const char *)p, n) ? n : 0;
}

/* One unit of input at p: sets *out and *outlen to what it becomes (maybe nothing) and
 * returns how many input bytes it spans (>= 1). */
static size_t esc_unit(const char *p, int flags, const char **out, size_t *outlen)
{
    unsigned char c = (unsigned char)*p;
    size_t n;

    *out = p;
    *outlen = 1;
    if (c == '\n' || c == '\t') {
        if (flags & MRKDWN_ONELINE)
            *out = " ";
        return 1;
    }
    if (c < 0x20 || c == 0x7f) {
        *outlen = 0;
        return 1;
    }
    if (flags & MRKDWN_HTML) {
        const char *e = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
        if (e) {
            *out = e;
            *outlen = strlen(e);
            return 1;
        }
    }
    n = utf8_seq_len((const unsigned char *)p);
    if (n == 0) { /* invalid UTF-8 byte: drop it, Slack would refuse the payload */
        *outlen = 0;
        return 1;
    }
    *outlen = n;
    return n;
}

/* Append s to b transformed by flags, taking at most max_in input bytes and writing at
 * most max_out bytes (including the "…" added when cut). On failure b is unchanged. */
int mrkdwn_esc(struct buf *b, const char *s, size_t max_in, size_t max_out, int flags)
{
    size_t in = 0, out = 0, budget, mark = b->len;
    const char *p, *o;
    size_t n, ol;
    bool cut;

    if (!s)
        s = "";
    for (p = s; *p; p += n) {
        n = esc_unit(p, flags, &o, &ol);
        in += n;
        out += ol;
    }
    cut = in > max_in || out > max_out;
    budget = max_out;
    if (cut)
        budget = max_out >= sizeof(ellipsis) - 1 ? max_out - (sizeof(ellipsis) - 1) : 0;
    in = out = 0;
    for (p = s; *p; p += n) {
        n = esc_unit(p, flags, &o, &ol);
        if (in + n > max_in || out + ol > budget)
            break;
        if (ol && buf_append(b, o, ol) < 0)
            goto fail;
        in += n;
        out += ol;
    }
    if (cut && max_out >= sizeof(ellipsis) - 1 &&
        buf_append(b, ellipsis, sizeof(ellipsis) - 1) < 0)
        goto fail;
    if (buf_append(b, "", 0) < 0) /* make sure data is allocated and terminated */
        goto fail;
    return 0;
fail:
    if (b->data) {
        b->len = mark;
        b->data[mark] = '\0';
    }
    return -1;
}

int slack_escape_append(struct buf *b, const char *s, size_t max_chars)
{
    return mrkdwn_esc(b, s, max_chars, SIZE_MAX, MRKDWN_HTML);
}

char *slack_escape(const char *s)
{
    struct buf b;
    size_t len = s ? strlen(s) : 0;

    buf_init(&b, len * 5 + 16);
    if (mrkdwn_esc(&b, s, SIZE_MAX, SIZE_MAX, MRKDWN_HTML) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* Room left in b before its limit. */
size_t mrkdwn_room(const struct buf *b)
{
    return b->max > b->len ? b->max - b->len : 0;
}

/* Escape s into b, cut to the mrkdwn_room left. -1 only when memory ran out. */
int mrkdwn_put_esc(struct buf *b, const char *s, int flags)
{
    return mrkdwn_esc(b, s, SIZE_MAX, mrkdwn_room(b), flags);
}

/* Append trusted text; silently skipped when it does not fit. -1 on no memory. */
int mrkdwn_put_raw(struct buf *b, const char *s)
{
    size_t len = strlen(s);

    if (len > mrkdwn_room(b))
        return 0;
    return buf_append(b, s, len);
}

/* Append an http(s) URL safe to put inside <url|text>: < > | space, quotes, controls
 * and non-ASCII bytes are percent-encoded and & becomes &amp;, so the URL can
 * neither end the link early nor add text to it. Returns 0, or -1 (b unchanged) if
 * the URL is not http(s), has no host, is too long or memory ran out. */
int mrkdwn_put_url(struct buf *b, const char *url)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t mark = b->len, start;
    const unsigned char *p;

    if (!url)
        return -1;
    if (strncasecmp(url, "https://", 8) == 0)
        start = 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        start = 7;
    else
        return -1;
    if (url[start] == '\0' || url[start] == '/' || strlen(url) > MRKDWN_URL_MAX)
        return -1;
    for (p = (const unsigned char *)url; *p; p++) {
        char enc[4];
        int rc;
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>|\"`\\", *p)) {
            enc[0] = '%';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            rc = buf_append(b, enc, 3);
        } else if (*p == '&') {
            rc = buf_append(b, "&amp;", 5);
        } else {
            rc = buf_append(b, p, 1);
        }
        if (rc < 0 || b->len - mark > MRKDWN_URL_MAX)
            goto fail;
    }
    return 0;
fail:
    if (b->data) {
        b->len = mark;
        b->data[mark] = '\0';
    }
    return -1;
}

/* {"type": type, "text": text} appended to arr (array) or set as arr[key]. */
int mrkdwn_text(cJSON *parent, const char *key, const char *type, const char *text,
                bool emoji)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddStringToObject(o, "type", type) ||
        !cJSON_AddStringToObject(o, "text", text ? text : "") ||
        (emoji && !cJSON_AddTrueToObject(o, "emoji")))
        goto fail;
    if (key ? cJSON_AddItemToObject(parent, key, o) : cJSON_AddItemToArray(parent, o))
        return 0;
fail:
    cJSON_Delete(o);
    return -1;
}

/* Append a block {"type": type} to blocks; returns it (owned by blocks) or NULL. */
cJSON *mrkdwn_block(cJSON *blocks, const char *type)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddStringToObject(o, "type", type) ||
        !cJSON_AddItemToArray(blocks, o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A header block; raw is unescaped text, escaped here and cut to Slack's limit. */
int mrkdwn_header(cJSON *blocks, const char *raw)
{
    struct buf b;
    cJSON *blk;
    int rc = -1;

    buf_init(&b, MRKDWN_HEADER_MAX);
    if (mrkdwn_put_esc(&b, raw, MRKDWN_HTML | MRKDWN_ONELINE) < 0 ||
        !(blk = mrkdwn_block(blocks, "header")))
        goto out;
    rc = mrkdwn_text(blk, "text", "plain_text", b.len ? b.data : "-", true);
out:
    buf_release(&b);
    return rc;
}

/* A context block (one line) or a section with mrkdwn text already safe. */
int mrkdwn_add(cJSON *blocks, const char *type, const char *text)
{
    cJSON *blk = mrkdwn_block(blocks, type), *elems;

    if (!blk)
        return -1;
    if (strcmp(type, "section") == 0)
        return mrkdwn_text(blk, "text", "mrkdwn", text, false);
    if (!(elems = cJSON_AddArrayToObject(blk, "elements")))
        return -1;
    return mrkdwn_text(elems, NULL, "mrkdwn", text, false);
}

/* A mrkdwn field "*label*\n<value>", value escaped and cut to fit. */
int mrkdwn_field(cJSON *fields, const char *label, const char *value)
{
    struct buf b;
    int rc = -1;

    buf_init(&b, MRKDWN_FIELD_MAX);
    if (mrkdwn_put_raw(&b, "*") < 0 || mrkdwn_put_raw(&b, label) < 0 ||
        mrkdwn_put_raw(&b, "*\n") < 0 ||
        mrkdwn_put_esc(&b, value && *value ? value : "-", MRKDWN_HTML) < 0)
        goto out;
    rc = mrkdwn_text(fields, NULL, "mrkdwn", b.data, false);
out:
    buf_release(&b);
    return rc;
}

/* Same, for a value already escaped in v. */
int mrkdwn_field_buf(cJSON *fields, const char *label, const struct buf *v)
{
    struct buf b;
    int rc = -1;

    buf_init(&b, MRKDWN_FIELD_MAX + 64);
    if (buf_printf(&b, "*%s*\n%s", label, v->len ? v->data : "-") < 0)
        goto out;
    rc = mrkdwn_text(fields, NULL, "mrkdwn", b.data, false);
out:
    buf_release(&b);
    return rc;
}

int mrkdwn_piece(struct buf *raw, const char *s, size_t max)
{
    return mrkdwn_esc(raw, s, SIZE_MAX, max < mrkdwn_room(raw) ? max : mrkdwn_room(raw),
                      MRKDWN_ONELINE);
}

int mrkdwn_list(struct buf *b, const char *const *lines, size_t n, int64_t more_given,
                bool bullets, size_t item_max, size_t limit, int flags)
{
    struct buf item;
    size_t start = b->len, budget, shown = 0;
    int64_t more;
    char tail[64];
    int rc = -1;

    if (limit > mrkdwn_room(b))
        limit = mrkdwn_room(b);
    budget = limit > MRKDWN_TAIL_MAX ? limit - MRKDWN_TAIL_MAX : 0;
    buf_init(&item, item_max);
    for (size_t i = 0; lines && i < n; i++) {
        const char *sep = bullets ? "\xe2\x80\xa2 " : shown ? ", " : "";
        const char *end = bullets ? "\n" : "";

        if (!lines[i])
            continue;
        buf_reset(&item);
        if (mrkdwn_esc(&item, lines[i], SIZE_MAX, item_max, flags) < 0)
            goto out;
        if (b->len - start + strlen(sep) + item.len + strlen(end) > budget)
            break;
        if (buf_puts(b, sep) < 0 || buf_append(b, item.data, item.len) < 0 ||
            buf_puts(b, end) < 0)
            goto out;
        shown++;
    }
    more = (int64_t)n + (more_given > 0 ? more_given : 0) - (int64_t)shown;
    if (bullets && more == 0 && b->len > start && b->data[b->len - 1] == '\n')
        b->data[--b->len] = '\0';
    if (more > 0) {
        snprintf(tail, sizeof(tail),
                 "%s\xe2\x80\xa6"
                 "and %lld more",
                 !bullets && shown ? ", " : "", (long long)more);
        if (mrkdwn_put_raw(b, tail) < 0)
            goto out;
    }
    rc = 0;
out:
    buf_release(&item);
    return rc;
}
