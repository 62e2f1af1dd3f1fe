#!/usr/bin/env bash
# Install the Debian packages Herald needs to build, test and run the demo.
# Idempotent: with --if-missing it does nothing when everything is present.
set -euo pipefail

PKGS=(build-essential pkg-config make
      librdkafka-dev libcjson-dev libcurl4-openssl-dev libhiredis-dev libyaml-dev
      libmicrohttpd-dev libcmocka-dev libssl-dev
      redis-server python3 curl kcat openssl
      yamllint docker-compose clang libclang-rt-14-dev
      libpq-dev postgresql chromium
      prometheus-alertmanager valgrind)
# node and npm (for tests/node: playwright-core, s3rver) from Debian when none is here.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# npm packages of the tests (tests/node/package.json, its lock committed): installed
# with npm ci when node is there and node_modules is missing or older than the lock.
npm_deps() {
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
    [ -f "$dir/package-lock.json" ] || return 0
    command -v npm >/dev/null 2>&1 || { echo "deps: npm not found (tests/node needs it)" >&2; return 1; }
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
        echo "deps: npm ci in tests/node"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) && touch "$dir/node_modules"
    fi
}
# PostgreSQL's package starts a system cluster; Herald's tests and demo start their own.
stop_system_postgres() {
    if command -v pg_lsclusters >/dev/null 2>&1 && command -v systemctl >/dev/null 2>&1; then
        systemctl stop postgresql >/dev/null 2>&1 || true
    fi
}

if [ "${#missing[@]}" -eq 0 ]; then
    [ "${1:-}" = "--if-missing" ] || echo "deps: all ${#PKGS[@]} packages present"
    npm_deps
    exit $?
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# redis-server's, postgresql's and prometheus-alertmanager's packages start system
# instances where the init system allows; Herald's tests and bench start their own.
stop_system_postgres
npm_deps
echo "deps: done"
