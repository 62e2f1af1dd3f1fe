"""report.py -- figures, the table, the JSON result file, machine facts.

A figure is a dict:

  id            stable name ("replay.rate"); bench/compare matches on it
  title, unit   what is measured, in what
  better        "higher" or "lower"
  herald        the samples of every run (None = that run had no value)
  baseline      the baseline's samples, run by run, or None
  baseline_name "kcat -C", "Alertmanager", ...
  ratio         herald / baseline per run (the pairs share the machine's load)
  stats         {"herald"|"baseline"|"ratio": {"median","min","max","n"}}
  target        {"value": [op, v]} on Herald's median and/or {"ratio": [op, v]} on the
                ratio's median; "met": true/false/None
  note, extra   free text / anything else worth keeping
"""

import json
import os
import platform
import re
import subprocess
import time

import benchlib


def _stats(samples):
    vals = [x for x in samples or () if x is not None]
    if not vals:
        return None
    return {"median": benchlib.median(vals), "min": min(vals), "max": max(vals),
            "n": len(vals)}


def _check(op, want, got):
    if got is None:
        return None
    return got >= want if op == ">=" else got <= want


def figure(id, title, unit, better, herald, baseline=None, baseline_name=None,
           target_ratio=None, target_value=None, note=None, extra=None, text=None,
           none_text=None):
    """Build a figure (see the module doc). `text` replaces the numbers in the table
    for figures that are an outcome rather than a quantity; `none_text` is shown for a
    side whose every sample is None (e.g. "never")."""
    herald = list(herald or [])
    ratio = None
    if baseline is not None:
        baseline = list(baseline)
        ratio = [h / b if (h is not None and b) else None for h, b in zip(herald, baseline)]
    f = {"id": id, "title": title, "unit": unit, "better": better, "herald": herald,
         "baseline": baseline, "baseline_name": baseline_name, "ratio": ratio}
    f["stats"] = {"herald": _stats(herald), "baseline": _stats(baseline),
                  "ratio": _stats(ratio)}
    target = {}
    met = []
    if target_value:
        target["value"] = list(target_value)
        s = f["stats"]["herald"]
        met.append(_check(target_value[0], target_value[1], s and s["median"]))
    if target_ratio:
        target["ratio"] = list(target_ratio)
        s = f["stats"]["ratio"]
        met.append(_check(target_ratio[0], target_ratio[1], s and s["median"]))
    if target:
        f["target"] = target
        f["met"] = None if None in met else all(met)
        if none_text and herald and all(x is None for x in herald):
            f["met"] = False  # e.g. "never": no value can meet a target
    if note:
        f["note"] = note
    if extra:
        f["extra"] = extra
    if text:
        f["text"] = text
    if none_text:
        f["none_text"] = none_text
    return f


def normalise(d, prefix=None):
    """A figure from a plug-in's JSON (the same keys as figure()'s arguments)."""
    fid = str(d["id"])
    if prefix and not fid.startswith(prefix + "."):
        fid = prefix + "." + fid
    tr = d.get("target_ratio") or (d.get("target") or {}).get("ratio")
    tv = d.get("target_value") or (d.get("target") or {}).get("value")
    return figure(fid, str(d.get("title", fid)), str(d.get("unit", "")),
                  d.get("better", "lower"), d.get("herald") or [], d.get("baseline"),
                  d.get("baseline_name"), tuple(tr) if tr else None,
                  tuple(tv) if tv else None, d.get("note"), d.get("extra"), d.get("text"),
                  d.get("none_text"))


# ---- the table ------------------------------------------------------------------------

def num(x):
    """Three significant digits, k/M for large values."""
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1e6:
        return "%.3gM" % (x / 1e6)
    if a >= 1e4:
        return "%.3gk" % (x / 1e3)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    if a == 0:
        return "0"
    return "%.2g" % x


def _cell(s, ratio=False, samples=None, none_text=None):
    if not s:
        return none_text if (none_text and samples) else "-"
    x = "x" if ratio else ""
    if s["n"] == 1:
        return "%s%s" % (num(s["median"]), x)
    return "%s%s [%s-%s]" % (num(s["median"]), x, num(s["min"]), num(s["max"]))


def _target(f):
    t = f.get("target")
    if not t:
        return ""
    parts = []
    if "value" in t:
        parts.append("%s %s %s" % (t["value"][0], num(t["value"][1]), f["unit"]))
    if "ratio" in t:
        parts.append("ratio %s %sx" % (t["ratio"][0], num(t["ratio"][1])))
    mark = {True: "met", False: "NOT met", None: "?"}[f.get("met")]
    return "%s: %s" % (" and ".join(parts), mark)


def table(figures, out):
    """The figures as a fixed-width table: median [min-max] over the runs. Outcome
    figures (text) follow on lines of their own."""
    rows = [("figure", "unit", "herald", "baseline", "ratio", "target")]
    texts = []
    for f in figures:
        st = f["stats"]
        if f.get("text"):
            texts.append((f["title"], f["text"]))
            continue
        nt = f.get("none_text")
        base = _cell(st["baseline"], samples=f.get("baseline"), none_text=nt)
        if f.get("baseline_name") and f.get("baseline"):
            base = "%s %s" % (f["baseline_name"], base)
        rows.append((f["title"], f["unit"], _cell(st["herald"], samples=f["herald"],
                                                  none_text=nt), base,
                     _cell(st["ratio"], ratio=True), _target(f)))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    widths[0] = min(widths[0], 62)
    for i, r in enumerate(rows):
        cells = [r[0][:62].ljust(widths[0])] + [r[c].ljust(widths[c]) for c in range(1, 6)]
        out.write("  ".join(cells).rstrip() + "\n")
        if i == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    for title, text in texts:
        out.write("%s: %s\n" % (title, text))


# ---- machine facts and the result file ------------------------------------------------

def _cmd(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20, check=False)
        return p.stdout.decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired):
        return None


def _first(text, rx):
    if not text:
        return None
    m = re.search(rx, text, re.M)
    return m.group(1) if m else None


def machine():
    """What the figures depend on: CPU, memory, load, kernel and tool versions."""
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = _first(f.read(), r"^model name\s*:\s*(.*)$")
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = _first(f.read(), r"^MemTotal:\s*(\d+)")
    except OSError:
        pass
    kcat = _cmd([benchlib.KCAT, "-V"])
    return {
        "host": platform.node(), "kernel": platform.release(), "cpu": cpu,
        "cpus": os.cpu_count(), "mem_kib": int(mem) if mem else None,
        "loadavg": os.getloadavg(), "python": platform.python_version(),
        "redis": _first(_cmd(["redis-server", "--version"]), r"v=(\S+)"),
        "kcat": _first(kcat, r"[Vv]ersion (\S+)"),
        "librdkafka": _first(kcat, r"librdkafka (\S+)"),
        "alertmanager": _first(_cmd(["prometheus-alertmanager", "--version"]),
                               r"version (\S+)"),
        "valgrind": _cmd(["valgrind", "--version"]),
    }


def git_facts(repo):
    def g(*args):
        return _cmd(["git", "-C", repo] + list(args))
    status = g("status", "--porcelain", "--untracked-files=no") or ""
    return {"commit": g("rev-parse", "HEAD"), "describe": g("log", "-1", "--format=%h %s"),
            "branch": g("rev-parse", "--abbrev-ref", "HEAD"), "dirty": bool(status.strip())}


def write_result(path, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def stamp():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


# ---- plug-ins -------------------------------------------------------------------------

def plugin_settings():
    """What bench/run tells a plug-in (bench/README.md): a dict with bin, out (None when
    run on its own), quick, runs, work, kafka_props, batch_wait."""
    return {
        "bin": os.environ.get("HERALD_BIN") or os.path.join(benchlib.REPO, "bin"),
        "out": os.environ.get("HERALD_BENCH_OUT"),
        "quick": os.environ.get("HERALD_BENCH_QUICK") == "1",
        "runs": int(os.environ.get("HERALD_BENCH_RUNS", "3")),
        "work": os.environ.get("HERALD_BENCH_WORK", ""),
        "kafka_props": json.loads(os.environ.get("HERALD_BENCH_KAFKA_PROPS") or "{}"),
        "batch_wait": os.environ.get("HERALD_BENCH_BATCH_WAIT") or None,
    }


def plugin_output(figures, path=None):
    """Write a plug-in's figures (dicts with figure()'s arguments, or figure() results)
    where bench/run reads them; run on its own (no HERALD_BENCH_OUT), print the table."""
    path = path or os.environ.get("HERALD_BENCH_OUT")
    if not path:
        import sys
        table([f if "stats" in f else normalise(f) for f in figures], sys.stdout)
        return
    keys = ("id", "title", "unit", "better", "herald", "baseline", "baseline_name",
            "target_ratio", "target_value", "note", "extra", "text", "none_text")
    out = []
    for f in figures:
        d = {k: f[k] for k in keys if k in f}
        if "target" in f:
            d["target_ratio"] = f["target"].get("ratio")
            d["target_value"] = f["target"].get("value")
        out.append(d)
    write_result(path, {"figures": out})
