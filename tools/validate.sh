#!/usr/bin/env bash
# make validate: check the deployment files without a Docker engine or a cluster.
#
#   tools/validate.sh     BIN=DIR: where herald-consumer is (default bin)
#                         KUBECTL=PATH: the kubectl to use; empty: act as if it were missing
#
#   compose      docker-compose config -q, with and without the optional profiles
#   yamllint     deploy/ and docker-compose.yml, with .yamllint, warnings are errors
#   kustomize    kubectl kustomize on the base and the example overlay, and the rendered
#                objects' structure and references; without kubectl (it is not in
#                Debian's archive) a structural check of the kustomization files
#   configs      herald-consumer --check-config on every Herald config under deploy/,
#                with dummy values for the *_env secrets, and that compose and the
#                Deployment set every url_env variable
#   dockerfile   what the Dockerfile relies on in the repository
#
# Needs docker-compose (or the docker compose plugin), yamllint and python3-yaml
# (yamllint's dependency); `make deps` installs them. Ends with one summary line;
# exit 1 if a check failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

BIN=${BIN:-bin}
KUBECTL=${KUBECTL-kubectl}   # KUBECTL= (empty) tries the check used without kubectl
passed=0
failed=0
skipped=0
log=$(mktemp "${TMPDIR:-/tmp}/herald-validate.XXXXXX")
trap 'rm -f "$log"' EXIT

# check NAME CMD...: run CMD, show its output only when it fails.
check() {
    local name=$1
    shift
    if "$@" >"$log" 2>&1; then
        echo "ok    $name"
        passed=$((passed + 1))
    else
        echo "FAIL  $name"
        sed 's/^/      /' "$log"
        failed=$((failed + 1))
    fi
}
skip() {
    echo "skip  $1 ($2)"
    skipped=$((skipped + 1))
}
fail() {
    echo "FAIL  $1 ($2)"
    failed=$((failed + 1))
}

# ---- compose ------------------------------------------------------------------------
compose=()
if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
fi
if [ ${#compose[@]} -gt 0 ]; then
    check "compose: docker-compose.yml" "${compose[@]}" -f docker-compose.yml config -q
    check "compose: docker-compose.yml --profile replay --profile slack-sim" \
        "${compose[@]}" -f docker-compose.yml --profile replay --profile slack-sim config -q
    check "compose: docker-compose.yml --profile deck --profile bucket" \
        "${compose[@]}" -f docker-compose.yml --profile deck --profile bucket config -q
else
    fail "compose" "neither docker-compose nor 'docker compose' found: run 'make deps'"
fi

# ---- yamllint -----------------------------------------------------------------------
if command -v yamllint >/dev/null 2>&1; then
    check "yamllint: deploy/ docker-compose.yml" \
        yamllint --strict -f parsable -c .yamllint deploy/ docker-compose.yml
else
    fail "yamllint" "yamllint not found: run 'make deps'"
fi

# ---- kustomize ----------------------------------------------------------------------
# The structure of Kubernetes objects: every document has apiVersion, kind and
# metadata.name; with --rendered (kustomize output) also that the ConfigMaps, Secrets
# and ServiceAccounts the workloads name are in it and that every Deployment's
# selector matches its pod template.
k8s_check() {
    python3 - "$@" <<'EOF'
import os, sys
try:
    import yaml
except ImportError:
    sys.exit("python3-yaml (PyYAML) is missing: run 'make deps'")

errors = []

def objects(path, text):
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        errors.append(f"{path}: {e}")
        return []
    for d in docs:
        where = f"{path}: {d.get('kind', '?')}/{(d.get('metadata') or {}).get('name', '?')}" \
            if isinstance(d, dict) else path
        if not isinstance(d, dict):
            errors.append(f"{path}: a document is not a mapping")
            continue
        for key in ("apiVersion", "kind"):
            if not isinstance(d.get(key), str) or not d[key]:
                errors.append(f"{where}: no {key}")
        md = d.get("metadata")
        if not isinstance(md, dict) or not md.get("name"):
            errors.append(f"{where}: no metadata.name")
    return [d for d in docs if isinstance(d, dict)]

def rendered(path):
    objs = objects(path, open(path).read())
    have = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in objs}
    for o in objs:
        if o.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        name = f"{o['kind']}/{o['metadata']['name']}"
        spec = o.get("spec") or {}
        tmpl = spec.get("template") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            errors.append(f"{path}: {name}: selector {sel} does not match template labels {labels}")
        pod = tmpl.get("spec") or {}
        refs = []
        sa = pod.get("serviceAccountName")
        if sa and sa != "default":
            refs.append(("ServiceAccount", sa))
        for v in pod.get("volumes") or []:
            if "configMap" in v:
                refs.append(("ConfigMap", v["configMap"].get("name")))
            if "secret" in v:
                refs.append(("Secret", v["secret"].get("secretName")))
        for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            if not c.get("image"):
                errors.append(f"{path}: {name}: container {c.get('name')} has no image")
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                if "secretKeyRef" in vf:
                    refs.append(("Secret", vf["secretKeyRef"].get("name")))
                if "configMapKeyRef" in vf:
                    refs.append(("ConfigMap", vf["configMapKeyRef"].get("name")))
            for ef in c.get("envFrom") or []:
                if "secretRef" in ef:
                    refs.append(("Secret", ef["secretRef"].get("name")))
                if "configMapRef" in ef:
                    refs.append(("ConfigMap", ef["configMapRef"].get("name")))
        for ref in refs:
            if ref not in have:
                errors.append(f"{path}: {name} refers to {ref[0]} {ref[1]}, which is not in the output")

def kustomization(d):
    """Without kubectl: what a kustomization names exists, and its resources are objects."""
    kf = next((os.path.join(d, f) for f in ("kustomization.yaml", "kustomization.yml",
                                            "Kustomization") if os.path.exists(os.path.join(d, f))), None)
    if kf is None:
        errors.append(f"{d}: no kustomization.yaml")
        return
    try:
        k = yaml.safe_load(open(kf)) or {}
    except yaml.YAMLError as e:
        errors.append(f"{kf}: {e}")
        return
    if k.get("kind", "Kustomization") != "Kustomization":
        errors.append(f"{kf}: kind is not Kustomization")
    for r in k.get("resources") or []:
        p = os.path.normpath(os.path.join(d, r))
        if os.path.isdir(p):
            kustomization(p)
        elif os.path.isfile(p):
            objects(p, open(p).read())
        else:
            errors.append(f"{kf}: resource {r} does not exist")
    for p in k.get("patches") or []:
        if isinstance(p, dict) and "path" in p:
            f = os.path.join(d, p["path"])
            if not os.path.isfile(f):
                errors.append(f"{kf}: patch {p['path']} does not exist")
            else:
                objects(f, open(f).read())
    for gen in (k.get("configMapGenerator") or []) + (k.get("secretGenerator") or []):
        if not gen.get("name"):
            errors.append(f"{kf}: a generator has no name")
        for f in (gen.get("files") or []) + (gen.get("envs") or []):
            f = f.split("=", 1)[-1]
            if not os.path.isfile(os.path.join(d, f)):
                errors.append(f"{kf}: generator {gen.get('name')}: {f} does not exist")

mode, paths = sys.argv[1], sys.argv[2:]
for p in paths:
    rendered(p) if mode == "--rendered" else kustomization(p)
errors = list(dict.fromkeys(errors))   # the overlay reaches the base a second time
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
EOF
}

kustomize_render() { # DIR OUT
    "$KUBECTL" kustomize "$1" >"$2"
}

k8s_dirs=(deploy/k8s/base deploy/k8s/overlays/example)
if [ -n "$KUBECTL" ] && command -v "$KUBECTL" >/dev/null 2>&1; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/herald-kustomize.XXXXXX")
    trap 'rm -f "$log"; rm -rf "$out"' EXIT
    for d in "${k8s_dirs[@]}"; do
        f="$out/$(echo "$d" | tr / _).yaml"
        check "kustomize: kubectl kustomize $d" kustomize_render "$d" "$f"
        if [ -s "$f" ]; then
            if [ "$d" = deploy/k8s/base ]; then
                # The base leaves the Secret to the overlay: structure only.
                check "kustomize: objects in $d" k8s_check --files "$d"
            else
                check "kustomize: objects and references in $d" k8s_check --rendered "$f"
            fi
        fi
    done
else
    skip "kustomize: kubectl kustomize" "no kubectl, which Debian's archive does not have; checking the files instead"
    check "kustomize: kustomization files and objects (without kubectl)" \
        k8s_check --files "${k8s_dirs[@]}"
fi

# ---- Herald configurations ----------------------------------------------------------
# check_config FILE: herald-consumer --check-config with a dummy value for every
# *_env variable the file names (webhook URLs get a URL, the rest a word).
check_config() {
    local f=$1 vars=() v
    while read -r v; do
        [ -n "$v" ] && vars+=("$v")
    done < <(sed -n 's/^[^#]*url_env:[[:space:]]*"\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\).*/\1=https:\/\/hooks.slack.invalid\/services\/T0\/B0\/validate/p;
                     s/^[^#]*[a-z._]_env:[[:space:]]*"\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\).*/\1=validate/p' "$f" |
             sort -u)
    env "${vars[@]}" "$BIN/herald-consumer" --check-config "$f"
}

# env_wired FILE WHERE...: every url_env/token_env/password_env FILE names is set in
# one of WHERE (compose environment: or a Kubernetes env list).
env_wired() {
    local f=$1 name missing=0
    shift
    while read -r name; do
        if ! grep -Eq "^[[:space:]]*(- name: )?$name(:|$)" "$@"; then
            echo "$f names $name (a *_env secret) but $* does not set it"
            missing=1
        fi
    done < <(sed -n 's/^[^#]*_env:[[:space:]]*"\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$f" | sort -u)
    return $missing
}

configs=(deploy/herald.example.yaml deploy/herald.ack.yaml deploy/compose/herald.yaml deploy/k8s/base/herald.yaml)
if [ -x "$BIN/herald-consumer" ]; then
    for f in "${configs[@]}"; do
        check "config: herald-consumer --check-config $f" check_config "$f"
    done
else
    fail "config: herald-consumer --check-config" "$BIN/herald-consumer not built: run 'make' first (or set BIN)"
fi
check "config: compose sets every *_env of deploy/compose/herald.yaml" \
    env_wired deploy/compose/herald.yaml docker-compose.yml
check "config: the Deployments set every *_env of deploy/k8s/base/herald.yaml" \
    env_wired deploy/k8s/base/herald.yaml deploy/k8s/base/consumer-deployment.yaml \
    deploy/k8s/base/recorder-deployment.yaml deploy/k8s/base/web-deployment.yaml

# ---- Dockerfile ---------------------------------------------------------------------
# No hadolint here (not in Debian's archive). The image bakes deploy/herald.example.yaml
# with its http.listen rewritten to 0.0.0.0 by a sed that expects this exact line.
check "dockerfile: deploy/herald.example.yaml has the http.listen line the Dockerfile rewrites" \
    grep -q '^  listen: 127.0.0.1:9464 ' deploy/herald.example.yaml

echo "validate: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
