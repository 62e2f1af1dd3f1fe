#!/usr/bin/env bash
# run-tests.sh -- run Herald's unit tests (cmocka) and end-to-end tests, then print
# one summary line.
#
#   tools/run-tests.sh [--unit-only] BUILD_DIR BIN_DIR
#
# Runs every executable $BUILD_DIR/tests/test_* (all of them, even after a failure),
# then, unless --unit-only, the end-to-end suite (tests/e2e/test_*.py) in E2E_JOBS
# shards side by side, each
#   HERALD_BIN=BIN_DIR PYTHONPATH=tests/e2e python3 -m unittest -v test_a test_b ...
# from the repository root. The last line printed is always
#   tests: N passed, M failed
# and the exit status is 0 only if nothing failed (and something ran).
#
# Environment: UNIT_TIMEOUT (s per unit binary, default 300), E2E_TIMEOUT (s for each
# e2e shard, default 1800), E2E_JOBS (shards run side by side, default 2).
set -u

usage() {
    echo "usage: tools/run-tests.sh [--unit-only] BUILD_DIR BIN_DIR" >&2
    exit 2
}

unit_only=0
args=()
for a in "$@"; do
    case "$a" in
        --unit-only) unit_only=1 ;;
        -h|--help) usage ;;
        -*) echo "run-tests.sh: unknown option $a" >&2; usage ;;
        *) args+=("$a") ;;
    esac
done
[ "${#args[@]}" -eq 2 ] || usage

abspath() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}
BUILD=$(abspath "${args[0]}")
BIN=$(abspath "${args[1]}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
E2E_TIMEOUT=${E2E_TIMEOUT:-1800}
E2E_JOBS=${E2E_JOBS:-2}

passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/herald-run-tests.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# Run a command with a time limit when coreutils' timeout is there.
limited() {
    local secs=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        timeout --kill-after=30 "$secs" "$@"
    else
        "$@"
    fi
}

# ---- unit tests (cmocka) -------------------------------------------------------------
nbin=0
shopt -s nullglob
for t in "$BUILD"/tests/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    case "$t" in *.o|*.d) continue ;; esac
    nbin=$((nbin + 1))
    name=$(basename "$t")
    echo "==== unit: $name"
    out="$tmp/$name.out"
    (cd "$ROOT" && limited "$UNIT_TIMEOUT" "$t") >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "run-tests.sh: $name hit its time limit (UNIT_TIMEOUT=${UNIT_TIMEOUT}s)" >&2
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # Crashed, timed out or failed without cmocka's summary: count it once.
        echo "run-tests.sh: $name exited with status $rc without a failure count" >&2
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
shopt -u nullglob
if [ "$nbin" -eq 0 ]; then
    echo "run-tests.sh: no unit test binaries in $BUILD/tests" >&2
fi

# ---- end-to-end tests ---------------------------------------------------------------
if [ "$unit_only" -eq 0 ]; then
    # E2E_JOBS shards run side by side (the tests mostly wait on servers and clocks;
    # each starts its own on free ports): modules are dealt out longest first, by the
    # seconds they took on a 2-core machine (unlisted: 20).
    echo "==== e2e: tests/e2e (HERALD_BIN=$BIN, $E2E_JOBS shard(s))"
    shards=$(cd "$ROOT/tests/e2e" && python3 - "$E2E_JOBS" <<'PY'
import glob, sys
secs = {"test_holes": 224, "test_watch": 126, "test_faults": 92, "test_recorder": 80,
        "test_pipeline": 60, "test_watermarks": 60, "test_determinism": 50,
        "test_rules": 45, "test_bucket": 41, "test_dashboard": 38, "test_deck": 30,
        "test_ops": 30, "test_inputs": 25}
mods = sorted((m[:-3] for m in glob.glob("test_*.py")), key=lambda m: -secs.get(m, 20))
jobs = max(1, int(sys.argv[1]))
bins = [[0, []] for _ in range(jobs)]
for m in mods:
    b = min(bins, key=lambda x: x[0])
    b[0] += secs.get(m, 20)
    b[1].append(m)
print("\n".join(" ".join(b[1]) for b in bins if b[1]))
PY
)
    out="$tmp/e2e.out"
    : >"$out"
    i=0
    pids=()
    while read -r mods; do
        [ -n "$mods" ] || continue
        i=$((i + 1))
        # shellcheck disable=SC2086
        (cd "$ROOT" && HERALD_BIN="$BIN" PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$ROOT/tests/e2e" \
            limited "$E2E_TIMEOUT" python3 -m unittest -v $mods) >"$tmp/e2e.$i.out" 2>&1 &
        pids+=($!)
    done <<<"$shards"
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    ran=0
    summary=""
    for j in $(seq 1 "$i"); do
        cat "$tmp/e2e.$j.out"
        cat "$tmp/e2e.$j.out" >>"$out"
        r=$(sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$tmp/e2e.$j.out" | tail -n 1)
        ran=$((ran + ${r:-0}))
        summary="$summary $(grep -E '^(OK|FAILED)( \(|$)' "$tmp/e2e.$j.out" | tail -n 1)"
        grep -qE '^(OK|FAILED)( \(|$)' "$tmp/e2e.$j.out" || summary="$summary FAILED (errors=1)"
    done
    count() { # count KEY -> the sum of the numbers after KEY= in the shards' summaries
        printf '%s\n' "$summary" | grep -oE "[ (,]$1=[0-9]+" | sed 's/.*=//' |
            awk '{s += $1} END {print s + 0}'
    }
    ef=$(( $(count failures) + $(count errors) + $(count "unexpected successes") ))
    skipped=$(count skipped)
    ep=$((ran - ef - skipped))
    [ "$ep" -ge 0 ] || ep=0
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "run-tests.sh: the e2e suite hit its time limit (E2E_TIMEOUT=${E2E_TIMEOUT}s)" >&2
    fi
    if [ "$rc" -ne 0 ] && [ "$ef" -eq 0 ]; then
        echo "run-tests.sh: the e2e suite exited with status $rc without a failure count" >&2
        ef=1
    fi
    if [ "$skipped" -gt 0 ]; then
        echo "run-tests.sh: $skipped e2e test(s) skipped"
    fi
    passed=$((passed + ep))
    failed=$((failed + ef))
fi

if [ $((passed + failed)) -eq 0 ]; then
    echo "run-tests.sh: no tests ran" >&2
    failed=1
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
