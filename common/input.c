/* input.c -- see input.h. */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "jsonstream.h"
#include "log.h"
#include "prowlog.h"
#include "util.h"
#include "yamljson.h"

#define INPUT_CHUNK 65536

struct qent {
    cJSON *v;        /* owned; NULL for an error */
    char *err;       /* owned; the error of a bad value */
    long line;       /* where the value starts */
    long index;      /* its index in a list, or -1 */
    size_t repaired; /* invalid UTF-8 sequences replaced */
};

struct input {
    int fd;
    bool own_fd;
    char *path;
    bool eof, decided, yaml;
    struct jstream *js;
    struct qent *q;
    size_t qhead, qn, qcap;
    cJSON *cur;      /* the value handed out last */
    cJSON *made;     /* a ProwJob built from bucket artifacts, handed out last */
    char *chunk;     /* read buffer */
    size_t clen;     /* bytes in chunk not yet fed (YAML: not yet split into lines) */
    struct buf ydoc; /* YAML: the document being collected */
    long yline, ydoc_line;
    struct buf raw; /* --raw: the current line */
    long lineno;
    const volatile sig_atomic_t *run;
};

void input_set_stop(struct input *in, const volatile sig_atomic_t *run)
{
    in->run = run;
}

/* read(2), again after EINTR unless the caller is stopping (then: the end). */
static ssize_t read_some(struct input *in, char *p, size_t n)
{
    ssize_t r;

    do
        r = read(in->fd, p, n);
    while (r < 0 && errno == EINTR && !(in->run && !*in->run));
    return r < 0 && errno == EINTR ? 0 : r;
}

struct input *input_open(const char *path, char *errstr, size_t errstr_size)
{
    struct input *in = calloc(1, sizeof(*in));
    char eb[128];

    if (!in || !(in->chunk = malloc(INPUT_CHUNK)) ||
        !(in->js = jstream_new(INPUT_MAX_VALUE)) ||
        !(in->path = strdup(strcmp(path, "-") == 0 ? "<stdin>" : path))) {
        snprintf(errstr, errstr_size, "out of memory");
        input_close(in);
        return NULL;
    }
    buf_init(&in->ydoc, INPUT_MAX_YAML);
    buf_init(&in->raw, INPUT_MAX_LINE);
    if (strcmp(path, "-") == 0) {
        in->fd = 0;
    } else if ((in->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path,
                 util_strerror(errno, eb, sizeof(eb)));
        input_close(in);
        return NULL;
    } else {
        in->own_fd = true;
    }
    return in;
}

void input_close(struct input *in)
{
    if (!in)
        return;
    if (in->own_fd)
        close(in->fd);
    for (size_t i = in->qhead; i < in->qn; i++) {
        cJSON_Delete(in->q[i].v);
        free(in->q[i].err);
    }
    free(in->q);
    cJSON_Delete(in->cur);
    cJSON_Delete(in->made);
    jstream_free(in->js);
    buf_release(&in->ydoc);
    free(in->chunk);
    buf_release(&in->raw);
    free(in->path);
    free(in);
}

static int push(struct input *in, cJSON *v, const char *err, long line, long index,
                size_t repaired)
{
    if (in->qhead == in->qn)
        in->qhead = in->qn = 0;
    if (in->qn == in->qcap) {
        size_t cap = in->qcap ? in->qcap * 2 : 64;
        struct qent *q = realloc(in->q, cap * sizeof(*q));
        if (!q) {
            cJSON_Delete(v);
            return -1;
        }
        in->q = q;
        in->qcap = cap;
    }
    in->q[in->qn++] = (struct qent){.v = v,
                                    .err = err ? strdup(err) : NULL,
                                    .line = line,
                                    .index = index,
                                    .repaired = repaired};
    return 0;
}

/* jstream callback: parse each value or item as it completes. */
static int on_value(void *opaque, const struct jstream_value *v)
{
    struct input *in = opaque;
    long index = v->index;
    long line = v->index >= 0 ? v->list_line : v->line;
    cJSON *doc;

    if (v->kind == JSTREAM_LIST_END)
        return 0;
    if (v->kind == JSTREAM_ERROR)
        return push(in, NULL, v->error, line, index, 0) < 0 ? -1 : 0;
    if (event_json_depth(v->text, v->len) > EVENT_MAX_DEPTH) {
        char e[64];
        snprintf(e, sizeof(e), "JSON nests deeper than %d", EVENT_MAX_DEPTH);
        return push(in, NULL, e, line, index, 0) < 0 ? -1 : 0;
    }
    if (!(doc = cJSON_ParseWithLength(v->text, v->len)))
        return push(in, NULL, "malformed JSON", line, index, 0) < 0 ? -1 : 0;
    return push(in, doc, NULL, line, index, v->repaired) < 0 ? -1 : 0;
}

/* yamljson callback: a list's items one by one, anything else whole. */
static int on_yaml(void *opaque, cJSON *doc, long line)
{
    struct input *in = opaque;
    cJSON *items =
        cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "items") : NULL;

    if (cJSON_IsArray(items)) {
        long i = 0;
        cJSON *it;
        while ((it = cJSON_DetachItemFromArray(items, 0)))
            if (push(in, it, NULL, line, i++, 0) < 0)
                break;
        cJSON_Delete(doc);
        return 0;
    }
    return push(in, doc, NULL, line, -1, 0) < 0 ? -1 : 0;
}

/* Does the input start like YAML (a "key:" at column 0, "---" or "%YAML")? Decided on
 * the first line that is not blank or a comment. Returns 1 yes, 0 no, -1 undecided. */
static int looks_yaml(const char *s, size_t n)
{
    size_t i = 0;

    if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t b = i;
        while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r'))
            b++;
        if (b == e || s[b] == '#') {
            if (e == n)
                return -1;
            i = e + 1;
            continue;
        }
        if (s[b] == '{' || s[b] == '[')
            return 0;
        if (e == n && n < INPUT_CHUNK)
            return -1; /* the first line is not complete yet */
        if (b == i && (e - b >= 3 &&
                       (memcmp(s + b, "---", 3) == 0 || memcmp(s + b, "%YA", 3) == 0)))
            return 1;
        size_t k = b;
        while (k < e && (s[k] == '_' || s[k] == '-' || s[k] == '.' ||
                         (s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'z') ||
                         (s[k] >= 'A' && s[k] <= 'Z')))
            k++;
        return b == i && k > b && k < e && s[k] == ':' &&
               (k + 1 == e || s[k + 1] == ' ' || s[k + 1] == '\r');
    }
    return -1;
}

/* YAML: parse the document collected so far. */
static void yaml_flush(struct input *in)
{
    char err[512];

    if (in->ydoc.len == 0)
        return;
    if (yamljson_parse(in->ydoc.data, in->ydoc.len, in->ydoc_line, on_yaml, in, err,
                       sizeof(err)) < 0)
        push(in, NULL, err, in->ydoc_line, -1, 0);
    buf_reset(&in->ydoc);
}

/* YAML: split the buffered bytes into lines, a document ending at each "---". */
static void yaml_feed(struct input *in, bool at_eof)
{
    size_t i = 0;

    while (i < in->clen) {
        char *nl = memchr(in->chunk + i, '\n', in->clen - i);
        if (!nl && !at_eof)
            break;
        size_t n = nl ? (size_t)(nl - (in->chunk + i)) + 1 : in->clen - i;
        const char *l = in->chunk + i;
        in->yline++;
        if (n >= 3 && memcmp(l, "---", 3) == 0 &&
            (n == 3 || l[3] == '\n' || l[3] == ' ' || l[3] == '\r')) {
            yaml_flush(in);
            in->ydoc_line = in->yline;
        } else {
            if (in->ydoc.len == 0)
                in->ydoc_line = in->yline;
            if (buf_append(&in->ydoc, l, n) < 0) {
                char e[128];
                snprintf(e, sizeof(e), "YAML document larger than %d bytes",
                         INPUT_MAX_YAML);
                push(in, NULL, e, in->ydoc_line, -1, 0);
                buf_reset(&in->ydoc);
            }
        }
        i += n;
    }
    memmove(in->chunk, in->chunk + i, in->clen - i);
    in->clen -= i;
    if (at_eof)
        yaml_flush(in);
}

/* Read more input and feed it. Returns 0, or -1 at the end of the input. */
static int fill(struct input *in, char *errstr, size_t errstr_size)
{
    ssize_t r;
    char eb[128];

    if (in->eof)
        return -1;
    r = read_some(in, in->chunk + in->clen, INPUT_CHUNK - in->clen);
    if (r < 0) {
        snprintf(errstr, errstr_size, "%s: read: %s", in->path,
                 util_strerror(errno, eb, sizeof(eb)));
        push(in, NULL, errstr, 0, -1, 0);
        r = 0;
    }
    in->clen += (size_t)r;
    if (!in->decided) {
        int y = r == 0 || in->clen == INPUT_CHUNK ? looks_yaml(in->chunk, in->clen) == 1
                                                  : looks_yaml(in->chunk, in->clen);
        if (y < 0)
            return 0; /* read on until the first line is in */
        in->decided = true;
        in->yaml = y == 1;
    }
    if (in->yaml) {
        yaml_feed(in, r == 0);
    } else {
        if (jstream_feed(in->js, in->chunk, in->clen, on_value, in, NULL) < 0)
            push(in, NULL, "out of memory", 0, -1, 0);
        in->clen = 0;
        if (r == 0)
            jstream_finish(in->js, on_value, in);
    }
    if (r == 0)
        in->eof = true;
    return 0;
}

int input_interpret(const cJSON *v, const cJSON **pj, char *errstr, size_t errstr_size)
{
    const cJSON *items, *wobj, *wtype;

    if (!cJSON_IsObject(v)) {
        snprintf(errstr, errstr_size, "expected a JSON object");
        return -1;
    }
    items = cJSON_GetObjectItemCaseSensitive(v, "items");
    if (items && !cJSON_IsArray(items)) {
        snprintf(errstr, errstr_size, "items: not an array");
        return -1;
    }
    wobj = cJSON_GetObjectItemCaseSensitive(v, "object");
    wtype = cJSON_GetObjectItemCaseSensitive(v, "type");
    if (cJSON_IsObject(wobj) && cJSON_IsString(wtype)) {
        const char *t = wtype->valuestring;
        if (strcmp(t, "ERROR") == 0) {
            const cJSON *code = cJSON_GetObjectItemCaseSensitive(wobj, "code");
            const cJSON *reason = cJSON_GetObjectItemCaseSensitive(wobj, "reason");
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(wobj, "message");
            int c = cJSON_IsNumber(code) ? (int)code->valuedouble : 0;
            snprintf(errstr, errstr_size, "watch ERROR %d %s: %.200s%s", c,
                     cJSON_IsString(reason) ? reason->valuestring : "",
                     cJSON_IsString(msg) ? msg->valuestring : "(no message)",
                     c == 410
                         ? " -- the watch expired: list again and watch from the new "
                           "resourceVersion (herald-producer --watch does that)"
                         : "");
            return -1;
        }
        if (strcmp(t, "ADDED") != 0 && strcmp(t, "MODIFIED") != 0)
            return 0; /* BOOKMARK and DELETED carry no new state */
        *pj = wobj;
        return 1;
    }
    *pj = v;
    return 1;
}

/* A started.json / finished.json named by its path: the run it belongs to. */
static int from_artifact(struct input *in, const cJSON *doc, bool finished,
                         const cJSON **pj, char *errstr, size_t errstr_size)
{
    struct prowlog_path p;
    char sib[4096], err[256];
    cJSON *other = NULL;
    size_t len;

    if (strcmp(in->path, "<stdin>") == 0 || !prowlog_path_parse(in->path, &p)) {
        snprintf(errstr, errstr_size,
                 "a %s without the path of its run: name the file by its bucket path "
                 "(logs/JOB/BUILD/%s or pr-logs/pull/ORG_REPO/PR/JOB/BUILD/%s), or read "
                 "the bucket with --bucket",
                 finished ? "finished.json" : "started.json",
                 finished ? "finished.json" : "started.json",
                 finished ? "finished.json" : "started.json");
        return -1;
    }
    snprintf(sib, sizeof(sib), "%.*s%s%s", (int)p.dir_len, in->path,
             p.dir_len && in->path[p.dir_len - 1] != '/' ? "/" : "",
             finished ? "started.json" : "finished.json");
    char *text = util_read_file(sib, INPUT_MAX_VALUE, &len, err, sizeof(err));
    if (text) {
        other = cJSON_ParseWithLength(text, len);
        free(text);
        if (!prowlog_is_artifact(other, NULL)) {
            cJSON_Delete(other);
            other = NULL;
        }
    }
    cJSON_Delete(in->made);
    in->made = prowlog_make_prowjob(&p, NULL, finished ? other : doc,
                                    finished ? doc : other, NULL, errstr, errstr_size);
    cJSON_Delete(other);
    if (!in->made)
        return -1;
    *pj = in->made;
    return 1;
}

int input_next(struct input *in, const cJSON **pj, char *where, size_t where_size,
               char *errstr, size_t errstr_size)
{
    errstr[0] = '\0';
    for (;;) {
        while (in->qhead == in->qn) {
            if (fill(in, errstr, errstr_size) < 0)
                return 0;
        }
        struct qent e = in->q[in->qhead++];
        cJSON_Delete(in->cur);
        in->cur = e.v;
        if (e.index >= 0)
            snprintf(where, where_size, "%s:%ld items[%ld]", in->path, e.line, e.index);
        else
            snprintf(where, where_size, "%s:%ld", in->path, e.line);
        if (!e.v) {
            snprintf(errstr, errstr_size, "%s", e.err ? e.err : "unreadable");
            free(e.err);
            return -1;
        }
        if (e.repaired)
            log_warn("%s: %zu byte sequence(s) that are not UTF-8 replaced by U+FFFD",
                     where, e.repaired);
        bool fin;
        if (prowlog_is_artifact(e.v, &fin))
            return from_artifact(in, e.v, fin, pj, errstr, errstr_size);
        int rc = input_interpret(e.v, pj, errstr, errstr_size);
        if (rc != 0)
            return rc;
    }
}

long input_next_raw(struct input *in, const char **line, char *errstr, size_t errstr_size)
{
    struct buf *b = &in->raw;

    for (;;) {
        bool over = false, any = false;
        buf_reset(b);
        for (;;) {
            if (in->clen == 0) {
                ssize_t r;
                if (in->eof)
                    break;
                r = read_some(in, in->chunk, INPUT_CHUNK);
                if (r <= 0) {
                    in->eof = true;
                    break;
                }
                in->clen = (size_t)r;
            }
            char *nl = memchr(in->chunk, '\n', in->clen);
            size_t n = nl ? (size_t)(nl - in->chunk) : in->clen;
            any = true;
            if (!over && buf_append(b, in->chunk, n) < 0)
                over = true;
            size_t used = nl ? n + 1 : n;
            memmove(in->chunk, in->chunk + used, in->clen - used);
            in->clen -= used;
            if (nl)
                break;
        }
        if (!any)
            return 0;
        in->lineno++;
        if (over) {
            snprintf(errstr, errstr_size, "%s:%ld: line longer than %d bytes", in->path,
                     in->lineno, INPUT_MAX_LINE);
            return -1;
        }
        while (b->len > 0 && b->data[b->len - 1] == '\r')
            b->data[--b->len] = '\0';
        if (b->len == 0 || strspn(b->data, " \t") == b->len)
            continue;
        *line = b->data;
        return (long)b->len;
    }
}
