/* herald-web -- the release dashboard: the board, release and job pages, trends and
 * outcomes over the history herald-recorder writes (docs/dashboard.md).
 *
 *   herald-web -c herald.yaml [--listen HOST:PORT]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "util.h"

static volatile int stop_flag = 0; /* set only by the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herald-web -c CONFIG [--listen HOST:PORT]\n"
            "  -c, --config FILE     the YAML configuration (history:, web:, release:)\n"
            "  -l, --listen ADDR     overrides web.listen (port 0: a free port)\n"
            "  -h, --help\n"
            "Prints LISTEN=HOST:PORT on stdout once it serves.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *listen = NULL;
    char err[8192];
    struct config *cfg;
    struct web *w;
    char *dsn;
    int opt;

    log_init("herald-web", LOG_INFO, LOG_JSON);
    while ((opt = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'h':
            usage(stdout);
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
    if (!(dsn = config_history_dsn(cfg, err, sizeof(err)))) {
        fprintf(stderr, "herald-web: %s\n", err);
        config_free(cfg);
        return 1;
    }
    if (!listen)
        listen = cfg->web_listen;
    util_stop_signals(on_signal, NULL);
    if (!(w = web_start(cfg, dsn, listen, err, sizeof(err)))) {
        log_error("%s", err);
        free(dsn);
        config_free(cfg);
        return 1;
    }
    {
        char host[64];
        const char *colon = strrchr(listen, ':');
        size_t hl = colon ? (size_t)(colon - listen) : 0;
        snprintf(host, sizeof(host), "%.*s", (int)hl, listen);
        printf("LISTEN=%s:%d\n", host[0] ? host : "0.0.0.0", web_port(w));
        fflush(stdout);
        log_info("serving the dashboard on %s:%d%s%s", host[0] ? host : "0.0.0.0",
                 web_port(w), cfg->web_public_url[0] ? " as " : "", cfg->web_public_url);
    }
    while (!stop_flag)
        util_sleep_ms(200, &stop_flag);
    log_info("shutting down");
    web_stop(w);
    free(dsn);
    config_free(cfg);
    return 0;
}
