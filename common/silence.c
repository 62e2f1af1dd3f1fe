/* silence.c -- see silence.h: a silence as a value: its matchers (parsed,
 * formatted), its id, freeing it, and matching events against a set. Where silences
 * live in Redis is silence_redis.c. */
#include "silence.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

void silence_init(struct silence *s)
{
    memset(s, 0, sizeof(*s));
}

void silence_release(struct silence *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nm && i < SILENCE_MAX_MATCHERS; i++)
        free(s->m[i].glob);
    free(s->reason);
    free(s->created_by);
    free(s->origin_user);
    free(s->origin_host);
    free(s->origin_tool);
    memset(s, 0, sizeof(*s));
}

void silence_set_release(struct silence_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        silence_release(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

int silence_matcher_parse(const char *s, struct silence_matcher *m, char *errstr,
                          size_t errstr_size)
{
    const char *eq = strchr(s, '=');
    char name[32];
    size_t nlen, glen;
    int f;

    m->glob = NULL;
    if (!eq) {
        snprintf(errstr, errstr_size, "bad matcher \"%.100s\": want FIELD=GLOB", s);
        return -1;
    }
    nlen = (size_t)(eq - s);
    if (nlen > 0 && s[nlen - 1] == '!') {
        snprintf(errstr, errstr_size,
                 "bad matcher \"%.100s\": only FIELD=GLOB is supported (no !=)", s);
        return -1;
    }
    f = -1;
    if (nlen < sizeof(name)) {
        memcpy(name, s, nlen);
        name[nlen] = '\0';
        f = field_parse(name);
    }
    if (f < 0) {
        snprintf(errstr, errstr_size,
                 "bad matcher \"%.100s\": unknown field \"%.*s\" (one of service, repo, "
                 "job, stage, type, tier, state, org, base_ref)",
                 s, (int)(nlen > 40 ? 40 : nlen), s);
        return -1;
    }
    glen = strlen(eq + 1);
    if (glen == 0) {
        snprintf(errstr, errstr_size, "bad matcher \"%.100s\": empty glob", s);
        return -1;
    }
    if (glen > SILENCE_MAX_GLOB) {
        snprintf(errstr, errstr_size,
                 "bad matcher \"%.60s...\": glob longer than %d bytes", s,
                 SILENCE_MAX_GLOB);
        return -1;
    }
    if (!util_utf8_valid(eq + 1, glen)) {
        snprintf(errstr, errstr_size, "bad matcher for %s: glob is not valid UTF-8",
                 name);
        return -1;
    }
    if (!(m->glob = strdup(eq + 1))) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    m->field = (enum field)f;
    return 0;
}

char *silence_matcher_format(const struct silence_matcher *m, char *buf, size_t size)
{
    snprintf(buf, size, "%s=%s", field_name(m->field), m->glob ? m->glob : "");
    return buf;
}

bool silence_id_valid(const char *id)
{
    size_t i;

    for (i = 0; id[i]; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return i == SILENCE_ID_LEN;
}

int silence_make_id(char *id, char *errstr, size_t errstr_size)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SILENCE_ID_LEN / 2];
    size_t got = 0;
    char e[128];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(errstr, errstr_size, "/dev/urandom: %s",
                 util_strerror(errno, e, sizeof(e)));
        return -1;
    }
    while (got < sizeof(raw)) {
        ssize_t n = read(fd, raw + got, sizeof(raw) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(errstr, errstr_size, "/dev/urandom: %s",
                     n < 0 ? util_strerror(errno, e, sizeof(e)) : "short read");
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    for (size_t i = 0; i < sizeof(raw); i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    id[SILENCE_ID_LEN] = '\0';
    return 0;
}

const struct silence *silence_match(const struct silence_set *s, const struct facts *f)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        const struct silence *si = &s->v[i];
        bool all = si->nm > 0;
        for (size_t j = 0; j < si->nm && all; j++)
            all = util_glob_match(si->m[j].glob, facts_get(f, si->m[j].field));
        if (all)
            return si;
    }
    return NULL;
}
