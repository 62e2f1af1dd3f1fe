/* herald-recorder -- writes Herald's history (every job run, every alert sent) from
 * Kafka into PostgreSQL for herald-web (docs/dashboard.md, docs/schema.md).
 *
 *   herald-recorder -c herald.yaml [--name NAME]
 *   herald-recorder -c herald.yaml --migrate-only [--migrate-to N]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "recorder.h"
#include "util.h"

#define SHUTDOWN_TEARDOWN_MAX_S 15

static volatile int stop_flag = 0; /* set only by the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* librdkafka's destroy can hang on an idle broker thread after the offsets were
 * committed (see herald-consumer): nothing is left to lose then. */
static void on_teardown_timeout(int sig)
{
    static const char msg[] = "{\"level\":\"warn\",\"prog\":\"herald-recorder\","
                              "\"msg\":\"teardown took too long; exiting\"}\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)w;
    (void)sig;
    _exit(0);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herald-recorder -c CONFIG [--name NAME]\n"
            "       herald-recorder -c CONFIG --migrate-only [--migrate-to N]\n"
            "  -c, --config FILE     the YAML configuration (history: and kafka:)\n"
            "  -n, --name NAME       instance name in logs, client.id and the "
            "database's application_name\n"
            "      --migrate-only    apply the schema migrations and exit\n"
            "      --migrate-to N    ... only up to version N (tests, staged upgrades)\n"
            "  -h, --help\n");
}

static int migrate_only(const struct config *cfg, const char *name, int target)
{
    struct store st;
    char err[1024];
    char *dsn = config_history_dsn(cfg, err, sizeof(err));
    int v;

    if (!dsn) {
        fprintf(stderr, "herald-recorder: %s\n", err);
        return 1;
    }
    store_init(&st, dsn, name);
    v = store_migrate(&st, target, err, sizeof(err));
    store_release(&st);
    free(dsn);
    if (v < 0) {
        fprintf(stderr, "herald-recorder: %s\n", err);
        return 1;
    }
    printf("schema version %d\n", v);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"migrate-only", no_argument, NULL, 'M'},
                                         {"migrate-to", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *name = NULL;
    char err[8192], defname[128], host[64];
    struct config *cfg = NULL;
    struct metrics *m = NULL;
    struct metrics_http *http = NULL;
    struct recorder r;
    bool have_recorder = false, only = false;
    long long target = 0;
    int opt, status = 1;

    log_init("herald-recorder", LOG_INFO, LOG_JSON);
    while ((opt = getopt_long(argc, argv, "c:n:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'M':
            only = true;
            break;
        case 'T':
            if (util_parse_int(optarg, 1, 100000, &target) < 0) {
                fprintf(stderr,
                        "herald-recorder: --migrate-to: not a schema version: %s\n",
                        optarg);
                return 1;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (!path || optind != argc || (target && !only)) {
        usage(stderr);
        return 1;
    }
    if (!(cfg = config_load(path, err, sizeof(err)))) {
        fputs(err, stderr);
        return 1;
    }
    if (!name) {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "herald");
        host[sizeof(host) - 1] = '\0';
        snprintf(defname, sizeof(defname), "recorder-%s-%ld", host, (long)getpid());
        name = defname;
    }
    if (only) {
        status = migrate_only(cfg, name, (int)target);
        config_free(cfg);
        return status;
    }
    util_stop_signals(on_signal, NULL);
    memset(&r, 0, sizeof(r));
    m = metrics_new("herald-recorder");
    if (cfg->history_listen && *cfg->history_listen) {
        if (!(http = metrics_http_start(m, cfg->history_listen, recorder_ready, &r, err,
                                        sizeof(err)))) {
            log_error("history.listen %s: %s", cfg->history_listen, err);
            goto out;
        }
        log_info("%s: metrics and health on %s (port %d)", name, cfg->history_listen,
                 metrics_http_port(http));
    }
    /* recorder_init waits for the database; /healthz answers meanwhile, /readyz says
     * why it is not ready. */
    if (recorder_init(&r, cfg, name, m, &stop_flag, err, sizeof(err)) < 0) {
        log_error("%s", err);
        recorder_release(&r);
        goto out;
    }
    have_recorder = true;
    recorder_run(&r);
    log_info("%s: shutting down", name);
    signal(SIGALRM, on_teardown_timeout);
    alarm(SHUTDOWN_TEARDOWN_MAX_S);
    status = 0;
out:
    metrics_http_stop(http);
    if (have_recorder)
        recorder_release(&r);
    metrics_free(m);
    config_free(cfg);
    if (status == 0)
        log_info("%s: stopped cleanly", name);
    return status;
}
