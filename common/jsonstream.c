/* jsonstream.c -- see jsonstream.h. A byte-at-a-time JSON grammar (RFC 8259) with a
 * container stack; whitespace outside strings is dropped from the captured text. */
#include "jsonstream.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum state {
    S_TOP,          /* between top-level values */
    S_VALUE,        /* a value must come (after ':' or ',' in an array) */
    S_VALUE_OR_END, /* after '[' */
    S_KEY_OR_END,   /* after '{' */
    S_KEY,          /* after ',' in an object */
    S_COLON,        /* after a key */
    S_COMMA_OR_END, /* after a member or element */
};

enum lex { L_NONE, L_STRING, L_NUMBER, L_LITERAL };

struct cap {
    char *data;
    size_t len, size;
    bool over; /* past the cap: the rest is not kept */
};

struct jstream {
    size_t max;
    long line, col;
    bool line_blank; /* nothing but whitespace before this byte on its line */
    int bom;         /* bytes of a leading BOM matched; -1 once past the start */
    bool skip_line;  /* after an error: drop bytes to the end of the line */

    char stack[JSTREAM_MAX_DEPTH];
    int depth;
    enum state st;

    enum lex lex;
    bool esc, is_key;
    int uhex;
    char tok[48]; /* the number or literal being read */
    int toklen;
    char key[8]; /* the depth-1 key being read (to spot "items") */
    int keylen;
    bool key_items; /* the last depth-1 key was "items" */

    struct cap val, item;
    int items_depth; /* depth of the items array; 0 = not in one */
    bool is_list;
    long index;
    long val_line, val_col, item_line, item_col;
    bool stop;
    int cb_rc;
    jstream_cb cb; /* for the feed in progress */
    void *opaque;
    char err[192];
};

struct jstream *jstream_new(size_t max_value)
{
    struct jstream *js = calloc(1, sizeof(*js));

    if (!js)
        return NULL;
    js->max = max_value;
    js->line = 1;
    js->col = 1;
    js->line_blank = true;
    js->st = S_TOP;
    return js;
}

void jstream_free(struct jstream *js)
{
    if (!js)
        return;
    free(js->val.data);
    free(js->item.data);
    free(js);
}

int jstream_idle(const struct jstream *js)
{
    return js->st == S_TOP && js->lex == L_NONE && js->depth == 0;
}

static int cap_add(struct jstream *js, struct cap *c, const char *s, size_t n)
{
    if (c->over)
        return 0;
    if (c->len + n > js->max) {
        c->over = true;
        return 0;
    }
    if (c->len + n + 1 > c->size) {
        size_t size = c->size ? c->size : 4096;
        while (size < c->len + n + 1)
            size *= 2;
        char *d = realloc(c->data, size);
        if (!d)
            return -1;
        c->data = d;
        c->size = size;
    }
    memcpy(c->data + c->len, s, n);
    c->len += n;
    c->data[c->len] = '\0';
    return 0;
}

/* The capture the byte at the current depth belongs to. */
static struct cap *target(struct jstream *js)
{
    return js->items_depth && js->depth > js->items_depth ? &js->item : &js->val;
}

long jstream_utf8_repair(const char *s, size_t len, char *out, size_t out_size,
                         size_t *repaired)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, nrep = 0, i = 0;

    while (i < len) {
        size_t n = 0;
        unsigned char c = u[i];
        if (c < 0x80)
            n = 1;
        else if (c >= 0xc2 && c <= 0xdf)
            n = 2;
        else if (c >= 0xe0 && c <= 0xef)
            n = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 4;
        if (n > 1 && (i + n > len || !util_utf8_valid(s + i, n)))
            n = 0;
        if (o + (n ? n : 3) + 1 > out_size)
            return -1;
        if (n) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            nrep++;
            i++;
        }
    }
    if (o + 1 > out_size)
        return -1;
    out[o] = '\0';
    if (repaired)
        *repaired = nrep;
    return (long)o;
}

static void emit(struct jstream *js, enum jstream_kind kind, struct cap *c, long line,
                 long col)
{
    struct jstream_value v = {
        .kind = kind, .line = line, .col = col, .list_line = js->val_line};
    char *fixed = NULL, msg[224];

    if (kind != JSTREAM_ERROR && c->over) {
        snprintf(msg, sizeof(msg), "%s larger than %zu bytes",
                 kind == JSTREAM_ITEM ? "item" : "value", js->max);
        v.kind = JSTREAM_ERROR;
        v.error = msg;
        v.text = "";
    } else if (kind != JSTREAM_ERROR) {
        v.text = c->data ? c->data : "";
        v.len = c->len;
        if (!util_utf8_valid(v.text, v.len) && (fixed = malloc(3 * v.len + 1))) {
            long n =
                jstream_utf8_repair(v.text, v.len, fixed, 3 * v.len + 1, &v.repaired);
            v.text = fixed;
            v.len = (size_t)n;
        }
    } else {
        v.text = "";
        v.error = js->err;
    }
    v.index = kind == JSTREAM_ITEM ? js->index : -1;
    js->cb_rc = js->cb ? js->cb(js->opaque, &v) : 0;
    free(fixed);
    if (js->cb_rc)
        js->stop = true;
}

/* Forget the value in progress (after an error or at the end of the input). */
static void reset_value(struct jstream *js)
{
    js->depth = 0;
    js->st = S_TOP;
    js->lex = L_NONE;
    js->esc = false;
    js->uhex = 0;
    js->toklen = 0;
    js->items_depth = 0;
    js->is_list = false;
    js->key_items = false;
    js->val.len = js->item.len = 0;
    js->val.over = js->item.over = false;
}

/* A syntax error at the current byte: report it against the value it broke. */
static void syntax_error(struct jstream *js, const char *what)
{
    snprintf(js->err, sizeof(js->err), "malformed JSON at line %ld column %ld: %s",
             js->line, js->col, what);
    emit(js, JSTREAM_ERROR, NULL, js->depth || js->lex ? js->val_line : js->line,
         js->depth || js->lex ? js->val_col : js->col);
    reset_value(js);
}

/* A value (scalar or container) just completed at js->depth. */
static void value_done(struct jstream *js)
{
    if (js->items_depth && js->depth == js->items_depth) {
        emit(js, JSTREAM_ITEM, &js->item, js->item_line, js->item_col);
        js->index++;
        js->item.len = 0;
        js->item.over = false;
        js->st = S_COMMA_OR_END;
    } else if (js->depth == 0) {
        emit(js, js->is_list ? JSTREAM_LIST_END : JSTREAM_VALUE, &js->val, js->val_line,
             js->val_col);
        reset_value(js);
    } else {
        js->st = S_COMMA_OR_END;
    }
}

static bool valid_number(const char *t)
{
    if (*t == '-')
        t++;
    if (*t == '0')
        t++;
    else if (*t >= '1' && *t <= '9')
        while (*t >= '0' && *t <= '9')
            t++;
    else
        return false;
    if (*t == '.') {
        t++;
        if (!(*t >= '0' && *t <= '9'))
            return false;
        while (*t >= '0' && *t <= '9')
            t++;
    }
    if (*t == 'e' || *t == 'E') {
        t++;
        if (*t == '+' || *t == '-')
            t++;
        if (!(*t >= '0' && *t <= '9'))
            return false;
        while (*t >= '0' && *t <= '9')
            t++;
    }
    return *t == '\0';
}

/* A number or literal ended (the byte after it is not part of it). Returns -1 on a
 * syntax error (reported). */
static int end_token(struct jstream *js)
{
    js->tok[js->toklen] = '\0';
    bool ok = js->lex == L_NUMBER
                  ? valid_number(js->tok)
                  : strcmp(js->tok, "true") == 0 || strcmp(js->tok, "false") == 0 ||
                        strcmp(js->tok, "null") == 0;
    js->lex = L_NONE;
    if (!ok || js->toklen >= (int)sizeof(js->tok) - 1) {
        syntax_error(js, "not a number or true/false/null");
        return -1;
    }
    if (cap_add(js, target(js), js->tok, (size_t)js->toklen) < 0)
        return -1;
    value_done(js);
    return 0;
}

/* A value starts with byte c (state allows a value). Returns -1 on error. */
static int start_value(struct jstream *js, char c)
{
    if (js->depth == 0) {
        js->val_line = js->line;
        js->val_col = js->col;
        js->val.len = 0;
        js->val.over = false;
    }
    if (js->items_depth && js->depth == js->items_depth) {
        js->item_line = js->line;
        js->item_col = js->col;
        js->item.len = 0;
        js->item.over = false;
    }
    struct cap *t =
        js->items_depth && js->depth >= js->items_depth ? &js->item : &js->val;
    if (c == '{' || c == '[') {
        if (js->depth >= JSTREAM_MAX_DEPTH) {
            syntax_error(js, "nested deeper than the parser follows");
            return -1;
        }
        bool list =
            c == '[' && !js->is_list &&
            (js->depth == 0 || (js->depth == 1 && js->stack[0] == 'o' && js->key_items));
        if (cap_add(js, t, &c, 1) < 0)
            return -1;
        js->stack[js->depth++] = c == '{' ? 'o' : 'a';
        js->st = c == '{' ? S_KEY_OR_END : S_VALUE_OR_END;
        if (list) {
            js->is_list = true;
            js->items_depth = js->depth;
            js->index = 0;
        }
        return 0;
    }
    if (c == '"') {
        js->lex = L_STRING;
        js->is_key = false;
        return cap_add(js, t, &c, 1);
    }
    if (c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
        js->lex = c >= 'a' ? L_LITERAL : L_NUMBER;
        js->tok[0] = c;
        js->toklen = 1;
        return 0;
    }
    syntax_error(js, js->depth ? "expected a value" : "expected a JSON object or array");
    return -1;
}

/* '}' or ']' closes the container on top of the stack. */
static int close_container(struct jstream *js, char c)
{
    if (js->depth == 0 || js->stack[js->depth - 1] != (c == '}' ? 'o' : 'a')) {
        syntax_error(js, c == '}' ? "'}' without its '{'" : "']' without its '['");
        return -1;
    }
    bool closes_items = js->items_depth && js->depth == js->items_depth;
    struct cap *t = closes_items ? &js->val : target(js);
    if (cap_add(js, t, &c, 1) < 0)
        return -1;
    js->depth--;
    if (closes_items)
        js->items_depth = 0;
    value_done(js);
    return 0;
}

static int string_byte(struct jstream *js, char c)
{
    unsigned char u = (unsigned char)c;

    if (js->esc) {
        js->esc = false;
        if (c == 'u')
            js->uhex = 4;
        else if (!strchr("\"\\/bfnrt", c) || !c) {
            syntax_error(js, "bad escape in a string");
            return -1;
        }
    } else if (js->uhex > 0) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (c >= 'A' && c <= 'F'))) {
            syntax_error(js, "bad \\u escape in a string");
            return -1;
        }
        js->uhex--;
    } else if (c == '\\') {
        js->esc = true;
    } else if (c == '"') {
        js->lex = L_NONE;
        if (cap_add(js, target(js), &c, 1) < 0)
            return -1;
        if (js->is_key) {
            if (js->depth == 1 && js->stack[0] == 'o')
                js->key_items = js->keylen == 5 && memcmp(js->key, "items", 5) == 0;
            js->st = S_COLON;
        } else {
            value_done(js);
        }
        return 0;
    } else if (u < 0x20) {
        syntax_error(js, c == '\n' ? "a line break inside a string (truncated line?)"
                                   : "a control character inside a string");
        return -1;
    } else if (js->is_key && js->keylen < (int)sizeof(js->key)) {
        js->key[js->keylen++] = c;
    } else if (js->is_key) {
        js->keylen = (int)sizeof(js->key) + 1; /* too long to be "items" */
    }
    return cap_add(js, target(js), &c, 1);
}

/* One byte outside strings and tokens. */
static int struct_byte(struct jstream *js, char c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return 0;
    switch (js->st) {
    case S_TOP:
    case S_VALUE:
        return start_value(js, c);
    case S_VALUE_OR_END:
        return c == ']' ? close_container(js, c) : start_value(js, c);
    case S_KEY_OR_END:
    case S_KEY:
        if (c == '}' && js->st == S_KEY_OR_END)
            return close_container(js, c);
        if (c != '"') {
            syntax_error(js,
                         js->st == S_KEY ? "expected a key" : "expected a key or '}'");
            return -1;
        }
        js->lex = L_STRING;
        js->is_key = true;
        js->keylen = 0;
        return cap_add(js, target(js), &c, 1);
    case S_COLON:
        if (c != ':') {
            syntax_error(js, "expected ':'");
            return -1;
        }
        js->st = S_VALUE;
        return cap_add(js, target(js), &c, 1);
    case S_COMMA_OR_END:
        if (c == '}' || c == ']')
            return close_container(js, c);
        if (c != ',') {
            syntax_error(js, "expected ',' or the end of the object or array");
            return -1;
        }
        js->st = js->stack[js->depth - 1] == 'o' ? S_KEY : S_VALUE;
        if (js->items_depth && js->depth == js->items_depth)
            return 0; /* between items */
        return cap_add(js, target(js), &c, 1);
    }
    return 0;
}

/* One byte. Returns -1 only when memory ran out. */
static int step(struct jstream *js, char c)
{
    unsigned char u = (unsigned char)c;
    bool blank = js->line_blank;
    int rc = 0;

    if (js->bom >= 0) {
        static const unsigned char bom[] = {0xef, 0xbb, 0xbf};
        if (u == bom[js->bom]) {
            if (++js->bom == 3)
                js->bom = -1;
            return 0;
        }
        js->bom = -1;
    }
    if (js->skip_line) {
        if (c == '\n')
            js->skip_line = false;
    } else if (js->lex == L_STRING) {
        if (string_byte(js, c) < 0 && js->lex == L_STRING)
            rc = -1;
    } else {
        long errs = 0;
        if (js->lex == L_NUMBER || js->lex == L_LITERAL) {
            bool part = js->lex == L_NUMBER
                            ? ((c >= '0' && c <= '9') || c == '.' || c == 'e' ||
                               c == 'E' || c == '+' || c == '-')
                            : (c >= 'a' && c <= 'z');
            if (part) {
                if (js->toklen < (int)sizeof(js->tok) - 1)
                    js->tok[js->toklen++] = c;
                else
                    js->toklen = (int)sizeof(js->tok) - 1;
                goto advance;
            }
            if (end_token(js) < 0)
                errs = 1;
        }
        if (!errs && struct_byte(js, c) < 0)
            errs = 1;
        (void)errs;
    }
    if (js->err[0] && !js->skip_line && js->depth == 0 && js->lex == L_NONE) {
        /* Just reset by an error: restart at this byte if it opens its line,
         * otherwise drop the rest of the line. */
        js->err[0] = '\0';
        if (blank && (c == '{' || c == '['))
            struct_byte(js, c);
        else if (c != '\n')
            js->skip_line = true;
    }
advance:
    if (c == '\n') {
        js->line++;
        js->col = 1;
        js->line_blank = true;
    } else {
        js->col++;
        if (c != ' ' && c != '\t' && c != '\r')
            js->line_blank = false;
    }
    return rc;
}

int jstream_feed(struct jstream *js, const char *data, size_t len, jstream_cb cb,
                 void *opaque, size_t *consumed)
{
    size_t i;

    js->cb = cb;
    js->opaque = opaque;
    js->stop = false;
    js->cb_rc = 0;
    for (i = 0; i < len && !js->stop; i++)
        if (step(js, data[i]) < 0)
            return -1;
    if (consumed)
        *consumed = i;
    return js->stop ? js->cb_rc : 0;
}

int jstream_finish(struct jstream *js, jstream_cb cb, void *opaque)
{
    js->cb = cb;
    js->opaque = opaque;
    js->stop = false;
    js->cb_rc = 0;
    if (!js->skip_line && (js->lex == L_NUMBER || js->lex == L_LITERAL))
        end_token(js);
    if (!js->skip_line && (js->depth > 0 || js->lex == L_STRING)) {
        snprintf(
            js->err, sizeof(js->err),
            "truncated: the value starting at line %ld is not closed at the end of the "
            "input (line %ld)",
            js->val_line, js->line);
        emit(js, JSTREAM_ERROR, NULL, js->val_line, js->val_col);
    }
    reset_value(js);
    js->err[0] = '\0';
    js->skip_line = false;
    js->line = 1;
    js->col = 1;
    js->line_blank = true;
    js->bom = 0;
    return js->stop ? js->cb_rc : 0;
}
