"""End-to-end: the Redis trust boundary of docs/reliability.md ("Who can silence").

Anyone who can write Herald's Redis keys can silence everything, so the page gives
Redis ACL lines: the consumers as the `default` user (Herald's keys, no dangerous
commands), `herald-operator` (may add and expire silences, nothing else) and
`herald-readonly` (dashboards: may only read). This test reads those lines from the
page itself, starts a real redis-server with them, and checks that they do what the
page says with the real binaries:

- a consumer (password only: the default user) alerts and honours a silence;
- heraldctl --user herald-operator adds that silence; the operator cannot write job
  state, directly or from a script;
- heraldctl --user herald-readonly lists silences but cannot add or expire one, and
  raw writes are refused;
- the default user cannot touch keys outside herald:* or run FLUSHALL / KEYS / CONFIG.

Run from the repository root:
    HERALD_BIN=bin python3 -m unittest tests/e2e/test_redis_acl.py -v
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import fields_of  # noqa: E402

DOC = os.path.join(harness.REPO, "docs", "reliability.md")
PASSWORDS = {"CONSUMER-PASSWORD": "consumer-pw-1", "OPERATOR-PASSWORD": "operator-pw-2",
             "DASHBOARD-PASSWORD": "dashboard-pw-3"}
WAIT = 30.0


def acl_lines():
    """The `user ...` lines of the page's ACL block, with test passwords."""
    text = open(DOC, encoding="utf-8").read()
    lines = [l for l in text.splitlines() if re.match(r"^user \S+ on ", l)]
    out = []
    for l in lines:
        for placeholder, pw in PASSWORDS.items():
            l = l.replace(">" + placeholder, ">" + pw)
        out.append(l)
    return out


class AclRedis:
    """redis-server on a free loopback port with the page's ACL lines."""

    def __init__(self, logdir):
        self.host = "127.0.0.1"
        last = None
        for _ in range(5):
            self.port = harness.free_port()
            conf = logdir.file("redis-acl.conf")
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\n"
                        "protected-mode yes\nlogfile \"\"\n" % self.port)
                f.write("\n".join(acl_lines()) + "\n")
            self.proc = harness.Process("redis-acl", [harness.REDIS_SERVER, conf], logdir)
            try:
                harness.wait_until(self.ready, harness.START_TIMEOUT, what="redis with ACLs")
                return
            except harness.HarnessError as e:
                last = e
                self.proc.stop()
        raise harness.HarnessError("could not start redis-server with ACLs: %s" % last)

    def ready(self):
        if not self.proc.alive():
            raise harness.ProcessDied("redis-server exited")
        try:
            return self.command("default", PASSWORDS["CONSUMER-PASSWORD"], "PING") == "PONG"
        except OSError:
            return False

    def command(self, user, password, *args):
        """One command after AUTH user password; an error reply comes back as its
        text ("redis error: NOPERM ...")."""
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(harness._resp_encode(("AUTH", user, password)) +
                      harness._resp_encode(args))
            r = harness._RespReader(s)
            auth = r.read()
            if auth != "OK":
                raise AssertionError("AUTH %s: %r" % (user, auth))
            try:
                return r.read()
            except harness.HarnessError as e:  # an error reply
                return str(e)

    def stop(self):
        return self.proc.stop()


def is_refused(reply):
    text = reply if isinstance(reply, str) else repr(reply)
    return "NOPERM" in text or "can't access" in text or "can't run" in text


class RedisAclTest(harness.HeraldTestCase):
    """HeraldTestCase's own Redis is not used: this one has the ACLs."""

    def setUp(self):
        super().setUp()
        self.assertEqual(len(acl_lines()), 3, "docs/reliability.md should give 3 ACL lines")
        self.acl = AclRedis(self.logs)
        self.addCleanup(self.acl.stop)
        self.prefix = "herald:"  # the page's patterns; this Redis is the test's own

    def ctl(self, user, pw_key, *args):
        argv = [harness.binary("heraldctl"), "-r", "%s:%d" % (self.acl.host, self.acl.port),
                "--prefix", self.prefix, "--password-env", "HERALD_TEST_PW"]
        if user:
            argv[1:1] = ["--user", user]
        argv += list(args)
        env = dict(os.environ, HERALD_TEST_PW=PASSWORDS[pw_key])
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
        with open(self.logs.file("heraldctl-%s.log" % (user or "default")), "a") as f:
            f.write("$ %s\n-> %d\n%s%s\n" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
        return p.returncode, p.stdout, p.stderr

    def test_documented_acls(self):
        cfg = self.config()
        cfg["redis"] = {"host": self.acl.host, "port": self.acl.port,
                        "key_prefix": self.prefix,
                        "password": PASSWORDS["CONSUMER-PASSWORD"]}
        consumer = self.start_consumer(cfg)
        t = harness.base_time()

        # The consumer, as the default user, decides and alerts.
        self.produce([harness.finished_run("lambda-post-submit", "lambda-controller", t)])
        self.wait_for(1, "releases", WAIT)

        # The operator silences s3; the consumer honours it and counts it.
        rc, out, err = self.ctl("herald-operator", "OPERATOR-PASSWORD", "silence", "add",
                                "--match", "service=s3", "--for", "1h",
                                "--reason", "s3 maintenance", "--by", "ops")
        self.assertEqual(rc, 0, err)
        sid = out.strip()
        time.sleep(1.5)  # consumers reload silences about once a second
        self.produce([harness.finished_run("s3-post-submit", "s3-controller", t + 60, seq=1),
                      harness.finished_run("ec2-post-submit", "ec2-controller", t + 120,
                                           seq=2)])
        msgs = self.wait_for(2, "releases", WAIT)
        msgs = self.assert_quiet(2, "releases")
        jobs = sorted(fields_of(m).get("job") for m in msgs)
        self.assertEqual(jobs, ["ec2-post-submit", "lambda-post-submit"])
        self.wait_until(lambda: self.matched(sid) == 1, WAIT, what="silence matched 1")

        # The read-only user sees it, with where it came from, and can change nothing.
        rc, out, err = self.ctl("herald-readonly", "DASHBOARD-PASSWORD", "silence", "list",
                                "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out.splitlines()[0])
        self.assertEqual((doc["id"], doc["created_by"], doc["matched"]), (sid, "ops", 1))
        self.assertEqual(doc["origin_host"], socket.gethostname())
        refused = 0
        for args in (("silence", "add", "--match", "service=*", "--for", "1h", "--reason",
                      "all quiet"), ("silence", "expire", sid)):
            rc, out, err = self.ctl("herald-readonly", "DASHBOARD-PASSWORD", *args)
            self.assertNotEqual(rc, 0, "read-only user could run %s" % (args,))
            self.assertIn("Redis ACL", err)
            refused += 1
        rc, out, err = self.ctl("herald-readonly", "DASHBOARD-PASSWORD", "silence", "list")
        self.assertEqual(len(out.strip().splitlines()), 2, out)  # header + the one silence

        # Raw commands: each user only what the page says.
        jobkey = self.prefix + "job:aws-controllers-k8s/x/y"
        checks = [
            ("herald-operator", "OPERATOR-PASSWORD", ("HSET", jobkey, "state", "ok")),
            ("herald-operator", "OPERATOR-PASSWORD",
             ("EVAL", "return redis.call('HSET', KEYS[1], 'a', '1')", "1", jobkey)),
            ("herald-operator", "OPERATOR-PASSWORD", ("DEL", self.prefix + "silence:" + sid)),
            ("herald-readonly", "DASHBOARD-PASSWORD", ("HSET", self.prefix + "silence:" + sid,
                                                       "ends_ms", "0")),
            ("herald-readonly", "DASHBOARD-PASSWORD",
             ("EVAL", "return redis.call('DEL', KEYS[1])", "1", self.prefix + "silences")),
            ("default", "CONSUMER-PASSWORD", ("SET", "not-herald", "1")),
            ("default", "CONSUMER-PASSWORD", ("FLUSHALL",)),
            ("default", "CONSUMER-PASSWORD", ("KEYS", "*")),
            ("default", "CONSUMER-PASSWORD", ("CONFIG", "GET", "requirepass")),
        ]
        for user, pw, cmd in checks:
            reply = self.acl.command(user, PASSWORDS[pw], *cmd)
            self.assertTrue(is_refused(reply), "%s could run %s: %r" % (user, cmd, reply))
            refused += 1
        # ... and what they need still works.
        self.assertEqual(self.acl.command("herald-readonly", PASSWORDS["DASHBOARD-PASSWORD"],
                                          "ZCARD", self.prefix + "silences"), 1)
        self.assertEqual(self.acl.command("herald-operator", PASSWORDS["OPERATOR-PASSWORD"],
                                          "EXISTS", self.prefix + "silence:" + sid), 1)
        rc, out, err = self.ctl("herald-operator", "OPERATOR-PASSWORD", "silence", "expire", sid)
        self.assertEqual(rc, 0, err)
        self.assertTrue(consumer.proc.alive())
        print("\n  ACLs from docs/reliability.md: 2 alerts delivered, 1 silenced, "
              "%d forbidden operations refused" % refused)

    def matched(self, sid):
        v = self.acl.command("herald-readonly", PASSWORDS["DASHBOARD-PASSWORD"], "HGET",
                             self.prefix + "silence:" + sid, "matched")
        return int(v) if v else 0


if __name__ == "__main__":
    unittest.main()
