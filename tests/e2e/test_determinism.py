"""test_determinism.py -- the same history gives the same alerts (issue "Same history,
same alerts"): a generated month of ACK history (tools/gen-month.py, about 5,000
ProwJobs, 10 incidents) through the live pipeline -- the real producer, the
development broker, 1 to 3 consumers, herald-slackd as Slack -- at full speed and
paced, and through herald-backtest, must give the identical set of messages (channel,
alert, kind, incident, text; not timestamps). On the Web API an incident's message is
edited as services join and recover: edits are coalesced by delivery, so for them the
last state of each edited message is compared.

The acceptance of the month is checked on the way: every incident alerted in its
channel with service, stage, version and link; at most 2 messages per incident plus
one recovery; no presubmit or pending event alerting; no false stall.

HERALD_DETERMINISM_FULL=1 runs the whole matrix (speed 0, two paced speeds, 1, 2 and 3
consumers, 5 repeats each) and prints the figures docs/rules.md gives.
"""

import collections
import json
import os
import subprocess
import sys
import time

import harness

FULL = os.environ.get("HERALD_DETERMINISM_FULL", "") not in ("", "0")
MONTH_S = 30 * 86400


def ack_config(slack, **kw):
    """ACK's config (deploy/herald.ack.yaml) pointed at herald-slackd."""
    api = slack.api_url()
    rcv = lambda name, ch: {"name": name, "type": "webapi", "url": api,  # noqa: E731
                            "token": slack.TOKEN, "channel": ch}
    c = {"receivers": [rcv("ack", "#ack-{service}"), rcv("releases", "#ack-releases"),
                       rcv("infra", "#ack-infra")],
         "ecosystem": {"receiver": "releases"},
         "routes": [{"match": {"type": ["presubmit", "batch"]}, "drop": True},
                    {"match": {"type": "periodic"}, "receivers": ["infra"], "continue": False},
                    {"match": {"tier": "critical"}, "receivers": ["ack"], "continue": False}],
         "default_receiver": "infra",
         "storm": {"rate": 20, "burst": 20},
         "delivery": {"timeout": "5s", "backoff": "100ms", "backoff_max": "1s"}}
    c.update(kw)
    return c


def normalize(msgs):
    """{key: value} of what was said: posted messages by (channel, alert id) -> (kind,
    incident, text); edited messages by (channel, incident) -> the last edit."""
    out = {}
    for m in msgs:
        key = ("post", m["channel"], m["alert_id"]) if m["thread"] != "update" else \
              ("edit", m["channel"], m["incident"])
        if key[0] == "post":
            out[key] = (m["kind"], m["incident"], m["text"])
        elif key not in out or out[key][0] < m["alert_id"]:
            out[key] = (m["alert_id"], m["kind"], m["text"])
    return out


def from_slackd(records):
    """slackd's records as the fields normalize() reads (metadata names the alert)."""
    out = []
    for r in records:
        p = r.get("payload", {})
        md = (p.get("metadata") or {}).get("event_payload") or {}
        out.append({"channel": p.get("channel") or r["channel"], "alert_id": md.get("alert_id"),
                    "kind": md.get("kind"), "incident": md.get("incident"),
                    "text": p.get("text"),
                    "thread": "update" if r.get("api") == "webapi-update" else "post"})
    return out


class DeterminismTest(harness.HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.month = cls.class_logs.file("month.ndjson")
        cls.expect_path = cls.class_logs.file("incidents.json")
        subprocess.run([sys.executable, os.path.join(harness.TOOLS, "gen-month.py"),
                        "--out", cls.month, "--expect", cls.expect_path], check=True,
                       capture_output=True, timeout=120)
        with open(cls.expect_path) as f:
            cls.expect = json.load(f)

    def backtest(self, cfg):
        path = self.logs.file("ack.yaml")
        with open(path, "w") as f:
            f.write(harness.to_yaml(cfg))
        out = self.logs.file("bt-messages.ndjson")
        p = subprocess.run([harness.binary("herald-backtest"), "-c", path, "--messages", out,
                            self.month], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(out) as f:
            msgs = [json.loads(x) for x in f if x.strip()]
        for m in msgs:
            m["channel"] = m["dest"]
        return msgs, p.stdout

    def live(self, cfg, speed, consumers, tag):
        """One live run on a fresh broker, group and key prefix; returns slackd's
        records once they match `want` or stop changing."""
        self.slack.clear()
        broker = self.start_broker(name="devbroker-" + tag)
        base = harness.consumer_config(broker, self.redis, self.slack, self.group + tag,
                                       self.prefix + tag + ":")
        cs = [self.start_consumer(dict(cfg, kafka=base["kafka"], redis=base["redis"],
                                       http={"listen": "127.0.0.1:%d" % harness.free_port()}),
                                  name="consumer-%s-%d" % (tag, i))
              for i in range(consumers)]
        for c in cs:
            c.wait_assigned(30)
        t0 = time.monotonic()
        rc, out, err = harness.run_producer(self.logs, broker.bootstrap, path=self.month,
                                            speed=speed, timeout=MONTH_S / max(speed, 1) + 120)
        self.assertEqual(rc, 0, out + err)
        return cs, t0

    def collect(self, want, cs, timeout=90):
        deadline = time.monotonic() + timeout
        last, got, stable = None, {}, 0
        while time.monotonic() < deadline:
            harness.check_alive([c for c in cs])
            got = normalize(from_slackd(self.slack.messages()))
            if got == want:
                return got
            stable = stable + 1 if got == last else 0
            if stable > 50 and len(got) >= len(want):  # 5 s without change
                return got
            last = got
            time.sleep(0.1)
        return got

    def assert_same(self, want, got, what):
        if got == want:
            return
        missing = sorted(set(want) - set(got))[:10]
        extra = sorted(set(got) - set(want))[:10]
        differ = sorted(k for k in want if k in got and got[k] != want[k])[:10]
        self.fail("%s: not the backtest's messages\nmissing %s\nextra %s\ndiffer %s"
                  % (what, missing, [(k, got[k]) for k in extra],
                     [(k, want[k], got[k]) for k in differ]))

    def check_acceptance(self, msgs):
        """The month's incidents, as a maintainer must hear of them."""
        by_inc = collections.defaultdict(list)
        for m in msgs:
            by_inc[m["incident"]].append(m)
        lines = []
        for e in self.expect:
            key = e["incident"]
            got = [m for k, ms in by_inc.items() if k.startswith(key) for m in ms]
            self.assertTrue(got, "incident %s: no message" % key)
            posts = [m for m in got if m["thread"] != "update"]
            firsts = [m for m in posts if m["kind"] in ("failure", "ecosystem", "stalled")]
            self.assertTrue(firsts, "incident %s: no alert, only %s" % (key, posts))
            first = firsts[0]
            self.assertEqual(first["dest"], e["channel"], key)
            if e["level"] == "ecosystem":
                last = [m for m in got if m["kind"].startswith("ecosystem")][-1]
                self.assertEqual(sorted(last["services"]), e["services"], key)
            else:
                self.assertEqual(first["service"], e["service"], key)
                self.assertEqual(first["stage"], e["stage"], key)
                if e.get("version"):
                    self.assertEqual(first["version"], e["version"], key)
                if e["level"] != "stalled":
                    self.assertTrue(first["url"], "%s: no link" % key)
            recoveries = [m for m in posts if m["kind"] in ("recovered", "ecosystem-recovered")]
            reminders = [m for m in posts if m["kind"] == "reminder"]
            others = [m for m in posts if m not in recoveries and m not in reminders]
            self.assertLessEqual(len(others), 2, "%s: %s" % (key, [m["kind"] for m in others]))
            self.assertLessEqual(len(recoveries), 1, key)
            # reminders back off: a daily job failing five days gets at most two
            self.assertLessEqual(len(reminders), 2, key)
            lines.append("%-58s %-9s %s" % (key, e["level"], " ".join(m["kind"] for m in posts)))
        expected = [e["incident"] for e in self.expect]
        stray = [m for m in msgs if not any(m["incident"].startswith(k) for k in expected)]
        self.assertEqual(stray, [], "messages for no incident (presubmits, pending runs, "
                                    "false stalls)")
        return lines

    def test_same_history_same_alerts(self):
        cfg = ack_config(self.slack)
        bt, table = self.backtest(cfg)
        lines = self.check_acceptance(bt)
        want = normalize(bt)
        posts = sum(1 for k in want if k[0] == "post")
        sys.stderr.write("\ndeterminism: backtest %d messages (%d posted, %d edited), %d "
                         "incidents:\n  %s\n%s\n" % (len(bt), posts, len(want) - posts,
                                                     len(self.expect), "\n  ".join(lines),
                                                     table))
        runs = [(0, 1), (0, 2), (0, 3), (200000, 2), (0, 2)]
        if FULL:
            runs = [(s, n) for s in (0, 500000, 100000) for n in (1, 2, 3) for _ in range(5)]
        for i, (speed, n) in enumerate(runs):
            cs, t0 = self.live(cfg, speed, n, "r%d" % i)
            got = self.collect(want, cs)
            took = time.monotonic() - t0
            sys.stderr.write("determinism: run %d speed %s consumers %d: %d of %d alike in "
                             "%.1f s\n" % (i, speed, n, sum(1 for k in want if got.get(k) ==
                                                            want[k]), len(want), took))
            self.assert_same(want, got, "run %d (speed %s, %d consumers)" % (i, speed, n))
            for c in cs:
                c.stop()


if __name__ == "__main__":
    import unittest
    unittest.main()
