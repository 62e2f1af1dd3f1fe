"""End-to-end: herald-producer --watch against a Kubernetes API test server
(kubeapi.py: TLS with a CA the test makes with openssl, bearer tokens or a client
certificate, paginated lists, watch streams, bookmarks, 410 as HTTP status and in the
stream, dropped connections), with a real Redis, the development broker, a consumer
and herald-slackd. Alerts are counted at the Slack receiver; what the producer
published is read back from the topic with kcat.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import kubeapi  # noqa: E402
import topic_reader  # noqa: E402
from harness import HeraldTestCase  # noqa: E402
from sources_harness import (LiveProducer, duplicates, published, run, settle,  # noqa: E402
                             states_of, wait_metric, wait_published, fixture)

WAIT = 30.0


@unittest.skipIf(topic_reader.KCAT is None, "kcat is not installed (make deps)")
class WatchTest(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = kubeapi.make_certs(cls.class_logs.path)

    def start_api(self, **kw):
        kw.setdefault("tokens", {"token-1"})
        api = kubeapi.KubeAPI(self.certs, **kw)
        self.addCleanup(api.stop)
        return api

    def kubeconfig(self, api, **kw):
        if not kw:
            kw = {"token": "token-1"}
        return kubeapi.kubeconfig(self.logs.file("kubeconfig"), api.url, self.certs, **kw)

    def watch(self, api, name="producer", extra=(), **kw):
        return LiveProducer(self, ["--watch", "--kubeconfig", self.kubeconfig(api, **kw)]
                            + list(extra), name=name)

    def report(self, **counts):
        sys.stderr.write("\n  [watch] %s\n" % " ".join("%s=%s" % kv for kv in counts.items()))

    def test_pending_to_failure_alerts_once_and_noise_publishes_nothing(self):
        t = harness.base_time()
        api = self.start_api()
        # the real fixtures: a fresh presubmit, and a ProwJob with no status yet
        api.put(fixture("docs_presubmit.json"))
        api.put(fixture("prow_integration_periodic.json"))
        pj = run("s3-post-submit", "s3-controller", "pending", t)
        name = pj["metadata"]["name"]
        api.put(pj)
        self.start_consumer()
        p = self.watch(api)
        wait_published(self, name, "pending", procs=[p])
        # crier's patches: 20 MODIFIED events that do not change the state
        for i in range(20):
            o = api.get(name)
            o["status"]["prev_report_states"] = {"slackreporter": "pending", "n": str(i)}
            api.put(o)
        wait_metric(p, "herald_producer_unchanged_total", 20, source="watch")
        done = run("s3-post-submit", "s3-controller", "failure", t)
        api.put(done)
        msgs = self.wait_for(1, "releases", WAIT)
        self.assert_quiet(1)
        self.assertIn("s3-post-submit", harness.fields_of(msgs[0]).get("job", ""))
        self.assertEqual(states_of(self, name), ["pending", "failure"])
        evs = published(self)
        self.assertEqual(duplicates(evs), [])
        self.assertEqual(len(evs), 3, [e["id"] for e in evs])  # + the fixture presubmit
        # the ProwJob without a status: named, counted, and the watch went on
        self.assertRegex(p.stderr(), r"rejected watch prow/test-job2: status\.state: missing")
        self.assertEqual(p.metrics().sum("herald_producer_rejected_total", source="watch"), 1)
        self.assertGreaterEqual(p.metrics().sum("herald_producer_events_published_total",
                                                source="watch"), 3)
        self.report(alerts=len(msgs), published=len(evs), unchanged=p.metrics().sum(
            "herald_producer_unchanged_total"))

    def _relist_case(self, http_410):
        t = harness.base_time()
        api = self.start_api(http_410=http_410, page=3)
        names = []
        for i in range(7):  # three pages
            pj = run("job-%d" % i, "s3-controller", "pending", t + i, seq=i)
            names.append(pj["metadata"]["name"])
            api.put(pj)
        p = self.watch(api)
        for n in names:
            wait_published(self, n, "pending", procs=[p])
        self.assertEqual(api.lists, 1)
        if http_410:
            api.gone_next = True  # the watch from the old RV gets HTTP 410
            api.drop_watches()
        else:
            api.error_410_in_stream()
        harness.wait_until(lambda: api.lists >= 2, WAIT, what="a relist after 410")
        api.put(run("job-3", "s3-controller", "failure", t + 3, seq=3))
        wait_published(self, names[3], "failure", procs=[p])
        settle()
        evs = published(self)
        self.assertEqual(duplicates(evs), [], "a relist must not publish again")
        self.assertEqual(len(evs), 8)
        self.assertGreaterEqual(p.metrics().sum("herald_producer_relists_total", reason="gone"), 1)
        self.report(lists=api.lists, watches=api.watches, published=len(evs))

    def test_410_in_stream_relists_and_publishes_nothing_twice(self):
        self._relist_case(http_410=False)

    def test_410_http_status_relists_and_publishes_nothing_twice(self):
        self._relist_case(http_410=True)

    def test_expired_continue_token_lists_again(self):
        t = harness.base_time()
        api = self.start_api(page=2)
        for i in range(5):
            api.put(run("job-%d" % i, "s3-controller", "success", t + i, seq=i))
        api.expire_continue = True
        p = self.watch(api)
        harness.wait_until(lambda: len(published(self)) >= 5, WAIT, what="five events")
        settle()
        self.assertEqual(duplicates(published(self)), [])
        self.assertGreaterEqual(p.metrics().sum("herald_producer_relists_total",
                                                reason="continue_expired"), 1)

    def test_killed_and_restarted_publishes_nothing_twice_misses_nothing(self):
        t = harness.base_time()
        api = self.start_api()
        a = run("a-post-submit", "a-controller", "pending", t, seq=1)
        b = run("b-post-submit", "b-controller", "success", t, seq=2)
        api.put(a)
        api.put(b)
        p = self.watch(api)
        wait_published(self, a["metadata"]["name"], "pending", procs=[p])
        wait_published(self, b["metadata"]["name"], "success", procs=[p])
        # the state is stored once the broker confirmed the event
        harness.wait_until(lambda: len(self.redis.keys(self.prefix + "producer:last:*")) == 2,
                           WAIT, what="both states stored in Redis")
        p.kill()
        # while it is down: a changes, c is created
        api.put(run("a-post-submit", "a-controller", "failure", t, seq=1))
        c = run("c-post-submit", "c-controller", "failure", t, seq=3)
        api.put(c)
        p2 = self.watch(api, name="producer-2")
        wait_published(self, a["metadata"]["name"], "failure", procs=[p2])
        wait_published(self, c["metadata"]["name"], "failure", procs=[p2])
        settle()
        evs = published(self)
        self.assertEqual(duplicates(evs), [], "the restart published again: %s" % duplicates(evs))
        self.assertEqual(sorted(e["id"].split(":")[1] for e in evs),
                         ["failure", "failure", "pending", "success"])
        self.report(published=len(evs), duplicated=len(duplicates(evs)), lost=4 - len(evs))

    def test_two_producers_send_one_alert(self):
        t = harness.base_time()
        api = self.start_api()
        pj = run("lambda-post-submit", "lambda-controller", "pending", t)
        name = pj["metadata"]["name"]
        api.put(pj)
        self.start_consumer()
        p1 = self.watch(api, name="producer-1")
        p2 = self.watch(api, name="producer-2")
        wait_published(self, name, "pending", procs=[p1, p2])
        api.put(run("lambda-post-submit", "lambda-controller", "failure", t))
        msgs = self.wait_for(1, "releases", WAIT)
        msgs = self.assert_quiet(1)
        evs = published(self, name)
        # The replicas claim each state in Redis: one of them publishes it.
        self.assertEqual(sorted(e["id"] for e in evs), [name + ":failure", name + ":pending"])
        self.report(alerts=len(msgs), published=len(evs), duplicated=len(duplicates(evs)))

    def test_token_file_reread_and_client_certificate(self):
        t = harness.base_time()
        api = self.start_api(tokens={"old-token"})
        tok = self.logs.file("token")
        with open(tok, "w") as f:
            f.write("old-token\n")
        pj = run("x-post-submit", "x-controller", "pending", t)
        api.put(pj)
        p = self.watch(api, token_file=tok)
        wait_published(self, pj["metadata"]["name"], "pending", procs=[p])
        # the kubelet rotates the token: the next connection must use the new one
        with open(tok, "w") as f:
            f.write("new-token\n")
        api.tokens = {"new-token"}
        api.drop_watches()
        api.put(run("x-post-submit", "x-controller", "failure", t))
        wait_published(self, pj["metadata"]["name"], "failure", procs=[p])
        self.assertTrue(any(a == "Bearer new-token" for _, _, a in api.requests))
        # a kubeconfig with a client certificate and no token
        api2 = self.start_api(tokens=set())
        q = run("y-post-submit", "y-controller", "success", t, seq=5)
        api2.put(q)
        p2 = self.watch(api2, name="producer-cert", client_cert=True)
        wait_published(self, q["metadata"]["name"], "success", procs=[p2])

    def test_forbidden_and_dropped_connections(self):
        t = harness.base_time()
        api = self.start_api()
        # a namespace the credentials cannot read: a plain error, counted, retried
        p = self.watch(api, name="producer-forbidden", extra=["--namespace", "other"])
        wait_metric(p, "herald_producer_watch_errors_total", 1)
        self.assertRegex(p.stderr(), r"HTTP 403 .*need get, list and watch on prowjobs in "
                                     r"namespace other")
        self.assertTrue(p.proc.alive())
        p.stop()
        # dropped connections: the watch comes back and misses nothing
        pj = run("z-post-submit", "z-controller", "pending", t)
        api.put(pj)
        p2 = self.watch(api, name="producer-2")
        wait_published(self, pj["metadata"]["name"], "pending", procs=[p2])
        lists = api.lists
        for _ in range(3):
            api.drop_watches()
            time.sleep(0.3)
        api.put(run("z-post-submit", "z-controller", "failure", t))
        wait_published(self, pj["metadata"]["name"], "failure", procs=[p2])
        self.assertEqual(api.lists, lists, "a dropped connection is watched again, not relisted")
        self.assertEqual(duplicates(published(self)), [])

    def test_bookmarks_keep_the_resource_version_fresh(self):
        t = harness.base_time()
        api = self.start_api(bookmark_every=0.3)
        pj = run("b-post-submit", "b-controller", "pending", t)
        api.put(pj)
        other = run("o-post-submit", "o-controller", "success", t, seq=9)
        p = self.watch(api, extra=["--selector", "created-by-prow=true"])
        wait_published(self, pj["metadata"]["name"], "pending", procs=[p])
        # a change the producer's selector does not see, then the history is gone
        api.put(dict(other, metadata=dict(other["metadata"], labels={"x": "y"})))
        time.sleep(1.0)  # bookmarks carry the newer resourceVersion
        api.compact()
        api.drop_watches()
        api.put(run("b-post-submit", "b-controller", "failure", t))
        wait_published(self, pj["metadata"]["name"], "failure", procs=[p])
        self.assertEqual(api.lists, 1, "a bookmark's resourceVersion needs no relist")


if __name__ == "__main__":
    unittest.main()
