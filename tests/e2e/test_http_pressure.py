"""End-to-end: a consumer's /healthz, /readyz and /metrics answer under connection
pressure (issue 11 item 12: with 64 idle connections open, /healthz timed out, so a
port scan or a stuck scraper would have Kubernetes restart every consumer in a loop).

The consumer runs for real (redis-server, herald-devbroker, herald-slackd); the test
opens, from 127.0.0.1 like the probes:
  - more idle connections than the server keeps (common/httpd.h, HTTPD_MAX_CONNS),
  - half-sent requests, some trickling a byte every 100 ms (slowloris),
  - /metrics requests whose answer is never read,
  - a burst of connect-and-close (a port scan),
and checks that every health, readiness and metrics request answers within a bound
(the probes' timeout), then that the consumer still alerts. The figures are printed.

Run from the repository root:
    HERALD_BIN=bin python3 -m unittest tests/e2e/test_http_pressure.py -v
"""

import os
import resource
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HeraldTestCase  # noqa: E402

IDLE = 300            # idle connections (more than the server's 256)
HALF = 40             # requests sent up to the middle of their headers, then silence
TRICKLE = 20          # requests sent one byte every 100 ms
UNREAD = 10           # /metrics asked for and never read
SCAN = 500            # connect-and-close
ROUNDS = 10           # health, readiness and metrics checks under pressure
BOUND = 2.0           # seconds: a Kubernetes probe's timeout is 1 s by default


def raw_get(port, path, timeout):
    """GET path on a fresh connection; returns (status, seconds). status is None if
    nothing came back within the timeout or the connection was closed."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(("GET %s HTTP/1.1\r\nHost: probe\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None, time.monotonic() - t0
    finally:
        s.close()
    head = data.split(b"\r\n", 1)[0].split()
    status = int(head[1]) if len(head) >= 2 and head[1].isdigit() else None
    return status, time.monotonic() - t0


class HealthUnderPressureTest(HeraldTestCase):

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = IDLE + HALF + TRICKLE + UNREAD + 256
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        self.socks = []
        self.stop_trickle = threading.Event()
        self.addCleanup(self.close_all)

    def close_all(self):
        self.stop_trickle.set()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []

    def connect(self, port, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        self.socks.append(s)
        return s

    def trickle(self, socks):
        msg = b"GET /healthz HTTP/1.1\r\nHost: slowloris\r\nX-Padding: " + b"a" * 4000
        i = 0
        while not self.stop_trickle.is_set():
            for s in socks:
                try:
                    s.send(msg[i % len(msg):i % len(msg) + 1])
                except OSError:
                    pass
            i += 1
            self.stop_trickle.wait(0.1)

    def test_health_answers_under_connection_pressure(self):
        consumer = self.start_consumer()
        consumer.wait_assigned()
        port = int(consumer.http.rsplit(":", 1)[1])
        self.assertEqual(raw_get(port, "/healthz", BOUND)[0], 200)

        for _ in range(IDLE):
            self.connect(port)
        for _ in range(HALF):
            self.connect(port).sendall(b"GET /metrics HTTP/1.1\r\nHost: half")
        slow = [self.connect(port) for _ in range(TRICKLE)]
        threading.Thread(target=self.trickle, args=(slow,), daemon=True).start()
        for _ in range(UNREAD):
            self.connect(port, rcvbuf=4096).sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        for _ in range(SCAN):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.close()
        time.sleep(0.3)

        worst, answered, asked = 0.0, 0, 0
        for _ in range(ROUNDS):
            for path, want in (("/healthz", 200), ("/readyz", 200), ("/metrics", 200)):
                asked += 1
                status, secs = raw_get(port, path, BOUND)
                worst = max(worst, secs)
                self.assertEqual(status, want, "%s under pressure: %s after %.2fs"
                                 % (path, status, secs))
                self.assertLess(secs, BOUND, path)
                answered += 1
            # a few more idle connections every round: the pressure goes on
            for _ in range(20):
                self.connect(port)
        print("\n  under %d idle + %d half-sent + %d trickling + %d unread + %d scans: "
              "%d/%d answered, slowest %.3f s (bound %.1f s)"
              % (IDLE, HALF, TRICKLE, UNREAD, SCAN, answered, asked, worst, BOUND))

        # The consumer still does its job meanwhile.
        t = harness.base_time()
        self.produce([harness.finished_run("lambda-post-submit", "lambda-controller", t)])
        self.wait_for(1, "releases", 30.0)
        self.assertTrue(consumer.proc.alive())
        self.close_all()
        self.assertEqual(raw_get(port, "/healthz", BOUND)[0], 200)


if __name__ == "__main__":
    unittest.main()
