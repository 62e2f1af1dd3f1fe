#!/usr/bin/env bash
# Install the Debian packages Herald needs to build, test and run the demo.
# Idempotent: with --if-missing it does nothing when everything is present.
set -euo pipefail

PKGS=(build-essential pkg-config make
      librdkafka-dev libcjson-dev libcurl4-openssl-dev libhiredis-dev libyaml-dev
      libmicrohttpd-dev libcmocka-dev
      redis-server python3 curl kcat openssl
      yamllint docker-compose clang libclang-rt-14-dev)

# npm packages of the tests (tests/node/package.json): s3rver for the S3 protocol.
# node and npm come from Debian when the machine has none.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

npm_deps() {
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
    [ -f "$dir/package-lock.json" ] || return 0
    command -v npm >/dev/null 2>&1 || { echo "deps: npm not found" >&2; return 1; }
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
        echo "deps: npm ci in tests/node"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) && touch "$dir/node_modules"
    fi
}

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

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
# redis-server's package starts a system instance; Herald's tests start their own.
npm_deps
echo "deps: done"
