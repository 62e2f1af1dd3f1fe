# Herald's container image: herald-consumer (the default command), herald-producer,
# herald-recorder and herald-web (the history and the dashboard), herald-slackd (the
# Slack-compatible test receiver) and herald-devbroker.
#
#   docker build -t herald:local .
#   docker run --rm -e SLACK_ACK_RELEASES_URL=... -e SLACK_ACK_CI_URL=... herald:local
#   docker run --rm -i herald:local herald-producer -b kafka:9092 - < history.ndjson
#
# The build stage runs the same `make` as CI (warnings are errors); tests are not run
# here (CI runs them). The runtime stage has only the shared libraries, CA
# certificates and curl (for container health checks), and runs as uid 10001.

ARG DEBIAN_IMAGE=debian:12-slim

# ---- build ------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config make \
      librdkafka-dev libcjson-dev libcurl4-openssl-dev libhiredis-dev libyaml-dev \
      libmicrohttpd-dev libssl-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .git is not in the build context: pass the version in, e.g.
#   docker build --build-arg HERALD_VERSION="$(git describe --tags --always --dirty)" .
# (empty: the binaries say "unknown" for --version).
ARG HERALD_VERSION=
RUN make -j2 all HERALD_VERSION="${HERALD_VERSION}" \
 && mkdir -p /out/etc \
 && sed 's|^  listen: 127.0.0.1:9464 .*|  listen: "0.0.0.0:9464"           # all interfaces in a container|' \
      deploy/herald.example.yaml >/out/etc/herald.yaml \
 && grep -q '^  listen: "0.0.0.0:9464"' /out/etc/herald.yaml

# ---- runtime ----------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libcjson1 libcurl4 libhiredis0.14 libyaml-0-2 libmicrohttpd12 libssl3 libpq5 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 herald \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin herald
COPY --from=build /src/bin/ /usr/local/bin/
# The annotated example configuration, listening on all interfaces. Its receivers read
# their webhook URLs from SLACK_ACK_RELEASES_URL and SLACK_ACK_CI_URL; mount your own
# configuration over /etc/herald/herald.yaml (compose and Kubernetes both do).
COPY --from=build /out/etc/herald.yaml /etc/herald/herald.yaml
USER 10001:10001
# /metrics (Prometheus), /healthz (liveness), /readyz (readiness); the recorder's on
# 9465; herald-web on 8080
EXPOSE 9464 9465 8080
# SIGTERM: finish in-flight deliveries, commit offsets, leave the group, exit 0.
STOPSIGNAL SIGTERM
CMD ["herald-consumer", "-c", "/etc/herald/herald.yaml"]
