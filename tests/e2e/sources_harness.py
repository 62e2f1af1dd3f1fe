"""sources_harness.py -- helpers for the tests of herald-producer's live and bucket
sources (test_watch.py, test_deck.py, test_bucket.py): a long-running producer with
its config, its metrics, and what it published as read back with kcat."""

import os
import re
import signal
import time

import harness
import topic_reader


def producer_config(test, **extra):
    """The consumer's config (kafka and redis sections are what the producer reads),
    written to the test's log dir; returns the path."""
    cfg = test.config(**extra)
    path = test.logs.file("producer.yaml")
    with open(path, "w") as f:
        f.write(harness.to_yaml(cfg))
    return path


class LiveProducer:
    """herald-producer with a live source (--watch, --deck), stopped by the test."""

    def __init__(self, test, args, name="producer", env=None):
        self.test = test
        argv = [harness.binary("herald-producer"), "-b", test.broker.bootstrap, "-c",
                producer_config(test), "--metrics-listen", "127.0.0.1:0"] + list(args)
        self.proc = harness.Process(name, argv, test.logs, env=env)
        test.addCleanup(self.proc.stop)
        m = self.proc.wait_line(r"metrics on \S+ \(port (\d+)\)", stream="stderr")
        self.metrics_url = "http://127.0.0.1:%s/metrics" % m.group(1)

    def metrics(self):
        st, body = harness.http("GET", self.metrics_url)
        if st != 200:
            raise harness.HarnessError("producer /metrics: HTTP %s" % st)
        return harness.parse_metrics(body.decode())

    def stderr(self):
        return self.proc.stderr_text()

    def kill(self):
        return self.proc.stop(signal.SIGKILL)

    def stop(self):
        return self.proc.stop()


def published(test, name=None):
    """Every event on the topic (read back with kcat), or those of one ProwJob name."""
    recs = topic_reader.read_topic(test.broker.bootstrap, "herald.events", 4)
    evs = [r["event"] for rs in recs.values() for r in rs if r.get("event")]
    return [e for e in evs if name is None or e.get("prowjob") == name]


def states_of(test, name):
    return [e["state"] for e in published(test, name)]


def wait_published(test, name, state, timeout=30.0, procs=()):
    """Wait until an event name:state is on the topic; returns every event then."""
    def ok():
        harness.check_alive([p.proc for p in procs])
        evs = published(test)
        return evs if any(e.get("prowjob") == name and e["state"] == state for e in evs) \
            else None
    return harness.wait_until(ok, timeout, interval=0.3,
                              what="%s:%s on the topic" % (name, state))


def duplicates(events):
    """Event ids that appear more than once."""
    seen, dup = set(), []
    for e in events:
        if e["id"] in seen:
            dup.append(e["id"])
        seen.add(e["id"])
    return dup


def run(job, repo, state, t, seq=0, type="postsubmit"):
    """One state of one run of job (the same ProwJob name for every state of it)."""
    import prowjob
    start = t - 600
    bid = prowjob.snowflake_build_id(start, seq=seq)
    final = state in prowjob.FINAL_STATES
    kw = {}
    if type in ("presubmit", "batch"):
        kw["pulls"] = [{"number": 100 + seq, "author": "octocat", "title": "Change"}]
    return prowjob.make_prowjob(job, type, prowjob.ORG, repo, state, start=start,
                                completion=t if final else None, build_id=bid, **kw)


def wait_metric(proc, name, at_least, timeout=30.0, **labels):
    return harness.wait_until(lambda: proc.metrics().sum(name, **labels) >= at_least, timeout,
                              interval=0.2, what="%s >= %s" % (name, at_least))


def stderr_matches(proc, regex):
    return re.search(regex, proc.stderr(), re.M)


def settle(seconds=1.5):
    """Let a producer act on what it read (a negative check needs a moment)."""
    time.sleep(seconds)


def fixture(name):
    import json
    with open(os.path.join(harness.REPO, "tests", "fixtures", "prowjobs", name)) as f:
        return json.load(f)
