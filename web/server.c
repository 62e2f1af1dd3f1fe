/* server.c -- see server.h. */
#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "html.h"
#include "log.h"
#include "pages.h"

struct web_route {
    const char *prefix;        /* "/release/" (segments follow) or "/trends" (exact) */
    size_t nseg;               /* path segments the route takes */
    const char *const *params; /* allowed query parameters, NULL-terminated */
    enum MHD_Result (*handler)(struct req *r);
};

static const char *const p_board[] = {"service", "stage", "state", "partial", NULL};
static const char *const p_none[] = {NULL};
static const char *const p_job[] = {"limit", "before", NULL};
static const char *const p_trends[] = {"days", "service", NULL};
static const char *const p_outcomes[] = {"weeks", NULL};

static const struct web_route routes[] = {
    {"/", 0, p_board, page_board},
    {"/release/", 2, p_none, page_release},
    {"/job/", 3, p_job, page_job},
    {"/trends", 0, p_trends, page_trends},
    {"/outcomes", 0, p_outcomes, page_outcomes},
};

struct web {
    const struct config *cfg;
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu; /* guards the pool */
    pthread_cond_t cv;
    struct pg pool[WEB_THREADS];
    bool busy[WEB_THREADS];
};

static struct pg *pool_get(struct web *w)
{
    struct pg *pg = NULL;

    pthread_mutex_lock(&w->mu);
    while (!pg) {
        for (size_t i = 0; i < WEB_THREADS && !pg; i++)
            if (!w->busy[i]) {
                w->busy[i] = true;
                pg = &w->pool[i];
            }
        if (!pg)
            pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return pg;
}

static void pool_put(struct web *w, struct pg *pg)
{
    pthread_mutex_lock(&w->mu);
    w->busy[pg - w->pool] = false;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

const char *req_param(const struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int param_int(const char *v, long long min, long long max, long long *out)
{
    return v ? util_parse_int(v, min, max, out) : -1;
}

bool param_is_name(const char *v, bool glob)
{
    size_t n = 0;

    if (!v)
        return false;
    for (; v[n]; n++) {
        char c = v[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
                  (glob && (c == '*' || c == '?'));
        if (!ok || n >= WEB_SEGMENT_MAX)
            return false;
    }
    return n > 0;
}

static enum MHD_Result web_send(struct MHD_Connection *conn, unsigned int status,
                                const char *ctype, char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret = MHD_NO;

    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") ==
            MHD_YES &&
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") == MHD_YES &&
        /* Inline style and the board's polling script only; nothing from elsewhere. */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; "
                                "script-src 'unsafe-inline'; img-src 'self' data:; "
                                "connect-src 'self'") == MHD_YES)
        ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned int status,
                                const char *ctype, struct buf *b)
{
    size_t len;
    char *body = buf_detach(b, &len);

    if (!body) {
        body = strdup("");
        len = 0;
        if (!body)
            return MHD_NO;
    }
    return web_send(conn, status, ctype, body, len);
}

enum MHD_Result reply_raw(struct req *r, const char *ctype, struct buf *b)
{
    return send_buf(r->conn, MHD_HTTP_OK, ctype, b);
}

enum MHD_Result reply_error(struct req *r, unsigned int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    struct buf b;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buf_init(&b, 64 * 1024);
    if (r->api) {
        cJSON *o = cJSON_CreateObject();
        char *s;
        cJSON_AddStringToObject(o, "error", msg);
        cJSON_AddNumberToObject(o, "status", status);
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (s)
            buf_puts(&b, s);
        free(s);
        return send_buf(r->conn, status, "application/json", &b);
    }
    html_error_page(&b, status, msg);
    return send_buf(r->conn, status, "text/html; charset=utf-8", &b);
}

enum MHD_Result reply_page(struct req *r, const cJSON *data,
                           int (*render)(const struct req *r, const cJSON *data,
                                         struct buf *out))
{
    struct buf b;

    buf_init(&b, WEB_PAGE_MAX);
    if (r->api) {
        char *s = cJSON_PrintUnformatted(data);
        if (!s || buf_puts(&b, s) < 0) {
            free(s);
            buf_release(&b);
            return reply_error(r, 500, "the answer is too large");
        }
        free(s);
        return send_buf(r->conn, MHD_HTTP_OK, "application/json", &b);
    }
    if (render(r, data, &b) < 0) {
        buf_release(&b);
        return reply_error(r, 500, "the page is too large to render");
    }
    return send_buf(r->conn, MHD_HTTP_OK, "text/html; charset=utf-8", &b);
}

/* Reject unknown parameter names and values that are not valid UTF-8. */
struct pcheck {
    const char *const *allowed;
    char bad[160];
};

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct pcheck *pc = cls;
    const char *const *a;

    (void)kind;
    for (a = pc->allowed; *a && strcmp(*a, key) != 0; a++)
        ;
    if (!*a) {
        snprintf(pc->bad, sizeof(pc->bad), "unknown query parameter \"%.64s\"",
                 util_utf8_valid(key, strlen(key)) ? key : "?");
        return MHD_NO;
    }
    if (value && (strlen(value) > 1024 || !util_utf8_valid(value, strlen(value)))) {
        snprintf(pc->bad, sizeof(pc->bad),
                 "query parameter %s: not valid UTF-8 or too long", key);
        return MHD_NO;
    }
    return MHD_YES;
}

/* Percent-decode [s, s+len) into out (size bytes). -1 for a bad escape, %00, a
 * control character, invalid UTF-8 or no room. */
static int decode(const char *s, size_t len, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            unsigned v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = i + (size_t)k < len ? s[i + (size_t)k] : '\0';
                v = v * 16 + (unsigned)(h >= '0' && h <= '9'   ? h - '0'
                                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                               : 99);
            }
            if (v > 255)
                return -1;
            c = (unsigned char)v;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= size)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return util_utf8_valid(out, o) ? 0 : -1;
}

/* Split what follows a route prefix (still percent-encoded: a segment may hold an
 * encoded '/') into exactly n decoded segments (no empty ones). */
static int split(const char *rest, char segs[][WEB_SEGMENT_MAX + 1], size_t n)
{
    size_t k = 0;

    while (k < n) {
        const char *slash = strchr(rest, '/');
        size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
        if (len == 0 || decode(rest, len, segs[k], WEB_SEGMENT_MAX + 1) < 0)
            return -1;
        k++;
        if (!slash)
            break;
        rest = slash + 1;
    }
    return k == n && !strchr(rest, '/') ? 0 : -1;
}

/* libmicrohttpd decodes the URL before the handler sees it; the routes need the path
 * as sent (an encoded '/' inside a job name is not a separator). This keeps it, per
 * request, in *con_cls. */
static void *raw_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    size_t n = strcspn(uri, "?");

    (void)cls;
    (void)conn;
    if (n > 4096)
        n = 4096;
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, uri, n);
        p[n] = '\0';
    }
    return p;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result health(struct web *w, struct MHD_Connection *conn, bool ready)
{
    struct buf b;
    unsigned int status = MHD_HTTP_OK;

    buf_init(&b, 4096);
    if (!ready) {
        buf_puts(&b, "ok\n");
    } else {
        struct pg *pg = pool_get(w);
        PGresult *res = pg_query(
            pg, "readyz", "SELECT coalesce(max(version), 0) FROM herald_schema", 0, NULL);
        long long v = 0;
        if (!res || !pg_value(res, 0, 0) ||
            util_parse_int(pg_value(res, 0, 0), 0, 1 << 20, &v) || v < 2) {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            buf_printf(
                &b, "not ready: %s\n",
                res ? "the history schema is not there yet (the recorder applies it)"
                    : "history database unreachable");
        } else {
            buf_puts(&b, "ready\n");
        }
        PQclear(res);
        pool_put(w, pg);
    }
    return send_buf(conn, status, "text/plain; charset=utf-8", &b);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    struct web *w = cls;
    struct req r = {conn, w->cfg, NULL, false, {NULL, NULL, NULL}, 0};
    char segs[3][WEB_SEGMENT_MAX + 1];
    const char *path = con_cls && *con_cls ? (const char *)*con_cls : url;
    struct pcheck pc;
    enum MHD_Result ret;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
    if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz"))
        return health(w, conn, path[1] == 'r');
    if (!strncmp(path, "/api/", 5)) {
        r.api = true;
        path += 4; /* "/api/board" -> "/board" */
        if (!strcmp(path, "/board"))
            path = "/";
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct web_route *rt = &routes[i];
        size_t pl = strlen(rt->prefix);
        if (rt->nseg == 0 ? strcmp(path, rt->prefix) != 0
                          : strncmp(path, rt->prefix, pl) != 0)
            continue;
        if (rt->nseg && split(path + pl, segs, rt->nseg) < 0)
            return reply_error(&r, MHD_HTTP_NOT_FOUND, "no such page: %.200s",
                               util_utf8_valid(url, strlen(url)) ? url : "?");
        for (size_t k = 0; k < rt->nseg; k++)
            r.seg[k] = segs[k];
        r.nseg = rt->nseg;
        pc.allowed = rt->params;
        pc.bad[0] = '\0';
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_param, &pc);
        if (pc.bad[0])
            return reply_error(&r, MHD_HTTP_BAD_REQUEST, "%s", pc.bad);
        r.pg = pool_get(w);
        ret = rt->handler(&r);
        pool_put(w, r.pg);
        return ret;
    }
    return reply_error(&r, MHD_HTTP_NOT_FOUND, "no such page: %.200s",
                       util_utf8_valid(url, strlen(url)) ? url : "?");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("http: %s", msg);
}

struct web *web_start(const struct config *cfg, const char *dsn, const char *listen,
                      char *errstr, size_t errstr_size)
{
    struct web *w = calloc(1, sizeof(*w));
    struct sockaddr_in sin;
    char host[64];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    long long port;
    const union MHD_DaemonInfo *info;

    if (!w) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    if (!colon || (size_t)(colon - listen) >= sizeof(host) ||
        util_parse_int(colon + 1, 0, 65535, &port) < 0) {
        snprintf(errstr, errstr_size, "web.listen \"%s\": expected host:port",
                 listen ? listen : "");
        goto fail;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    if (host[0] && inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        snprintf(errstr, errstr_size,
                 "web.listen \"%s\": the host must be a numeric IPv4 "
                 "address (or empty for all)",
                 listen);
        goto fail;
    }
    w->cfg = cfg;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (size_t i = 0; i < WEB_THREADS; i++)
        pg_init(&w->pool[i], dsn, "herald-web", 5, WEB_STATEMENT_MS);
    w->d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
        handle, w, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w, MHD_OPTION_URI_LOG_CALLBACK,
        raw_uri, w, MHD_OPTION_NOTIFY_COMPLETED, completed, w, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)WEB_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WEB_CONN_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!w->d) {
        snprintf(errstr, errstr_size, "cannot serve on %s (address in use?)", listen);
        for (size_t i = 0; i < WEB_THREADS; i++)
            pg_release(&w->pool[i]);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        goto fail;
    }
    info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
    w->port = info ? info->port : (int)port;
    return w;
fail:
    free(w);
    return NULL;
}

int web_port(const struct web *w)
{
    return w ? w->port : -1;
}

void web_stop(struct web *w)
{
    if (!w)
        return;
    MHD_stop_daemon(w->d);
    for (size_t i = 0; i < WEB_THREADS; i++)
        pg_release(&w->pool[i]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
