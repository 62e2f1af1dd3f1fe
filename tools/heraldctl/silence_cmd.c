/* silence_cmd.c -- heraldctl silence add | list | expire (common/silence.h). */
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "silence.h"
#include "util.h"
#include "version.h"

#define REASON_COLUMN 60   /* characters of a reason shown in the table */
#define MATCHERS_COLUMN 80 /* characters of the matchers shown in the table */

/* Start getopt over a command's own arguments (argv[0] is the command). */
static void getopt_restart(void)
{
    optind = 0; /* glibc: full reinitialisation */
    opterr = 0;
}

/* Record where this silence is being added: the OS user (the effective uid's name,
 * not $USER), the host name and this tool's version. Only what the client says: the
 * trust boundary is Redis write access (docs/reliability.md). Returns 0 or -1. */
static int set_origin(struct silence *s)
{
    char host[256], tool[128], uid[32];
    const struct passwd *pw = getpwuid(geteuid());
    const char *user = pw && pw->pw_name && *pw->pw_name ? pw->pw_name : NULL;

    if (!user) {
        snprintf(uid, sizeof(uid), "uid %u", (unsigned)geteuid());
        user = uid;
    }
    if (gethostname(host, sizeof(host)) != 0 || !host[0])
        snprintf(host, sizeof(host), "unknown-host");
    host[sizeof(host) - 1] = '\0';
    snprintf(tool, sizeof(tool), "heraldctl %s", version_string());
    if (!(s->origin_user = strdup(user)) || !(s->origin_host = strdup(host)) ||
        !(s->origin_tool = strdup(tool)))
        return -1;
    return 0;
}

/* Who is adding: $USER, else $LOGNAME, else "". */
static const char *default_user(void)
{
    const char *u = getenv("USER");

    if (!u || !*u)
        u = getenv("LOGNAME");
    return u ? u : "";
}

/* The matchers of s, space-separated, into b. */
static int matchers_text(const struct silence *s, struct buf *b)
{
    char m[SILENCE_MAX_GLOB + 32];
    int rc = 0;

    for (size_t i = 0; i < s->nm; i++)
        rc |= buf_printf(b, "%s%s", i ? " " : "",
                         silence_matcher_format(&s->m[i], m, sizeof(m)));
    return rc ? -1 : 0;
}

static int cmd_add(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"match", required_argument, NULL, 'm'},
                                         {"for", required_argument, NULL, 'f'},
                                         {"start", required_argument, NULL, 's'},
                                         {"reason", required_argument, NULL, 'R'},
                                         {"by", required_argument, NULL, 'b'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dur = NULL, *start = NULL, *reason = NULL, *by = NULL;
    char err[512], ends[32], starts[32];
    struct silence s;
    struct buf mt;
    int64_t for_ms = 0, now = util_now_ms();
    int opt, status = CTL_USAGE;

    silence_init(&s);
    buf_init(&mt, 8192);
    getopt_restart();
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            if (s.nm >= SILENCE_MAX_MATCHERS) {
                status = ctl_usage_error("at most %d --match", SILENCE_MAX_MATCHERS);
                goto out;
            }
            if (silence_matcher_parse(optarg, &s.m[s.nm], err, sizeof(err)) != 0) {
                status = ctl_usage_error("%s", err);
                goto out;
            }
            s.nm++;
            break;
        case 'f':
            dur = optarg;
            break;
        case 's':
            start = optarg;
            break;
        case 'R':
            reason = optarg;
            break;
        case 'b':
            by = optarg;
            break;
        case 'h':
            ctl_usage(stdout);
            status = CTL_OK;
            goto out;
        default:
            status = ctl_usage_error("silence add: bad option or missing value: %s",
                                     argv[optind - 1]);
            goto out;
        }
    }
    if (optind != argc) {
        status = ctl_usage_error("silence add: unexpected argument \"%s\"", argv[optind]);
        goto out;
    }
    if (s.nm == 0) {
        status = ctl_usage_error("silence add: needs at least one --match FIELD=GLOB");
        goto out;
    }
    if (!dur || util_parse_duration(dur, &for_ms) != 0 || for_ms <= 0) {
        status = ctl_usage_error("silence add: --for needs a duration > 0 (30m, 2h, 1d), "
                                 "got \"%s\"",
                                 dur ? dur : "");
        goto out;
    }
    if (!reason || !*reason) {
        status = ctl_usage_error("silence add: --reason TEXT is required");
        goto out;
    }
    if (strlen(reason) > SILENCE_MAX_REASON) {
        status = ctl_usage_error("silence add: --reason is longer than %d bytes",
                                 SILENCE_MAX_REASON);
        goto out;
    }
    s.starts_ms = now;
    if (start && util_parse_time(start, &s.starts_ms) != 0) {
        status =
            ctl_usage_error("silence add: --start: not an RFC 3339 time: \"%s\"", start);
        goto out;
    }
    if (for_ms > INT64_MAX / 2 - s.starts_ms) {
        status = ctl_usage_error("silence add: --for is too long");
        goto out;
    }
    s.ends_ms = s.starts_ms + for_ms;
    if (s.ends_ms <= now) {
        status = ctl_usage_error("silence add: it would be over already (ends %s)",
                                 util_format_time_s(s.ends_ms, ends, sizeof(ends)));
        goto out;
    }
    if (!(s.reason = strdup(reason)) || set_origin(&s) != 0) {
        fprintf(stderr, "heraldctl: out of memory\n");
        goto out;
    }
    if (silence_make_id(s.id, err, sizeof(err)) != 0) {
        fprintf(stderr, "heraldctl: %s\n", err);
        goto out;
    }
    if ((status = ctl_connect(c)) != CTL_OK)
        goto out;
    if (silence_add(&c->r, c->prefix, &s, by ? by : default_user(), err, sizeof(err)) !=
        0) {
        status = ctl_fail(c, err);
        goto out;
    }
    printf("%s\n", s.id);
    matchers_text(&s, &mt);
    util_format_time_s(s.ends_ms, ends, sizeof(ends));
    if (s.starts_ms > now)
        fprintf(stderr, "silenced %s from %s until %s (%s)\n", mt.data,
                util_format_time_s(s.starts_ms, starts, sizeof(starts)), ends, dur);
    else
        fprintf(stderr, "silenced %s until %s (%s)\n", mt.data, ends, dur);
    status = CTL_OK;
out:
    buf_release(&mt);
    silence_release(&s);
    return status;
}

/* One silence as a JSON object line. */
static int print_json(const struct silence *s, int64_t now)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    char m[SILENCE_MAX_GLOB + 32], *text = NULL;
    int rc = -1;

    if (!o || !arr || !cJSON_AddStringToObject(o, "id", s->id) ||
        !cJSON_AddItemToObject(o, "matchers", arr)) {
        cJSON_Delete(arr);
        goto out;
    }
    for (size_t i = 0; i < s->nm; i++)
        if (!cJSON_AddItemToArray(
                arr, cJSON_CreateString(silence_matcher_format(&s->m[i], m, sizeof(m)))))
            goto out;
    if (!cJSON_AddStringToObject(o, "reason", s->reason) ||
        !cJSON_AddStringToObject(o, "created_by", s->created_by) ||
        !cJSON_AddNumberToObject(o, "created_ms", (double)s->created_ms) ||
        !cJSON_AddStringToObject(o, "origin_user", s->origin_user) ||
        !cJSON_AddStringToObject(o, "origin_host", s->origin_host) ||
        !cJSON_AddStringToObject(o, "origin_tool", s->origin_tool) ||
        !cJSON_AddNumberToObject(o, "starts_ms", (double)s->starts_ms) ||
        !cJSON_AddNumberToObject(o, "ends_ms", (double)s->ends_ms) ||
        !cJSON_AddNumberToObject(o, "matched", (double)s->matched) ||
        !cJSON_AddBoolToObject(o, "active", s->starts_ms <= now && now < s->ends_ms) ||
        !cJSON_AddBoolToObject(o, "expired", s->ends_ms <= now))
        goto out;
    if (!(text = cJSON_PrintUnformatted(o)))
        goto out;
    printf("%s\n", text);
    rc = 0;
out:
    free(text);
    cJSON_Delete(o);
    return rc;
}

/* The ENDS cell of s. */
static const char *ends_text(const struct silence *s, int64_t now, char *buf, size_t size)
{
    if (s->ends_ms <= now)
        return "expired";
    return util_format_time_s(s->ends_ms, buf, size);
}

/* The FROM cell of s: "user@host", or "unrecorded" for a silence not added by
 * heraldctl (written into Redis by hand or by another tool). */
static const char *from_text(const struct silence *s, char *buf, size_t size)
{
    if (!s->origin_user[0] && !s->origin_host[0])
        return "unrecorded";
    snprintf(buf, size, "%s@%s", s->origin_user[0] ? s->origin_user : "?",
             s->origin_host[0] ? s->origin_host : "?");
    return buf;
}

#define TABLE_COLUMNS 8

static void print_table(const struct silence_set *set, int64_t now)
{
    static const char *const head[TABLE_COLUMNS] = {
        "ID", "ENDS", "MATCHED", "MATCHERS", "REASON", "BY", "FROM", "CREATED"};
    static const size_t cap[TABLE_COLUMNS] = {SIZE_MAX,        SIZE_MAX,      SIZE_MAX,
                                              MATCHERS_COLUMN, REASON_COLUMN, SIZE_MAX,
                                              SIZE_MAX,        SIZE_MAX};
    size_t w[TABLE_COLUMNS];
    char ends[32], matched[24], from[2 * SILENCE_MAX_ORIGIN + 2], created[32];
    struct buf mt;

    buf_init(&mt, 8192);
    for (size_t k = 0; k < TABLE_COLUMNS; k++)
        w[k] = strlen(head[k]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t k = 0; k < TABLE_COLUMNS; k++)
                ctl_print_cell(stdout, head[k], SIZE_MAX,
                               k < TABLE_COLUMNS - 1 ? w[k] + 2 : 0);
            fputc('\n', stdout);
        }
        for (size_t i = 0; i < set->n; i++) {
            const struct silence *s = &set->v[i];
            const char *cells[TABLE_COLUMNS];
            buf_reset(&mt);
            matchers_text(s, &mt);
            snprintf(matched, sizeof(matched), "%" PRId64, s->matched);
            cells[0] = s->id;
            cells[1] = ends_text(s, now, ends, sizeof(ends));
            cells[2] = matched;
            cells[3] = mt.data ? mt.data : "";
            cells[4] = s->reason;
            cells[5] = s->created_by[0] ? s->created_by : "-";
            cells[6] = from_text(s, from, sizeof(from));
            cells[7] = s->created_ms > 0
                           ? util_format_time_s(s->created_ms, created, sizeof(created))
                           : "-";
            for (size_t k = 0; k < TABLE_COLUMNS; k++) {
                if (pass == 0) {
                    size_t cw = ctl_cell_width(cells[k], cap[k]);
                    if (cw > w[k])
                        w[k] = cw;
                } else {
                    ctl_print_cell(stdout, cells[k], cap[k],
                                   k < TABLE_COLUMNS - 1 ? w[k] + 2 : 0);
                }
            }
            if (pass == 1)
                fputc('\n', stdout);
        }
    }
    buf_release(&mt);
}

static int cmd_list(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct silence_set set = {NULL, 0, 0};
    char err[512];
    bool all = false, json = false;
    int64_t now;
    int opt, status;

    getopt_restart();
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'a':
            all = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            ctl_usage(stdout);
            return CTL_OK;
        default:
            return ctl_usage_error("silence list: bad option: %s", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return ctl_usage_error("silence list: unexpected argument \"%s\"", argv[optind]);
    if ((status = ctl_connect(c)) != CTL_OK)
        return status;
    now = util_now_ms();
    if (silence_list(&c->r, c->prefix, now, all, &set, err, sizeof(err)) != 0)
        return ctl_fail(c, err);
    if (json) {
        for (size_t i = 0; i < set.n; i++)
            if (print_json(&set.v[i], now) != 0) {
                fprintf(stderr, "heraldctl: out of memory\n");
                status = CTL_USAGE;
                break;
            }
    } else {
        print_table(&set, now);
    }
    if (set.skipped)
        fprintf(stderr,
                "heraldctl: %zu silence(s) in Redis could not be read (bad "
                "matchers?); see HGETALL %ssilence:<id>\n",
                set.skipped, c->prefix);
    silence_set_release(&set);
    return status;
}

static int cmd_expire(struct ctl *c, int argc, char **argv)
{
    char err[512];
    int status;

    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        ctl_usage(stdout);
        return CTL_OK;
    }
    if (argc != 2)
        return ctl_usage_error("silence expire: needs exactly one ID");
    if ((status = ctl_connect(c)) != CTL_OK)
        return status;
    if (silence_expire(&c->r, c->prefix, argv[1], util_now_ms(), err, sizeof(err)) != 0)
        return ctl_fail(c, err);
    fprintf(stderr, "expired %s\n", argv[1]);
    return CTL_OK;
}

int ctl_silence(struct ctl *c, int argc, char **argv)
{
    if (argc < 2)
        return ctl_usage_error("silence: needs add, list or expire");
    if (strcmp(argv[1], "add") == 0)
        return cmd_add(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
        return cmd_list(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "expire") == 0)
        return cmd_expire(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        ctl_usage(stdout);
        return CTL_OK;
    }
    return ctl_usage_error("silence: unknown subcommand \"%s\"", argv[1]);
}
