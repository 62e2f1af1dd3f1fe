"""End-to-end tests of heraldctl (tools/heraldctl, docs/silences.md) on a real
redis-server: silences added, listed, counted and expired with the Redis layout the
consumers read, `explain` on a stored decision, and the exit codes (0 ok, 1 usage or
not found, 2 Redis unreachable).
"""

import json
import os
import pwd
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

RFC3339_S = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
OS_USER = pwd.getpwuid(os.geteuid()).pw_name
WEEK_MS = 7 * 24 * 3600 * 1000


class HeraldctlTest(unittest.TestCase):
    """One redis-server for the class; each test its own key prefix."""

    @classmethod
    def setUpClass(cls):
        cls.logs = harness.LogDir(cls.__name__)
        cls.failed = False
        try:
            cls.redis = harness.Redis(cls.logs)
        except Exception:
            cls.logs.dump()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        if cls.failed:
            cls.logs.dump()
        else:
            cls.logs.remove()

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                type(self).failed = True

    def setUp(self):
        self.prefix = "t%s-%d:" % (self._testMethodName, int(time.time() * 1000))

    # ---- helpers ----

    def ctl(self, *args, redis=None, prefix=None, env=None, expect=None):
        """Run heraldctl against the class Redis; returns (rc, stdout, stderr)."""
        redis = redis or self.redis
        argv = [harness.binary("heraldctl"), "-r", "%s:%d" % (redis.host, redis.port),
                "--prefix", prefix or self.prefix] + list(args)
        full_env = dict(os.environ)
        full_env.pop("HERALD_REDIS", None)
        full_env.update(env or {})
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=full_env)
        with open(self.logs.file("heraldctl.err"), "w") as f:
            f.write("$ %s\n-> %d\n%s\n%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
        if expect is not None:
            self.assertEqual(p.returncode, expect, "heraldctl %s: exit %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p.returncode, p.stdout, p.stderr

    def add(self, *matchers, dur="2h", reason="investigating", extra=()):
        args = ["silence", "add"]
        for m in matchers:
            args += ["--match", m]
        args += ["--for", dur, "--reason", reason] + list(extra)
        rc, out, err = self.ctl(*args, expect=0)
        sid = out.strip()
        self.assertRegex(sid, r"^[0-9a-f]{12}$", "stdout is just the id")
        return sid, err

    def table(self, *extra):
        """silence list as {id: {column: value}} (columns split on 2+ spaces)."""
        rc, out, err = self.ctl("silence", "list", *extra, expect=0)
        lines = out.rstrip("\n").split("\n")
        head = re.split(r"\s{2,}", lines[0].strip())
        self.assertEqual(head, ["ID", "ENDS", "MATCHED", "MATCHERS", "REASON", "BY", "FROM",
                                "CREATED"])
        rows = {}
        for line in lines[1:]:
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[0]] = dict(zip(head, cells))
        return rows

    def hash(self, sid):
        raw = self.redis.command("HGETALL", self.prefix + "silence:" + sid)
        return {raw[i].decode(): raw[i + 1].decode() for i in range(0, len(raw), 2)}

    # ---- silences ----

    def test_add_list_count_expire(self):
        before = int(time.time() * 1000)
        sid, err = self.add("service=lambda", "stage=olm-bundle", dur="2h",
                            reason="OLM bundle broken upstream", extra=["--by", "alice"])
        after = int(time.time() * 1000)
        self.assertRegex(err.strip(), r"^silenced service=lambda stage=olm-bundle until %s "
                         r"\(2h\)$" % RFC3339_S)

        # The Redis layout the consumers read.
        h = self.hash(sid)
        self.assertEqual(h["id"], sid)
        self.assertEqual(json.loads(h["matchers"]), ["service=lambda", "stage=olm-bundle"])
        self.assertEqual(h["reason"], "OLM bundle broken upstream")
        self.assertEqual(h["created_by"], "alice")
        self.assertEqual(h["matched"], "0")
        starts, ends = int(h["starts_ms"]), int(h["ends_ms"])
        self.assertTrue(before <= starts <= after)
        self.assertEqual(ends - starts, 2 * 3600 * 1000)
        self.assertTrue(before <= int(h["created_ms"]) <= after)
        score = self.redis.command("ZSCORE", self.prefix + "silences", sid)
        self.assertEqual(int(float(score)), ends)
        pttl = self.redis.command("PTTL", self.prefix + "silence:" + sid)
        self.assertAlmostEqual(pttl, ends + WEEK_MS - int(time.time() * 1000), delta=60000)

        rows = self.table()
        self.assertEqual(list(rows), [sid])
        row = rows[sid]
        self.assertRegex(row["ENDS"], "^%s$" % RFC3339_S)
        self.assertEqual(row["MATCHED"], "0")
        self.assertEqual(row["MATCHERS"], "service=lambda stage=olm-bundle")
        self.assertEqual(row["REASON"], "OLM bundle broken upstream")
        self.assertEqual(row["BY"], "alice")
        # Where it came from (issue 11 item 18): the OS user and host, and when.
        self.assertEqual(row["FROM"], "%s@%s" % (OS_USER, socket.gethostname()))
        self.assertEqual(row["CREATED"],
                         time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                       time.gmtime(int(h["created_ms"]) // 1000)))
        self.assertEqual(h["origin_user"], OS_USER)
        self.assertEqual(h["origin_host"], socket.gethostname())
        self.assertRegex(h["origin_tool"], r"^heraldctl [A-Za-z0-9._+-]+$")

        # What a consumer's silence_count does to the counter.
        self.redis.command("HINCRBY", self.prefix + "silence:" + sid, "matched", 7)
        self.assertEqual(self.table()[sid]["MATCHED"], "7")
        rc, out, err = self.ctl("silence", "list", "--json", expect=0)
        docs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(docs), 1)
        self.assertEqual(docs[0]["id"], sid)
        self.assertEqual(docs[0]["matched"], 7)
        self.assertEqual(docs[0]["matchers"], ["service=lambda", "stage=olm-bundle"])
        self.assertEqual(docs[0]["ends_ms"], ends)
        self.assertTrue(docs[0]["active"])
        self.assertEqual(docs[0]["created_by"], "alice")
        self.assertEqual((docs[0]["origin_user"], docs[0]["origin_host"]),
                         (OS_USER, socket.gethostname()))
        self.assertEqual(docs[0]["origin_tool"], h["origin_tool"])

        # Expire: gone from the list, shown as expired with --all, kept a week.
        rc, out, err = self.ctl("silence", "expire", sid, expect=0)
        t = int(time.time() * 1000)
        self.assertEqual(self.table(), {})
        rows = self.table("--all")
        self.assertEqual(rows[sid]["ENDS"], "expired")
        self.assertEqual(rows[sid]["MATCHED"], "7")
        h = self.hash(sid)
        self.assertTrue(before <= int(h["ends_ms"]) <= t)
        pttl = self.redis.command("PTTL", self.prefix + "silence:" + sid)
        self.assertAlmostEqual(pttl, WEEK_MS, delta=60000)
        rc, out, err = self.ctl("silence", "list", "--all", "--json", expect=0)
        doc = json.loads(out.splitlines()[0])
        self.assertFalse(doc["active"])
        self.assertTrue(doc["expired"])

    def test_origin_recorded_and_unrecorded(self):
        """The author is whatever --by (or $USER) says; the OS user, host and time are
        recorded beside it. A silence written into Redis by other means shows as
        unrecorded, so it stands out in the list."""
        sid, _ = self.add("repo=ec2-controller", extra=[], reason="flaky runners")
        rc, out, err = self.ctl("silence", "add", "--match", "job=*", "--for", "1h",
                                "--reason", "says bob", env={"USER": "bob"}, expect=0)
        bob = out.strip()
        # Written straight into Redis, the layout of docs/silences.md, no origin.
        now = int(time.time() * 1000)
        raw = "0123456789ab"
        self.redis.command("HSET", self.prefix + "silence:" + raw, "id", raw,
                           "matchers", json.dumps(["service=*"]), "reason", "hidden",
                           "created_by", "alice", "created_ms", str(now),
                           "starts_ms", str(now), "ends_ms", str(now + 3600 * 1000),
                           "matched", "0")
        self.redis.command("ZADD", self.prefix + "silences", str(now + 3600 * 1000), raw)
        rows = self.table()
        here = "%s@%s" % (OS_USER, socket.gethostname())
        self.assertEqual(rows[sid]["FROM"], here)
        self.assertEqual(rows[bob]["BY"], "bob")  # the author is only a claim...
        self.assertEqual(rows[bob]["FROM"], here)  # ...the OS user is recorded beside it
        self.assertEqual(rows[raw]["BY"], "alice")
        self.assertEqual(rows[raw]["FROM"], "unrecorded")
        rc, out, err = self.ctl("silence", "list", "--json", expect=0)
        docs = {d["id"]: d for d in map(json.loads, out.splitlines())}
        self.assertEqual((docs[raw]["origin_user"], docs[raw]["origin_tool"]), ("", ""))
        print("\n  silences: %d listed, origin recorded for %d, unrecorded %d"
              % (len(rows), sum(r["FROM"] != "unrecorded" for r in rows.values()),
                 sum(r["FROM"] == "unrecorded" for r in rows.values())))

    def test_list_orders_and_future_start(self):
        later, _ = self.add("job=*-e2e", dur="3h")
        sooner, _ = self.add("repo=s3-controller", dur="1h")
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
        pending, err = self.add("tier=critical", dur="30m", extra=["--start", start])
        self.assertIn("from %s until" % start, err)
        rc, out, _ = self.ctl("silence", "list", expect=0)
        ids = [line.split()[0] for line in out.splitlines()[1:]]
        self.assertEqual(ids, [sooner, later, pending], "by end time")
        rc, out, _ = self.ctl("silence", "list", "--json", expect=0)
        docs = {d["id"]: d for d in map(json.loads, out.splitlines())}
        self.assertFalse(docs[pending]["active"])
        self.assertFalse(docs[pending]["expired"])
        self.assertTrue(docs[sooner]["active"])

    def test_expire_unknown(self):
        rc, out, err = self.ctl("silence", "expire", "0123456789ab", expect=1)
        self.assertIn("heraldctl: no silence 0123456789ab", err)
        rc, out, err = self.ctl("silence", "expire", "not-an-id", expect=1)
        self.assertIn("no silence not-an-id", err)
        self.assertEqual(self.redis.keys(self.prefix + "*"), [], "nothing created")

    def test_bad_input(self):
        cases = [
            (["--match", "team=lambda"], 'bad matcher "team=lambda"'),
            (["--match", "service="], 'bad matcher "service=": empty glob'),
            (["--match", "service"], 'bad matcher "service"'),
            (["--match", "service!=s3"], 'bad matcher "service!=s3"'),
        ]
        for match, msg in cases:
            rc, out, err = self.ctl("silence", "add", *match, "--for", "1h", "--reason", "r",
                                    expect=1)
            self.assertIn(msg, err)
            self.assertEqual(out, "")
        for args, msg in [
            (["--match", "service=s3", "--reason", "r"], "--for"),
            (["--match", "service=s3", "--for", "0s", "--reason", "r"], "--for"),
            (["--match", "service=s3", "--for", "soon", "--reason", "r"], "--for"),
            (["--match", "service=s3", "--for", "1h"], "--reason"),
            (["--match", "service=s3", "--for", "1h", "--reason", ""], "--reason"),
            (["--for", "1h", "--reason", "r"], "--match"),
            (["--match", "service=s3", "--for", "1h", "--reason", "r", "--start", "noon"],
             "--start"),
            (["--match", "service=s3", "--for", "1h", "--reason", "r", "--start",
              "2001-01-01T00:00:00Z"], "over already"),
        ]:
            rc, out, err = self.ctl("silence", "add", *args, expect=1)
            self.assertIn(msg, err, args)
            self.assertIn("usage: heraldctl", err)
        self.assertEqual(self.redis.keys(self.prefix + "*"), [], "nothing stored")
        self.ctl("silence", expect=1)
        self.ctl("silence", "mute", expect=1)
        self.ctl("frobnicate", expect=1)
        rc, out, err = self.ctl("--help", expect=0)
        self.assertIn("silence add --match FIELD=GLOB", out)

    def test_redis_unreachable(self):
        port = harness.free_port()
        argv = [harness.binary("heraldctl"), "-r", "127.0.0.1:%d" % port, "silence", "list"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("127.0.0.1:%d" % port, p.stderr)
        env = dict(os.environ, HERALD_REDIS="127.0.0.1:%d" % port)
        p = subprocess.run([harness.binary("heraldctl"), "explain", "x"], capture_output=True,
                           text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("127.0.0.1:%d" % port, p.stderr)

    def test_config_file_and_password(self):
        """-c takes host, port, password and prefix from a Herald config; a wrong
        password is exit 2 and never printed."""
        redis = harness.Redis(self.logs, name="redis-auth")
        self.addCleanup(redis.stop)
        redis.command("CONFIG", "SET", "requirepass", "s3cr3t-pw")
        cfg = self.logs.file("herald.yaml")
        with open(cfg, "w") as f:
            f.write("redis:\n  host: 127.0.0.1\n  port: %d\n  key_prefix: \"cfg:\"\n"
                    "  password_env: HERALDCTL_TEST_PW\n"
                    "receivers:\n  - name: ci\n    type: webhook\n"
                    "    url: http://127.0.0.1:1/hook\n"
                    "default_receiver: ci\n" % redis.port)
        ctl = harness.binary("heraldctl")
        env = dict(os.environ, HERALDCTL_TEST_PW="s3cr3t-pw")
        p = subprocess.run([ctl, "-c", cfg, "silence", "add", "--match", "org=*", "--for",
                            "10m", "--reason", "maintenance"], capture_output=True, text=True,
                           timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        sid = p.stdout.strip()

        def auth_cmd(*args):
            import socket
            with socket.create_connection((redis.host, redis.port), timeout=5) as s:
                s.sendall(harness._resp_encode(["AUTH", "s3cr3t-pw"]))
                r = harness._RespReader(s)
                r.read()
                s.sendall(harness._resp_encode(list(args)))
                return r.read()
        self.assertEqual(auth_cmd("HGET", "cfg:silence:" + sid, "reason"), b"maintenance")
        # the same with -r and --password-env
        p = subprocess.run([ctl, "-r", "127.0.0.1:%d" % redis.port, "--prefix", "cfg:",
                            "--password-env", "HERALDCTL_TEST_PW", "silence", "list"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(sid, p.stdout)
        # wrong password: exit 2, names host:port, not the password
        env = dict(os.environ, HERALDCTL_TEST_PW="wrong-pw-value")
        p = subprocess.run([ctl, "-c", cfg, "silence", "list"], capture_output=True,
                           text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("127.0.0.1:%d" % redis.port, p.stderr)
        self.assertNotIn("wrong-pw-value", p.stdout + p.stderr)
        # the config needs its secret: exit 1 with config_load's message
        env = dict(os.environ)
        env.pop("HERALDCTL_TEST_PW", None)
        p = subprocess.run([ctl, "-c", cfg, "silence", "list"], capture_output=True,
                           text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("HERALDCTL_TEST_PW", p.stderr)

    # ---- explain ----

    def test_explain(self):
        decision = {"consumer": "consumer-1", "extra": {"k": [1, 2]},
                    "event": "abc:failure", "job": "s3-post-submit", "state": "failure",
                    "service": "s3", "stage": "post-submit", "tier": "critical",
                    "decision": "suppressed", "reason": "silenced",
                    "silence": "0a1b2c3d4e5f", "decided_at": 1795587013512,
                    "receivers": ["ack-s3"], "window": {"start_ms": 1795587000000, "n": 3}}
        stored = json.dumps(decision)
        self.redis.command("HSET", self.prefix + "explain", "abc:failure", stored)
        rc, out, err = self.ctl("explain", "abc:failure", expect=0)
        lines = out.splitlines()
        self.assertEqual(lines, [
            "event: abc:failure",
            "job: s3-post-submit",
            "state: failure",
            "service: s3",
            "stage: post-submit",
            "tier: critical",
            "decision: suppressed",
            "reason: silenced",
            "silence: 0a1b2c3d4e5f",
            'window: {"start_ms":1795587000000,"n":3}',
            'receivers: ["ack-s3"]',
            "decided_at: 2026-11-25T06:10:13.512Z",
            "consumer: consumer-1",
            'extra: {"k":[1,2]}',
        ])
        rc, out, err = self.ctl("explain", "abc:failure", "--json", expect=0)
        self.assertEqual(out.strip(), stored)

        rc, out, err = self.ctl("explain", "nope:failure", expect=1)
        self.assertIn("heraldctl: no decision recorded for nope:failure "
                      "(decisions are kept 14 days of event time", err)
        self.assertEqual(out, "")
        self.ctl("explain", expect=1)


if __name__ == "__main__":
    unittest.main()
