#!/usr/bin/env python3
"""dashboard.py -- the dashboard part of `make demo` (demo/run.sh). Stdlib only.

  dashboard.py wait-recorded REC_PORT EVENTS   wait until herald-recorder has read the
                                               EVENTS job events (and written them)
  dashboard.py summary WEB_URL                 the demo day's outcomes from herald-web's
                                               JSON API: MTTD, release success, human
                                               interventions, and where to look
"""

import json
import sys
import time
import urllib.request


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def read_events(port):
    n = 0.0
    for line in get("http://127.0.0.1:%s/metrics" % port).splitlines():
        if line.startswith("herald_recorder_messages_total{") and \
                'topic="herald.events"' in line:
            n += float(line.rsplit(" ", 1)[1])
    return n


def wait_recorded(port, events, timeout=60):
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        try:
            n = read_events(port)
            if n >= events:
                time.sleep(1.5)  # the trends rollups are refreshed once a second
                return 0
        except OSError:
            pass
        time.sleep(0.3)
    print("the recorder read only %d of %d events in time" % (n, events), file=sys.stderr)
    return 1


def dur(ms):
    if ms is None:
        return "-"
    s = ms / 1000.0
    if s < 120:
        return "%.1f s" % s
    if s < 7200:
        return "%.1f min" % (s / 60)
    return "%.1f h" % (s / 3600)


def summary(base):
    o = json.loads(get(base + "/api/outcomes?weeks=1"))
    b = json.loads(get(base + "/api/board"))
    t = o["totals"]
    mp, mi, rel, iv = t["mttd_pipeline"], t["mttd_incident"], t["releases"], t["interventions"]
    print("\n== the dashboard (herald-recorder -> PostgreSQL -> herald-web)")
    print("   %s/                 the release board" % base)
    for s in b["services"][:4]:
        r = s["releases"][0]
        cells = ", ".join("%s %s" % (c["stage"], c["state"]) for c in r["cells"])
        print("   %-16s %-8s %-9s %s" % (s["service"], r["version"], r["status"], cells))
    print("   %s/release/lambda/v1.6.0   the release graph" % base)
    print("   %s/trends   %s/outcomes" % (base, base))
    if mp["n"]:
        print("   MTTD, pipeline:     p50 %s, p90 %s over %d failure alerts (in a replay this "
              "counts the time since the history happened)" % (dur(mp["p50_ms"]),
                                                               dur(mp["p90_ms"]), mp["n"]))
        print("   MTTD, incident:     p50 %s, p90 %s over %d incidents" % (
            dur(mi["p50_ms"]), dur(mi["p90_ms"]), mi["n"]))
    else:
        print("   MTTD:               no alert records on herald.alerts yet (the consumers "
              "publish them when Slack accepts an alert, contracts §2)")
    if rel["n"]:
        print("   release success:    %d of %d releases (%.0f%%), first pass %d (%.0f%%); "
              "%d still inside their window" % (rel["succeeded"], rel["n"],
                                                100.0 * rel["succeeded"] / rel["n"],
                                                rel["first_pass"],
                                                100.0 * rel["first_pass"] / rel["n"],
                                                rel["pending"]))
    print("   interventions:      %d (%d reruns, %d /retest, %d /test)" % (
        iv["total"], iv["rerun"], iv["retest"], iv["test"]))
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "wait-recorded":
        return wait_recorded(argv[2], int(argv[3]))
    if len(argv) == 3 and argv[1] == "summary":
        return summary(argv[2].rstrip("/"))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
