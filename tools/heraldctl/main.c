/* heraldctl -- operate Herald from a shell: silences and decision explanations
 * (docs/silences.md).
 *
 *   heraldctl [-c FILE | -r HOST:PORT] [--prefix P] [--db N] [--password-env NAME]
 *             COMMAND ...
 *
 * Talks to the Redis the consumers use; never to Kafka or Slack.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "log.h"
#include "silence.h"
#include "util.h"
#include "version.h"

#define CTL_DEFAULT_HOST "127.0.0.1"
#define CTL_DEFAULT_PORT 6379
#define CTL_DEFAULT_TIMEOUT_MS 2000

void ctl_usage(FILE *f)
{
    fprintf(
        f,
        "usage: heraldctl [-c FILE | -r HOST:PORT] [--prefix P] [--db N] "
        "[--user NAME] [--password-env NAME] COMMAND\n"
        "  silence add --match FIELD=GLOB [--match ...] --for DURATION "
        "[--start RFC3339] --reason TEXT [--by NAME]\n"
        "  silence list [--all] [--json]\n"
        "  silence expire ID\n"
        "  explain EVENT_ID [--json]\n"
        "\n"
        "  -c, --config FILE         take Redis host, port, db, password and key "
        "prefix from a Herald config\n"
        "  -r, --redis HOST:PORT     Redis to use (default: $HERALD_REDIS, else "
        "127.0.0.1:6379)\n"
        "      --prefix P            Redis key prefix (default herald:)\n"
        "      --db N                Redis database (default 0)\n"
        "      --password-env NAME   read the Redis password from $NAME\n"
        "      --user NAME           Redis ACL user to log in as (default: Redis'\n"
        "                            default user; docs/reliability.md)\n"
        "  -h, --help\n"
        "      --version\n"
        "FIELD is one of service, repo, job, stage, type, tier, state, org, base_ref;\n"
        "GLOB may use * and ?. DURATION: 30m, 2h, 1d, 1h30m.\n"
        "Exit status: 0 ok, 1 usage error or not found, 2 Redis unreachable.\n");
}

int ctl_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("heraldctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ctl_usage(stderr);
    return CTL_USAGE;
}

int ctl_connect(struct ctl *c)
{
    if (rconn_get(&c->r))
        return CTL_OK;
    fprintf(stderr, "heraldctl: cannot reach Redis at %s:%d: %s\n", c->host, c->port,
            c->r.err[0] ? c->r.err : "not connected");
    return CTL_UNREACHABLE;
}

int ctl_fail(struct ctl *c, const char *errstr)
{
    if (!c->r.ctx) {
        fprintf(stderr, "heraldctl: Redis at %s:%d: %s\n", c->host, c->port, errstr);
        return CTL_UNREACHABLE;
    }
    fprintf(stderr, "heraldctl: %s\n", errstr);
    if (strstr(errstr, "NOPERM") || strstr(errstr, "user executing the script"))
        fprintf(stderr, "heraldctl: this Redis user may not do that (Redis ACL); see "
                        "\"Who can silence\" in docs/reliability.md\n");
    return CTL_USAGE;
}

/* One UTF-8 character starting at s: its length in bytes (1 for a stray byte). */
static size_t utf8_len(const char *s)
{
    unsigned char b = (unsigned char)*s;
    size_t n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;

    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

/* Walk s as ctl_print_cell does; print to f if f is not NULL. Returns the width. */
static size_t cell(FILE *f, const char *s, size_t width)
{
    size_t chars = 0, total = 0;

    for (const char *p = s; *p; p += utf8_len(p))
        total++;
    for (const char *p = s; *p && chars < width; chars++) {
        size_t n = utf8_len(p);
        if (total > width && chars + 3 >= width) {
            if (f)
                fputs("...", f);
            return chars + 3;
        }
        if (f) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                fputc(' ', f);
            else
                fwrite(p, 1, n, f);
        }
        p += n;
    }
    return chars;
}

void ctl_print_cell(FILE *f, const char *s, size_t width, size_t pad)
{
    size_t w = cell(f, s, width);

    for (; w < pad; w++)
        fputc(' ', f);
}

size_t ctl_cell_width(const char *s, size_t width)
{
    return cell(NULL, s, width);
}

/* "HOST:PORT", "HOST", "[V6]:PORT" into c->host/c->port. Returns 0 or -1. */
static int parse_hostport(struct ctl *c, const char *s)
{
    const char *colon = strrchr(s, ':'), *h = s;
    size_t hlen;
    long long port = CTL_DEFAULT_PORT;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon)
            return -1;
    } else if (colon && strchr(s, ':') != colon) {
        colon = NULL; /* a bare IPv6 address */
        hlen = strlen(s);
    } else {
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (colon && util_parse_int(colon + 1, 1, 65535, &port) != 0)
        return -1;
    if (hlen == 0 || hlen >= sizeof(c->host))
        return -1;
    memcpy(c->host, h, hlen);
    c->host[hlen] = '\0';
    c->port = (int)port;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"redis", required_argument, NULL, 'r'},
                                         {"prefix", required_argument, NULL, 'P'},
                                         {"db", required_argument, NULL, 'D'},
                                         {"password-env", required_argument, NULL, 'W'},
                                         {"user", required_argument, NULL, 'U'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *cfg_path = NULL, *redis = NULL, *prefix = NULL, *db = NULL, *pwenv = NULL;
    const char *user = NULL;
    char err[8192];
    struct ctl c;
    long long v;
    int opt, status = CTL_USAGE;

    memset(&c, 0, sizeof(c));
    log_init("heraldctl", LOG_ERROR, LOG_TEXT); /* rconn's own warnings: we say it */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+c:r:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'r':
            redis = optarg;
            break;
        case 'P':
            prefix = optarg;
            break;
        case 'D':
            db = optarg;
            break;
        case 'W':
            pwenv = optarg;
            break;
        case 'U':
            user = optarg;
            break;
        case 'h':
            ctl_usage(stdout);
            return CTL_OK;
        case 'V':
            version_print(stdout, "heraldctl");
            return CTL_OK;
        default:
            return ctl_usage_error("bad option or missing value: %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("no command");
    if (cfg_path && redis)
        return ctl_usage_error("-c and -r exclude each other");

    /* defaults, then the config, then HERALD_REDIS, then the options */
    snprintf(c.host, sizeof(c.host), "%s", CTL_DEFAULT_HOST);
    c.port = CTL_DEFAULT_PORT;
    c.prefix = "herald:";
    c.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
    if (cfg_path) {
        if (!(c.cfg = config_load(cfg_path, err, sizeof(err)))) {
            fputs(err, stderr);
            if (err[0] && err[strlen(err) - 1] != '\n')
                fputc('\n', stderr);
            fprintf(stderr,
                    "heraldctl: %s: cannot use this config (use -r HOST:PORT "
                    "instead?)\n",
                    cfg_path);
            return CTL_USAGE;
        }
        snprintf(c.host, sizeof(c.host), "%s", c.cfg->redis_host);
        c.port = c.cfg->redis_port;
        c.db = c.cfg->redis_db;
        c.password = c.cfg->redis_password;
        c.prefix = c.cfg->key_prefix;
        c.timeout_ms = c.cfg->redis_timeout_ms;
    } else if (!redis) {
        redis = getenv("HERALD_REDIS");
        if (redis && !*redis)
            redis = NULL;
    }
    if (redis && parse_hostport(&c, redis) != 0) {
        status = ctl_usage_error("bad Redis address \"%s\": want HOST:PORT", redis);
        goto out;
    }
    if (prefix)
        c.prefix = prefix;
    if (db) {
        if (util_parse_int(db, 0, 65535, &v) != 0) {
            status = ctl_usage_error("--db: not a database number: \"%s\"", db);
            goto out;
        }
        c.db = (int)v;
    }
    if (pwenv) {
        c.password = getenv(pwenv);
        if (!c.password || !*c.password) {
            status = ctl_usage_error("--password-env: $%s is not set", pwenv);
            goto out;
        }
    }
    if (user && !c.password) {
        status = ctl_usage_error("--user needs a password (--password-env, or -c with "
                                 "redis.password*)");
        goto out;
    }
    rconn_init(&c.r, c.host, c.port, c.db, c.password, c.timeout_ms);
    c.r.username = user;
    if (silence_setup(&c.r) != 0) {
        fprintf(stderr, "heraldctl: cannot register the silence scripts\n");
        goto out;
    }

    if (strcmp(argv[optind], "silence") == 0)
        status = ctl_silence(&c, argc - optind, argv + optind);
    else if (strcmp(argv[optind], "explain") == 0)
        status = ctl_explain(&c, argc - optind, argv + optind);
    else
        status = ctl_usage_error("unknown command \"%s\"", argv[optind]);
out:
    rconn_release(&c.r);
    config_free(c.cfg);
    return status;
}
