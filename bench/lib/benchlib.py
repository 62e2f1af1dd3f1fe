"""benchlib.py -- the parts every bench scenario uses (Python 3 standard library only).

Processes and servers come from the end-to-end harness (tests/e2e/harness.py): a real
redis-server, herald-devbroker and herald-slackd on free loopback ports, each in its own
process group and always stopped. This module adds what a benchmark needs on top:

- `Env`: one bench invocation's Redis, receiver, work directory and dataset cache;
  a fresh development broker per run (an empty topic, no leftovers);
- `herald_config()`: the minimal consumer config (kafka, redis, receivers, routes,
  delivery, http) plus the scenario's own overrides, nothing else: defaults stay
  whatever the consumer ships;
- `Publisher`: herald-producer reading a pipe, so the bench knows when each ProwJob
  was handed over; `KcatConsumer`: kcat -G, knowing when each record arrived;
- Redis INFO deltas, peak RSS, percentiles.

Herald is only ever driven through its command lines, its YAML config, /metrics and
what herald-slackd receives, so the bench keeps working across a rewrite of the
consumer.
"""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
E2E = os.path.join(REPO, "tests", "e2e")
if E2E not in sys.path:
    sys.path.insert(0, E2E)

import harness  # noqa: E402  (tests/e2e/harness.py)
from harness import HarnessError, free_port, http, wait_until  # noqa: E402,F401

KCAT = os.environ.get("KCAT") or shutil.which("kcat") or "kcat"
TOPIC = "herald.events"
# librdkafka's mock cluster keeps at most 5 MiB of record batches per partition and
# silently drops the oldest beyond that (rdkafka_mock.c, mpart->max_size). 100k events
# of ~1.5 KB are ~55 MB after lz4, so the bench topic needs 16 partitions; every run
# checks that nothing was dropped (Env.check_untrimmed).
PARTITIONS = int(os.environ.get("HERALD_BENCH_PARTITIONS", "16"))
BROKER_TOPICS = ("%s:%d" % (TOPIC, PARTITIONS), "herald.dead-letter:1", "herald.alerts:1",
                 "bench.kcat:%d" % PARTITIONS)


def log(msg):
    """Progress on stderr (the table goes to stdout)."""
    sys.stderr.write("[bench] %s\n" % msg)
    sys.stderr.flush()


# ---- statistics -----------------------------------------------------------------------

def percentile(values, p):
    """The p-th percentile (0..100) by linear interpolation between closest ranks;
    None for no values."""
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def median(values):
    vals = [x for x in values if x is not None]
    return percentile(vals, 50) if vals else None


# ---- processes ------------------------------------------------------------------------

def peak_rss_kib(pid):
    """VmHWM (peak resident set) of a live process in KiB, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    """User + system CPU time a live process has used, in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def run_timed(argv, stdin_path=None, timeout=300):
    """Run argv to completion; returns (wall seconds, rc, stdout bytes, stderr bytes,
    peak RSS KiB of the child, from wait4). Killed (HarnessError) after timeout s."""
    import tempfile
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr,
                                 start_new_session=True)
            harness._LIVE[p.pid] = p
            killed = []

            def kill():
                killed.append(1)
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            timer = threading.Timer(timeout, kill)
            timer.start()
            try:
                rc, rss = wait4_rss(p)
            finally:
                timer.cancel()
            wall = time.monotonic() - t0
        finally:
            if stdin_path:
                fin.close()
        if killed:
            raise HarnessError("%s did not finish in %ds" % (argv[0], timeout))
        fout.seek(0)
        ferr.seek(0)
        return wall, rc, fout.read(), ferr.read(), rss


LAST_RUSAGE = {}


def wait4_rss(p):
    """Wait for Popen p; returns (rc, peak RSS KiB) from wait4 (Linux ru_maxrss). The
    child's CPU seconds (user + sys) are left in LAST_RUSAGE["cpu_s"]."""
    _pid, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    harness._LIVE.pop(p.pid, None)
    LAST_RUSAGE["cpu_s"] = ru.ru_utime + ru.ru_stime
    return p.returncode, ru.ru_maxrss


# ---- the environment of one invocation ------------------------------------------------

class Env:
    """Redis and herald-slackd for the whole invocation, a work dir, the dataset cache,
    and a fresh broker per run. Use as a context manager: everything is stopped."""

    def __init__(self, bindir, workdir, keep=False):
        os.environ["HERALD_BIN"] = bindir
        harness.BIN = bindir
        self.bin = bindir
        self.keep = keep
        self.logs = harness.LogDir("bench")
        self.work = workdir
        os.makedirs(os.path.join(workdir, "cache"), exist_ok=True)
        self.redis = None
        self.slack = None
        self._seq = 0
        self._brokers = []

    def __enter__(self):
        self.redis = harness.Redis(self.logs)
        self.slack = harness.SlackReceiver(self.logs)
        return self

    def __exit__(self, *exc):
        spare, self._spare = getattr(self, "_spare", None), None
        if spare is not None:
            spare[0].join()
            if "broker" in spare[1]:
                self._brokers.append(spare[1]["broker"])
        for b in self._brokers:
            b.stop()
        for p in (self.slack, self.redis):
            if p is not None:
                p.stop()
        if exc[0] is None and not self.keep:
            self.logs.remove()
        else:
            log("logs kept in %s" % self.logs.path)
        return False

    def uniq(self, what):
        """A name unique in this invocation (consumer groups, key prefixes)."""
        self._seq += 1
        return "bench-%s-%d-%d" % (what, os.getpid(), self._seq)

    def broker(self):
        """A fresh herald-devbroker with the bench topics; the previous ones are stopped
        (their memory freed)."""
        return self.brokers(1)[0]

    def brokers(self, n):
        """n fresh brokers (for runs side by side); the previous ones are stopped. A
        spare one is started ahead in a thread (a broker takes 1-2 s to come up)."""
        for b in self._brokers:
            b.stop()
        self._brokers = []
        for _ in range(n):
            self._brokers.append(self._take_spare())
        self._start_spare()
        return list(self._brokers)

    def _start_spare(self):
        box = {}

        def run():
            try:
                box["broker"] = harness.DevBroker(self.logs, topics=BROKER_TOPICS)
            except Exception as e:  # noqa: BLE001 - reported when it is taken
                box["error"] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self._spare = (t, box)

    def _take_spare(self):
        spare, self._spare = getattr(self, "_spare", None), None
        if spare is None:
            return harness.DevBroker(self.logs, topics=BROKER_TOPICS)
        t, box = spare
        t.join()
        if "error" in box:
            raise box["error"]
        return box["broker"]

    def fresh_state(self):
        """Empty Redis and receiver between runs."""
        self.redis.command("FLUSHALL")
        self.slack.clear()

    def cached(self, name, build):
        """A dataset file in the cache: built once by build() -> list of lines, keyed by
        name and the generator's source, so a change of tools/prowjob.py rebuilds it."""
        src = b""
        for p in (os.path.join(HERE, "events.py"), os.path.join(REPO, "tools", "prowjob.py")):
            with open(p, "rb") as f:
                src += f.read()
        h = hashlib.sha1(src + name.encode()).hexdigest()[:12]
        path = os.path.join(self.work, "cache", "%s-%s.ndjson" % (name, h))
        if not os.path.exists(path):
            log("generating %s" % name)
            lines = build()
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(tmp, path)
        return path

    def check_untrimmed(self, broker, topic=TOPIC):
        """Raise if the mock cluster dropped the start of any partition (see
        PARTITIONS): a replay must read everything that was published."""
        argv = [KCAT, "-Q", "-b", broker.bootstrap]
        for p in range(PARTITIONS):
            argv += ["-t", "%s:%d:-2" % (topic, p)]
        _w, rc, out, err, _r = run_timed(argv, timeout=30)
        if rc != 0:
            raise HarnessError("kcat -Q: %s" % err.decode(errors="replace")[-500:])
        for m in re.finditer(rb"\[(\d+)\] offset (-?\d+)", out):
            if int(m.group(2)) > 0:
                raise HarnessError(
                    "the development broker dropped the first %s records of %s [%s] "
                    "(librdkafka's mock keeps 5 MiB per partition): raise "
                    "HERALD_BENCH_PARTITIONS" % (m.group(2).decode(), topic,
                                                  m.group(1).decode()))


# ---- the consumer config ---------------------------------------------------------------

def herald_config(env, broker, group, prefix, kafka_props=None, batch_wait=None, extra=None):
    """The minimal config: kafka, redis, receivers, routes, delivery, http. kafka_props
    and batch_wait are only written when given (otherwise the shipped defaults apply);
    `extra` adds top-level sections (a scenario's rule settings)."""
    kafka = {"brokers": broker.bootstrap, "topic": TOPIC, "group": group}
    if batch_wait is not None:
        kafka["batch_wait"] = batch_wait
    if kafka_props:
        kafka["properties"] = dict(kafka_props)
    cfg = {
        "kafka": kafka,
        "redis": {"host": env.redis.host, "port": env.redis.port, "key_prefix": prefix},
        "receivers": [
            {"name": "releases", "type": "webhook", "channel": "#releases",
             "url": env.slack.hook_url("releases")},
            {"name": "ci", "type": "webhook", "channel": "#ci",
             "url": env.slack.hook_url("ci")},
        ],
        "routes": [{"match": {"tier": "critical"}, "receivers": ["releases"],
                    "continue": False}],
        "default_receiver": "ci",
        "delivery": {"timeout": "10s"},
        "http": {"listen": "127.0.0.1:%d" % free_port()},
    }
    for k, v in (extra or {}).items():
        cfg[k] = v
    return cfg


class Consumer(harness.Consumer):
    """herald-consumer with a config written from a dict, optionally under a wrapper
    (valgrind), with bench helpers. Only its command line, config, /metrics and
    /healthz are used."""

    def __init__(self, env, config, name="consumer", wrapper=None, wait_ready=True):
        # Not harness.Consumer.__init__: that one cannot run the binary under a wrapper.
        self.name = name
        self.config = config
        self.http = "http://" + config["http"]["listen"]
        self.config_path = env.logs.file(name + ".yaml")
        with open(self.config_path, "w") as f:
            f.write(harness.to_yaml(config))
        argv = [harness.binary("herald-consumer"), "-c", self.config_path, "--name", name]
        self.proc = harness.Process(name, list(wrapper or []) + argv, env.logs)
        if wait_ready:
            try:
                self.wait_healthy(timeout=180 if wrapper else harness.START_TIMEOUT)
            except Exception:
                self.proc.stop()
                raise

    def handled(self):
        """Events the consumer has taken in: consumed + rejected (from /metrics)."""
        m = self.metrics()
        if "herald_events_consumed_total" not in m and "herald_batches_total" not in m:
            # A fresh consumer may not have created the series yet.
            return 0
        return int(m.sum("herald_events_consumed_total") +
                   m.sum("herald_events_rejected_total"))

    def check_none_rejected(self):
        """The bench's events are all valid: a rejection means the figures would be
        about the error path, so it is an error of the bench run."""
        m = self.metrics()
        bad = m.sum("herald_events_rejected_total")
        if bad:
            reasons = {dict(k).get("reason"): v
                       for k, v in m.get("herald_events_rejected_total", {}).items()}
            raise HarnessError("%s rejected %d of the bench's events: %s" %
                               (self.name, bad, reasons))

    def wait_assigned_all(self, timeout=60.0):
        def ok():
            harness.check_alive([self.proc])
            return self.metrics().sum("herald_partitions_assigned") >= PARTITIONS
        wait_until(ok, timeout, interval=0.05, what="%s assigned %d partitions" %
                   (self.name, PARTITIONS))

    def wait_handled(self, n, timeout, interval=0.02):
        """Poll /metrics until n events are handled; returns (first_seen_s, count at
        first_seen, done_s) in time.monotonic() seconds."""
        first = None
        first_count = 0
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            h = self.handled()
            if h > 0 and first is None:
                first, first_count = now, h
            if h >= n:
                self.check_none_rejected()
                return first, first_count, now
            harness.check_alive([self.proc])
            if now > deadline:
                raise HarnessError("%s handled %d of %d events in %.0fs" %
                                   (self.name, h, n, timeout))
            time.sleep(interval)

    def peak_rss_kib(self):
        return peak_rss_kib(self.proc.pid)


# ---- herald-producer on a pipe: publishing with known times ---------------------------

class Publisher:
    """herald-producer reading ProwJob NDJSON from a pipe (a stream: each document is
    published as soon as its line is complete). send() writes one line and returns the
    wall-clock ms it was handed over: where the latency figures start. (kcat -P cannot
    do this: it reads its input in blocks and holds a lone line back.)"""

    def __init__(self, env, broker, name="producer", extra=()):
        argv = [os.path.join(env.bin, "herald-producer"), "-b", broker.bootstrap, "-t",
                TOPIC] + list(extra) + ["-"]
        self.err_path = env.logs.file(name + ".err")
        self.out_path = env.logs.file(name + ".out")
        self._err = open(self.err_path, "wb")
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=self._out,
                                     stderr=self._err, bufsize=0, start_new_session=True)
        harness._LIVE[self.proc.pid] = self.proc

    def send(self, line):
        """line: bytes or str without the newline."""
        if isinstance(line, str):
            line = line.encode()
        t = time.time() * 1000.0
        self.proc.stdin.write(line + b"\n")
        return t

    def send_many(self, lines):
        """Write lines as fast as the pipe takes them; returns the wall-clock ms each
        was handed over."""
        out = []
        w = self.proc.stdin.write
        for line in lines:
            if isinstance(line, str):
                line = line.encode()
            out.append(time.time() * 1000.0)
            w(line + b"\n")
        return out

    def close(self, timeout=120):
        """End of input: the producer flushes and exits; returns its exit status."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, OSError):
            pass
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            harness._LIVE.pop(self.proc.pid, None)
            self._err.close()
            self._out.close()
        return self.proc.returncode


# ---- kcat -G: a raw consumer with known arrival times ---------------------------------

class KcatConsumer:
    """kcat -G (librdkafka's high-level consumer, as Herald uses) printing each value
    unbuffered; a thread stamps every line with the wall-clock ms it arrived."""

    def __init__(self, env, broker, group, props=None, topic=TOPIC, wrapper=None,
                 fmt="%s\n"):
        argv = list(wrapper or []) + [KCAT, "-b", broker.bootstrap, "-G", group, "-u", "-f", fmt,
                "-X", "auto.offset.reset=earliest"]
        for k, v in (props or {}).items():
            argv += ["-X", "%s=%s" % (k, v)]
        argv.append(topic)
        self.err_path = env.logs.file("kcat-G.err")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err, bufsize=0, start_new_session=True)
        harness._LIVE[self.proc.pid] = self.proc
        self.lock = threading.Lock()
        self.arrivals = []  # (ms, line bytes)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        fd = self.proc.stdout.fileno()
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            t = time.time() * 1000.0
            buf += chunk
            lines = buf.split(b"\n")
            buf = lines.pop()
            with self.lock:
                self.arrivals.extend((t, ln) for ln in lines)

    def wait_assigned(self, timeout=60.0):
        def ok():
            if self.proc.poll() is not None:
                raise harness.ProcessDied("kcat -G exited: %s" % harness.tail(self.err_path, 5))
            with open(self.err_path, "rb") as f:
                return b"assigned:" in f.read()
        wait_until(ok, timeout, interval=0.05, what="kcat -G assignment")

    def count(self):
        with self.lock:
            return len(self.arrivals)

    def arrivals_by_build(self):
        """{build_id: first arrival ms}."""
        out = {}
        with self.lock:
            items = list(self.arrivals)
        for t, ln in items:
            m = re.search(rb'"build_id":"([^"]*)"', ln)
            if m:
                out.setdefault(m.group(1).decode(), t)
        return out

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        harness._LIVE.pop(self.proc.pid, None)
        self._t.join(timeout=5)
        self._err.close()


# ---- Redis INFO -----------------------------------------------------------------------

def redis_info(env):
    """{"calls": {cmd: n}, "cpu_s": user+sys, "reads": total_reads_processed}."""
    text = env.redis.command("INFO", "all").decode()
    calls = {}
    cpu = 0.0
    reads = 0
    for line in text.splitlines():
        m = re.match(r"^cmdstat_([^:]+):calls=(\d+),", line)
        if m:
            calls[m.group(1)] = int(m.group(2))
        elif line.startswith(("used_cpu_sys:", "used_cpu_user:")):
            cpu += float(line.split(":", 1)[1])
        elif line.startswith("total_reads_processed:"):
            reads = int(line.split(":", 1)[1])
    return {"calls": calls, "cpu_s": cpu, "reads": reads}


# The bench's own commands, left out of the per-event figures.
BENCH_COMMANDS = ("info", "flushall", "config|resetstat", "config")


def redis_delta(before, after):
    calls = {}
    for k, v in after["calls"].items():
        d = v - before["calls"].get(k, 0)
        if d and k not in BENCH_COMMANDS:
            calls[k] = d
    return {"calls": calls, "cpu_s": after["cpu_s"] - before["cpu_s"],
            "reads": after["reads"] - before["reads"]}
