/* store.c -- see store.h: the dispatch, the local folder and GCS. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "http.h"

enum store_kind { STORE_FILE, STORE_S3, STORE_GS };

struct store {
    enum store_kind kind;
    char bucket[256];
    char prefix[STORE_MAX_KEY];
    char root[STORE_MAX_KEY]; /* a folder: its path, with a trailing '/' */
    char gcs[512];            /* the GCS endpoint */
    struct s3 *s3;
};

struct store *store_open(const char *url, const char **prefix_out, char *errstr,
                         size_t errstr_size)
{
    struct store *s = calloc(1, sizeof(*s));
    const char *rest;

    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (strncmp(url, "s3://", 5) == 0 || strncmp(url, "gs://", 5) == 0) {
        s->kind = url[0] == 's' ? STORE_S3 : STORE_GS;
        rest = url + 5;
        size_t bl = strcspn(rest, "/");
        if (bl == 0 || bl >= sizeof(s->bucket)) {
            snprintf(errstr, errstr_size, "%s: no bucket name", url);
            goto fail;
        }
        memcpy(s->bucket, rest, bl);
        rest += bl;
        while (*rest == '/')
            rest++;
        snprintf(s->prefix, sizeof(s->prefix), "%s%s", rest,
                 *rest && rest[strlen(rest) - 1] != '/' ? "/" : "");
        if (s->kind == STORE_S3 && !(s->s3 = s3_open(s->bucket, errstr, errstr_size)))
            goto fail;
        const char *ep = getenv("HERALD_GCS_ENDPOINT");
        snprintf(s->gcs, sizeof(s->gcs), "%s",
                 ep && *ep ? ep : "https://storage.googleapis.com");
    } else {
        struct stat st;
        char eb[128];
        if (stat(url, &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(errstr, errstr_size, "%s: %s", url,
                     errno && stat(url, &st) < 0 ? util_strerror(errno, eb, sizeof(eb))
                                                 : "not a folder (nor s3:// or gs://)");
            goto fail;
        }
        s->kind = STORE_FILE;
        snprintf(s->root, sizeof(s->root), "%s%s", url,
                 url[strlen(url) - 1] == '/' ? "" : "/");
    }
    if (prefix_out)
        *prefix_out = s->prefix;
    return s;
fail:
    free(s);
    return NULL;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    s3_close(s->s3);
    free(s);
}

const char *store_kind(const struct store *s)
{
    return s->kind == STORE_S3 ? "s3" : s->kind == STORE_GS ? "gs" : "file";
}

const char *store_bucket(const struct store *s)
{
    return s->bucket;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_list(struct store *s, const char *prefix, const char *start_after,
                    store_entry_cb cb, void *opaque, char *errstr, size_t errstr_size)
{
    char path[2 * STORE_MAX_KEY + 2], eb[128];
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;

    snprintf(path, sizeof(path), "%s%s", s->root, prefix);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(errstr, errstr_size, "%s: %s", path,
                 util_strerror(errno, eb, sizeof(eb)));
        return -1;
    }
    while ((e = readdir(d))) {
        char full[3 * STORE_MAX_KEY], name[STORE_MAX_KEY + 2];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(full, sizeof(full), "%s%s", path, e->d_name);
        bool dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        int k = snprintf(name, sizeof(name), "%s%s%s", prefix, e->d_name, dir ? "/" : "");
        if (k < 0 || (size_t)k >= sizeof(name))
            continue;
        if (start_after && strcmp(name, start_after) <= 0)
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (!rc && cb(opaque, names[i], names[i][l - 1] == '/'))
            rc = 1;
        free(names[i]);
    }
    free(names);
    return 0;
}

static int gcs_list(struct store *s, const char *prefix, const char *start_after,
                    store_entry_cb cb, void *opaque, char *errstr, size_t errstr_size)
{
    char token[2048] = "", url[20480], p[3 * STORE_MAX_KEY], so[3 * STORE_MAX_KEY] = "";
    struct buf body;
    int rc = 0;

    buf_init(&body, 32 * 1024 * 1024);
    http_escape(prefix, false, p, sizeof(p));
    if (start_after) {
        /* startOffset is inclusive: start just after start_after */
        char after[STORE_MAX_KEY + 2];
        snprintf(after, sizeof(after), "%s%c", start_after, 1);
        http_escape(after, false, so, sizeof(so));
    }
    do {
        char tok[3 * 2048] = "";
        long status;
        http_escape(token, false, tok, sizeof(tok));
        snprintf(url, sizeof(url),
                 "%s/storage/v1/b/%s/o?delimiter=%%2F&prefix=%s&maxResults=1000%s%s%s%s",
                 s->gcs, s->bucket, p, so[0] ? "&startOffset=" : "", so,
                 tok[0] ? "&pageToken=" : "", tok);
        struct http_req r = {
            .url = url, .gzip = true, .timeout_ms = 60000, .body = &body};
        buf_reset(&body);
        if (http_get(&r, &status, errstr, errstr_size) < 0) {
            rc = -1;
            break;
        }
        if (status != 200) {
            snprintf(errstr, errstr_size, "gs://%s/%s: list: HTTP %ld", s->bucket, prefix,
                     status);
            rc = -1;
            break;
        }
        cJSON *doc = cJSON_ParseWithLength(body.data ? body.data : "", body.len), *it;
        if (!doc) {
            snprintf(errstr, errstr_size, "gs://%s/%s: list: malformed JSON", s->bucket,
                     prefix);
            rc = -1;
            break;
        }
        token[0] = '\0';
        int stop = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(
                                   doc, "prefixes")) if (!stop && cJSON_IsString(it))
            stop = cb(opaque, it->valuestring, true);
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "items"))
        {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
            if (!stop && cJSON_IsString(n))
                stop = cb(opaque, n->valuestring, false);
        }
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(doc, "nextPageToken");
        if (!stop && cJSON_IsString(nt) && strlen(nt->valuestring) < sizeof(token))
            snprintf(token, sizeof(token), "%s", nt->valuestring);
        cJSON_Delete(doc);
    } while (token[0]);
    buf_release(&body);
    return rc;
}

int store_list(struct store *s, const char *prefix, const char *start_after,
               bool recursive, store_entry_cb cb, void *opaque, char *errstr,
               size_t errstr_size)
{
    switch (s->kind) {
    case STORE_S3:
        return s3_list(s->s3, prefix, start_after, recursive, cb, opaque, errstr,
                       errstr_size);
    case STORE_GS:
        return gcs_list(s, prefix, start_after, cb, opaque, errstr, errstr_size);
    default:
        return dir_list(s, prefix, start_after, cb, opaque, errstr, errstr_size);
    }
}

int store_get(struct store *s, const char *key, struct buf *out, char *errstr,
              size_t errstr_size)
{
    char url[8192], k[3 * STORE_MAX_KEY];
    long status;

    buf_reset(out);
    if (s->kind == STORE_S3)
        return s3_get(s->s3, key, out, errstr, errstr_size);
    if (s->kind == STORE_FILE) {
        char path[2 * STORE_MAX_KEY + 2], err[256];
        size_t len;
        struct stat st;
        snprintf(path, sizeof(path), "%s%s", s->root, key);
        if (stat(path, &st) < 0 && errno == ENOENT)
            return 1;
        char *text = util_read_file(path, STORE_MAX_OBJECT, &len, err, sizeof(err));
        if (!text) {
            snprintf(errstr, errstr_size, "%s", err);
            return -1;
        }
        int rc = buf_append(out, text, len);
        free(text);
        if (rc < 0)
            snprintf(errstr, errstr_size, "%s: larger than %zu bytes", path, out->max);
        return rc;
    }
    http_escape(key, false, k, sizeof(k));
    snprintf(url, sizeof(url), "%s/storage/v1/b/%s/o/%s?alt=media", s->gcs, s->bucket, k);
    struct http_req r = {.url = url, .gzip = true, .timeout_ms = 60000, .body = out};
    if (http_get(&r, &status, errstr, errstr_size) < 0)
        return -1;
    if (status == 404)
        return 1;
    if (status != 200) {
        snprintf(errstr, errstr_size, "gs://%s/%s: HTTP %ld", s->bucket, key, status);
        return -1;
    }
    return 0;
}
