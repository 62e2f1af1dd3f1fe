/* main.c -- herald-slackd: a Slack-compatible HTTP receiver for the demo and the
 * end-to-end tests.
 *
 * It answers Slack's incoming webhooks (POST /hooks/<channel>) and the Web API's
 * chat.postMessage, chat.update and conversations.history the way Slack does, records
 * every accepted message in memory (and optionally as NDJSON in a file), and lets a
 * test inject faults (rate limits, errors, slow answers) through /_control/. Loopback
 * only; nothing here is a real Slack.
 *
 *   herald-slackd [--listen 127.0.0.1:PORT] [--token TOKEN] [--record FILE]
 *                 [--max-body BYTES]
 *
 * stdout carries exactly "LISTEN=127.0.0.1:<port>"; logs go to stderr. Exit 0 on
 * SIGTERM/SIGINT, 2 on a usage error, 1 on a startup failure.
 *
 * Threads: MHD runs one thread per connection; all shared state lives in struct
 * slackd under its mutex.
 *
 * This file: the HTTP server, the routing and main; the Slack API and the recorded
 * messages are api.c, the fault rules faults.c, the shared state slackd.h.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "log.h"
#include "slackd.h"
#include "util.h"
#include "version.h"

volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- answers ----------------------------------------------------------------- */

void answer_text(struct answer *a, unsigned status, const char *text)
{
    free(a->body);
    a->status = status;
    a->json = 0;
    a->body = util_strdup0(text);
}

/* Print obj (borrowed) as the body. cJSON allocates with malloc (default hooks). */
void answer_json(struct answer *a, unsigned status, const cJSON *obj)
{
    free(a->body);
    a->status = status;
    a->json = 1;
    a->body = cJSON_PrintUnformatted(obj);
}

/* {"ok":false,"error":err} with the given HTTP status; {"ok":true} if err is NULL. */
void answer_error(struct answer *a, unsigned status, const char *err)
{
    cJSON *o = cJSON_CreateObject();

    if (o && cJSON_AddBoolToObject(o, "ok", err == NULL) &&
        (err == NULL || cJSON_AddStringToObject(o, "error", err)))
        answer_json(a, status, o);
    else
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    cJSON_Delete(o);
}

/* Queue a (takes ownership of a->body). MHD_NO if the body could not be built. */
static enum MHD_Result send_answer(struct MHD_Connection *conn, struct answer *a)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char ra[16];

    if (a->body == NULL)
        return MHD_NO;
    r = MHD_create_response_from_buffer(strlen(a->body), a->body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(a->body);
        a->body = NULL;
        return MHD_NO;
    }
    a->body = NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            a->json ? "application/json; charset=utf-8"
                                    : "text/plain; charset=utf-8");
    if (a->retry_after >= 0) {
        snprintf(ra, sizeof(ra), "%d", a->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    ret = MHD_queue_response(conn, a->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- control endpoints and routing ------------------------------------------ */

/* GET /_control/stats */
static void control_stats(struct slackd *sd, struct answer *a)
{
    cJSON *o = cJSON_CreateObject(), *bs;
    char key[16];
    int ok;

    pthread_mutex_lock(&sd->mu);
    ok = o && cJSON_AddNumberToObject(o, "requests", (double)sd->requests) &&
         cJSON_AddNumberToObject(o, "recorded", (double)sd->recorded) &&
         cJSON_AddNumberToObject(o, "faulted", (double)sd->faulted) &&
         cJSON_AddNumberToObject(o, "dropped", (double)sd->dropped) &&
         cJSON_AddNumberToObject(o, "stored", (double)sd->cnt) &&
         cJSON_AddNumberToObject(o, "fault_rules", sd->rule_cnt) &&
         (bs = cJSON_AddObjectToObject(o, "by_status")) != NULL;
    for (int s = 100; ok && s < 600; s++) {
        if (sd->by_status[s] == 0)
            continue;
        snprintf(key, sizeof(key), "%d", s);
        ok = cJSON_AddNumberToObject(bs, key, (double)sd->by_status[s]) != NULL;
    }
    pthread_mutex_unlock(&sd->mu);
    if (ok)
        answer_json(a, MHD_HTTP_OK, o);
    else
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    cJSON_Delete(o);
}

/* DELETE /_control/messages (which=0) or /_control/faults (which=1). */
static void control_clear(struct slackd *sd, int which, struct answer *a)
{
    pthread_mutex_lock(&sd->mu);
    if (which == 0) {
        uint64_t dropped = sd->dropped;
        while (sd->cnt > 0)
            ring_drop_oldest(sd);
        sd->dropped = dropped; /* a clear is not a drop */
    } else {
        sd->rule_cnt = 0;
    }
    pthread_mutex_unlock(&sd->mu);
    answer_error(a, MHD_HTTP_OK, NULL);
}

/* Route one complete request; the Slack endpoints are counted in the stats. */
static enum MHD_Result route(struct slackd *sd, struct MHD_Connection *conn,
                             struct req *rq, const char *url, const char *method)
{
    struct answer a = {.status = 0, .retry_after = -1};
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    int del = strcmp(method, "DELETE") == 0;
    int hook = strncmp(url, "/hooks/", 7) == 0;
    int api = strcmp(url, "/api/chat.postMessage") == 0 ||
              strcmp(url, "/api/chat.update") == 0 ||
              strcmp(url, "/api/conversations.history") == 0;

    if (strcmp(url, "/_control/messages") == 0 && (get || del)) {
        if (get)
            control_messages(sd, conn, &a);
        else
            control_clear(sd, 0, &a);
    } else if (strcmp(url, "/_control/faults") == 0 && (post || del)) {
        if (del)
            control_clear(sd, 1, &a);
        else if (rq->too_large || rq->oom)
            answer_error(&a, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large");
        else
            control_faults_add(sd, rq, &a);
    } else if (strcmp(url, "/_control/stats") == 0 && get) {
        control_stats(sd, &a);
    } else if (strncmp(url, "/_control/", 10) == 0) {
        int known = strcmp(url + 10, "messages") == 0 ||
                    strcmp(url + 10, "faults") == 0 || strcmp(url + 10, "stats") == 0;
        answer_error(&a, known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
                     known ? "method_not_allowed" : "not_found");
    } else if (!hook && !api) {
        answer_text(&a, MHD_HTTP_NOT_FOUND, "not_found");
    }
    if (a.status != 0)
        return send_answer(conn, &a);

    if (!post)
        answer_text(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed");
    else if (rq->too_large)
        answer_text(&a, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large");
    else if (rq->oom)
        answer_text(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error");
    else if (hook && (url[7] == '\0' || strlen(url + 7) > SLACKD_MAX_CHANNEL))
        answer_text(&a, MHD_HTTP_NOT_FOUND, "no_service");
    else if (hook)
        handle_webhook(sd, rq, url + 7, &a);
    else if (strcmp(url, "/api/chat.update") == 0)
        handle_update(sd, conn, rq, &a);
    else if (strcmp(url, "/api/conversations.history") == 0)
        handle_history(sd, conn, rq, &a);
    else
        handle_webapi(sd, conn, rq, &a);
    pthread_mutex_lock(&sd->mu);
    sd->requests++;
    sd->faulted += a.faulted != 0;
    if (a.status >= 100 && a.status < 600)
        sd->by_status[a.status]++;
    pthread_mutex_unlock(&sd->mu);
    return send_answer(conn, &a);
}

/* MHD access handler: collect the body (bounded by --max-body), then route. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct slackd *sd = cls;
    struct req *rq = *con_cls;

    (void)version;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof(*rq))) == NULL)
            return MHD_NO;
        buf_init(&rq->body, sd->conf->max_body);
        rq->received_ms = util_now_ms();
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (rq->too_large || rq->oom)
            ; /* keep discarding */
        else if (*upload_data_size > sd->conf->max_body - rq->body.len)
            rq->too_large = 1;
        else if (buf_append(&rq->body, upload_data, *upload_data_size) != 0)
            rq->oom = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return route(sd, conn, rq, url, method);
}

/* MHD completion callback: free the request. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (rq) {
        buf_release(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: herald-slackd [--listen 127.0.0.1:PORT] [--token TOKEN]\n"
                 "                     [--record FILE] [--max-body BYTES]\n"
                 "                     [--allow-remote --listen 0.0.0.0:PORT]\n"
                 "       herald-slackd --help | --version\n"
                 "\n"
                 "A Slack-compatible receiver for tests: POST /hooks/<channel>,\n"
                 "POST /api/chat.postMessage, chat.update, conversations.history;\n"
                 "/_control/{messages,faults,stats}.\n"
                 "Loopback only unless --allow-remote (containers). Prints\n"
                 "LISTEN=<addr>:<port> on stdout.\n");
}

/* Fill conf from argv. Returns 0, 1 for --help, 2 for --version, or -1 after printing
 * the error. */
static int parse_args(int argc, char **argv, struct slackd_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->max_body = 1024 * 1024;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *colon = v ? strrchr(v, ':') : NULL;
        long long n;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return 1;
        if (strcmp(a, "--version") == 0)
            return 2;
        if (strcmp(a, "--allow-remote") == 0) {
            conf->allow_remote = true;
            i--; /* a flag without a value */
            continue;
        }
        if (strcmp(a, "--listen") != 0 && strcmp(a, "--token") != 0 &&
            strcmp(a, "--record") != 0 && strcmp(a, "--max-body") != 0) {
            fprintf(stderr, "herald-slackd: unknown argument '%s'\n", a);
            return -1;
        }
        if (v == NULL || *v == '\0') {
            fprintf(stderr, "herald-slackd: %s needs a non-empty value\n", a);
            return -1;
        }
        if (strcmp(a, "--listen") == 0) {
            conf->any_addr = colon && colon - v == 7 && strncmp(v, "0.0.0.0", 7) == 0;
            if (colon == NULL ||
                (!conf->any_addr &&
                 (colon - v != 9 || strncmp(v, "127.0.0.1", 9) != 0)) ||
                util_parse_int(colon + 1, 0, 65535, &n) != 0) {
                fprintf(stderr,
                        "herald-slackd: --listen '%s': want 127.0.0.1:PORT (loopback "
                        "only, port 0..65535)\n",
                        v);
                return -1;
            }
            conf->port = (uint16_t)n;
        } else if (strcmp(a, "--token") == 0) {
            if (strlen(v) > SLACKD_MAX_TOKEN) {
                fprintf(stderr, "herald-slackd: --token longer than %d bytes\n",
                        SLACKD_MAX_TOKEN);
                return -1;
            }
            conf->token = v;
        } else if (strcmp(a, "--record") == 0) {
            conf->record = v;
        } else if (util_parse_int(v, 1, SLACKD_MAX_BODY_LIMIT, &n) != 0) {
            fprintf(stderr, "herald-slackd: --max-body '%s': want 1..%ld bytes\n", v,
                    SLACKD_MAX_BODY_LIMIT);
            return -1;
        } else {
            conf->max_body = (size_t)n;
        }
    }
    if (conf->any_addr && !conf->allow_remote) {
        fprintf(stderr, "herald-slackd: --listen 0.0.0.0 needs --allow-remote (this is a "
                        "test double; it records everything it is sent)\n");
        return -1;
    }
    return 0;
}

/* Start MHD on 127.0.0.1:port, one thread per connection; sets *bound. NULL on error. */
static struct MHD_Daemon *http_start(struct slackd *sd, uint16_t port, uint16_t *bound)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;
    struct MHD_Daemon *d;

    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(sd->conf->any_addr ? INADDR_ANY : INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG,
                         port, NULL, NULL, on_request, sd, MHD_OPTION_SOCK_ADDR, &sin,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, sd,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (d && ((info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL ||
              info->port == 0)) {
        MHD_stop_daemon(d);
        d = NULL;
    }
    if (d)
        *bound = info->port;
    return d;
}

int main(int argc, char **argv)
{
    static struct slackd_conf conf;
    static struct slackd sd;
    sigset_t old;
    struct MHD_Daemon *d = NULL;
    char eb[128];
    uint16_t port = 0;
    int rc, ret = 1;

    if ((rc = parse_args(argc, argv, &conf)) == 2) {
        version_print(stdout, "herald-slackd");
        return 0;
    }
    if (rc != 0) {
        if (rc > 0)
            usage(stdout);
        else
            fputs("herald-slackd: try --help\n", stderr);
        return rc > 0 ? 0 : 2;
    }
    log_init("herald-slackd", LOG_INFO, LOG_TEXT);

    /* Block the stop signals in every thread (MHD's inherit the mask); main takes
     * them in sigsuspend(), so the flag cannot be missed. */
    util_stop_signals(on_signal, &old);

    sd.conf = &conf;
    pthread_mutex_init(&sd.mu, NULL); /* default attributes: cannot fail on Linux */
    if ((sd.ring = calloc(SLACKD_MAX_MESSAGES, sizeof(*sd.ring))) == NULL) {
        log_error("out of memory");
        goto out;
    }
    if (conf.record && (sd.record = fopen(conf.record, "a")) == NULL) {
        log_error("--record %s: %s", conf.record, util_strerror(errno, eb, sizeof(eb)));
        goto out;
    }
    if ((d = http_start(&sd, conf.port, &port)) == NULL) {
        log_error("could not listen on 127.0.0.1:%u", (unsigned)conf.port);
        goto out;
    }
    printf("LISTEN=%s:%u\n", conf.any_addr ? "0.0.0.0" : "127.0.0.1", (unsigned)port);
    if (fflush(stdout) != 0) {
        log_error("cannot write to stdout");
        goto out;
    }
    log_info("Slack-compatible receiver on 127.0.0.1:%u (test double, not Slack)%s",
             (unsigned)port, conf.token ? ", Web API token required" : "");

    while (!g_stop)
        sigsuspend(&old);
    log_info("stopping: %llu request(s), %llu message(s) recorded",
             (unsigned long long)sd.requests, (unsigned long long)sd.recorded);
    ret = 0;
out:
    g_stop = 1; /* wakes delayed answers */
    if (d)
        MHD_stop_daemon(d);
    while (sd.ring && sd.cnt > 0)
        ring_drop_oldest(&sd);
    free(sd.ring);
    if (sd.record && fclose(sd.record) != 0)
        log_warn("closing the record file failed");
    pthread_mutex_destroy(&sd.mu);
    return ret;
}
