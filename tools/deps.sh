#!/usr/bin/env bash
# Install the Debian packages Herald needs to build, test and run the demo.
# Idempotent: with --if-missing it does nothing when everything is present.
set -euo pipefail

PKGS=(build-essential pkg-config make
      librdkafka-dev libcjson-dev libcurl4-openssl-dev libhiredis-dev libyaml-dev
      libmicrohttpd-dev libcmocka-dev
      redis-server python3 curl
      yamllint docker-compose clang libclang-rt-14-dev
      kcat prometheus-alertmanager valgrind)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    [ "${1:-}" = "--if-missing" ] || echo "deps: all ${#PKGS[@]} packages present"
    exit 0
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
# redis-server's and prometheus-alertmanager's packages start system instances where
# the init system allows; Herald's tests and bench start their own on free ports.
echo "deps: done"
