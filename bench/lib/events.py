"""events.py -- the bench's input: ProwJob histories like ACK's, built with tools/prowjob.py.

Python 3 standard library only. Everything is a pure function of the arguments (and the
seed), so two bench runs, or two commits, read the same bytes.

A history has `n` finished runs, one every `spacing` seconds of event time, ending at
`end` (epoch s). Runs belong to job identities (what Herald tracks one state for: a job,
and for presubmits one per pull request):

- `healthy` identities only ever succeed: these are the 95 % that cannot change
  anything (a success of a job with no failure, hold or open incident);
- `failing` identities only ever fail (presubmits on their own PRs, so no release
  level): they alert once, then repeat inside the dedup window, with a reminder
  after it.

`fail_every` puts one failure after every fail_every - 1 successes (20 -> 5 %).
"""

import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import prowjob  # noqa: E402  (tools/prowjob.py)

JOBS_FILE = os.path.join(REPO, "tests", "fixtures", "ack-jobs.txt")

_JOBS = None


def ack_jobs():
    """ACK's real job list (tests/fixtures/ack-jobs.txt), parsed once."""
    global _JOBS
    if _JOBS is None:
        _JOBS = prowjob.load_ack_jobs(JOBS_FILE)
    return _JOBS


class Identity:
    """One job identity: an ACK job, and for presubmits the PR it runs on."""

    __slots__ = ("job", "type", "org", "repo", "pr", "service")

    def __init__(self, ack, pr):
        self.job = ack.job
        self.type = ack.type
        self.org, self.repo = ack.refs
        self.pr = pr
        self.service = ack.service or "-"


def _presubmits():
    # Controller presubmits only: their repo names the service (as in real ACK).
    return [j for j in ack_jobs() if j.type == "presubmit" and j.repo.endswith("-controller")]


def _healthy_pool():
    # Presubmits (most traffic), postsubmits on main (not tags: no release level) and
    # periodics, as the ACK history has them.
    out = [j for j in ack_jobs() if j.type in ("presubmit", "periodic")]
    out += [j for j in ack_jobs() if j.type == "postsubmit"
            and "branches=main" in j.trigger]
    return out


def identities(count, rng, pool, first_pr):
    """`count` distinct identities drawn from `pool`; presubmits get PR numbers from
    first_pr upwards (distinct per identity), the others are used at most once each
    before presubmits take over."""
    out = []
    others = [j for j in pool if j.type != "presubmit"]
    pres = [j for j in pool if j.type == "presubmit"]
    rng.shuffle(others)
    # A few postsubmits/periodics, the rest presubmits on PRs: ACK's mix.
    n_other = min(len(others), count // 10)
    for j in others[:n_other]:
        out.append(Identity(j, None))
    pr = first_pr
    while len(out) < count:
        out.append(Identity(rng.choice(pres), pr))
        pr += 1
    rng.shuffle(out)
    return out


def run_doc(ident, state, completion, seq, duration=600):
    """The ProwJob of one finished run of `ident` completing at `completion` (epoch s);
    seq makes the build id unique among runs starting in the same second."""
    start = completion - duration
    build_id = prowjob.snowflake_build_id(start, seq=seq % 4096, worker=(seq // 4096) % 1024)
    kw = {}
    if ident.pr is not None:
        kw["pulls"] = [{"number": ident.pr, "author": "bench-bot",
                        "title": "Bench change %d" % ident.pr}]
    return prowjob.make_prowjob(ident.job, ident.type, ident.org, ident.repo, state,
                                start=start, completion=completion, build_id=build_id,
                                **kw)


def history(n, end, healthy=5000, failing=25, fail_every=20, spacing=0.5, seed=9):
    """The NDJSON lines (str, no newline) of a history: n runs, sorted by completion
    time; one run in `fail_every` is a failure of a failing identity."""
    rng = random.Random(seed)
    good = identities(healthy, rng, _healthy_pool(), first_pr=10000)
    bad = identities(failing, rng, _presubmits(), first_pr=10000 + healthy + 1000)
    bad = [b if b.pr is not None else Identity(rng.choice(_presubmits()), 900000 + i)
           for i, b in enumerate(bad)]
    start = end - int(n * spacing) - 1
    lines = []
    for i in range(n):
        completion = start + int(i * spacing)
        if fail_every and i % fail_every == fail_every - 1:
            ident, state = bad[(i // fail_every) % len(bad)], "failure"
        else:
            ident, state = good[i % len(good)], "success"
        lines.append(prowjob.to_json(run_doc(ident, state, completion, i)))
    return lines


def live_stream(n, end, fail_every=20, healthy=2000, seed=11, first_pr=500000, rate=None):
    """Runs for the latency and Alertmanager scenarios: n runs completing at `end`
    (epoch s, "now"), or with `rate` (runs per second) run i at end + i / rate, the
    second it is sent in when paced at that rate from `end` (a live stream); every fail_every-th is a failure of a NEW identity (its own PR),
    so each one alerts at once. Returns (lines, failures) where failures is a list of
    (index, build_id, identity) of the failures in stream order."""
    rng = random.Random(seed)
    good = identities(healthy, rng, _healthy_pool(), first_pr=first_pr)
    pres = _presubmits()
    lines, failures = [], []
    pr = first_pr + healthy + 1000
    for i in range(n):
        at = end + int(i / rate) if rate else end
        if fail_every and i % fail_every == fail_every - 1:
            ident = Identity(rng.choice(pres), pr)
            pr += 1
            doc = run_doc(ident, "failure", at, i)
            failures.append((i, doc["status"]["build_id"], ident))
        else:
            doc = run_doc(good[i % len(good)], "success", at, i)
        lines.append(prowjob.to_json(doc))
    return lines, failures


def failure_stream(n, end, seed=13, first_pr=700000):
    """n distinct failures completing at `end` (the Alertmanager comparison): presubmit
    failures across every controller and stage, each on its own PR. Returns (lines,
    idents) in stream order."""
    rng = random.Random(seed)
    pres = _presubmits()
    lines, idents = [], []
    for i in range(n):
        ident = Identity(rng.choice(pres), first_pr + i)
        lines.append(prowjob.to_json(run_doc(ident, "failure", end, i)))
        idents.append(ident)
    return lines, idents
