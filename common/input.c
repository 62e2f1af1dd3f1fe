/* input.c -- see input.h. */
#include "input.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "util.h"

struct input {
    FILE *fp;
    char *path;
    bool own_fp;
    bool ndjson; /* decided on the first record */
    bool decided;
    char *line; /* the current line (at most INPUT_MAX_LINE + 1 bytes) */
    size_t line_cap;
    long lineno;  /* of the current record */
    cJSON *doc;   /* current parsed record */
    cJSON *items; /* borrowed from doc: the "items" array, if a list */
    int item_idx;
    long doc_line; /* line of the record holding items */
    char *pending; /* a first line read while detecting the format */
    char *membuf;  /* whole input kept in memory after a failed detection */
    bool eof;
};

struct input *input_open(const char *path, char *errstr, size_t errstr_size)
{
    struct input *in = calloc(1, sizeof(*in));
    char eb[128];

    if (!in) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        in->fp = stdin;
        in->path = strdup("<stdin>");
    } else {
        in->fp = fopen(path, "r");
        in->own_fp = true;
        in->path = strdup(path);
        if (!in->fp) {
            snprintf(errstr, errstr_size, "%s: %s", path,
                     util_strerror(errno, eb, sizeof(eb)));
            input_close(in);
            return NULL;
        }
    }
    return in;
}

void input_close(struct input *in)
{
    if (!in)
        return;
    if (in->own_fp && in->fp)
        fclose(in->fp);
    cJSON_Delete(in->doc);
    free(in->line);
    free(in->pending);
    free(in->membuf);
    free(in->path);
    free(in);
}

/* Read one line into in->line, keeping at most INPUT_MAX_LINE bytes: a longer line is
 * consumed to its end and reported as INPUT_MAX_LINE + 1 bytes, so input without
 * newlines (a binary file, /dev/zero) cannot grow memory. Returns -1 at EOF. */
static long read_bounded(struct input *in)
{
    size_t n = 0;
    int ch;
    bool any = false;

    if (!in->line) {
        in->line_cap = 4096;
        if (!(in->line = malloc(in->line_cap)))
            return -1;
    }
    while ((ch = getc_unlocked(in->fp)) != EOF) {
        any = true;
        if (ch == '\n')
            break;
        if (n > INPUT_MAX_LINE)
            continue; /* over the limit: drop the rest of the line */
        if (n + 2 > in->line_cap) {
            size_t cap = in->line_cap * 2;
            char *p = realloc(in->line, cap);
            if (!p)
                return -1;
            in->line = p;
            in->line_cap = cap;
        }
        in->line[n++] = (char)ch;
    }
    in->line[n] = '\0';
    return any ? (long)n : -1;
}

/* Next non-empty line into in->line; returns its length or -1 at EOF. */
static long read_line(struct input *in)
{
    long n;

    while ((n = read_bounded(in)) >= 0) {
        in->lineno++;
        while (n > 0 && n <= INPUT_MAX_LINE && in->line[n - 1] == '\r')
            in->line[--n] = '\0';
        if ((size_t)n > strspn(in->line, " \t"))
            return n;
    }
    return -1;
}

static long line_of(const char *text, const char *pos)
{
    long l = 1;

    for (const char *p = text; p && p < pos && *p; p++)
        if (*p == '\n')
            l++;
    return l;
}

/* Parse text as one JSON value with our depth limit. */
static cJSON *parse(const char *text, size_t len, char *errstr, size_t errstr_size,
                    const char **errpos)
{
    cJSON *v;

    *errpos = NULL;
    if (event_json_depth(text, len) > EVENT_MAX_DEPTH) {
        snprintf(errstr, errstr_size, "JSON nests deeper than %d", EVENT_MAX_DEPTH);
        return NULL;
    }
    if (!(v = cJSON_ParseWithLength(text, len))) {
        *errpos = cJSON_GetErrorPtr();
        snprintf(errstr, errstr_size, "malformed JSON");
    }
    return v;
}

/* true if the second non-empty line of text parses on its own as a JSON object:
 * then the input is NDJSON (a pretty-printed document's second line never is). */
static bool second_line_is_object(const char *text)
{
    const char *p = strchr(text, '\n'), *end;
    cJSON *v;
    bool ok;

    while (p && (*p == '\n' || *p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    if (!p || *p != '{')
        return false;
    end = strchr(p, '\n');
    v = cJSON_ParseWithLength(p, end ? (size_t)(end - p) : strlen(p));
    ok = cJSON_IsObject(v);
    cJSON_Delete(v);
    return ok;
}

/* Load the next record (a whole document, or one NDJSON line) into in->doc.
 * Returns 1, 0 at EOF, -1 for a bad record. */
static int load_record(struct input *in, char *where, size_t where_size, char *errstr,
                       size_t errstr_size)
{
    const char *errpos;
    long n;

    cJSON_Delete(in->doc);
    in->doc = NULL;
    in->items = NULL;
    if (in->eof)
        return 0;
    if (!in->decided) {
        in->decided = true;
        if ((n = read_line(in)) < 0) {
            in->eof = true;
            return 0;
        }
        cJSON *probe = cJSON_ParseWithLength(in->line, (size_t)n);
        if (probe) {
            in->ndjson = true;
            cJSON_Delete(probe);
            in->pending = strdup(in->line);
        } else {
            /* Not one value per line: the whole input is one document. */
            struct buf b;
            char chunk[65536];
            size_t r;
            long first = in->lineno;
            buf_init(&b, INPUT_MAX_DOC);
            if (buf_puts(&b, in->line) < 0 || buf_puts(&b, "\n") < 0)
                goto toobig;
            while ((r = fread(chunk, 1, sizeof(chunk), in->fp)) > 0)
                if (buf_append(&b, chunk, r) < 0)
                    goto toobig;
            if (!util_utf8_valid(b.data, b.len)) {
                in->eof = true;
                snprintf(where, where_size, "%s:%ld", in->path, first);
                snprintf(errstr, errstr_size, "not valid UTF-8");
                buf_release(&b);
                return -1;
            }
            in->doc = parse(b.data, b.len, errstr, errstr_size, &errpos);
            if (!in->doc && second_line_is_object(b.data)) {
                /* NDJSON whose first line is bad: go line by line over the buffer. */
                FILE *mf = fmemopen(b.data, b.len, "r");
                if (mf) {
                    if (in->own_fp)
                        fclose(in->fp);
                    in->fp = mf;
                    in->own_fp = true;
                    in->membuf = buf_detach(&b, NULL);
                    in->ndjson = true;
                    in->lineno = first - 1;
                    return load_record(in, where, where_size, errstr, errstr_size);
                }
            }
            in->eof = true;
            snprintf(where, where_size, "%s:%ld", in->path,
                     errpos ? first - 1 + line_of(b.data, errpos) : first);
            buf_release(&b);
            in->doc_line = first;
            return in->doc ? 1 : -1;
        toobig:
            buf_release(&b);
            in->eof = true;
            snprintf(where, where_size, "%s:%ld", in->path, first);
            snprintf(errstr, errstr_size, "document larger than %d bytes (use NDJSON)",
                     INPUT_MAX_DOC);
            return -1;
        }
    }
    if (in->pending) {
        free(in->line);
        in->line = in->pending;
        in->line_cap = strlen(in->pending) + 1;
        in->pending = NULL;
        n = (long)strlen(in->line);
    } else if ((n = read_line(in)) < 0) {
        in->eof = true;
        return 0;
    }
    in->doc_line = in->lineno;
    snprintf(where, where_size, "%s:%ld", in->path, in->lineno);
    if (n > INPUT_MAX_LINE) {
        snprintf(errstr, errstr_size, "line longer than %d bytes", INPUT_MAX_LINE);
        return -1;
    }
    if (!util_utf8_valid(in->line, (size_t)n)) {
        snprintf(errstr, errstr_size, "not valid UTF-8");
        return -1;
    }
    in->doc = parse(in->line, (size_t)n, errstr, errstr_size, &errpos);
    if (!in->doc && errpos)
        snprintf(errstr, errstr_size, "malformed JSON at column %ld",
                 (long)(errpos - in->line) + 1);
    return in->doc ? 1 : -1;
}

int input_next(struct input *in, const cJSON **pj, char *where, size_t where_size,
               char *errstr, size_t errstr_size)
{
    const cJSON *obj;
    int rc;

    errstr[0] = '\0';
    for (;;) {
        if (in->items) {
            cJSON *it = cJSON_GetArrayItem(in->items, in->item_idx);
            if (it) {
                snprintf(where, where_size, "%s:%ld items[%d]", in->path, in->doc_line,
                         in->item_idx);
                in->item_idx++;
                *pj = it;
                return 1;
            }
            in->items = NULL;
        }
        if ((rc = load_record(in, where, where_size, errstr, errstr_size)) <= 0)
            return rc;
        obj = in->doc;
        if (!cJSON_IsObject(obj)) {
            snprintf(errstr, errstr_size, "expected a JSON object");
            return -1;
        }
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(obj, "items");
        if (items) {
            if (!cJSON_IsArray(items)) {
                snprintf(errstr, errstr_size, "items: not an array");
                return -1;
            }
            in->items = (cJSON *)(uintptr_t)items;
            in->item_idx = 0;
            continue;
        }
        const cJSON *wobj = cJSON_GetObjectItemCaseSensitive(obj, "object");
        const cJSON *wtype = cJSON_GetObjectItemCaseSensitive(obj, "type");
        if (cJSON_IsObject(wobj) && cJSON_IsString(wtype)) {
            /* A watch event: BOOKMARK and DELETED carry no new state. */
            if (strcmp(wtype->valuestring, "ADDED") != 0 &&
                strcmp(wtype->valuestring, "MODIFIED") != 0)
                continue;
            obj = wobj;
        }
        *pj = obj;
        return 1;
    }
}

long input_next_raw(struct input *in, const char **line, char *errstr, size_t errstr_size)
{
    long n = read_line(in);

    if (n < 0)
        return 0;
    if (n > INPUT_MAX_LINE) {
        snprintf(errstr, errstr_size, "%s:%ld: line longer than %d bytes", in->path,
                 in->lineno, INPUT_MAX_LINE);
        return -1;
    }
    *line = in->line;
    return n;
}
