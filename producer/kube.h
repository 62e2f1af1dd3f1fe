/* kube.h -- how to reach the Kubernetes API: in-cluster (the pod's service account)
 * or a kubeconfig file with a bearer token or a client certificate.
 *
 * In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the token,
 * ca.crt and namespace files of /var/run/secrets/kubernetes.io/serviceaccount (or of
 * $HERALD_SERVICEACCOUNT_DIR). Bound tokens rotate about hourly: the token file is
 * read again on every connection (kube_auth()).
 *
 * Kubeconfig: the current context's cluster (server, certificate-authority[-data],
 * insecure-skip-tls-verify) and user (token, tokenFile, client-certificate[-data],
 * client-key[-data]); relative paths are taken from the kubeconfig's folder. Exec
 * and auth-provider plugins are refused with a plain error.
 *
 * Not thread-safe; kube_auth() reads files only.
 */
#ifndef HERALD_KUBE_H
#define HERALD_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define KUBE_MAX_PATH 1024

struct kube {
    char server[1024];              /* https://host:port, no trailing slash */
    char ns[254];                   /* the namespace to watch */
    char token_file[KUBE_MAX_PATH]; /* re-read on every connection; "" for none */
    char *token; /* a static token (kubeconfig "token"), or NULL; secret */
    char ca_file[KUBE_MAX_PATH];
    char *ca_pem; /* decoded certificate-authority-data, or NULL */
    char cert_file[KUBE_MAX_PATH], key_file[KUBE_MAX_PATH];
    char *cert_pem, *key_pem; /* decoded client-*-data (key: secret) */
    bool insecure;
    char
        where[KUBE_MAX_PATH + 32]; /* "in-cluster" or the kubeconfig path, for messages */
};

/* Load from kubeconfig (NULL: in-cluster). ns (may be NULL) overrides the namespace
 * (default: the context's, else the pod's, else "prow"). Returns 0, or -1 with
 * errstr naming the file and the field. */
int kube_load(struct kube *k, const char *kubeconfig, const char *ns, char *errstr,
              size_t errstr_size);

/* Free what kube_load allocated; NULL is accepted. */
void kube_release(struct kube *k);

/* Fill r's TLS and credentials for one connection, reading the token file again
 * into token[0..token_size) when there is one. Returns 0, or -1 with errstr (the
 * token file cannot be read or is empty). */
int kube_auth(const struct kube *k, struct http_req *r, char *token, size_t token_size,
              char *errstr, size_t errstr_size);

#endif
