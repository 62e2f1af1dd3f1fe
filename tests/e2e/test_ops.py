"""End-to-end tests of what operators rely on: /metrics moving with the traffic,
/readyz following Redis, a Redis outage held (fail closed) and resumed without loss,
--check-config explaining errors by line, secrets kept out of logs.

Same real parts as test_pipeline.py: redis-server, herald-devbroker, herald-slackd
and the real binaries on 127.0.0.1.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HeraldTestCase, Process, wait_until  # noqa: E402


run = harness.finished_run


def port_open(port):
    """true once something accepts TCP connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def start_redis(logs, port, name):
    """redis-server on a given port (so it can be restarted on the same one)."""
    p = Process(name, [harness.REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no", "--daemonize", "no"], logs)

    def ping():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False
    wait_until(ping, 10, what="redis on %d" % port)
    return p


class OpsTest(HeraldTestCase):

    def readyz(self, consumer):
        try:
            st, body = consumer.get("/readyz")
            return st, body.decode()
        except OSError as e:
            return 0, str(e)

    def test_metrics_move_and_readyz_follows_redis(self):
        port = harness.free_port()
        redis = start_redis(self.logs, port, "redis-own")
        self.addCleanup(lambda: redis.stop())
        cfg = self.config()
        cfg["redis"]["port"] = port
        c = self.start_consumer(cfg)
        c.wait_assigned()
        self.wait_until(lambda: self.readyz(c)[0] == 200, 15, what="/readyz 200")

        t = int(time.time()) - 3600
        docs = [run("s3-post-submit", "s3-controller", t, seq=1),
                run("ecr-post-submit", "ecr-controller", t + 10, seq=2),
                run("s3-post-submit", "s3-controller", t + 20, seq=3),   # repeat: suppressed
                run("sns-post-submit", "sns-controller", t + 30, state="success", seq=4),
                run("sqs-unit-test", "sqs-controller", t + 40, type="periodic", seq=5)]
        m0 = c.metrics()
        self.assertEqual(m0.sum("herald_alerts_sent_total"), 0)
        self.produce(docs)
        self.wait_for(3)
        self.wait_until(lambda: c.metrics().sum("herald_events_consumed_total") >= 5, 15,
                        what="5 events consumed")
        m = c.metrics()
        self.assertEqual(m.sum("herald_events_consumed_total", state="failure"), 4)
        self.assertEqual(m.sum("herald_events_consumed_total", state="success"), 1)
        self.assertEqual(m.sum("herald_alerts_sent_total"), 3)
        self.assertEqual(m.sum("herald_alerts_sent_total", receiver="releases", tier="critical"), 2)
        self.assertEqual(m.sum("herald_events_suppressed_total", reason="dedup"), 1)
        self.assertEqual(m.sum("herald_detection_latency_seconds_count"), 3)
        # The jobs completed an hour ago: detection latency is about that (MTTD of a
        # replayed event); the pipeline latency is the producer-to-Slack time.
        self.assertGreater(m.sum("herald_detection_latency_seconds_sum"), 3 * 3000)
        self.assertLess(m.sum("herald_pipeline_latency_seconds_sum"), 3 * 30)

        # Redis goes away: not ready, and a new failure is held, not lost.
        redis.stop()
        self.wait_until(lambda: self.readyz(c)[0] == 503, 15, what="/readyz 503")
        self.assertIn("redis", self.readyz(c)[1])
        self.produce([run("kms-post-submit", "kms-controller", t + 50, seq=6)])
        time.sleep(2.0)
        self.assertEqual(len(self.slack.messages()), 3, "alerted without Redis (fail closed)")
        self.assertGreater(c.metrics().sum("herald_redis_errors_total"), 0)

        # Redis is back on the same address: ready again, and the held event alerts.
        redis = start_redis(self.logs, port, "redis-again")
        self.wait_until(lambda: self.readyz(c)[0] == 200, 20, what="/readyz 200 again")
        msgs = self.wait_for(4, timeout=30)
        self.assertIn("kms-post-submit", harness.payload_text(msgs[-1]))
        self.assertTrue(c.proc.alive())

    def test_check_config_names_the_line(self):
        bad = self.logs.file("bad.yaml")
        with open(bad, "w") as f:
            f.write("kafka:\n  brokers: x:9092\n"
                    "dedup:\n  windw: 1h\n"
                    "receivers:\n  - name: a\n    type: webhook\n    url: http://127.0.0.1:1/h\n"
                    "routes:\n  - match: {tier: critical}\n    receivers: [nope]\n")
        p = subprocess.run([harness.binary("herald-consumer"), "--check-config", bad],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("bad.yaml:4: dedup.windw: unknown key", p.stderr)
        self.assertIn('bad.yaml:11: routes[].receivers: no receiver named "nope"', p.stderr)
        env = dict(os.environ, SLACK_ACK_RELEASES_URL="http://127.0.0.1:1/a",
                   SLACK_ACK_CI_URL="http://127.0.0.1:1/b")
        example = os.path.join(harness.REPO, "deploy", "herald.example.yaml")
        p = subprocess.run([harness.binary("herald-consumer"), "--check-config", example],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(": ok", p.stdout)

    def test_webhook_url_never_logged(self):
        secret = "T0SECRET-B0SECRET-XXYYZZ"
        cfg = self.config()
        cfg["receivers"][1]["url"] = self.slack.hook_url("ci-" + secret)
        cfg["delivery"] = {"timeout": "1s", "backoff": "50ms", "backoff_max": "100ms"}
        self.slack.set_fault(channel="ci-*", status=500, count=5)
        c = self.start_consumer(cfg)
        c.wait_assigned()
        t = int(time.time()) - 600
        self.produce([run("label-sync", "s3-controller", t, type="periodic")])
        # Five 500s: retried (never given up: the receiver comes back), then delivered.
        self.wait_for(1, "ci-" + secret, timeout=20)
        logs = c.proc.stderr_text()
        self.assertIn("failed (http_500), attempt 5, retrying in", logs)
        self.assertNotIn(secret, logs)
        self.assertEqual(c.metrics().sum("herald_delivery_retries_total", reason="http_500"), 5)
        self.assertEqual(c.metrics().sum("herald_dead_lettered_total"), 0)

    def test_permanent_refusal_goes_to_fallback_and_dead_letter(self):
        cfg = self.config()
        cfg["receivers"].append({"name": "fallback", "type": "webhook", "channel": "#fallback",
                                 "url": self.slack.hook_url("fallback")})
        cfg["delivery"]["fallback_receiver"] = "fallback"
        self.slack.set_fault(channel="ci", status=404, error="channel_not_found", count=5)
        c = self.start_consumer(cfg)
        c.wait_assigned()
        t = int(time.time()) - 600
        self.produce([run("label-sync", "community", t, type="periodic"),
                      run("s3-post-submit", "s3-controller", t + 5, seq=1)])
        fb = self.wait_for(1, "fallback")
        self.wait_for(1, "releases")       # the healthy route is unaffected
        text = harness.payload_text(fb[0])
        self.assertIn("label-sync", text)
        self.assertIn("Sent to fallback because ci refused it: channel_not_found", text)
        self.wait_until(lambda: c.metrics().sum("herald_dead_lettered_total") >= 1, 10,
                        what="dead-lettered")
        m = c.metrics()
        self.assertEqual(m.sum("herald_delivery_failures_total", receiver="ci",
                               reason="channel_not_found"), 1)
        self.assertEqual(m.sum("herald_dead_lettered_total", reason="undeliverable"), 1)
        self.assertEqual(m.sum("herald_alerts_sent_total", receiver="fallback"), 1)
        self.assertEqual(m.sum("herald_alerts_sent_total", receiver="releases"), 1)
        self.assertEqual(len(self.slack.messages("ci")), 0)

    def test_fail_open_alerts_without_redis_when_configured(self):
        port = harness.free_port()
        redis = start_redis(self.logs, port, "redis-fail-open")
        self.addCleanup(lambda: redis.stop())
        cfg = self.config()
        cfg["redis"]["port"] = port
        cfg["redis"]["on_unavailable"] = "alert"
        c = self.start_consumer(cfg)
        c.wait_assigned()
        redis.stop()
        self.wait_until(lambda: self.readyz(c)[0] == 503, 15, what="/readyz 503")
        t = int(time.time()) - 900
        # Without Redis there is no dedup: the repeat alerts too (that is the trade).
        self.produce([run("s3-post-submit", "s3-controller", t, seq=1),
                      run("s3-post-submit", "s3-controller", t + 60, seq=2),
                      run("ecr-post-submit", "ecr-controller", t + 120, seq=3)])
        self.wait_for(3, timeout=30)
        self.assertGreaterEqual(c.metrics().sum("herald_fail_open_batches_total"), 1)
        self.assertIn("without dedup (fail-open)", c.proc.stderr_text())
        # What went out fail-open is committed: a consumer started after Redis is back
        # does not read it again (the commit once went back to each partition's start,
        # and all three alerted a second time).
        self.assertEqual(c.stop(), 0)
        redis2 = start_redis(self.logs, port, "redis-back")
        self.addCleanup(lambda: redis2.stop())
        c2 = self.start_consumer(cfg, name="consumer-2")
        c2.wait_assigned()
        self.wait_until(lambda: self.readyz(c2)[0] == 200, 15, what="/readyz 200")
        self.assert_quiet(3, quiet=3.0)

    def test_redis_auth_password_from_env(self):
        port = harness.free_port()
        secret = "r3dis-PW-7781"
        p = Process("redis-auth", [harness.REDIS_SERVER, "--port", str(port), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--requirepass", secret], self.logs)
        self.addCleanup(lambda: p.stop())
        wait_until(lambda: port_open(port), 10, what="redis with a password")
        cfg = self.config()
        cfg["redis"] = {"host": "127.0.0.1", "port": port, "key_prefix": self.prefix,
                        "password_env": "HERALD_TEST_REDIS_PW"}
        c = self.start_consumer(cfg, env=dict(os.environ, HERALD_TEST_REDIS_PW=secret))
        c.wait_assigned()
        self.wait_until(lambda: self.readyz(c)[0] == 200, 15, what="/readyz with AUTH")
        self.produce([run("s3-post-submit", "s3-controller", int(time.time()) - 300)])
        self.wait_for(1)
        self.assertNotIn(secret, c.proc.stderr_text())
