/* s3.c -- the S3 backend of store.h: ListObjectsV2 and GetObject, signed with SigV4 by
 * libcurl (CURLOPT_AWS_SIGV4), credentials from the standard AWS environment or the
 * web-identity token file (STS AssumeRoleWithWebIdentity, as EKS's IRSA sets up). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "store.h"

struct s3 {
    char bucket[256];
    char region[64];
    char base[1024];      /* https://BUCKET.s3.REGION.amazonaws.com or ENDPOINT/BUCKET */
    char sigv4[128];      /* "aws:amz:REGION:s3" */
    char userpwd[512];    /* "KEY:SECRET"; "" = unsigned (a public bucket) */
    char token_hdr[4160]; /* "x-amz-security-token: ..." or "" */
};

/* The text of <tag>...</tag> after *pos in xml (entities decoded) into out; advances
 * *pos past it. Returns 0, or -1 if there is none. */
static int xml_take(const char *xml, const char **pos, const char *tag, char *out,
                    size_t size)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(*pos, open), *b;
    size_t o = 0;

    (void)xml;
    if (!a || !(b = strstr(a, close)))
        return -1;
    for (const char *p = a + strlen(open); p < b && o + 1 < size; p++) {
        static const char *const ent[][2] = {{"&amp;", "&"},
                                             {"&lt;", "<"},
                                             {"&gt;", ">"},
                                             {"&quot;", "\""},
                                             {"&apos;", "'"}};
        bool done = false;
        for (size_t i = 0; i < 5 && !done; i++)
            if (strncmp(p, ent[i][0], strlen(ent[i][0])) == 0) {
                out[o++] = ent[i][1][0];
                p += strlen(ent[i][0]) - 1;
                done = true;
            }
        if (!done)
            out[o++] = *p;
    }
    out[o] = '\0';
    *pos = b + strlen(close);
    return 0;
}

static const char *env(const char *a, const char *b)
{
    const char *v = getenv(a);
    if ((!v || !*v) && b)
        v = getenv(b);
    return v && *v ? v : NULL;
}

/* AssumeRoleWithWebIdentity with the token file: temporary credentials. */
static int web_identity(struct s3 *s, const char *token_file, const char *role,
                        char *errstr, size_t errstr_size)
{
    char err[256], url[16384], tok_e[3 * 4096], role_e[1024], id[256], secret[256],
        session[4096];
    size_t len;
    long status;
    char *tok = util_read_file(token_file, 4000, &len, err, sizeof(err));
    struct buf body;
    const char *sts = env("AWS_ENDPOINT_URL_STS", NULL);
    int rc = -1;

    if (!tok) {
        snprintf(errstr, errstr_size, "AWS_WEB_IDENTITY_TOKEN_FILE %s: %s", token_file,
                 err);
        return -1;
    }
    tok[strcspn(tok, "\r\n")] = '\0';
    http_escape(tok, false, tok_e, sizeof(tok_e));
    http_escape(role, false, role_e, sizeof(role_e));
    free(tok);
    snprintf(url, sizeof(url),
             "%s/?Action=AssumeRoleWithWebIdentity&DurationSeconds=3600&RoleArn=%s"
             "&RoleSessionName=herald-producer&Version=2011-06-15&WebIdentityToken=%s",
             sts ? sts : "", role_e, tok_e);
    if (!sts) {
        char host[128];
        snprintf(host, sizeof(host), "https://sts.%s.amazonaws.com", s->region);
        memmove(url + strlen(host), url, strlen(url) + 1);
        memcpy(url, host, strlen(host));
    }
    buf_init(&body, 1024 * 1024);
    struct http_req r = {.url = url, .timeout_ms = 30000, .body = &body};
    if (http_get(&r, &status, errstr, errstr_size) < 0)
        goto out;
    const char *pos = body.data ? body.data : "", *pos2 = pos;
    if (status != 200 || xml_take(body.data, &pos, "AccessKeyId", id, sizeof(id)) < 0 ||
        xml_take(body.data, &pos2, "SecretAccessKey", secret, sizeof(secret)) < 0) {
        snprintf(errstr, errstr_size, "STS AssumeRoleWithWebIdentity for %s: HTTP %ld%s",
                 role, status, status == 200 ? ", no credentials in the answer" : "");
        goto out;
    }
    pos = body.data;
    session[0] = '\0';
    xml_take(body.data, &pos, "SessionToken", session, sizeof(session));
    snprintf(s->userpwd, sizeof(s->userpwd), "%s:%s", id, secret);
    if (session[0])
        snprintf(s->token_hdr, sizeof(s->token_hdr), "x-amz-security-token: %s", session);
    rc = 0;
out:
    buf_release(&body);
    return rc;
}

struct s3 *s3_open(const char *bucket, char *errstr, size_t errstr_size)
{
    struct s3 *s = calloc(1, sizeof(*s));
    const char *ep = env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    const char *id = env("AWS_ACCESS_KEY_ID", NULL),
               *secret = env("AWS_SECRET_ACCESS_KEY", NULL);
    const char *session = env("AWS_SESSION_TOKEN", NULL);
    const char *wif = env("AWS_WEB_IDENTITY_TOKEN_FILE", NULL),
               *role = env("AWS_ROLE_ARN", NULL);

    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(s->bucket, sizeof(s->bucket), "%s", bucket);
    snprintf(s->region, sizeof(s->region), "%s",
             env("AWS_REGION", "AWS_DEFAULT_REGION")
                 ? env("AWS_REGION", "AWS_DEFAULT_REGION")
                 : "us-east-1");
    if (ep)
        snprintf(s->base, sizeof(s->base), "%.*s/%s", (int)strcspn(ep, "?"), ep, bucket);
    else
        snprintf(s->base, sizeof(s->base), "https://%s.s3.%s.amazonaws.com", bucket,
                 s->region);
    snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", s->region);
    if (id && secret) {
        snprintf(s->userpwd, sizeof(s->userpwd), "%s:%s", id, secret);
        if (session)
            snprintf(s->token_hdr, sizeof(s->token_hdr), "x-amz-security-token: %s",
                     session);
    } else if (wif && role) {
        if (web_identity(s, wif, role, errstr, errstr_size) < 0) {
            free(s);
            return NULL;
        }
    } else {
        log_warn(
            "s3://%s: no AWS credentials in the environment: unsigned requests (a public "
            "bucket)",
            bucket);
    }
    return s;
}

void s3_close(struct s3 *s)
{
    free(s);
}

/* One signed GET. */
static int get(struct s3 *s, const char *url, struct buf *out, long *status, char *errstr,
               size_t errstr_size)
{
    /* S3 wants the payload hash even for a GET: the SHA-256 of the empty body. */
    const char *hdrs[3] = {
        "x-amz-content-sha256: "
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        s->token_hdr[0] ? s->token_hdr : NULL, NULL};
    struct http_req r = {.url = url, .timeout_ms = 60000, .body = out, .headers = hdrs};

    if (s->userpwd[0]) {
        r.aws_sigv4 = s->sigv4;
        r.aws_userpwd = s->userpwd;
    }
    return http_get(&r, status, errstr, errstr_size);
}

int s3_list(struct s3 *s, const char *prefix, const char *start_after, bool recursive,
            store_entry_cb cb, void *opaque, char *errstr, size_t errstr_size)
{
    char token[2048] = "", url[16384], p[3 * STORE_MAX_KEY], sa[3 * STORE_MAX_KEY] = "",
         name[STORE_MAX_KEY + 1];
    struct buf body;
    long status;
    int rc = 0, stop = 0;

    buf_init(&body, 32 * 1024 * 1024);
    http_escape(prefix, false, p, sizeof(p));
    if (start_after)
        http_escape(start_after, false, sa, sizeof(sa));
    do {
        char tok[3 * 2048] = "";
        http_escape(token, false, tok, sizeof(tok));
        /* The query in SigV4's canonical order (sorted by name), every value encoded. */
        snprintf(url, sizeof(url), "%s/?%s%s%s%slist-type=2&max-keys=1000&prefix=%s%s%s",
                 s->base, tok[0] ? "continuation-token=" : "", tok, tok[0] ? "&" : "",
                 recursive ? "" : "delimiter=%2F&", p,
                 sa[0] && !tok[0] ? "&start-after=" : "", tok[0] ? "" : sa);
        buf_reset(&body);
        if (get(s, url, &body, &status, errstr, errstr_size) < 0) {
            rc = -1;
            break;
        }
        if (status != 200) {
            char code[128] = "", msg[256] = "";
            const char *pos = body.data ? body.data : "";
            xml_take(pos, &pos, "Code", code, sizeof(code));
            pos = body.data ? body.data : "";
            xml_take(pos, &pos, "Message", msg, sizeof(msg));
            snprintf(errstr, errstr_size, "s3://%s/%s: list: HTTP %ld %s %s", s->bucket,
                     prefix, status, code, msg);
            rc = -1;
            break;
        }
        const char *pos = body.data ? body.data : "";
        /* CommonPrefixes, then Contents, in key order within each */
        const char *cp = pos;
        while (!stop && (cp = strstr(cp, "<CommonPrefixes>"))) {
            if (xml_take(body.data, &cp, "Prefix", name, sizeof(name)) < 0)
                break;
            stop = cb(opaque, name, true);
        }
        const char *ct = pos;
        while (!stop && (ct = strstr(ct, "<Contents>"))) {
            if (xml_take(body.data, &ct, "Key", name, sizeof(name)) < 0)
                break;
            stop = cb(opaque, name, false);
        }
        char trunc[16] = "";
        const char *tp = pos;
        xml_take(body.data, &tp, "IsTruncated", trunc, sizeof(trunc));
        token[0] = '\0';
        tp = pos;
        if (!stop && strcmp(trunc, "true") == 0 &&
            xml_take(body.data, &tp, "NextContinuationToken", token, sizeof(token)) < 0) {
            snprintf(errstr, errstr_size, "s3://%s/%s: truncated listing without a token",
                     s->bucket, prefix);
            rc = -1;
        }
    } while (token[0] && rc == 0);
    buf_release(&body);
    return rc;
}

int s3_get(struct s3 *s, const char *key, struct buf *out, char *errstr,
           size_t errstr_size)
{
    char url[8192], k[3 * STORE_MAX_KEY];
    long status;

    http_escape(key, true, k, sizeof(k));
    snprintf(url, sizeof(url), "%s/%s", s->base, k);
    if (get(s, url, out, &status, errstr, errstr_size) < 0)
        return -1;
    if (status == 404)
        return 1;
    if (status != 200) {
        snprintf(errstr, errstr_size, "s3://%s/%s: HTTP %ld", s->bucket, key, status);
        return -1;
    }
    return 0;
}
