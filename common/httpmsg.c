/* httpmsg.c -- see httpmsg.h. */
#include "httpmsg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util.h"

#define HTTPMSG_HOST_MAX 64 /* bytes of the host part of a listen address */

const char *httpmsg_reason(int status)
{
    static const struct {
        int code;
        const char *text;
    } reasons[] = {
        {100, "Continue"},
        {200, "OK"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {413, "Content Too Large"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
    };

    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].code == status)
            return reasons[i].text;
    return "Status";
}

bool httpmsg_printable(const char *s, bool spaces)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (!spaces && *s == ' '))
            return false;
    return true;
}

size_t httpmsg_head_end(const char *buf, size_t len, size_t *scan)
{
    for (size_t i = *scan; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    *scan = len > 2 ? len - 2 : 0;
    return 0;
}

/* Cut the line starting at *p (ending in LF or CRLF, inside the headers), advance *p
 * past it. Returns the line, NUL-terminated in place. */
static char *next_line(char **p)
{
    char *s = *p, *nl = strchr(s, '\n');

    *p = nl + 1;
    *nl = '\0';
    if (nl > s && nl[-1] == '\r')
        nl[-1] = '\0';
    return s;
}

const char *httpmsg_header(const char *const *names, const char *const *values, size_t n,
                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

/* One header line "Name: value" into out. Returns 0 or the status to answer with. */
static int parse_header(char *line, struct httpmsg_head *out, bool *have_len)
{
    char *colon, *v, *end;

    if (line[0] == ' ' || line[0] == '\t' || !(colon = strchr(line, ':')) ||
        colon == line)
        return 400; /* obsolete line folding, or not a header */
    if (out->nheaders == HTTPMSG_MAX_HEADERS)
        return 431;
    *colon = '\0';
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
        ;
    *end = '\0';
    if (!httpmsg_printable(line, false))
        return 400;
    for (const char *s = v; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 400;
    out->names[out->nheaders] = line;
    out->values[out->nheaders++] = v;
    if (strcasecmp(line, "Transfer-Encoding") == 0)
        return 501;
    if (strcasecmp(line, "Content-Length") == 0) {
        size_t n = 0;
        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 12)
            return 400;
        for (const char *s = v; *s; s++)
            n = n * 10 + (size_t)(*s - '0');
        if (*have_len && n != out->content_length)
            return 400;
        *have_len = true;
        out->content_length = n;
    }
    return 0;
}

int httpmsg_parse_head(char *buf, size_t len, size_t body_max, struct httpmsg_head *out)
{
    char *p = buf, *line, *sp, *target, *version, *q;
    bool have_len = false;
    int st;

    memset(out, 0, sizeof(*out));
    if (memchr(buf, '\0', len))
        return 400;
    buf[len] = '\0';
    line = next_line(&p);
    if (!(sp = strchr(line, ' ')) || sp == line || sp - line > HTTPMSG_METHOD_MAX)
        return 400;
    *sp = '\0';
    for (const char *m = line; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return 400;
    target = sp + 1;
    if (!(sp = strchr(target, ' ')))
        return 400;
    *sp = '\0';
    version = sp + 1;
    if (target[0] != '/' || !httpmsg_printable(target, false))
        return 400;
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
        return strncmp(version, "HTTP/", 5) == 0 ? 505 : 400;
    out->method = line;
    out->path = target;
    out->query = "";
    if ((q = strchr(target, '?')) != NULL) {
        *q = '\0';
        out->query = q + 1;
    }
    while (*p) {
        line = next_line(&p);
        if (!*line)
            break;
        if ((st = parse_header(line, out, &have_len)) != 0)
            return st;
    }
    return out->content_length > body_max ? 413 : 0;
}

int httpmsg_parse_listen(const char *where, void *addr, size_t addr_size,
                         unsigned *addr_len, char *errstr, size_t errstr_size)
{
    char host[HTTPMSG_HOST_MAX];
    const char *hs, *he, *colon;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    long long p;
    bool v6;

    if (!where || !*where) {
        snprintf(errstr, errstr_size, "listen address is empty");
        return -1;
    }
    v6 = where[0] == '[';
    if (v6) {
        hs = where + 1;
        he = strchr(hs, ']');
        colon = he && he[1] == ':' ? he + 1 : NULL;
    } else {
        hs = where;
        he = colon = strrchr(where, ':');
    }
    if (!colon) {
        snprintf(errstr, errstr_size, "listen address '%s': expected host:port", where);
        return -1;
    }
    if ((size_t)(he - hs) >= sizeof(host)) {
        snprintf(errstr, errstr_size, "listen address '%s': host too long", where);
        return -1;
    }
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (!(colon[1] >= '0' && colon[1] <= '9') ||
        util_parse_int(colon + 1, 0, 65535, &p) < 0) {
        snprintf(errstr, errstr_size,
                 "listen address '%s': port must be a number 0..65535", where);
        return -1;
    }
    memset(&in4, 0, sizeof(in4));
    memset(&in6, 0, sizeof(in6));
    if (v6) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons((uint16_t)p);
        if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1 && addr_size >= sizeof(in6)) {
            memcpy(addr, &in6, sizeof(in6));
            *addr_len = sizeof(in6);
            return 0;
        }
    } else {
        in4.sin_family = AF_INET;
        in4.sin_port = htons((uint16_t)p);
        in4.sin_addr.s_addr = htonl(INADDR_ANY);
        if ((!host[0] || inet_pton(AF_INET, host, &in4.sin_addr) == 1) &&
            addr_size >= sizeof(in4)) {
            memcpy(addr, &in4, sizeof(in4));
            *addr_len = sizeof(in4);
            return 0;
        }
    }
    snprintf(errstr, errstr_size,
             "listen address '%s': host must be a numeric IPv4 address or [IPv6]", where);
    return -1;
}
