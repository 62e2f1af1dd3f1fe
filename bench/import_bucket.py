#!/usr/bin/env python3
"""import_bucket.py -- how long herald-producer --bucket takes to import a month of
job history (issue 10 wants about 5,000 runs in under 10 s).

Builds a bucket of RUNS runs of ACK's real jobs spread over 30 days, in Prow's layout
(tests/e2e/bucketfix.py: every third run without prowjob.json, as older buckets), then
imports it into a fresh development broker from a local folder mirror and from
s3rver (SigV4), each run timed from start to exit (listing, reading, sorting,
publishing, delivery). Prints a table and writes JSON.

    bench/import_bucket.py [--runs 5000] [--parallel 16] [--json FILE]

Run by bench/run (make bench) it is a plug-in (bench/README.md): each figure is the
median of HERALD_BENCH_RUNS imports, side by side with `cat` reading every object of
the same mirror (the floor: the bytes off the disk), 1,000 runs under bench-quick.

Needs `make` (bin/) and `make deps` (kcat is not needed; s3rver is). Everything it
starts listens on 127.0.0.1 and is stopped at the end.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
os.environ.setdefault("HERALD_BIN", os.path.join(REPO, "bin"))

import bucketfix  # noqa: E402
import harness  # noqa: E402


def import_once(logs, url, env, parallel):
    broker = harness.DevBroker(logs, name="devbroker-%d" % int(time.time() * 1000))
    try:
        argv = [harness.binary("herald-producer"), "-b", broker.bootstrap, "--bucket", url,
                "--parallel", str(parallel)]
        e = dict(os.environ)
        e.update(env)
        t = time.monotonic()
        p = subprocess.run(argv, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=600, check=False)
        took = time.monotonic() - t
        summary = harness.producer_summary(p.stdout.decode())
        if p.returncode != 0 or not summary:
            raise SystemExit("import of %s failed (%d): %s" % (
                url, p.returncode, p.stderr.decode()[-2000:]))
        return took, summary
    finally:
        broker.stop()


def cat_all(root):
    """Seconds for cat to read every file under root (the baseline)."""
    paths = [os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns]
    t = time.monotonic()
    for i in range(0, len(paths), 500):
        subprocess.run(["cat"] + paths[i:i + 500], stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - t


def plugin(out):
    """The figures for bench/run: local mirror and s3rver, each vs cat."""
    sys.path.insert(0, os.path.join(HERE, "lib"))
    import report  # noqa: E402
    st = report.plugin_settings()
    nruns = 1000 if st["quick"] else 5000
    logs = harness.LogDir("bench-import-bucket")
    local, s3s, cats = [], [], []
    try:
        t0 = harness.base_time() - 30 * 86400
        files = bucketfix.bucket_files(bucketfix.make_runs(nruns, t0, 30 * 86400),
                                       legacy_every=3)
        root = bucketfix.write_mirror(os.path.join(logs.path, "mirror"), files)
        s3 = bucketfix.S3rver(logs)
        try:
            s3.seed("ack-prow-logs", files)
            env = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
                   "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": s3.endpoint}
            for _ in range(st["runs"]):
                cats.append(cat_all(root))
                local.append(import_once(logs, root, {}, 16)[0])
                s3s.append(import_once(logs, "s3://ack-prow-logs", env, 16)[0])
        finally:
            s3.stop()
    finally:
        logs.remove()
    note = "%d runs over 30 days, %d objects; issue 10: a month in under 10 s" % (
        nruns, len(files))
    report.plugin_output([
        {"id": "local", "title": "bucket import, local mirror, vs cat of every object",
         "unit": "s", "better": "lower", "herald": local, "baseline": cats,
         "baseline_name": "cat", "target_value": ["<=", 10], "note": note},
        {"id": "s3rver", "title": "bucket import, s3rver (SigV4), vs cat of every object",
         "unit": "s", "better": "lower", "herald": s3s, "baseline": cats,
         "baseline_name": "cat", "target_value": ["<=", 10], "note": note}], out)


def main():
    if os.environ.get("HERALD_BENCH_OUT"):
        return plugin(os.environ["HERALD_BENCH_OUT"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--json", default=os.path.join(REPO, "bench", "out", "import_bucket.json"))
    a = ap.parse_args()

    logs = harness.LogDir("bench-import-bucket")
    results = []
    try:
        t0 = harness.base_time() - 30 * 86400
        runs = bucketfix.make_runs(a.runs, t0, 30 * 86400)
        files = bucketfix.bucket_files(runs, legacy_every=3)
        root = bucketfix.write_mirror(os.path.join(logs.path, "mirror"), files)
        took, s = import_once(logs, root, {}, a.parallel)
        results.append({"backend": "local mirror", "runs": a.runs, "objects": len(files),
                        "published": s["published"], "seconds": round(took, 2)})
        s3 = bucketfix.S3rver(logs)
        try:
            t = time.monotonic()
            s3.seed("ack-prow-logs", files)
            seed_s = time.monotonic() - t
            env = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
                   "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": s3.endpoint}
            took, s = import_once(logs, "s3://ack-prow-logs", env, a.parallel)
            results.append({"backend": "s3rver (SigV4)", "runs": a.runs, "objects": len(files),
                            "published": s["published"], "seconds": round(took, 2),
                            "seed_seconds": round(seed_s, 2)})
        finally:
            s3.stop()
    finally:
        logs.remove()

    print("%-16s %6s %8s %10s %8s %9s" % ("backend", "runs", "objects", "published",
                                         "seconds", "runs/s"))
    for r in results:
        print("%-16s %6d %8d %10d %8.2f %9.0f" % (r["backend"], r["runs"], r["objects"],
                                                r["published"], r["seconds"],
                                                r["runs"] / r["seconds"]))
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"bench": "import_bucket", "parallel": a.parallel, "target_seconds": 10,
                   "results": results}, f, indent=2)
    print("wrote %s" % a.json)


if __name__ == "__main__":
    main()
