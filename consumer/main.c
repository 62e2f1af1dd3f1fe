/* herald-consumer -- a member of Herald's consumer group: turns job events into
 * Slack alerts (docs/configuration.md, docs/operations.md).
 *
 *   herald-consumer -c herald.yaml [--name NAME]
 *   herald-consumer --check-config herald.yaml
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "consumer.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "version.h"

#define SHUTDOWN_TEARDOWN_MAX_S 15 /* after the last batch: close, commit, destroy */

static volatile int stop_flag = 0; /* set only by the signal handler */

/* Teardown watchdog. librdkafka 2.0.2's rd_kafka_destroy() can wait forever on an
 * idle broker thread after consumer_close() has already committed the offsets and
 * left the group; nothing is left to lose then, so a stuck teardown must not turn
 * a clean SIGTERM into a SIGKILL. Async-signal-safe: write(2) and _exit(2) only. */
static void on_teardown_timeout(int sig)
{
    static const char msg[] = "{\"level\":\"warn\",\"prog\":\"herald-consumer\","
                              "\"msg\":\"teardown took too long; exiting\"}\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)w;
    (void)sig;
    _exit(0);
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: herald-consumer -c CONFIG [--name NAME]\n"
               "       herald-consumer --check-config CONFIG\n"
               "  -c, --config FILE        the YAML configuration (see "
               "deploy/herald.example.yaml)\n"
               "  -n, --name NAME          instance name in logs and client.id "
               "(default: hostname-pid)\n"
               "      --check-config FILE  validate FILE, explain each error with its "
               "line, exit\n"
               "  -h, --help\n"
               "      --version\n");
}

static int check_config(const char *path)
{
    char err[8192];
    struct config *c = config_load(path, err, sizeof(err));

    if (!c) {
        fputs(err, stderr);
        return 1;
    }
    char rem[128] = "";
    for (size_t i = 0; i < c->nreminders; i++) {
        char d[32];
        size_t n = strlen(rem);
        util_human_duration(c->reminders_ms[i], d, sizeof(d));
        snprintf(rem + n, sizeof(rem) - n, "%s%s", i ? ", " : "", d);
    }
    printf("%s: ok (%zu receivers, %zu routes, %zu stages, reminders after %s)\n", path,
           c->nreceivers, c->nroutes, c->classify.nstages, rem);
    config_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"check-config", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *name = NULL;
    char err[8192], defname[128], host[64];
    struct config *cfg = NULL;
    struct metrics *m = NULL;
    struct metrics_http *http = NULL;
    struct consumer c;
    bool have_consumer = false;
    int opt, status = 1;

    log_init("herald-consumer", LOG_INFO, LOG_JSON);
    while ((opt = getopt_long(argc, argv, "c:n:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'C':
            return check_config(optarg);
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            version_print(stdout, "herald-consumer");
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (!path || optind != argc) {
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
        snprintf(defname, sizeof(defname), "%s-%ld", host, (long)getpid());
        name = defname;
    }

    util_stop_signals(on_signal, NULL);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("curl_global_init failed");
        goto out;
    }
    m = metrics_new("herald-consumer");
    if (consumer_init(&c, cfg, name, m, &stop_flag, err, sizeof(err)) < 0) {
        log_error("%s", err);
        goto out;
    }
    have_consumer = true;
    if (cfg->http_listen && *cfg->http_listen) {
        if (!(http = metrics_http_start(m, cfg->http_listen, consumer_ready, &c, err,
                                        sizeof(err)))) {
            log_error("http %s: %s", cfg->http_listen, err);
            goto out;
        }
        log_info("%s: metrics and health on %s (port %d)", name, cfg->http_listen,
                 metrics_http_port(http));
    }
    consumer_run(&c);
    log_info("%s: shutting down", name);
    signal(SIGALRM, on_teardown_timeout);
    alarm(SHUTDOWN_TEARDOWN_MAX_S);
    status = 0;
out:
    metrics_http_stop(http);
    if (have_consumer)
        consumer_release(&c);
    metrics_free(m);
    config_free(cfg);
    curl_global_cleanup();
    if (status == 0)
        log_info("%s: stopped cleanly", name);
    return status;
}
