#!/usr/bin/env bash
# make demo: run the whole pipeline on one machine -- a local redis-server, the
# development broker, the Slack-compatible receiver and two consumers -- silence one
# known problem, replay a day of ACK job history through it, show what Slack would
# have received and what each alert level (job, release, ecosystem) made of it, then
# stop everything it started.
#
#   demo/run.sh [BIN_DIR]
#
# DEMO_SPEED=X replays at X times real time (default 3600: an hour of history a
# second, the day in about 25 s; 0 = as fast as possible: the same decisions, the
# messages closer together). DEMO_HISTORY=FILE replays another history.
#
# The history goes into a throwaway PostgreSQL (tools/pgtmp.py: initdb + pg_ctl on a
# free loopback port) through herald-recorder, and herald-web serves the dashboard;
# the demo prints its URL and the day's MTTD, release success and interventions.
# DEMO_KEEP=1 (make dashboard) keeps everything up until Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
bin=$(cd "${1:-$top/bin}" && pwd)
speed=${DEMO_SPEED:-3600}
history=${DEMO_HISTORY:-$here/history.ndjson}
work=$(mktemp -d "${TMPDIR:-/tmp}/herald-demo.XXXXXX")
# PostgreSQL's own directory: as root its server runs as the postgres user, who cannot
# enter $work (0700).
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/herald-demo-pg.XXXXXX")
pids=()

cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    python3 "$top/tools/pgtmp.py" stop "$pgdir" >/dev/null 2>&1 || true
    [ $rc -ne 0 ] && [ -f "$pgdir/postgres.log" ] && cp "$pgdir/postgres.log" "$work/postgres.log"
    rm -rf "$pgdir"
    if [ $rc -ne 0 ]; then
        echo "demo failed; logs kept in $work" >&2
        for f in "$work"/*.log; do echo "--- $f"; tail -n 15 "$f"; done >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Wait for "KEY=value" on the first lines of a log; print the value.
wait_line() {
    local file=$1 key=$2
    for _ in $(seq 1 100); do
        if v=$(sed -n "s/^$key=//p" "$file" 2>/dev/null) && [ -n "$v" ]; then echo "$v"; return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for $key in $file" >&2
    return 1
}

echo "== Herald demo: a day of ACK job history through the whole pipeline"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
"$bin/herald-devbroker" --topic herald.events:4 --topic herald.dead-letter:1 \
    --topic herald.alerts:2 \
    >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
"$bin/herald-slackd" --listen 127.0.0.1:0 >"$work/slackd.out" 2>"$work/slackd.log" &
pids+=($!)
brokers=$(wait_line "$work/broker.out" BOOTSTRAP)
slack="http://$(wait_line "$work/slackd.out" LISTEN)"
for _ in $(seq 1 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
echo "   redis-server 127.0.0.1:$redis_port, development broker $brokers, Slack receiver $slack"

# A known problem, silenced before the day starts: the OLM bundle queue is being
# fixed, so rds's olm-bundle failures are counted, not sent.
ctl=("$bin/heraldctl" -r "127.0.0.1:$redis_port" --prefix demo:)
sid=$("${ctl[@]}" silence add --match service=rds --match stage=olm-bundle --for 24h \
    --reason "demo: OLM queue fix" --by demo 2>"$work/heraldctl.log")
echo "   silence $sid: service=rds stage=olm-bundle for 24h (demo: OLM queue fix)"

python3 "$top/tools/pgtmp.py" start "$pgdir" >"$work/pg.out" 2>"$work/pg.log"
dsn=$(sed -n 's/^DSN=//p' "$work/pg.out")
rec_port=$(free_port)
web_port=$(free_port)
echo "   PostgreSQL 127.0.0.1:$(sed -n 's/^PGPORT=//p' "$work/pg.out") (throwaway cluster in $pgdir)"
fill() { # fill [SED-ARGS...] FILE: the demo config with every placeholder filled in
    sed -e "s|@BROKERS@|$brokers|" -e "s|@REDIS_PORT@|$redis_port|" -e "s|@SLACK@|$slack|" \
        -e "s|@DSN@|$dsn|" -e "s|@REC_PORT@|$rec_port|" -e "s|@WEB_PORT@|$web_port|" "$@"
}
fill -e "s|@HTTP_PORT@|0|" "$here/herald-demo.yaml" >"$work/history.yaml"
HERALD_LOG_FORMAT=text "$bin/herald-recorder" -c "$work/history.yaml" --name demo-recorder \
    2>"$work/recorder.log" &
pids+=($!)
echo "   herald-recorder (group herald-demo-recorder) writing the history"

ports=()
for n in 1 2; do
    port=$(free_port)
    ports+=("$port")
    fill -e "s|@HTTP_PORT@|$port|" "$here/herald-demo.yaml" >"$work/consumer$n.yaml"
    HERALD_LOG_FORMAT=text "$bin/herald-consumer" -c "$work/consumer$n.yaml" \
        --name "consumer-$n" 2>"$work/consumer$n.log" &
    pids+=($!)
done
echo "   two consumers in group herald-demo (metrics on :${ports[0]} and :${ports[1]})"

# Wait until both consumers own partitions, so the demo shows the split.
python3 "$here/show.py" wait-assigned "${ports[@]}"

events=$(grep -c . "$history")
echo "== replaying $events job events from $(basename "$history") (speed ${speed}x; 0 = as fast as possible)"
# The producer reads the file whole, publishes it in event-time order, paced, with
# watermark records: the consumers decide every hold and timer on event time, so the
# day decides the same at any speed (docs/rules.md).
"$bin/herald-producer" -b "$brokers" --replay-speed "$speed" "$history" \
    2>"$work/producer.log" | sed 's/^/   /'

# The producer's final watermark releases everything still held; wait until every
# event is decided and every alert is out of the queues.
deadline=$((SECONDS + 60))
while :; do
    waiting=$(redis-cli -p "$redis_port" ZCARD demo:buf)
    queued=$(redis-cli -p "$redis_port" ZCARD demo:q)
    [ "$waiting$queued" = "00" ] && break
    if [ $SECONDS -ge $deadline ]; then
        echo "after 60 s: $waiting events waiting, $queued alerts queued" >&2
        exit 1
    fi
    sleep 0.1
done

python3 "$here/show.py" report --slack "$slack" --events "$events" --history "$history" \
    --redis "$redis_port" --prefix demo: --bin "$bin" "${ports[@]}"

# The dashboard: wait until the recorder has written the day, then serve it.
python3 "$here/dashboard.py" wait-recorded "$rec_port" "$events"
HERALD_LOG_FORMAT=text "$bin/herald-web" -c "$work/history.yaml" >"$work/web.out" \
    2>"$work/web.log" &
pids+=($!)
web="http://$(wait_line "$work/web.out" LISTEN)"
python3 "$here/dashboard.py" summary "$web"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
    echo
    echo "== the demo stack stays up: browse $web/ -- Ctrl-C stops everything"
    while :; do sleep 3600; done
fi
