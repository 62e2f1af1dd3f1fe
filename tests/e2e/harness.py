"""harness.py -- process management for Herald's end-to-end tests (Python 3 stdlib only).

Every test runs the real parts on 127.0.0.1: a real redis-server, the development Kafka
broker (herald-devbroker, librdkafka's mock cluster speaking the Kafka protocol), the
Slack-compatible receiver (herald-slackd) and the real herald-producer/herald-consumer.

Binaries come from $HERALD_BIN (default: <repo>/bin). Every process is started in its
own process group and stopped (SIGTERM, then SIGKILL of the whole group) by the
cleanups registered when it was started, whatever the test outcome. Logs (stdout and
stderr of each process, configs, producer inputs) go to a temporary directory under
$TMPDIR; when a test fails the tail of every log is printed and the directory is kept,
otherwise it is removed.
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")
BIN = os.path.abspath(os.environ.get("HERALD_BIN") or os.path.join(REPO, "bin"))
REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "redis-server"

if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import prowjob  # noqa: E402  (tools/prowjob.py)


def base_time():
    """A start of history safely in the past (whole minutes), so that event times
    plus an hour or two are still before now."""
    return (int(time.time()) - 10 * 3600) // 60 * 60


def finished_run(job, repo, t, state="failure", type="postsubmit", seq=0, **kw):
    """A ProwJob: a finished run of `job` in aws-controllers-k8s/`repo` that took ten
    minutes and completed at epoch second t. Presubmits get a PR."""
    if type in ("presubmit", "batch") and "pulls" not in kw:
        kw["pulls"] = [{"number": 100 + seq, "author": "octocat", "title": "Change %d" % seq}]
    return prowjob.make_prowjob(job, type, prowjob.ORG, repo, state, start=t - 600,
                                completion=t,
                                build_id=prowjob.snowflake_build_id(t - 600, seq=seq % 4096),
                                **kw)

LOG_TAIL_LINES = 40
START_TIMEOUT = 20.0  # seconds for any server to become ready
STOP_TIMEOUT = 10.0   # seconds between SIGTERM and SIGKILL
PRODUCER_TIMEOUT = 90.0
KEEP_LOGS = os.environ.get("HERALD_E2E_KEEP", "") not in ("", "0")  # keep logs on success


class HarnessError(Exception):
    pass


class ProcessDied(HarnessError):
    """A process the test relies on exited; never retried by wait_until."""


def binary(name):
    """Absolute path of a Herald binary; raises unittest.SkipTest-free errors so a
    missing binary is a test error, not a silent skip."""
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        raise HarnessError("%s not found or not executable (HERALD_BIN=%s)" % (path, BIN))
    return path


def free_port():
    """A TCP port free on 127.0.0.1 right now (bind to port 0, read it, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value (returned) or timeout (HarnessError)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except ProcessDied:
            raise
        except Exception as e:  # noqa: BLE001 - keep polling, report the last one
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            raise HarnessError(msg)
        time.sleep(interval)


def http(method, url, body=None, headers=None, timeout=5.0):
    """One HTTP request; returns (status, body bytes). Never raises on HTTP errors."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tail(path, n=LOG_TAIL_LINES):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return ["<cannot read: %s>" % e]
    return lines[-n:]


# ---- log directory ------------------------------------------------------------------

class LogDir:
    """A temp dir under $TMPDIR holding every log and input file of one test (class)."""

    def __init__(self, prefix):
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", prefix)[:60]
        self.path = tempfile.mkdtemp(prefix="herald-e2e-%s-" % safe)
        self._seq = 0

    def file(self, name):
        """A fresh path in the dir (a counter keeps names unique)."""
        self._seq += 1
        return os.path.join(self.path, "%02d-%s" % (self._seq, name))

    def dump(self, out=None, n=LOG_TAIL_LINES):
        out = out or sys.stderr
        try:
            names = sorted(os.listdir(self.path))
        except OSError:
            return
        out.write("\n==== logs kept in %s ====\n" % self.path)
        for name in names:
            p = os.path.join(self.path, name)
            if not os.path.isfile(p) or os.path.getsize(p) == 0:
                continue
            if not (name.endswith(".log") or name.endswith(".out") or name.endswith(".err")
                    or name.endswith(".yaml")):
                continue
            out.write("---- %s (last %d lines) ----\n" % (name, n))
            for line in tail(p, n):
                out.write("  " + line[:400] + "\n")
        out.flush()

    def remove(self):
        if KEEP_LOGS:
            sys.stderr.write("[harness] logs kept in %s (HERALD_E2E_KEEP)\n" % self.path)
            return
        shutil.rmtree(self.path, ignore_errors=True)


# ---- processes ----------------------------------------------------------------------

# Every process group still running, so that nothing outlives the test run even when
# the interpreter is interrupted (Ctrl-C, or SIGTERM from a time limit) before the
# unittest cleanups can run.
_LIVE = {}


def _kill_all_live():
    for pid in list(_LIVE):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _LIVE.pop(pid, None)


def _on_sigterm(signum, frame):
    # unittest records SystemExit as a test error and goes on with the next test;
    # KeyboardInterrupt ends the run (and atexit kills whatever was started since).
    _kill_all_live()
    sys.stderr.write("\n[harness] signal %d: stopped every process, ending the run\n" % signum)
    raise KeyboardInterrupt("signal %d" % signum)


atexit.register(_kill_all_live)
if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _on_sigterm)


class Process:
    """A child process in its own process group, stdout/stderr to files in a LogDir."""

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.argv = list(argv)
        self.stdout_path = logdir.file(name + ".out")
        self.stderr_path = logdir.file(name + ".err")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self._err.write(("$ " + " ".join(self.argv) + "\n").encode())
        self._err.flush()
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                         stderr=self._err, start_new_session=True,
                                         env=full_env)
        except OSError:
            self._out.close()
            self._err.close()
            raise
        self.pid = self.proc.pid
        self.returncode = None
        _LIVE[self.pid] = self

    def alive(self):
        return self.proc.poll() is None

    def stdout_text(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_line(self, regex, timeout=START_TIMEOUT, stream="stdout"):
        """Wait for a line matching regex in the process's stdout (or stderr); returns
        the match. Fails early if the process exits."""
        rx = re.compile(regex, re.M)

        def check():
            text = self.stdout_text() if stream == "stdout" else self.stderr_text()
            m = rx.search(text)
            if m:
                return m
            if not self.alive():
                raise ProcessDied("%s exited with %s before printing /%s/: %s" %
                                  (self.name, self.proc.returncode, regex,
                                   "\n".join(tail(self.stderr_path, 10))))
            return None
        deadline = time.monotonic() + timeout
        while True:
            m = check()
            if m:
                return m
            if time.monotonic() > deadline:
                raise HarnessError("%s: no /%s/ on %s within %.0fs" %
                                   (self.name, regex, stream, timeout))
            time.sleep(0.02)

    def send_signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send sig to the process group, wait up to timeout, then SIGKILL the group.
        Returns the exit status (negative = killed by that signal). Idempotent."""
        if self.returncode is None:
            if self.alive():
                self.send_signal(sig)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._err.write(b"\n[harness] did not stop in time: SIGKILL\n")
                    self._err.flush()
            # Kill whatever is left in the group (the child itself or its children).
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.returncode = self.proc.returncode
            _LIVE.pop(self.pid, None)
            for f in (self._out, self._err):
                try:
                    f.close()
                except OSError:
                    pass
        return self.returncode


def check_alive(procs):
    """Raise HarnessError if any of procs (Process, or objects with .proc) has exited."""
    for p in procs:
        proc = getattr(p, "proc", p)
        if isinstance(proc, Process) and not proc.alive():
            raise ProcessDied("%s exited unexpectedly with status %s (negative = signal); "
                               "stderr tail:\n%s" % (proc.name, proc.proc.returncode,
                                                     "\n".join(tail(proc.stderr_path, 15))))


# ---- Redis --------------------------------------------------------------------------

def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _RespReader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise HarnessError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise HarnessError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise HarnessError("redis error: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise HarnessError("bad RESP reply %r" % line)


class Redis:
    """A real redis-server on a free loopback port, no persistence."""

    def __init__(self, logdir, name="redis"):
        self.host = "127.0.0.1"
        last = None
        for _attempt in range(5):
            self.port = free_port()
            self.proc = Process(name, [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--daemonize", "no",
                                       "--protected-mode", "yes", "--logfile", ""],
                                logdir)
            try:
                wait_until(self._ping_or_dead, START_TIMEOUT, what="redis PING on %d" % self.port)
                return
            except HarnessError as e:
                last = e
                self.proc.stop()
        raise HarnessError("could not start redis-server: %s" % last)

    def _ping_or_dead(self):
        if not self.proc.alive():
            raise ProcessDied("redis-server exited (%s)" % self.proc.proc.returncode)
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False

    def command(self, *args):
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(_resp_encode(args))
            return _RespReader(s).read()

    def keys(self, pattern="*"):
        return [k.decode() for k in self.command("KEYS", pattern)]

    def stop(self):
        return self.proc.stop()


# ---- development Kafka broker -------------------------------------------------------

class DevBroker:
    """herald-devbroker (librdkafka mock cluster) with its control endpoint."""

    def __init__(self, logdir, brokers=1, topics=("herald.events:4", "herald.dead-letter:1"),
                 name="devbroker"):
        argv = [binary("herald-devbroker"), "--brokers", str(brokers),
                "--control", "127.0.0.1:0"]
        for t in topics:
            argv += ["--topic", t]
        self.topics = {t.split(":")[0]: int(t.split(":")[1]) if ":" in t else 1 for t in topics}
        self.proc = Process(name, argv, logdir)
        try:
            self.bootstrap = self.proc.wait_line(r"^BOOTSTRAP=(\S+)$").group(1)
            self.control = self.proc.wait_line(r"^CONTROL=(\S+)$").group(1)
            wait_until(lambda: http("GET", "http://%s/info" % self.control)[0] == 200,
                       START_TIMEOUT, what="devbroker /info")
        except Exception:
            self.proc.stop()
            raise

    def control_request(self, method, path, body=None):
        return http(method, "http://%s%s" % (self.control, path), body=body)

    def info(self):
        st, body = self.control_request("GET", "/info")
        if st != 200:
            raise HarnessError("devbroker /info: %s %r" % (st, body[:200]))
        return json.loads(body)

    def stop(self):
        return self.proc.stop()


# ---- Slack-compatible receiver ------------------------------------------------------

class SlackReceiver:
    """herald-slackd: records what Herald posts; answers like Slack."""

    TOKEN = "xoxb-herald-e2e"

    def __init__(self, logdir, name="slackd"):
        argv = [binary("herald-slackd"), "--listen", "127.0.0.1:0", "--token", self.TOKEN,
                "--record", logdir.file("slackd-record.log")]
        self.proc = Process(name, argv, logdir)
        try:
            self.address = self.proc.wait_line(r"^LISTEN=(\S+)$").group(1)
            self.base = "http://" + self.address
            wait_until(lambda: http("GET", self.base + "/_control/stats")[0] == 200,
                       START_TIMEOUT, what="slackd /_control/stats")
        except Exception:
            self.proc.stop()
            raise

    def hook_url(self, channel):
        return "%s/hooks/%s" % (self.base, channel)

    def api_url(self):
        return self.base + "/api"

    def messages(self, channel=None):
        url = self.base + "/_control/messages"
        if channel is not None:
            url += "?channel=" + urllib.request.quote(channel, safe="")
        st, body = http("GET", url)
        if st != 200:
            raise HarnessError("slackd messages: %s %r" % (st, body[:200]))
        return json.loads(body)

    def wait_for(self, count, channel=None, timeout=30.0, watch=()):
        """Wait until at least `count` messages are recorded (in channel); returns them
        all. Raises HarnessError (with what did arrive) on timeout, or at once if one
        of the `watch` processes (Consumer/Process objects) exits meanwhile."""
        deadline = time.monotonic() + timeout
        msgs = []
        while True:
            msgs = self.messages(channel)
            if len(msgs) >= count:
                return msgs
            check_alive(watch)
            if time.monotonic() > deadline:
                raise HarnessError("slackd: %d message(s)%s after %.0fs, wanted %d: %s" % (
                    len(msgs), " in %s" % channel if channel else "", timeout, count,
                    [m.get("payload", {}).get("text") for m in msgs]))
            time.sleep(0.1)

    def clear(self):
        st, body = http("DELETE", self.base + "/_control/messages")
        if st not in (200, 204):
            raise HarnessError("slackd clear: %s %r" % (st, body[:200]))
        http("DELETE", self.base + "/_control/faults")

    def set_fault(self, **fault):
        st, body = http("POST", self.base + "/_control/faults", body=fault)
        if st not in (200, 201, 204):
            raise HarnessError("slackd fault: %s %r" % (st, body[:200]))

    def stats(self):
        st, body = http("GET", self.base + "/_control/stats")
        if st != 200:
            raise HarnessError("slackd stats: %s %r" % (st, body[:200]))
        return json.loads(body)

    def stop(self):
        return self.proc.stop()


# ---- YAML (a small emitter for the consumer config) ---------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _yaml_scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    # JSON string escapes are valid inside YAML double quotes (\uXXXX, \", \\, \n ...).
    return json.dumps(str(v), ensure_ascii=True)


def _yaml_key(k):
    k = str(k)
    return k if _PLAIN_KEY.match(k) and k not in ("true", "false", "null", "yes", "no", "on",
                                                   "off") else json.dumps(k)


def _is_scalar(v):
    return not isinstance(v, (dict, list, tuple))


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts/lists of scalars, dicts and lists."""
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        for k, v in obj.items():
            if _is_scalar(v):
                lines.append("%s%s: %s\n" % (pad, _yaml_key(k), _yaml_scalar(v)))
            elif isinstance(v, dict) and not v:
                lines.append("%s%s: {}\n" % (pad, _yaml_key(k)))
            elif isinstance(v, (list, tuple)) and all(_is_scalar(x) for x in v):
                lines.append("%s%s: [%s]\n" % (pad, _yaml_key(k),
                                               ", ".join(_yaml_scalar(x) for x in v)))
            else:
                lines.append("%s%s:\n" % (pad, _yaml_key(k)))
                lines.append(to_yaml(v, indent + 2))
        return "".join(lines)
    if isinstance(obj, (list, tuple)):
        if not obj:
            return pad + "[]\n"
        for item in obj:
            if _is_scalar(item):
                lines.append("%s- %s\n" % (pad, _yaml_scalar(item)))
            elif isinstance(item, (list, tuple)) and all(_is_scalar(x) for x in item):
                lines.append("%s- [%s]\n" % (pad, ", ".join(_yaml_scalar(x) for x in item)))
            else:
                body = to_yaml(item, indent + 2)
                # put the first line on the "- " line
                first, _, rest = body.partition("\n")
                lines.append("%s- %s\n%s" % (pad, first[indent + 2:], rest))
        return "".join(lines)
    return pad + _yaml_scalar(obj) + "\n"


# ---- metrics ------------------------------------------------------------------------

_METRIC_LINE = re.compile(
    r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?\s*$')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics(dict):
    """Prometheus text parsed: name -> {frozenset(labels.items()): value}."""

    def get_value(self, name, default=None, **labels):
        series = self.get(name, {})
        key = frozenset(labels.items())
        return series.get(key, default)

    def sum(self, name, **labels):
        """Sum of every series of `name` whose labels include `labels`."""
        total = 0.0
        for key, val in self.get(name, {}).items():
            d = dict(key)
            if all(d.get(k) == v for k, v in labels.items()):
                total += val
        return total


def parse_metrics(text):
    m = Metrics()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        mt = _METRIC_LINE.match(line)
        if not mt:
            continue
        name, labels, value = mt.groups()
        lab = {}
        if labels:
            for k, v in _LABEL.findall(labels):
                lab[k] = v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        try:
            val = float(value)
        except ValueError:
            continue
        m.setdefault(name, {})[frozenset(lab.items())] = val
    return m


# ---- the consumer -------------------------------------------------------------------

class Consumer:
    """herald-consumer with a config written from a dict."""

    def __init__(self, logdir, config, name="consumer", env=None, wait_ready=True):
        self.name = name
        self.config = config
        http_cfg = config.setdefault("http", {})
        fixed_port = bool(http_cfg.get("listen"))
        for attempt in range(3):
            if not fixed_port:
                http_cfg["listen"] = "127.0.0.1:%d" % free_port()
            self.http = "http://" + http_cfg["listen"]
            self.config_path = logdir.file(name + ".yaml")
            with open(self.config_path, "w") as f:
                f.write(to_yaml(config))
            self.proc = Process(name, [binary("herald-consumer"), "-c", self.config_path,
                                       "--name", name], logdir, env=env)
            if not wait_ready:
                return
            try:
                self.wait_healthy()
                return
            except ProcessDied:
                self.proc.stop()
                # The free port may have been taken between free_port() and bind().
                err = self.proc.stderr_text().lower()
                if fixed_port or attempt == 2 or "in use" not in err:
                    raise
            except Exception:
                self.proc.stop()
                raise

    def wait_healthy(self, timeout=START_TIMEOUT):
        def ok():
            if not self.proc.alive():
                check_alive([self.proc])
            try:
                return http("GET", self.http + "/healthz", timeout=2)[0] == 200
            except OSError:
                return False
        wait_until(ok, timeout, what="%s /healthz" % self.name)

    def wait_assigned(self, timeout=30.0):
        """Wait until the consumer has at least one partition assigned."""
        return wait_until(lambda: check_alive([self.proc]) or
                          self.metrics().sum("herald_partitions_assigned") > 0,
                          timeout, interval=0.1, what="%s partitions assigned" % self.name)

    def metrics(self):
        st, body = http("GET", self.http + "/metrics", timeout=5)
        if st != 200:
            raise HarnessError("%s /metrics: HTTP %s" % (self.name, st))
        return parse_metrics(body.decode("utf-8", "replace"))

    def get(self, path):
        return http("GET", self.http + path, timeout=5)

    def logs(self):
        """The consumer's JSON log lines (non-JSON lines kept as {"raw": line})."""
        out = []
        for line in self.proc.stderr_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        return self.proc.stop(sig, timeout)


def consumer_config(broker, redis, slack, group, prefix, **overrides):
    """The standard test config (see deploy/herald.example.yaml); overrides replace
    top-level sections."""
    cfg = {
        "kafka": {
            "brokers": broker.bootstrap,
            "topic": "herald.events",
            "group": group,
            "batch_wait": "50ms",
            "properties": {
                "session.timeout.ms": "6000",
                "heartbeat.interval.ms": "500",
                "auto.offset.reset": "earliest",
            },
        },
        "redis": {"host": redis.host, "port": redis.port, "key_prefix": prefix},
        "dedup": {"window": "1h"},
        # The job level alone, sent at once: the pipeline and fault suites count
        # alerts one per failure. test_rules.py turns the other levels on.
        "release": {"hold": "0s", "stall_timeout": "0s"},
        "ecosystem": {"enabled": False},
        "storm": {"rate": 1000, "burst": 1000},
        "receivers": [
            {"name": "releases", "type": "webhook", "channel": "#releases",
             "url": slack.hook_url("releases")},
            {"name": "ci", "type": "webhook", "channel": "#ci", "url": slack.hook_url("ci")},
        ],
        "routes": [{"match": {"tier": "critical"}, "receivers": ["releases"],
                    "continue": False}],
        "default_receiver": "ci",
        "delivery": {"timeout": "2s", "backoff": "100ms", "backoff_max": "1s",
                     "give_up_after": "20s"},
        "http": {"listen": "127.0.0.1:%d" % free_port()},
    }
    cfg.update(overrides)
    return cfg


# ---- the producer -------------------------------------------------------------------

def write_ndjson(logdir, docs, name="input.ndjson"):
    path = logdir.file(name)
    with open(path, "w") as f:
        for d in docs:
            f.write(json.dumps(d) + "\n")
    return path


def write_lines(logdir, lines, name="raw.txt"):
    """Lines (str or bytes) written as-is, one per line."""
    path = logdir.file(name)
    with open(path, "wb") as f:
        for line in lines:
            if isinstance(line, str):
                line = line.encode()
            f.write(line + b"\n")
    return path


def run_producer(logdir, brokers, docs=None, path=None, speed=0, extra=(), topic=None,
                 timeout=PRODUCER_TIMEOUT, raw=False):
    """Run herald-producer to completion. docs: a list of ProwJob dicts (written as
    NDJSON) or, with raw=True, a list of lines published as-is via --raw. path: an
    input file instead. Returns (rc, stdout, stderr); the output is also kept in the
    log dir."""
    if docs is not None:
        path = write_lines(logdir, docs, "raw.txt") if raw else write_ndjson(logdir, docs)
    if path is None:
        raise HarnessError("run_producer: docs or path needed")
    argv = [binary("herald-producer"), "-b", brokers]
    if topic:
        argv += ["-t", topic]
    if speed is not None:
        argv += ["--replay-speed", str(speed)]
    argv += list(extra)
    argv += ["--raw", path] if raw else [path]
    out_path = logdir.file("producer.out")
    err_path = logdir.file("producer.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        err.write(("$ " + " ".join(argv) + "\n").encode())
        err.flush()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
        _LIVE[p.pid] = p
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
            raise HarnessError("herald-producer did not finish in %.0fs" % timeout)
        finally:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
            _LIVE.pop(p.pid, None)
    with open(out_path, "rb") as f:
        stdout = f.read().decode("utf-8", "replace")
    with open(err_path, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
        stderr = stderr.split("\n", 1)[1] if stderr.startswith("$ ") else stderr
    return rc, stdout, stderr


class LiveSource:
    """herald-producer reading a stream on stdin, kept open: a live source whose
    watermark follows the newest event time sent minus `lateness` (docs/rules.md "Event
    time"). send() publishes ProwJobs as they are written; close() ends the stream
    (its final watermark releases everything still held) and returns the exit status."""

    def __init__(self, logdir, brokers, lateness="1h", extra=()):
        argv = [binary("herald-producer"), "-b", brokers, "--lateness", lateness]
        argv += list(extra) + ["-"]
        self.out_path = logdir.file("live-producer.out")
        self.err_path = logdir.file("live-producer.err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self._err.write(("$ " + " ".join(argv) + "\n").encode())
        self._err.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=self._out,
                                     stderr=self._err, start_new_session=True)
        _LIVE[self.proc.pid] = self.proc

    def send(self, docs):
        for d in docs:
            self.proc.stdin.write((json.dumps(d) + "\n").encode())
        self.proc.stdin.flush()

    def close(self, timeout=PRODUCER_TIMEOUT):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        _LIVE.pop(self.proc.pid, None)
        self._out.close()
        self._err.close()
        return self.proc.returncode


_SUMMARY = re.compile(r"herald-producer: read (\d+), published (\d+), rejected (\d+), "
                      r"undelivered (\d+)")


def producer_summary(stdout):
    """The final summary line as a dict, or None."""
    found = _SUMMARY.findall(stdout)
    if not found:
        return None
    r, p, j, u = (int(x) for x in found[-1])
    return {"read": r, "published": p, "rejected": j, "undelivered": u}


# ---- test base class ----------------------------------------------------------------

class HeraldTestCase(unittest.TestCase):
    """Starts redis + slackd once per class, a fresh broker per test (so every test
    has an empty topic), and gives each test its own consumer group and Redis key
    prefix. Logs are printed and kept when a test fails."""

    _class_failed = False

    @classmethod
    def setUpClass(cls):
        cls._class_failed = False
        cls.class_logs = LogDir(cls.__name__)
        cls._class_procs = []
        try:
            cls.redis = Redis(cls.class_logs)
            cls._class_procs.append(cls.redis)
            cls.slack = SlackReceiver(cls.class_logs)
            cls._class_procs.append(cls.slack)
        except Exception:
            cls._stop_class_procs()
            cls.class_logs.dump()
            raise

    @classmethod
    def _stop_class_procs(cls):
        for p in reversed(cls._class_procs):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001
                sys.stderr.write("[harness] stopping %r: %r\n" % (p, e))
        cls._class_procs = []

    @classmethod
    def tearDownClass(cls):
        cls._stop_class_procs()
        if cls._class_failed:
            cls.class_logs.dump()
        else:
            cls.class_logs.remove()

    def run(self, result=None):
        # Note failures so the logs can be printed after cleanups stopped the processes.
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                type(self)._class_failed = True
                logs = getattr(self, "logs", None)
                if logs is not None:
                    logs.dump()
            else:
                logs = getattr(self, "logs", None)
                if logs is not None:
                    logs.remove()

    def setUp(self):
        self.logs = LogDir(self.id().split(".")[-1])
        uniq = "%s-%d-%d" % (self._testMethodName, os.getpid(), int(time.time() * 1000))
        self.group = "g-" + uniq
        self.prefix = "t%s:" % uniq
        self._running = []
        self.slack.clear()
        self.broker = self.start_broker()

    # helpers starting processes that are always stopped
    def start_broker(self, **kw):
        b = DevBroker(self.logs, **kw)
        self.addCleanup(b.stop)
        return b

    def config(self, **overrides):
        return consumer_config(self.broker, self.redis, self.slack, self.group, self.prefix,
                               **overrides)

    def start_consumer(self, config=None, name="consumer", **kw):
        c = Consumer(self.logs, config or self.config(), name=name, **kw)
        self.addCleanup(c.stop)
        self._running.append(c)
        return c

    def wait_for(self, count, channel=None, timeout=30.0):
        """slack.wait_for that fails at once when a consumer of this test dies."""
        return self.slack.wait_for(count, channel, timeout,
                                   watch=[c for c in self._running if c.proc.returncode is None])

    def wait_until(self, pred, timeout, what="condition", interval=0.1):
        """harness.wait_until that fails at once when a consumer of this test dies."""
        watch = [c for c in self._running if c.proc.returncode is None]

        def p():
            check_alive(watch)
            return pred()
        return wait_until(p, timeout, interval=interval, what=what)

    def produce(self, docs=None, path=None, speed=0, extra=(), raw=False, expect_rc=0,
                timeout=PRODUCER_TIMEOUT):
        rc, out, err = run_producer(self.logs, self.broker.bootstrap, docs=docs, path=path,
                                    speed=speed, extra=extra, raw=raw, timeout=timeout)
        if expect_rc is not None:
            self.assertEqual(rc, expect_rc, "herald-producer exit %s\nstdout: %s\nstderr: %s"
                             % (rc, out[-2000:], err[-2000:]))
        return rc, out, err

    def live(self, lateness="1h", extra=()):
        """A LiveSource on this test's broker, closed when the test ends."""
        src = LiveSource(self.logs, self.broker.bootstrap, lateness=lateness, extra=extra)
        self.addCleanup(src.close)
        return src

    def assert_quiet(self, count, channel=None, quiet=2.0):
        """Assert that exactly `count` messages are (and stay, for `quiet` s) recorded."""
        time.sleep(quiet)
        check_alive([c for c in self._running if c.proc.returncode is None])
        msgs = self.slack.messages(channel)
        self.assertEqual(len(msgs), count, "expected exactly %d message(s)%s, got %d: %s" % (
            count, " in " + channel if channel else "", len(msgs),
            [m.get("payload", {}).get("text") for m in msgs]))
        return msgs


def payload_text(msg):
    """The whole Slack payload as JSON text (for substring searches)."""
    return json.dumps(msg.get("payload"), ensure_ascii=False)


def fields_of(msg):
    """The Block Kit fields of a message as {label lowercased: value} ("*Label*\\nvalue")."""
    out = {}

    def walk(o):
        if isinstance(o, dict):
            for f in o.get("fields", []) or []:
                text = f.get("text", "") if isinstance(f, dict) else ""
                m = re.match(r"^\*([^*]+)\*\n(.*)$", text, re.S)
                if m:
                    out[m.group(1).strip().lower()] = m.group(2)
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(msg.get("payload"))
    return out
