"""End-to-end: herald-producer --deck URL against a Deck test server serving
/prowjobs.js (gzip when asked, the whole list on every poll, changing between polls),
with Redis, the broker, a consumer and herald-slackd."""

import gzip
import json
import re
import os
import sys
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import topic_reader  # noqa: E402
from harness import HeraldTestCase  # noqa: E402
from sources_harness import (LiveProducer, duplicates, published, run, settle,  # noqa: E402
                             wait_metric, wait_published, fixture)


class Deck:
    """Deck's /prowjobs.js: {"items": [...]} from self.items; self.fault is served
    instead when set ("500", "truncated", "garbage")."""

    def __init__(self):
        self.items = []
        self.fault = None
        self.polls = []  # (path, accept-encoding, gzipped)
        deck = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                if u.path != "/prowjobs.js":
                    self.send_error(404)
                    return
                body = json.dumps({"items": deck.items}).encode()
                fault = deck.fault
                if fault == "500":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    deck.polls.append((self.path, "", False))
                    return
                if fault == "truncated":
                    body = body[:len(body) // 2]
                elif fault == "garbage":
                    body = b"<html>Bad gateway</html>"
                gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
                if gz:
                    body = gzip.compress(body)
                deck.polls.append((self.path, self.headers.get("Accept-Encoding") or "", gz))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if gz:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@unittest.skipIf(topic_reader.KCAT is None, "kcat is not installed (make deps)")
class DeckTest(HeraldTestCase):

    def start_deck(self):
        d = Deck()
        self.addCleanup(d.stop)
        return d

    def test_state_changes_between_polls_alert_once(self):
        t = harness.base_time()
        deck = self.start_deck()
        pj = run("s3-post-submit", "s3-controller", "pending", t)
        name = pj["metadata"]["name"]
        deck.items = [pj, fixture("docs_presubmit.json")]
        self.start_consumer()
        p = LiveProducer(self, ["--deck", deck.url, "--interval", "300ms"])
        wait_published(self, name, "pending", procs=[p])
        n = len(deck.polls)
        harness.wait_until(lambda: len(deck.polls) >= n + 5, 30, what="five more polls")
        self.assertEqual(len(published(self)), 2, "unchanged polls published something")
        deck.items = [run("s3-post-submit", "s3-controller", "failure", t),
                      fixture("docs_presubmit.json")]
        msgs = self.wait_for(1, "releases", 30)
        self.assert_quiet(1)
        settle()
        evs = published(self)
        self.assertEqual(duplicates(evs), [])
        self.assertEqual(sorted(e["state"] for e in evs), ["failure", "pending", "triggered"])
        path, enc, gz = deck.polls[-1]
        self.assertIn("omit=decoration_config,pod_spec", path)
        self.assertNotIn("annotations", path)
        self.assertTrue(gz, "Deck's answer should be asked for gzipped (%r)" % enc)
        self.assertGreaterEqual(p.metrics().sum("herald_producer_deck_polls_total"), 7)
        sys.stderr.write("\n  [deck] polls=%d published=%d alerts=%d\n" % (
            len(deck.polls), len(evs), len(msgs)))

    def test_bad_responses_are_counted_and_polling_goes_on(self):
        t = harness.base_time()
        deck = self.start_deck()
        deck.fault = "500"
        p = LiveProducer(self, ["--deck", deck.url, "--interval", "200ms"])
        wait_metric(p, "herald_producer_deck_errors_total", 1)
        deck.fault = "truncated"
        deck.items = [run("a-post-submit", "a-controller", "success", t, seq=i)
                      for i in range(4)]
        wait_metric(p, "herald_producer_rejected_total", 1, source="deck")
        deck.fault = "garbage"
        # (a poll in flight when the fault changed may be rejected as truncated again:
        # wait for the garbage's own rejection, not for a count)
        malformed = r"rejected deck 127\.0\.0\.1:\d+.*malformed JSON"
        harness.wait_until(lambda: re.search(malformed, p.stderr()), 30,
                           what="the garbage answer rejected")
        self.assertRegex(p.stderr(), r"deck 127\.0\.0\.1:\d+: HTTP 500")
        self.assertRegex(p.stderr(), r"rejected deck 127\.0\.0\.1:\d+.*truncated")
        # a ProwJob without a status in a good answer: rejected by name, the rest published
        deck.fault = None
        bad = fixture("prow_integration_periodic.json")
        deck.items = deck.items + [bad]
        harness.wait_until(lambda: len(published(self)) >= 4, 30, what="the good answer")
        harness.wait_until(lambda: re.search(r"rejected deck 127\.0\.0\.1:\d+ test-job2: "
                                             r"status\.state", p.stderr()), 30,
                           what="the ProwJob without a status rejected by name")
        self.assertTrue(p.proc.alive())

    def test_heartbeat_watermarks_of_a_live_source(self):
        deck = self.start_deck()
        p = LiveProducer(self, ["--deck", deck.url, "--interval", "1s", "--lateness", "5s"])
        time.sleep(3.0)
        now = int(time.time() * 1000)
        recs = topic_reader.read_topic(self.broker.bootstrap, "herald.events", 4)
        for part, rs in recs.items():
            wms = [r["wm"] for r in rs if "wm" in r]
            self.assertGreaterEqual(len(wms), 2, "partition %d: %s" % (part, wms))
            self.assertTrue(all(w["source"] == "deck:" + deck.url[7:] for w in wms), wms)
            self.assertFalse(any(w["final"] for w in wms))
            # now - lateness; a loaded machine delays records, hence the slack
            self.assertLessEqual(wms[-1]["watermark_ms"], int(time.time() * 1000) - 5000 + 500)
            self.assertGreater(wms[-1]["watermark_ms"], now - 5000 - 15000)
        p.stop()
        # a live source stops without a final record: a restart goes on with it
        recs = topic_reader.read_topic(self.broker.bootstrap, "herald.events", 4)
        self.assertFalse(any(r["wm"]["final"] for rs in recs.values() for r in rs if "wm" in r))


if __name__ == "__main__":
    unittest.main()
