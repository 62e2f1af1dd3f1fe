/* jsonstream.h -- split a byte stream into JSON values as they complete.
 *
 * A push parser: feed it bytes as they arrive (a pipe, an HTTP body, a file read in
 * chunks) and it calls back with every top-level JSON value the moment its last byte
 * is in, whatever the layout: NDJSON, pretty-printed objects one after another
 * (`kubectl get -o json --watch`), concatenated files (several prowjob.json through
 * `cat`).
 *
 * Lists are split too, so memory stays bounded however long a list is: the elements
 * of a top-level array, and of the "items" array of a top-level object (Deck's
 * /prowjobs.js, `kubectl get -o json`, a Kubernetes list page), are called back one by
 * one as JSTREAM_ITEM; when the list's object closes, the rest of it (with "items"
 * emptied: `metadata.resourceVersion`, `continue`) comes as JSTREAM_LIST_END. The cap
 * applies to one value or one item, never to a list.
 *
 * Every byte is checked against the JSON grammar as it comes. A syntax error is
 * called back as JSTREAM_ERROR (line and column, and the line where the broken value
 * began), then the parser skips to the next line -- or restarts at once when the
 * offending byte is a '{' or '[' opening its line -- so a bad NDJSON line costs only
 * itself. Bytes that are not valid UTF-8 inside strings are repaired to U+FFFD in the
 * text handed over (counted in `repaired`); outside strings they are syntax errors.
 * A leading UTF-8 byte order mark is skipped.
 *
 * Not thread-safe: one jstream per input.
 */
#ifndef HERALD_JSONSTREAM_H
#define HERALD_JSONSTREAM_H

#include <stddef.h>

#define JSTREAM_MAX_DEPTH 64 /* nesting the parser tracks; deeper is an error */

enum jstream_kind {
    JSTREAM_VALUE,    /* a whole top-level value */
    JSTREAM_ITEM,     /* one element of a list */
    JSTREAM_LIST_END, /* the list's enclosing object without its items ("[]" for an array)
                       */
    JSTREAM_ERROR,    /* a value that could not be read; `error` says why */
};

struct jstream_value {
    enum jstream_kind kind;
    const char *text; /* the JSON text, NUL-terminated; borrowed for the callback */
    size_t len;
    long line;         /* 1-based line where the value (or item) starts */
    long col;          /* 1-based column (bytes) where it starts */
    long index;        /* ITEM (or an ERROR for an item too large): its index; else -1 */
    long list_line;    /* ITEM, LIST_END: the line where the list's value began */
    size_t repaired;   /* invalid UTF-8 sequences replaced by U+FFFD */
    const char *error; /* ERROR: what and where ("line 3 column 9: expected ':'") */
};

/* Called for every value; return 0 to go on, non-zero to stop jstream_feed() at once
 * (it then returns that value; feeding again later resumes after the value). */
typedef int (*jstream_cb)(void *opaque, const struct jstream_value *v);

struct jstream;

/* A new parser keeping at most max_value bytes of one value or item (a longer one is
 * reported as JSTREAM_ERROR when it ends, and costs no memory past the cap).
 * Returns NULL if memory ran out. */
struct jstream *jstream_new(size_t max_value);

/* Free; NULL is accepted. */
void jstream_free(struct jstream *js);

/* Feed len bytes. Returns 0, the callback's non-zero value, or -1 if memory ran out.
 * When the callback stopped the feed, *consumed (if not NULL) says how many bytes
 * were used; feed the rest again later. */
int jstream_feed(struct jstream *js, const char *data, size_t len, jstream_cb cb,
                 void *opaque, size_t *consumed);

/* The end of the input: a value still open is called back as JSTREAM_ERROR
 * ("truncated: the value starting at line 4 is not closed"). Returns as
 * jstream_feed. The parser is reset and may be fed a new input. */
int jstream_finish(struct jstream *js, jstream_cb cb, void *opaque);

/* true if nothing but whitespace has been fed since the last complete value. */
int jstream_idle(const struct jstream *js);

/* Replace every invalid UTF-8 sequence (overlong, surrogate, truncated, stray byte)
 * in [s, s+len) by U+FFFD, in place into out[0..out_size). Returns the output length
 * (excluding the NUL it writes) or -1 if out_size is too small (3 * len + 1 always
 * suffices); *repaired (may be NULL) gets the number of replacements. */
long jstream_utf8_repair(const char *s, size_t len, char *out, size_t out_size,
                         size_t *repaired);

#endif
