/* kube.c -- see kube.h. */
#include "kube.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"
#include "yamljson.h"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_MAX_FILE (1024 * 1024)

void kube_release(struct kube *k)
{
    if (!k)
        return;
    free(k->token);
    free(k->ca_pem);
    free(k->cert_pem);
    free(k->key_pem);
    memset(k, 0, sizeof(*k));
}

/* Base64 (standard alphabet, padding optional, whitespace skipped) to a new
 * NUL-terminated string; NULL if it is not base64. */
static char *b64_decode(const char *in)
{
    size_t n = strlen(in), o = 0;
    char *out = malloc(n / 4 * 3 + 4);
    unsigned v = 0;
    int bits = 0;

    if (!out)
        return NULL;
    for (; *in; in++) {
        int c = (unsigned char)*in, d;
        if (c >= 'A' && c <= 'Z')
            d = c - 'A';
        else if (c >= 'a' && c <= 'z')
            d = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            d = c - '0' + 52;
        else if (c == '+')
            d = 62;
        else if (c == '/')
            d = 63;
        else if (c == '=' || c == '\n' || c == '\r' || c == ' ')
            continue;
        else {
            free(out);
            return NULL;
        }
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return out;
}

/* A path from a kubeconfig: relative ones from its folder. */
static int join(char *out, size_t size, const char *dir, const char *path)
{
    int n = path[0] == '/' || !dir[0] ? snprintf(out, size, "%s", path)
                                      : snprintf(out, size, "%s/%s", dir, path);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static const cJSON *named(const cJSON *list, const char *name, const char *inner)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return cJSON_GetObjectItemCaseSensitive(it, inner);
    }
    return NULL;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *it = o ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
    return cJSON_IsString(it) && it->valuestring[0] ? it->valuestring : NULL;
}

static int first_doc(void *opaque, cJSON *doc, long line)
{
    cJSON **out = opaque;
    (void)line;
    if (*out)
        cJSON_Delete(doc);
    else
        *out = doc;
    return 0;
}

static int load_kubeconfig(struct kube *k, const char *path, char *errstr,
                           size_t errstr_size)
{
    char err[512], dir[KUBE_MAX_PATH];
    size_t len;
    char *text = util_read_file(path, KUBE_MAX_FILE, &len, err, sizeof(err));
    cJSON *doc = NULL;
    const cJSON *ctx, *cl, *user;
    const char *cur, *v;
    int rc = -1;

    if (!text) {
        snprintf(errstr, errstr_size, "kubeconfig %s: %s", path, err);
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl)
        *sl = '\0';
    else
        dir[0] = '\0';
    if (yamljson_parse(text, len, 1, first_doc, &doc, err, sizeof(err)) < 0 || !doc) {
        snprintf(errstr, errstr_size, "kubeconfig %s: %s", path, doc ? err : "empty");
        goto out;
    }
    if (!(cur = str(doc, "current-context"))) {
        snprintf(errstr, errstr_size, "kubeconfig %s: current-context: missing", path);
        goto out;
    }
    ctx = named(cJSON_GetObjectItemCaseSensitive(doc, "contexts"), cur, "context");
    if (!cJSON_IsObject(ctx)) {
        snprintf(errstr, errstr_size, "kubeconfig %s: contexts: no context named \"%s\"",
                 path, cur);
        goto out;
    }
    cl = str(ctx, "cluster") ? named(cJSON_GetObjectItemCaseSensitive(doc, "clusters"),
                                     str(ctx, "cluster"), "cluster")
                             : NULL;
    user = str(ctx, "user") ? named(cJSON_GetObjectItemCaseSensitive(doc, "users"),
                                    str(ctx, "user"), "user")
                            : NULL;
    if (!cJSON_IsObject(cl) || !(v = str(cl, "server"))) {
        snprintf(errstr, errstr_size,
                 "kubeconfig %s: context \"%s\": no cluster with a server", path, cur);
        goto out;
    }
    snprintf(k->server, sizeof(k->server), "%s", v);
    if ((v = str(ctx, "namespace")))
        snprintf(k->ns, sizeof(k->ns), "%s", v);
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(cl, "insecure-skip-tls-verify");
    k->insecure = cJSON_IsTrue(ins);
    if ((v = str(cl, "certificate-authority-data")) && !(k->ca_pem = b64_decode(v))) {
        snprintf(errstr, errstr_size,
                 "kubeconfig %s: certificate-authority-data: not base64", path);
        goto out;
    }
    if ((v = str(cl, "certificate-authority")) &&
        join(k->ca_file, sizeof(k->ca_file), dir, v) < 0)
        goto toolong;
    if (cJSON_IsObject(user)) {
        if (cJSON_GetObjectItemCaseSensitive(user, "exec") ||
            cJSON_GetObjectItemCaseSensitive(user, "auth-provider")) {
            snprintf(
                errstr, errstr_size,
                "kubeconfig %s: user of context \"%s\": exec and auth-provider plugins "
                "(aws eks get-token, gke-gcloud-auth-plugin) are not supported; use a "
                "service-account token (kubectl create token) or a client certificate",
                path, cur);
            goto out;
        }
        if ((v = str(user, "token")) && !(k->token = strdup(v)))
            goto out;
        if ((v = str(user, "tokenFile")) &&
            join(k->token_file, sizeof(k->token_file), dir, v) < 0)
            goto toolong;
        if ((v = str(user, "client-certificate")) &&
            join(k->cert_file, sizeof(k->cert_file), dir, v) < 0)
            goto toolong;
        if ((v = str(user, "client-key")) &&
            join(k->key_file, sizeof(k->key_file), dir, v) < 0)
            goto toolong;
        if (((v = str(user, "client-certificate-data")) &&
             !(k->cert_pem = b64_decode(v))) ||
            ((v = str(user, "client-key-data")) && !(k->key_pem = b64_decode(v)))) {
            snprintf(errstr, errstr_size, "kubeconfig %s: client-*-data: not base64",
                     path);
            goto out;
        }
    }
    snprintf(k->where, sizeof(k->where), "kubeconfig %s", path);
    rc = 0;
    goto out;
toolong:
    snprintf(errstr, errstr_size, "kubeconfig %s: a path longer than %d bytes", path,
             KUBE_MAX_PATH);
out:
    cJSON_Delete(doc);
    free(text);
    return rc;
}

static int load_in_cluster(struct kube *k, char *errstr, size_t errstr_size)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST"),
               *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = getenv("HERALD_SERVICEACCOUNT_DIR");
    char p[KUBE_MAX_PATH], err[256];
    size_t len;

    if (!dir || !*dir)
        dir = KUBE_SA_DIR;
    if (!host || !*host) {
        snprintf(errstr, errstr_size,
                 "not in a cluster (KUBERNETES_SERVICE_HOST is not set): give "
                 "--kubeconfig FILE");
        return -1;
    }
    snprintf(k->server, sizeof(k->server),
             strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
             port && *port ? port : "443");
    snprintf(k->token_file, sizeof(k->token_file), "%s/token", dir);
    snprintf(k->ca_file, sizeof(k->ca_file), "%s/ca.crt", dir);
    snprintf(p, sizeof(p), "%s/namespace", dir);
    char *ns = util_read_file(p, 256, &len, err, sizeof(err));
    if (ns) {
        ns[strcspn(ns, " \r\n")] = '\0';
        snprintf(k->ns, sizeof(k->ns), "%s", ns);
        free(ns);
    }
    snprintf(k->where, sizeof(k->where), "in-cluster (%.200s)", dir);
    return 0;
}

int kube_load(struct kube *k, const char *kubeconfig, const char *ns, char *errstr,
              size_t errstr_size)
{
    memset(k, 0, sizeof(*k));
    if ((kubeconfig ? load_kubeconfig(k, kubeconfig, errstr, errstr_size)
                    : load_in_cluster(k, errstr, errstr_size)) < 0) {
        kube_release(k);
        return -1;
    }
    size_t n = strlen(k->server);
    while (n > 0 && k->server[n - 1] == '/')
        k->server[--n] = '\0';
    if (ns && *ns)
        snprintf(k->ns, sizeof(k->ns), "%s", ns);
    if (!k->ns[0])
        snprintf(k->ns, sizeof(k->ns), "prow");
    return 0;
}

int kube_auth(const struct kube *k, struct http_req *r, char *token, size_t token_size,
              char *errstr, size_t errstr_size)
{
    r->ca_file = k->ca_file[0] ? k->ca_file : NULL;
    r->ca_pem = k->ca_pem;
    r->cert_file = k->cert_file[0] ? k->cert_file : NULL;
    r->key_file = k->key_file[0] ? k->key_file : NULL;
    r->cert_pem = k->cert_pem;
    r->key_pem = k->key_pem;
    r->insecure = k->insecure;
    r->bearer = k->token;
    if (k->token_file[0]) {
        char err[256];
        size_t len;
        char *t = util_read_file(k->token_file, token_size - 1, &len, err, sizeof(err));
        if (!t) {
            snprintf(errstr, errstr_size, "token %s: %s", k->token_file, err);
            return -1;
        }
        t[strcspn(t, "\r\n")] = '\0';
        if (!t[0]) {
            free(t);
            snprintf(errstr, errstr_size, "token %s: empty", k->token_file);
            return -1;
        }
        snprintf(token, token_size, "%s", t);
        free(t);
        r->bearer = token;
    }
    return 0;
}
