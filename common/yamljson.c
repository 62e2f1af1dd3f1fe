/* yamljson.c -- see yamljson.h. */
#include "yamljson.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct conv {
    yaml_document_t *doc;
    long nodes;
    char *err;
    size_t err_size;
    long line0;
};

static bool is_int(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* A plain scalar resolved by the core schema. */
static cJSON *plain_scalar(const char *s)
{
    char *end;
    double d;

    if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return cJSON_CreateNull();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return cJSON_CreateTrue();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return cJSON_CreateFalse();
    if (is_int(s) || strpbrk(s, ".eE")) {
        errno = 0;
        d = strtod(s, &end);
        if (!errno && *end == '\0' && isfinite(d) &&
            (is_int(s) || strspn(s, "+-0123456789.eE") == strlen(s)))
            return cJSON_CreateNumber(d);
    }
    return cJSON_CreateString(s);
}

static cJSON *convert(struct conv *c, yaml_node_t *n, int depth)
{
    cJSON *out = NULL;

    if (!n)
        return cJSON_CreateNull();
    if (++c->nodes > YAMLJSON_MAX_NODES || depth > YAMLJSON_MAX_DEPTH) {
        snprintf(
            c->err, c->err_size, "line %ld: more than %d values or nested deeper than %d",
            c->line0 + (long)n->start_mark.line, YAMLJSON_MAX_NODES, YAMLJSON_MAX_DEPTH);
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *v = (const char *)n->data.scalar.value;
        /* libyaml gives every untagged scalar the !!str tag, so only the style tells
         * a quoted string from one to resolve. */
        return n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ? cJSON_CreateString(v)
                                                               : plain_scalar(v);
    }
    case YAML_SEQUENCE_NODE:
        if (!(out = cJSON_CreateArray()))
            return NULL;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            cJSON *v = convert(c, yaml_document_get_node(c->doc, *it), depth + 1);
            if (!v || !cJSON_AddItemToArray(out, v)) {
                cJSON_Delete(v);
                goto fail;
            }
        }
        return out;
    case YAML_MAPPING_NODE:
        if (!(out = cJSON_CreateObject()))
            return NULL;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                snprintf(c->err, c->err_size,
                         "line %ld: a mapping key that is not a scalar",
                         c->line0 + (long)(k ? k->start_mark.line : n->start_mark.line));
                goto fail;
            }
            cJSON *v = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1);
            if (!v ||
                !cJSON_AddItemToObject(out, (const char *)k->data.scalar.value, v)) {
                cJSON_Delete(v);
                goto fail;
            }
        }
        return out;
    default:
        return cJSON_CreateNull();
    }
fail:
    cJSON_Delete(out);
    return NULL;
}

int yamljson_parse(const char *text, size_t len, long line0, yamljson_cb cb, void *opaque,
                   char *errstr, size_t errstr_size)
{
    yaml_parser_t parser;
    int rc = 0;

    if (!yaml_parser_initialize(&parser)) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            snprintf(errstr, errstr_size, "YAML error at line %ld: %s",
                     line0 + (long)parser.problem_mark.line,
                     parser.problem ? parser.problem : "unknown");
            rc = -1;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) { /* the end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        struct conv c = {
            .doc = &doc, .err = errstr, .err_size = errstr_size, .line0 = line0};
        long line = line0 + (long)root->start_mark.line;
        errstr[0] = '\0';
        cJSON *v = convert(&c, root, 0);
        yaml_document_delete(&doc);
        if (!v) {
            if (!errstr[0])
                snprintf(errstr, errstr_size, "line %ld: out of memory", line);
            rc = -1;
            break;
        }
        if ((rc = cb(opaque, v, line)) != 0)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}
