/* explain_cmd.c -- heraldctl explain EVENT_ID: why the consumer decided what it did
 * with one event. The engine stores its decision as a JSON object in field <event id>
 * of the hash "<prefix>explain" (common/keys.h; kept 14 days of event time); this
 * prints it one "key: value" a line. Events that could change nothing (a success of a
 * healthy job) are not decided one by one, so they have no record.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "keys.h"
#include "util.h"

#define EXPLAIN_MAX_KEY 1024
#define EXPLAIN_MAX_BYTES (1024 * 1024) /* larger stored values are not parsed */

/* The keys printed first, in this order; the rest follow as stored. */
static const char *const explain_order[] = {
    "event",     "job",       "state",      "service",  "stage",   "tier",
    "version",   "decision",  "reason",     "rule",     "silence", "window",
    "job_state", "receivers", "decided_at", "consumer", NULL};

static bool is_ordered(const char *key)
{
    for (size_t i = 0; explain_order[i]; i++)
        if (strcmp(explain_order[i], key) == 0)
            return true;
    return false;
}

/* Print "key: value" for one item. Strings raw, integers without a fraction,
 * decided_at (ms) as RFC 3339, objects and arrays as compact JSON. */
static void print_item(const cJSON *it)
{
    char tbuf[40], *json;

    fputs(it->string, stdout);
    fputs(": ", stdout);
    if (cJSON_IsString(it)) {
        ctl_print_cell(stdout, it->valuestring, SIZE_MAX, 0);
    } else if (cJSON_IsNumber(it)) {
        double d = it->valuedouble;
        if (strcmp(it->string, "decided_at") == 0 && d >= 0 && d < 253402300800000.0)
            fputs(util_format_time_ms((int64_t)d, tbuf, sizeof(tbuf)), stdout);
        else if (d == floor(d) && fabs(d) < 9e15)
            printf("%lld", (long long)d);
        else
            printf("%g", d);
    } else if (cJSON_IsBool(it)) {
        fputs(cJSON_IsTrue(it) ? "true" : "false", stdout);
    } else if (cJSON_IsNull(it)) {
        fputs("null", stdout);
    } else if ((json = cJSON_PrintUnformatted(it)) != NULL) {
        fputs(json, stdout);
        free(json);
    }
    fputc('\n', stdout);
}

/* Print the stored decision readably. Returns 0, or -1 if it is not a JSON object. */
static int print_decision(const char *text, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *it;

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    for (size_t i = 0; explain_order[i]; i++)
        if ((it = cJSON_GetObjectItemCaseSensitive(root, explain_order[i])) != NULL)
            print_item(it);
    cJSON_ArrayForEach(it, root)
    {
        if (it->string && !is_ordered(it->string))
            print_item(it);
    }
    cJSON_Delete(root);
    return 0;
}

int ctl_explain(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    char key[EXPLAIN_MAX_KEY];
    const char *id;
    redisContext *ctx;
    redisReply *rep = NULL;
    bool json = false;
    int opt, n, status;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = true;
            break;
        case 'h':
            ctl_usage(stdout);
            return CTL_OK;
        default:
            return ctl_usage_error("explain: bad option: %s", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return ctl_usage_error("explain: needs exactly one EVENT_ID");
    id = argv[optind];
    struct keys keys;
    if (keys_init(&keys, c->prefix) < 0)
        return ctl_usage_error("explain: key prefix too long");
    n = snprintf(key, sizeof(key), "%s", keys.name[KEY_EXPLAIN]);
    if (n < 0 || (size_t)n >= sizeof(key))
        return ctl_usage_error("explain: key prefix too long");
    if ((status = ctl_connect(c)) != CTL_OK)
        return status;
    ctx = c->r.ctx;
    {
        const char *cmd[] = {"HGET", key, id};
        rep = redisCommandArgv(ctx, 3, cmd, NULL);
    }
    if (!rep) {
        rconn_fail(&c->r, ctx->errstr[0] ? ctx->errstr : "I/O error");
        return ctl_fail(c, c->r.err);
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "heraldctl: HGET %s: %.200s\n", key, rep->str);
        status = CTL_USAGE;
    } else if (rep->type == REDIS_REPLY_NIL) {
        fprintf(stderr,
                "heraldctl: no decision recorded for %s (decisions are kept 14 days of "
                "event time; a success of a healthy job changes nothing and is not "
                "recorded)\n",
                id);
        status = CTL_USAGE;
    } else if (rep->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "heraldctl: %s is not a string\n", key);
        status = CTL_USAGE;
    } else if (json) {
        fwrite(rep->str, 1, rep->len, stdout);
        if (rep->len == 0 || rep->str[rep->len - 1] != '\n')
            fputc('\n', stdout);
        status = CTL_OK;
    } else if (rep->len > EXPLAIN_MAX_BYTES || print_decision(rep->str, rep->len) != 0) {
        fprintf(stderr,
                "heraldctl: the decision stored in %s is not a JSON object "
                "(see --json)\n",
                key);
        status = CTL_USAGE;
    } else {
        status = CTL_OK;
    }
    freeReplyObject(rep);
    return status;
}
