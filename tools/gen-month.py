#!/usr/bin/env python3
"""gen-month.py -- a month of ACK Prow job history with incidents of every kind.

Usage:
    python3 tools/gen-month.py --out month.ndjson [--expect incidents.json]
                               [--seed 1] [--start 2026-11-01T00:00:00Z] [--days 30]

Every line is one ProwJob document in one state (the final one, and for some release
jobs the pending one before it, as a watch sees them), a few of them twice (the watch
delivers one copy per crier patch), in no particular order: herald-producer and
herald-backtest sort by event time. Only jobs of tests/fixtures/ack-jobs.txt are used.
The output is a pure function of the arguments. Python 3 standard library only.

The month (about 5,000 ProwJobs):
  background  releases of random controllers (release-pr, release-tag, then on the
              tag post-submit, olm-bundle-pr and update-ack-chart, all passing; the
              chart update waits for post-submit's chart, so it ends after it);
              presubmits on PRs (some failing: they belong on the PR); the periodics
              at their real intervals, passing
  incidents   what a maintainer must hear about, written to --expect with where the
              alert must go (tests/e2e/test_determinism.py checks them):
    d02 lambda v1.6.0   update-ack-chart fails 5 min after the tag (no chart), then
                        post-submit fails 9 min later: ACK's reversed timing; reruns pass
    d04 docs-release    the daily periodic fails five days in a row, then passes
    d06 rds v1.5.2      post-submit OOM-killed (infrastructure); its chart update failed
                        before it; reruns pass two hours later
    d09 s3 v1.3.0       update-ack-chart fails on its own (post-submit passes); rerun passes
    d12 the wave        30 controllers' post-submits fail within 20 min (registry 503),
                        each chart update 9 min before; reruns pass 90 min later
    d15 acm v1.0.1      acm was in the wave; its next release fails on its own
    d17 ec2 v1.2.0      olm-bundle-pr fails; the rerun passes
    d20 sagemaker v1.1.0  post-submit passes, update-ack-chart never runs: stalled
    d23 scan-controllers-cve  the monthly periodic fails; the rerun passes
    d26 iam v1.4.0      post-submit fails, the rerun an hour later fails, the next passes
"""

import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import prowjob  # noqa: E402  (tools/prowjob.py)

JOBS_FILE = os.path.join(ROOT, "tests", "fixtures", "ack-jobs.txt")
ORG = prowjob.ORG
DAY, HOUR, MIN = 86400, 3600, 60
PERIODICS = [("label-sync", 6 * HOUR), ("periodic-close", 6 * HOUR),
             ("periodic-rotten", 6 * HOUR), ("periodic-stale", 6 * HOUR),
             ("periodic-deploy-docs", 12 * HOUR), ("docs-release", DAY)]
WAVE = 30


class Month:
    def __init__(self, start, days, seed):
        self.t0, self.days, self.rng = start, days, random.Random(seed)
        self.docs, self.seq, self.expect = [], 0, []
        jobs = prowjob.load_ack_jobs(JOBS_FILE)
        self.services = sorted({prowjob.service_of(j.repo) for j in jobs
                                if j.type == "postsubmit" and j.job.endswith("-post-submit")
                                and j.repo.endswith("-controller")})
        self.presubmits = {}
        for j in jobs:
            if j.type == "presubmit" and j.repo.endswith("-controller"):
                self.presubmits.setdefault(prowjob.service_of(j.repo), []).append(j.job)
        self.version = {s: [0, 1 + self.rng.randrange(9), 0] for s in self.services}
        self.pr = 100

    def build_id(self, start):
        self.seq += 1
        return prowjob.snowflake_build_id(start, seq=self.seq % 4096)

    def add(self, job, type, repo, state, start, end, base_ref="main", pending=False,
            copies=1, labels=None, description=None, pulls=None, extra_refs=None):
        bid = self.build_id(start)
        kw = dict(base_ref=base_ref, labels=labels, description=description, pulls=pulls)
        if extra_refs is not None:
            kw["extra_refs"] = extra_refs
        org = ORG if repo else None
        if pending:
            self.docs.append(prowjob.make_prowjob(job, type, org, repo, "pending", start,
                                                  None, bid, **kw))
        d = prowjob.make_prowjob(job, type, org, repo, state, start, end, bid, **kw)
        self.docs.extend([d] * copies)
        return d

    def next_version(self, svc):
        v = self.version[svc]
        v[2] += 1
        return "v%d.%d.%d" % tuple(v)

    def release(self, svc, tag, post="success", chart="success", olm="success",
                chart_runs=True, post_desc=None, chart_after=None):
        """One release: release-pr and release-tag on main, then the tag's jobs."""
        repo = "%s-controller" % svc
        v = self.next_version(svc) if tag is None else tag
        t = self.when
        self.add("%s-controller-release-pr" % svc, "postsubmit", repo, "success", t - 9 * MIN,
                 t - 6 * MIN)
        self.add("%s-controller-release-tag" % svc, "postsubmit", repo, "success", t - 5 * MIN,
                 t - 1 * MIN)
        pend = self.rng.random() < 0.3
        self.add("%s-post-submit" % svc, "postsubmit", repo, post, t, t + 14 * MIN, v,
                 pending=pend, copies=2 if self.rng.random() < 0.05 else 1,
                 description=post_desc)
        self.add("%s-controller-olm-bundle-pr" % svc, "postsubmit", repo, olm, t + MIN,
                 t + 17 * MIN, v)
        if chart_runs:
            # update-ack-chart polls for post-submit's chart for at most 5 minutes: it
            # fails 5 min after it started when the chart is not there
            end = t + 5 * MIN if chart == "failure" else t + (chart_after or 15 * MIN + 30)
            self.add("update-ack-chart", "postsubmit", repo, chart, t, end, v, pending=pend,
                     description="Timed out waiting for the chart." if chart == "failure"
                     else None)
        return v

    def rerun(self, job, repo, ver, t, state="success", dur=14 * MIN):
        return self.add(job, "postsubmit", repo, state, t, t + dur, ver,
                        labels={"prow.k8s.io/re-run": "true"})

    def periodic(self, name, t, state="success", description=None, repo="test-infra"):
        return self.add(name, "periodic", repo, state, t, t + 4 * MIN,
                        description=description)

    def background(self):
        for day in range(self.days):
            base = self.t0 + day * DAY
            for name, every in PERIODICS:
                for k in range(DAY // every):
                    if name == "docs-release" and 3 <= day <= 7:
                        continue  # the incident's runs
                    self.periodic(name, base + k * every + 7 * MIN, repo="community"
                                  if name.endswith("docs") or name == "docs-release"
                                  else "test-infra")
            for _ in range(3):  # releases that go well
                svc = self.rng.choice(self.services)
                self.when = base + self.rng.randrange(7 * HOUR, 20 * HOUR) // 60 * 60
                self.release(svc, None)
            for _ in range(120):  # presubmits on PRs, some failing
                svc = self.rng.choice(self.services)
                jobs = self.presubmits.get(svc) or ["%s-unit-test" % svc]
                t = base + self.rng.randrange(0, DAY - HOUR)
                self.pr += 1
                state = "failure" if self.rng.random() < 0.1 else "success"
                self.add(self.rng.choice(jobs), "presubmit", "%s-controller" % svc, state, t,
                         t + self.rng.randrange(3 * MIN, 40 * MIN),
                         pulls=[{"number": self.pr, "author": "octocat"}])

    def incident(self, key, **expect):
        expect["incident"] = key
        self.expect.append(expect)

    def incidents(self):
        d = lambda n, hms: self.t0 + n * DAY + hms  # noqa: E731
        # d02 lambda: chart update fails first (no chart yet), then post-submit
        self.when = d(2, 13 * HOUR)
        v = self.release("lambda", "v1.6.0", post="failure", chart="failure")
        self.rerun("lambda-post-submit", "lambda-controller", v, d(2, 16 * HOUR))
        self.rerun("update-ack-chart", "lambda-controller", v, d(2, 16 * HOUR + 15 * MIN),
                   dur=5 * MIN)
        self.incident("rel:lambda|v1.6.0", level="release", service="lambda",
                      stage="post-submit", version=v, channel="#ack-lambda")
        # d04-d08 docs-release fails five days, passes on d09
        for n in range(3, 8):
            self.periodic("docs-release", d(n, 7 * MIN), "failure", repo="community")
        self.incident("job:aws-controllers-k8s/community/docs-release", level="job",
                      service="community", stage="docs", channel="#ack-infra")
        # d06 rds: OOM kill
        self.when = d(6, 10 * HOUR)
        v = self.release("rds", "v1.5.2", post="error", chart="failure",
                         post_desc="Job pod was OOM killed by the cluster.")
        self.rerun("rds-post-submit", "rds-controller", v, d(6, 12 * HOUR))
        self.rerun("update-ack-chart", "rds-controller", v, d(6, 12 * HOUR + 20 * MIN),
                   dur=5 * MIN)
        self.incident("rel:rds|v1.5.2", level="release", service="rds", stage="post-submit",
                      version=v, channel="#ack-rds", infra=True)
        # d09 s3: chart update fails on its own
        self.when = d(9, 15 * HOUR)
        v = self.release("s3", "v1.3.0", chart="failure")
        self.rerun("update-ack-chart", "s3-controller", v, d(9, 16 * HOUR), dur=5 * MIN)
        self.incident("rel:s3|v1.3.0", level="release", service="s3", stage="chart-update",
                      version=v, channel="#ack-s3")
        # d12 the wave
        wave = [s for s in self.services if s not in ("lambda", "rds", "s3", "sagemaker")][:WAVE]
        for i, svc in enumerate(wave):
            self.when = d(12, 10 * HOUR + 40 * i)
            v = self.release(svc, None, post="failure", chart="failure",
                             post_desc="Job failed.")
            self.rerun("%s-post-submit" % svc, "%s-controller" % svc, v,
                       d(12, 11 * HOUR + 30 * MIN + 40 * i))
            self.rerun("update-ack-chart", "%s-controller" % svc, v,
                       d(12, 11 * HOUR + 50 * MIN + 40 * i), dur=5 * MIN)
        self.incident("eco:post-submit", level="ecosystem", stage="post-submit",
                      channel="#ack-releases", services=sorted(wave))
        # d15 acm, next release, on its own
        self.when = d(15, 11 * HOUR)
        v = self.release("acm", None, post="failure", chart="failure")
        self.rerun("acm-post-submit", "acm-controller", v, d(15, 12 * HOUR))
        self.rerun("update-ack-chart", "acm-controller", v, d(15, 12 * HOUR + 20 * MIN),
                   dur=5 * MIN)
        self.incident("rel:acm|%s" % v, level="release", service="acm", stage="post-submit",
                      version=v, channel="#ack-acm")
        # d17 ec2 olm bundle
        self.when = d(17, 9 * HOUR)
        v = self.release("ec2", "v1.2.0", olm="failure")
        self.rerun("ec2-controller-olm-bundle-pr", "ec2-controller", v, d(17, 11 * HOUR))
        self.incident("rel:ec2|v1.2.0", level="release", service="ec2", stage="olm-bundle",
                      version=v, channel="#ack-ec2")
        # d20 sagemaker: the chart update never runs
        self.when = d(20, 14 * HOUR)
        v = self.release("sagemaker", "v1.1.0", chart_runs=False)
        self.incident("rel:sagemaker|v1.1.0", level="stalled", service="sagemaker",
                      stage="chart-update", version=v, channel="#ack-sagemaker")
        # d23 the monthly CVE scan
        self.periodic("scan-controllers-cve", d(23, 2 * HOUR), "failure")
        self.periodic("scan-controllers-cve", d(23, 5 * HOUR))
        self.incident("job:aws-controllers-k8s/test-infra/scan-controllers-cve", level="job",
                      service="test-infra", stage="maintenance", channel="#ack-infra")
        # d26 iam: fails, rerun fails, then passes
        self.when = d(26, 10 * HOUR)
        v = self.release("iam", "v1.4.0", post="failure", chart="failure")
        self.rerun("iam-post-submit", "iam-controller", v, d(26, 11 * HOUR + 30 * MIN),
                   "failure")
        self.rerun("iam-post-submit", "iam-controller", v, d(26, 13 * HOUR))
        self.rerun("update-ack-chart", "iam-controller", v, d(26, 13 * HOUR + 20 * MIN),
                   dur=5 * MIN)
        self.incident("rel:iam|v1.4.0", level="release", service="iam", stage="post-submit",
                      version=v, channel="#ack-iam")

    def build(self):
        self.incidents()
        self.background()
        self.rng.shuffle(self.docs)
        return self.docs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="NDJSON file, or - for stdout")
    ap.add_argument("--expect", help="write the incidents a maintainer must hear about")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-11-01T00:00:00Z")
    ap.add_argument("--days", type=int, default=30)
    a = ap.parse_args(argv)
    if a.days < 28:
        ap.error("--days: the incidents take 28 days")
    m = Month(prowjob.parse_rfc3339(a.start), a.days, a.seed)
    docs = m.build()
    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    for doc in docs:
        out.write(prowjob.to_json(doc) + "\n")
    if out is not sys.stdout:
        out.close()
    if a.expect:
        with open(a.expect, "w", encoding="utf-8") as f:
            json.dump(m.expect, f, indent=1, sort_keys=True)
    sys.stderr.write("gen-month: %d ProwJob documents, %d incidents\n"
                     % (len(docs), len(m.expect)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
