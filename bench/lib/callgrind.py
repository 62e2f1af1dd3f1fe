"""callgrind.py -- instructions per event (valgrind --tool=callgrind), repeatable on a
noisy machine because it counts instructions, not time.

herald-consumer, redis-server and kcat -G (the baseline: what librdkafka alone costs
per message) run under callgrind with instrumentation off; once all are up and the
consumers have their partitions, `callgrind_control -i on` starts counting. Two
windows are dumped: opts.cg_idle_s with nothing to do (the background rate: Redis'
serverCron, the consumer's timers and polls; a slow valgrind run would otherwise
charge them to the events), then the first opts.cg_events events of the replay
history, published at once, until both consumers have them. Instructions per event =
(events window - idle rate x its duration) / events; the raw figures are kept in the
JSON. The profile (top functions by exclusive instructions) and the calls to malloc
& co. are read from the consumer's events window.
"""

import os
import re
import shutil
import socket
import subprocess
import time

import benchlib
import events
from benchlib import HarnessError, log
from report import figure

VALGRIND = os.environ.get("VALGRIND") or shutil.which("valgrind") or "valgrind"
ALLOC_FNS = ("malloc", "calloc", "realloc", "free", "strdup", "strndup",
             "posix_memalign", "aligned_alloc")


def cg_argv(out):
    return [VALGRIND, "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out]


def control(pid, what):
    """callgrind_control: what = "on", "off" (instrumentation) or "dump" (write the
    counts so far to <out>.<n> and zero them). Returns the wall-clock s it took effect."""
    args = ["-d"] if what == "dump" else ["-i", what]
    p = subprocess.run(["callgrind_control"] + args + [str(pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0 or b"OK" not in p.stdout:
        raise HarnessError("callgrind_control %s %d: %s" %
                           (" ".join(args), pid, p.stdout.decode(errors="replace")))
    return time.monotonic()


def totals(path):
    """The instruction count (Ir) a callgrind output file records."""
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise HarnessError("no totals in %s" % path)


def calls_to(path, names=ALLOC_FNS):
    """{function: calls} for calls into `names`, summed over every caller."""
    ids = {}
    cur = None
    out = {}
    rx = re.compile(r"^cfn=\((\d+)\)(?: (.*))?$")
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("cfn="):
                m = rx.match(line.rstrip("\n"))
                if m:
                    if m.group(2) is not None:
                        ids[m.group(1)] = m.group(2)
                    cur = ids.get(m.group(1))
                else:
                    cur = line[4:].strip()
            elif line.startswith("fn="):
                m = re.match(r"^fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
                if m and m.group(2) is not None:
                    ids[m.group(1)] = m.group(2)
            elif line.startswith("calls=") and cur is not None:
                base = cur.split("'")[0]
                if base in names:
                    out[base] = out.get(base, 0) + int(line.split("=", 1)[1].split()[0])
    return out


def top_functions(path, n=25):
    """[(Ir, percent, function)] by exclusive instructions, from callgrind_annotate."""
    p = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
    out = []
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if m:
            fn = m.group(3)
            if "PROGRAM TOTALS" in fn:
                continue
            out.append((int(m.group(1).replace(",", "")), float(m.group(2)), fn))
        if len(out) >= n:
            break
    return out


class CGRedis:
    """redis-server under callgrind on a free loopback port."""

    def __init__(self, env, out):
        self.host = "127.0.0.1"
        self.port = benchlib.free_port()
        rs = benchlib.harness.REDIS_SERVER
        self.proc = benchlib.harness.Process("redis-cg", cg_argv(out) + [
            rs, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--logfile", ""], env.logs)
        benchlib.wait_until(self._ping, 120, interval=0.2, what="redis under callgrind")

    def _ping(self):
        benchlib.harness.check_alive([self.proc])
        try:
            with socket.create_connection((self.host, self.port), timeout=5) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        return self.proc.stop(timeout=120)


def run(env, opts):
    n = opts.cg_events
    end = __import__("scenarios").history_end()
    full = opts.replay_events
    path = env.cached("history-%d-%d" % (full, end), lambda: events.history(full, end))
    recs = __import__("scenarios").read_lines(path)[:n]
    healthy = sum(1 for v in recs if b'"state":"success"' in v)
    R = {k: [] for k in ("c", "r", "k", "alloc", "batches", "raw_consumer", "raw_redis", "raw_kcat",
                         "idle_consumer", "idle_redis", "idle_kcat")}
    profile = None
    allocs_by_fn = None
    for run_i in range(opts.cg_runs):
        log("callgrind run %d/%d: %d events" % (run_i + 1, opts.cg_runs, n))
        outdir = os.path.join(env.work, "callgrind")
        os.makedirs(outdir, exist_ok=True)
        files = {k: os.path.join(outdir, "%s.%d.out" % (k, run_i))
                 for k in ("consumer", "redis", "kcat")}
        for f in files.values():
            for suffix in ("", ".1", ".2", ".3"):
                if os.path.exists(f + suffix):
                    os.remove(f + suffix)
        broker = env.broker()
        red = CGRedis(env, files["redis"])
        c = kc = pub = None
        try:
            cfg = __import__("scenarios").variant_config(env, broker, opts)
            cfg["redis"] = {"host": red.host, "port": red.port,
                            "key_prefix": env.uniq("cg") + ":", "timeout": "60s"}
            c = benchlib.Consumer(env, cfg, name="consumer-cg",
                                  wrapper=cg_argv(files["consumer"]))
            kc = benchlib.KcatConsumer(env, broker, env.uniq("kcg"),
                                       wrapper=cg_argv(files["kcat"]))
            c.wait_assigned_all(timeout=180)
            kc.wait_assigned(timeout=180)
            procs = {"consumer": c.proc.pid, "redis": red.proc.pid, "kcat": kc.proc.pid}
            t_on = {k: control(pid, "on") for k, pid in procs.items()}
            time.sleep(opts.cg_idle_s)
            t_d1 = {k: control(pid, "dump") for k, pid in procs.items()}
            b0 = c.metrics().sum("herald_batches_total")
            pub = benchlib.Publisher(env, broker)
            pub.send_many(recs)
            pub.close()
            pub = None
            c.wait_handled(n, timeout=opts.timeout * 10, interval=0.5)
            benchlib.wait_until(lambda: kc.count() >= n, 600, interval=0.5,
                                what="kcat under callgrind consumed %d" % n)
            t_d2 = {k: control(pid, "dump") for k, pid in procs.items()}
            R["batches"].append(c.metrics().sum("herald_batches_total") - b0)
            for pid in procs.values():
                control(pid, "off")
        finally:
            if pub:
                pub.close()
            if kc:
                kc.stop(timeout=120)
            if c:
                c.stop(timeout=120)
            red.stop()
        per = {}
        for k in procs:
            idle = totals(files[k] + ".1")
            busy = totals(files[k] + ".2")
            rate = idle / (t_d1[k] - t_on[k])
            per[k] = (busy - rate * (t_d2[k] - t_d1[k])) / n
            R["raw_" + k].append(busy / n)
            R["idle_" + k].append(rate)
        R["c"].append(per["consumer"])
        R["r"].append(per["redis"])
        R["k"].append(per["kcat"])
        allocs = calls_to(files["consumer"] + ".2")
        R["alloc"].append(sum(v for k, v in allocs.items() if k != "free") / n)
        if profile is None:
            profile = {"consumer": top_functions(files["consumer"] + ".2"),
                       "redis": top_functions(files["redis"] + ".2"),
                       "kcat": top_functions(files["kcat"] + ".2", 10)}
            allocs_by_fn = {k: v / n for k, v in allocs.items()}
    note = "%d events (%d healthy successes), first of the replay history" % (n, healthy)
    return [
        figure("cg.consumer_instr_per_event", "instructions per event, herald-consumer "
               "vs kcat -G", "instr", "lower", R["c"], R["k"], "kcat -G", note=note,
               extra={"profile": profile and profile["consumer"],
                      "kcat_profile": profile and profile["kcat"],
                      "raw_per_event": {"consumer": R["raw_consumer"], "kcat": R["raw_kcat"]},
                      "idle_instr_per_s": {"consumer": R["idle_consumer"],
                                           "kcat": R["idle_kcat"]}}),
        figure("cg.redis_instr_per_event", "instructions per event, redis-server", "instr",
               "lower", R["r"], target_value=("<=", 20000),
               note="target: per healthy success",
               extra={"profile": profile and profile["redis"], "batches": R["batches"],
                      "raw_per_event": R["raw_redis"], "idle_instr_per_s": R["idle_redis"]}),
        figure("cg.consumer_allocs_per_event", "allocations per event, herald-consumer",
               "calls", "lower", R["alloc"],
               note="calls to malloc/calloc/realloc/strdup... counted by callgrind",
               extra={"by_function": allocs_by_fn}),
    ]
