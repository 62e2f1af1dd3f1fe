#!/usr/bin/env python3
"""gen-history.py -- generate a realistic day of ACK Prow job history as NDJSON.

Usage:
    python3 tools/gen-history.py                       # writes demo/history.ndjson
    python3 tools/gen-history.py --seed 7 --out /tmp/h.ndjson
    python3 tools/gen-history.py --start 2026-12-01T00:00:00Z --out -   # to stdout
    python3 tools/gen-history.py --check demo/history.ndjson            # validate a file

Every line is one ProwJob document (compact JSON) in the FINAL state of one run
(success, failure, aborted or error), sorted by status.completionTime. Only jobs that
exist in tests/fixtures/ack-jobs.txt are used, with their real repos, types, triggers,
clusters and queues. The output is a pure function of --seed and --start.

The day (times relative to --start, completion times; see demo/README.md for the
exact list and what Herald makes of each):
  background   presubmits on PRs across many controllers, postsubmits on merges,
               the periodics at their real intervals -- almost all succeed (a PR pushed
               again while its jobs run gets them aborted, as Prow does)
  isolated     periodic-stale error (Pod pending timeout.) 04:15; ec2-unit-test failure
               on a PR 10:23; iam-release-test error (evicted) 19:47, passes on /retest
  repeat       upgrade-go-version fails at 08:05 and on 9 re-runs until 13:02, passes 14:35
  release      s3 v1.2.1 released fully; rds v1.5.2 released, but its olm-bundle-pr
               fails 18:41:15 (the OLM queue is broken: the demo silences
               service=rds stage=olm-bundle); lambda v1.6.0: release-pr and
               release-tag succeed, then lambda-post-submit fails 13:06:30 and
               update-ack-chart fails 13:11:32 (olm-bundle-pr succeeds)
  outage       a new test image (build-prow-images 15:19) breaks kind: the -kind-e2e
               presubmits of 14 controllers fail 15:40:00-15:45:25; retested after the
               fix, they pass 17:39-18:06 (the ecosystem level)

Cases for the three alert levels (fixed services, PRs and times):
  job          scan-controllers-cve (periodic) fails 01:03:50, 02:27:00 (re-run 1,
               83 min later: a reminder), 03:19:25 (re-run 2: inside the window), passes
               04:06:40 (re-run 3: recovered);
               sagemaker-kind-e2e, annotated testgrid-num-failures-to-alert: "2", fails
               once on PR #287 06:02:29, passes on /retest 06:58:30 (no alert);
               opensearchservice-kind-e2e on PR #166: error "Job pod was OOM killed by
               the cluster." 08:31:23 (infrastructure); the 08:50 push's run is aborted
               09:02:03 "Aborted as the newer version of this job is running." (not a
               failure); the 09:02 push passes 09:36:15
  release      secretsmanager v1.1.2: post-submit passes 05:35:17, update-ack-chart
               never runs -> stalled at chart-update (1 h later)
  storm        20:20:11-20:20:15 a drained build node evicts one presubmit on each of
               five PRs (kinesis, route53, ssm, wafv2, mq; unit and verify stages, so no
               stage reaches the ecosystem's 5 services): five alerts for #ack-ci at once
  interventions  /test ec2-unit-test on PR #312's last commit 11:41 (passes); rds
               v1.5.2's olm-bundle-pr re-run from Deck 19:25 (label prow.k8s.io/re-run,
               same commit; passes) -- with the /retests and the periodics' re-runs above,
               what the dashboard counts as human interventions
  quiet end    nothing fails and no release is left waiting in the last hour of the
               day (periodic-stale passes 22:08:52), so every hold and stall timer has
               come due on the event clock by the last event (checked when generating)

The background (which PRs, when, how long each job takes) depends on --seed; the cases
above are at fixed times for any seed. Python 3 standard library only.
"""

import argparse
import json
import os
import random
import re
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import prowjob  # noqa: E402  (tools/prowjob.py)

JOBS_FILE = os.path.join(ROOT, "tests", "fixtures", "ack-jobs.txt")
DEFAULT_OUT = os.path.join(ROOT, "demo", "history.ndjson")
DEFAULT_START = "2026-11-24T00:00:00Z"
DAY = 86400
ORG = prowjob.ORG
BOT = "ack-bot"

# Synthetic GitHub handles (not real people) and PR titles for the background.
AUTHORS = ["mira-k", "tkovacs", "rjain-dev", "lchen42", "omar-s", "pnovak",
           "emily-ng", "gsantos", "hyun-park", "fbauer", "adaeze-o", "vlad-m"]
TITLES = [
    "Fix late initialization of Tags",
    "Bump aws-sdk-go-v2 to v1.36.3",
    "Add e2e test for the update path",
    "Support cross-account resource references",
    "Fix nil pointer when Spec.Tags is empty",
    "Export status fields to ConfigMaps",
    "Ignore deprecated fields in generator.yaml",
    "Handle throttling errors in sdkFind",
    "Document adoption of existing resources",
    "Increase e2e timeout for slow resources",
    "Add printer columns for status",
    "Requeue on terminal conditions",
    "Add support for resource policies",
    "Fix tag updates when tags are removed",
]
# Controllers that see more traffic (picked more often by the background).
BUSY = ["ec2", "s3", "rds", "eks", "iam", "lambda", "dynamodb", "sagemaker",
        "elasticache", "apigatewayv2", "ecr", "sqs", "sns", "opensearchservice"]

# Durations in seconds (lo, hi) by job-name suffix, first match wins.
DURATIONS = [
    ("-kind-e2e", (1500, 3000)),
    ("-controller-test", (900, 1800)),      # code-generator's per-controller tests
    ("-e2e-tests", (900, 1500)),
    ("-release-test", (300, 600)),
    ("-verify-code-gen", (240, 540)),
    ("unit-test", (180, 420)),
    ("verify-attribution", (60, 150)),
    ("-metadata-file-test", (40, 90)),
    ("-recommended-policy-test", (50, 120)),
    ("crd-compat-check", (90, 200)),
    ("-olm-test", (600, 900)),
    ("-controller-release-pr", (120, 240)),
    ("-controller-release-tag", (60, 150)),
    ("-post-submit", (900, 1200)),
    ("-controller-olm-bundle-pr", (420, 600)),
    ("update-ack-chart", (180, 300)),
    ("ack-chart-release", (240, 420)),
    ("deploy-docs", (300, 480)),
    ("docs-release", (240, 900)),
    ("build-prow-images", (900, 1100)),
    ("auto-generate-controllers", (1500, 1800)),
    ("label-sync", (90, 180)),
    ("periodic-", (40, 120)),
    ("upgrade-", (180, 300)),
]

# The outage: 14 controllers whose bot PRs hit the broken e2e image.
OUTAGE_SERVICES = ["acm", "apigatewayv2", "cloudfront", "dynamodb", "ecr", "efs", "eks",
                   "elasticache", "eventbridge", "kms", "memorydb", "sfn", "sns", "sqs"]
# Job configuration carried by every run of a job: sagemaker's e2e suite is known to
# flake, so its job asks for two failures in a row before anyone is told.
JOB_ANNOTATIONS = {"sagemaker-kind-e2e": {"testgrid-num-failures-to-alert": "2"}}
# The storm: a build-cluster node is drained at 20:20 and the pods on it are evicted --
# one presubmit on each of five PRs, in two stages (so no stage has 5 services).
STORM = [("kinesis", "unit-test"), ("route53", "verify-code-gen"),
         ("ssm", "metadata-file-test"), ("wafv2", "unit-test"),
         ("mq", "recommended-policy-test")]
# Background pushes are kept out of [start, end) so no background kind-e2e runs on the
# broken image (published 15:19, replaced 16:52).
QUIET = ("15:10:00", "16:55:00")


class Day:
    """Collects the runs of one day, then turns them into ProwJob documents."""

    def __init__(self, day0, seed, jobs):
        self.day0 = day0
        self.rng = random.Random(seed)
        self.jobs = jobs
        self.index = {}
        for j in jobs:
            self.index.setdefault((j.job, j.name), j)
        self.runs = []
        self.used_prs = {}  # repo -> list of used PR numbers
        self.next_pr = {}   # repo -> next free number

    # -- time and lookup helpers ------------------------------------------------------

    def at(self, hms):
        """Epoch seconds of a "HH:MM[:SS]" time of the day."""
        parts = [int(x) for x in hms.split(":")]
        while len(parts) < 3:
            parts.append(0)
        return self.day0 + parts[0] * 3600 + parts[1] * 60 + parts[2]

    def job(self, name, repo=None):
        """The AckJob for a job name (and repo name); fails loudly if it is not real."""
        j = self.index.get((name, repo))
        if j is None:
            raise SystemExit("gen-history: %s (%s) is not in ack-jobs.txt" % (name, repo))
        return j

    def presubmits(self, repo):
        return [j for j in self.jobs if j.type == "presubmit" and j.name == repo]

    def duration(self, name):
        for suffix, (lo, hi) in DURATIONS:
            if name.endswith(suffix) or (suffix.endswith("-") and name.startswith(suffix)):
                return self.rng.randint(lo, hi)
        return self.rng.randint(120, 300)

    def pr_number(self, repo, number=None, pin=True):
        """Reserve a PR number in `repo` (a given one, or the next free one).

        pin=False reserves a given number without moving where later PRs of the repo
        start (so adding a case does not change the background's draws)."""
        used = self.used_prs.setdefault(repo, [])
        if number is None:
            n = self.next_pr.get(repo)
            if n is None:
                n = self.rng.randint(90, 420)
            while n in used:
                n += 1
            number = n
            self.next_pr[repo] = n + self.rng.randint(1, 4)
        elif pin and repo not in self.next_pr:
            # later PRs of this repo get numbers after a fixed one (but never reuse it)
            self.next_pr[repo] = number + 2
        if number in used:
            raise SystemExit("gen-history: PR %s#%d used twice" % (repo, number))
        used.append(number)
        return number

    # -- run builders ------------------------------------------------------------------

    def add(self, j, state, start, completion, case, base_ref="main", base_sha=None,
            pulls=None, description=None, labels=None, pending=None):
        """Record one run of AckJob `j` (times in epoch seconds). Runs of the jobs in
        JOB_ANNOTATIONS carry those annotations (they are job configuration)."""
        org, repo = j.refs
        opts = j.options
        run = {
            "ack": j, "job": j.job, "type": j.type, "org": org, "repo": repo,
            "state": state, "start": start, "completion": completion, "case": case,
            "base_ref": base_ref, "base_sha": base_sha, "pulls": pulls,
            "description": description, "labels": dict(labels or {}),
            "annotations": dict(JOB_ANNOTATIONS.get(j.job, {})),
            "pending": pending if pending is not None
            else start + min(self.rng.randint(4, 25), max(1, (completion - start) // 3)),
            "cluster": opts.get("cluster", "default"),
            "job_queue_name": opts.get("job_queue_name"),
        }
        if j.type == "presubmit":
            run["labels"].setdefault("prow.k8s.io/is-optional",
                                     "true" if opts.get("optional") else "false")
        self.runs.append(run)
        return run

    def push_pr(self, repo, pr, push, case, outcomes=None, crd=False, touches_pkg=False,
                retest_of=None):
        """Run the presubmits a push to PR `pr` (dict) of `repo` triggers.

        outcomes: {job: (state, description, duration or None)} for runs that do not
        simply succeed. Returns the runs.
        """
        outcomes = outcomes or {}
        idx = pr.setdefault("pushes", 0)
        pr["pushes"] = idx + 1
        head = prowjob.fake_sha(ORG, repo, pr["number"], "head", idx)
        base_sha = prowjob.fake_sha(ORG, repo, "main", push // 1800)
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, "push/%s/%d/%d" % (repo, pr["number"], idx)))
        pull = {"number": pr["number"], "author": pr["author"], "sha": head,
                "title": pr["title"]}
        runs = []
        for j in self.presubmits(repo):
            o = j.options
            if not o.get("always_run"):
                rc = o.get("run_if_changed", "")
                if "crd" in rc and not crd:
                    continue
                if "pkg|apis" in rc and not touches_pkg:
                    continue
                if "acktest" in rc:
                    continue
            start = push + self.rng.randint(8, 40)
            state, desc, dur = outcomes.get(j.job, ("success", None, None))
            if dur is None:
                dur = self.duration(j.job)
            runs.append(self.add(j, state, start, start + dur, case, base_sha=base_sha,
                                 pulls=[pull], description=desc,
                                 labels={"event-GUID": guid}))
        pr.setdefault("runs", []).append(runs)
        return runs

    def retest(self, repo, pr, when, jobs_states, case):
        """/retest on a PR: re-run the named jobs (label prow.k8s.io/retest=true)."""
        head = prowjob.fake_sha(ORG, repo, pr["number"], "head", pr["pushes"] - 1)
        base_sha = prowjob.fake_sha(ORG, repo, "main", when // 1800)
        pull = {"number": pr["number"], "author": pr["author"], "sha": head,
                "title": pr["title"]}
        runs = []
        for name, (state, desc, dur) in jobs_states.items():
            j = self.job(name, repo)
            start = when + self.rng.randint(8, 30)
            runs.append(self.add(j, state, start, start + (dur or self.duration(name)),
                                 case, base_sha=base_sha, pulls=[pull], description=desc,
                                 labels={"prow.k8s.io/retest": "true"}))
        return runs

    def supersede(self, pr):
        """Abort the runs of earlier pushes still running when a newer push came in."""
        pushes = pr.get("push_times", [])
        for i, runs in enumerate(pr.get("runs", [])[:-1]):
            nxt = pushes[i + 1]
            for r in runs:
                if r["start"] < nxt < r["completion"]:
                    r["state"] = "aborted"
                    r["completion"] = nxt + self.rng.randint(3, 9)
                    r["pending"] = min(r["pending"], r["completion"])
                    r["description"] = prowjob.ABORTED_SUPERSEDED

    def merge(self, repo, when, case, tag_release=None):
        """A merge to main of a controller repo: release-pr and release-tag run.

        Returns (merge_sha, release_pr_run, release_tag_run).
        """
        svc = prowjob.service_of(repo)
        sha = prowjob.fake_sha(ORG, repo, "merge", when)
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, "merge/%s/%d" % (repo, when)))
        out = [sha]
        for name in ("%s-controller-release-pr" % svc, "%s-controller-release-tag" % svc):
            j = self.job(name, repo)
            start = when + self.rng.randint(10, 35)
            out.append(self.add(j, "success", start, start + self.duration(name), case,
                                base_ref="main", base_sha=sha, labels={"event-GUID": guid}))
        return tuple(out)

    def postsubmit(self, name, repo, when, case, base_ref="main", base_sha=None,
                   state="success", description=None, duration=None, start_delay=None):
        j = self.job(name, repo)
        start = when + (start_delay if start_delay is not None else self.rng.randint(10, 35))
        dur = duration if duration is not None else self.duration(name)
        if base_sha is None:
            base_sha = prowjob.fake_sha(ORG, repo, base_ref, when)
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, "push/%s/%s/%d" % (repo, base_ref, when)))
        return self.add(j, state, start, start + dur, case, base_ref=base_ref,
                        base_sha=base_sha, description=description,
                        labels={"event-GUID": guid})

    def periodic(self, name, start, case, state="success", description=None,
                 duration=None, labels=None):
        j = self.periodic_job(name)
        dur = duration if duration is not None else self.duration(name)
        return self.add(j, state, start, start + dur, case, description=description,
                        labels=labels)

    def periodic_job(self, name):
        for j in self.jobs:
            if j.type == "periodic" and j.job == name:
                return j
        raise SystemExit("gen-history: periodic %s is not in ack-jobs.txt" % name)

    # -- documents ---------------------------------------------------------------------

    def documents(self):
        """Assign build IDs (by start time) and build the sorted ProwJob documents."""
        order = sorted(self.runs, key=lambda r: (r["start"], r["job"], r["repo"] or "",
                                                 r["pulls"][0]["number"] if r["pulls"] else 0))
        seq_at = {}
        for r in order:
            seq = seq_at.get(r["start"], 0)
            seq_at[r["start"]] = seq + 1
            r["build_id"] = prowjob.snowflake_build_id(r["start"], seq)
        docs = []
        for r in self.runs:
            if r["completion"] > self.day0 + DAY:
                raise SystemExit("gen-history: %s ends after the day" % r["job"])
            doc = prowjob.make_prowjob(
                r["job"], r["type"], r["org"], r["repo"], r["state"], r["start"],
                r["completion"], r["build_id"], base_ref=r["base_ref"],
                base_sha=r["base_sha"], pulls=r["pulls"], description=r["description"],
                labels=r["labels"], pending=r["pending"], cluster=r["cluster"],
                job_queue_name=r["job_queue_name"], annotations=r["annotations"] or None)
            docs.append((r["completion"], r["start"], r["build_id"], r, doc))
        docs.sort(key=lambda t: (t[0], t[1], t[2]))
        return docs


# ------------------------------------------------------------------------------------
# The day


CASES_SEED = 20261124
"""The scripted cases draw from their own fixed seed, so their jobs and times are the
same whatever --seed is; only the background changes with --seed."""


def build_day(day0, seed, jobs):
    d = Day(day0, CASES_SEED, jobs)
    at = d.at

    # -- periodics at their real intervals ----------------------------------------------
    d.periodic("docs-release", at("02:10:12"), "periodic", duration=812)
    for t in ("05:31:40", "17:32:05"):
        d.periodic("periodic-deploy-docs", at(t), "periodic")
    for t in ("00:47:03", "06:47:41", "12:48:19", "18:48:52"):
        d.periodic("label-sync", at(t), "periodic")
    for t in ("01:12:30", "07:13:02", "13:13:31", "19:14:05"):
        d.periodic("periodic-close", at(t), "periodic")
    for t in ("03:25:10", "09:25:44", "15:26:15", "21:26:50"):
        d.periodic("periodic-rotten", at(t), "periodic")
    # isolated infra error: the pod never got scheduled (Prow's pod_pending_timeout)
    d.periodic("periodic-stale", at("04:05:20"), "isolated: periodic-stale error",
               state="error", description="Pod pending timeout.", duration=601)
    for t in ("10:05:51", "16:06:30", "22:07:02"):
        d.periodic("periodic-stale", at(t), "periodic")
    d.periodic("upgrade-eks-distro-version", at("06:00:07"), "periodic")

    # -- repeat: upgrade-go-version fails on schedule and on 9 re-runs ------------------
    case = "repeat: upgrade-go-version"
    d.periodic("upgrade-go-version", at("08:02:14"), case, state="failure",
               description="Job failed.", duration=216)
    reruns = ["08:41:05", "09:12:40", "09:44:12", "10:15:31", "10:47:02", "11:20:19",
              "11:52:48", "12:25:03", "12:58:36"]
    for n, t in enumerate(reruns, 1):
        d.periodic("upgrade-go-version", at(t), case, state="failure",
                   description="Job failed.", duration=200 + 3 * n,
                   labels={"prow.k8s.io/re-run": str(n)})
    d.periodic("upgrade-go-version", at("14:31:10"), "repeat: upgrade-go-version (fixed)",
               duration=241, labels={"prow.k8s.io/re-run": str(len(reruns) + 1)})

    # -- isolated: ec2-unit-test fails on one PR, the next push passes ------------------
    repo = "ec2-controller"
    pr = {"number": d.pr_number(repo, 312), "author": "rjain-dev",
          "title": "Support ipv6 CIDR blocks in SecurityGroup rules",
          "push_times": [at("10:18:00"), at("11:02:00")]}
    d.push_pr(repo, pr, at("10:18:00"), "isolated: ec2-unit-test failure",
              outcomes={"ec2-unit-test": ("failure", "Job failed.", 293)})
    d.push_pr(repo, pr, at("11:02:00"), "isolated: ec2 PR fixed")
    d.supersede(pr)
    ec2_pr = pr

    # -- isolated: iam-release-test evicted, passes on /retest --------------------------
    repo = "iam-controller"
    pr = {"number": d.pr_number(repo, 188), "author": "lchen42",
          "title": "Add support for permissions boundaries on Role",
          "push_times": [at("19:40:00")]}
    d.push_pr(repo, pr, at("19:40:00"), "isolated: iam-release-test error",
              outcomes={"iam-release-test": ("error", "Job pod was evicted by the cluster.",
                                             440)})
    d.retest(repo, pr, at("20:05:00"), {"iam-release-test": ("success", None, 470)},
             "isolated: iam-release-test retest")

    # -- releases -------------------------------------------------------------------------
    release(d, "s3", "v1.2.1", 398, "gsantos", "Add support for bucket metadata tables",
            at("07:55:00"), ack_chart="46.34.0")
    release(d, "lambda", "v1.6.0", 171, "omar-s", "Add support for SnapStart in Function",
            at("11:02:30"), chart="fail")
    # the OLM bundle queue is broken today: rds's olm-bundle-pr fails (the demo silences
    # service=rds stage=olm-bundle before replaying, so it is counted, not sent)
    rds_post = release(d, "rds", "v1.5.2", 231, "emily-ng", "Support Blue/Green deployments",
            at("16:58:00"), ack_chart="46.35.0",
            olm=("failure", "Job failed."))

    # -- outage: a new test image breaks kind for every controller ---------------------
    # A test-infra PR bumped the e2e tooling; build-prow-images published the image.
    d.postsubmit("build-prow-images", "test-infra", at("15:02:10"), "outage: new test image",
                 duration=1040, start_delay=0)
    # code-generator v0.43.0 -> auto-generate-controllers opens one PR per controller
    # whose generated code changed (ack-bot), all within a few minutes.
    d.postsubmit("auto-generate-controllers", "code-generator", at("15:20:40"),
                 "outage: auto-generate-controllers", base_ref="v0.43.0", duration=1710,
                 start_delay=0)
    outage_prs = []
    for i, svc in enumerate(OUTAGE_SERVICES):
        repo = svc + "-controller"
        push = at("15:34:00") + i * 25
        pr = {"number": d.pr_number(repo), "author": BOT,
              "title": "Update to ACK runtime `v0.43.0`, code-generator `v0.43.0`",
              "push_times": [push]}
        runs = d.push_pr(repo, pr, push, "outage: kind-e2e", crd=True)
        for r in runs:
            if r["job"] == svc + "-kind-e2e":
                r["start"] = push + d.rng.randint(12, 40)
                r["pending"] = r["start"] + d.rng.randint(8, 20)
                r["completion"] = at("15:40:00") + i * 25
                r["state"] = "failure"
                r["description"] = "Job failed."
        outage_prs.append((repo, pr, svc))
    # Fix: the image is rebuilt from the reverted config; maintainers /retest the PRs.
    d.postsubmit("build-prow-images", "test-infra", at("16:36:00"), "outage: image reverted",
                 duration=960, start_delay=0)
    for i, (repo, pr, svc) in enumerate(outage_prs):
        d.retest(repo, pr, at("17:05:00") + i * 60,
                 {svc + "-kind-e2e": ("success", None, None)}, "outage: retest passes")

    # -- the cases added for the three alert levels (issue 3) ----------------------------
    # They come after the cases above and reserve PR numbers without moving where the
    # background's PR numbers start, so the rest of the day is unchanged.
    job_level_cases(d)
    release(d, "secretsmanager", "v1.1.2", 112, "adaeze-o",
            "Support replica regions on Secret", at("03:40:00"), chart="never", pin=False)
    storm_case(d)
    interventions_case(d, ec2_pr, rds_post)

    # -- background --------------------------------------------------------------------
    d.rng = random.Random(seed)
    background(d)
    return d


def job_level_cases(d):
    """Job level: a periodic failing three runs over three hours, a flaky job with a
    threshold of 2, an infrastructure error (OOM kill) and a superseded abort."""
    at = d.at
    # scan-controllers-cve (30-day periodic): a CVE in the base image; re-run after each
    # attempted fix; the third fix (04:06) works.
    case = "job: scan-controllers-cve"
    for n, (start, dur) in enumerate((("00:52:10", 700), ("02:15:30", 690),
                                      ("03:07:40", 705))):
        d.periodic("scan-controllers-cve", at(start), case, state="failure",
                   description="Job failed.", duration=dur,
                   labels={"prow.k8s.io/re-run": str(n)} if n else None)
    d.periodic("scan-controllers-cve", at("03:55:00"), case + " (fixed)", duration=700,
               labels={"prow.k8s.io/re-run": "3"})

    # sagemaker-kind-e2e (annotated testgrid-num-failures-to-alert: "2") fails once on
    # PR #287; /retest passes.
    repo = "sagemaker-controller"
    pr = {"number": d.pr_number(repo, 287, pin=False), "author": "hyun-park",
          "title": "Add support for InferenceComponent", "push_times": [at("05:20:00")]}
    d.push_pr(repo, pr, at("05:20:00"), "job: sagemaker-kind-e2e below threshold",
              outcomes={"sagemaker-kind-e2e": ("failure", "Job failed.", 2510)})
    d.retest(repo, pr, at("06:20:00"), {"sagemaker-kind-e2e": ("success", None, 2280)},
             "job: sagemaker-kind-e2e retest")

    # opensearchservice-kind-e2e on PR #166: the first push's run is OOM-killed (error,
    # an infrastructure cause); the author pushes again at 08:50 and, with those runs
    # still going, once more at 09:02 -> the 08:50 runs are aborted as superseded; the
    # 09:02 push passes.
    repo = "opensearchservice-controller"
    pushes = [at("08:05:00"), at("08:50:00"), at("09:02:00")]
    pr = {"number": d.pr_number(repo, 166, pin=False), "author": "fbauer",
          "title": "Support OpenSearch 2.17 domains", "push_times": pushes}
    d.push_pr(repo, pr, pushes[0], "job: opensearchservice-kind-e2e OOM",
              outcomes={"opensearchservice-kind-e2e":
                        ("error", "Job pod was OOM killed by the cluster.", 1560)})
    d.push_pr(repo, pr, pushes[1], "job: opensearchservice push superseded")
    d.push_pr(repo, pr, pushes[2], "job: opensearchservice passes",
              outcomes={"opensearchservice-kind-e2e": ("success", None, 2040)})
    d.supersede(pr)


def interventions_case(d, ec2_pr, rds_post):
    """Human interventions the dashboard counts (besides the /retests and the periodics'
    re-runs above): `/test ec2-unit-test` on PR #312's last commit, which passed (a
    second run on the same pull SHA); and rds v1.5.2's olm-bundle-pr re-run from Deck
    once the OLM queue is fixed (label prow.k8s.io/re-run, same tag and commit), which
    passes. Fixed times, no random draws: the rest of the day is unchanged."""
    at = d.at
    repo = "ec2-controller"
    head = prowjob.fake_sha(ORG, repo, ec2_pr["number"], "head", ec2_pr["pushes"] - 1)
    pull = {"number": ec2_pr["number"], "author": ec2_pr["author"], "sha": head,
            "title": ec2_pr["title"]}
    start = at("11:41:10")
    d.add(d.job("ec2-unit-test", repo), "success", start, start + 276,
          "interventions: /test ec2-unit-test", base_sha=prowjob.fake_sha(ORG, repo, "main",
                                                                           start // 1800),
          pulls=[pull], pending=start + 9)
    start = at("19:25:40")
    d.add(d.job("rds-controller-olm-bundle-pr", "rds-controller"), "success", start,
          start + 512, "interventions: rds olm-bundle re-run", base_ref="v1.5.2",
          base_sha=rds_post["base_sha"], labels={"prow.k8s.io/re-run": "1"},
          pending=start + 30)


def storm_case(d):
    """Storm control: five presubmits on five PRs are evicted within five seconds
    (20:20:11-20:20:15). Their stages (unit, verify) stay below the ecosystem's K, so
    they are five alerts to #ack-ci at once; the PRs are retested the next morning."""
    at = d.at
    for i, (svc, suffix) in enumerate(STORM):
        repo = svc + "-controller"
        push = at("20:12:30") + i * 70
        pr = {"number": d.pr_number(repo, pin=False), "author": AUTHORS[(i * 5) % 12],
              "title": TITLES[(i * 3 + 1) % len(TITLES)], "push_times": [push]}
        for r in d.push_pr(repo, pr, push, "storm: node drained"):
            if r["job"] == "%s-%s" % (svc, suffix):
                r["state"] = "error"
                r["description"] = "Job pod was evicted by the cluster."
                r["completion"] = at("20:20:11") + i
                r["pending"] = min(r["pending"], r["completion"])


def release(d, svc, version, num, author, title, push, ack_chart=None, chart="ok",
            olm=("success", None), pin=True):
    """One controller release, as ACK runs it.

    The feature PR #num (pushed at `push`) is merged once its presubmits pass ->
    <svc>-controller-release-pr opens the release PR #num+1 (ack-bot) -> it is merged
    once its presubmits pass -> <svc>-controller-release-tag pushes tag `version` ->
    <svc>-post-submit, <svc>-controller-olm-bundle-pr and update-ack-chart run on the
    tag (base_ref = version).

    chart: "ok"    post-submit and update-ack-chart succeed, and update-ack-chart's
                   ack-chart tag `ack_chart` runs ack-chart-release;
           "fail"  post-submit fails and update-ack-chart fails ~5 min later (it waits
                   for the chart the post-submit never pushed) -- lambda v1.6.0;
           "never" post-submit succeeds but update-ack-chart never runs (its trigger
                   was lost) -- the release stalls at chart-update.
    olm: (state, description) of <svc>-controller-olm-bundle-pr.
    pin: see Day.pr_number (False for the cases added after the background was fixed).
    """
    rng = d.rng
    repo = svc + "-controller"
    case = "release: %s %s" % (svc, version)
    pr = {"number": d.pr_number(repo, num, pin=pin), "author": author, "title": title,
          "push_times": [push]}
    runs = d.push_pr(repo, pr, push, case)
    merged = max(r["completion"] for r in runs) + rng.randint(300, 900)
    _, relpr_run, _ = d.merge(repo, merged, case)
    # the release PR opened by <svc>-controller-release-pr
    opened = relpr_run["completion"] - 10
    rel = {"number": d.pr_number(repo, num + 1, pin=pin), "author": BOT,
           "title": "Release artifacts for release %s" % version, "push_times": [opened]}
    runs = d.push_pr(repo, rel, opened, case)
    rel_merged = max(r["completion"] for r in runs) + rng.randint(240, 600)
    sha, _, tag_run = d.merge(repo, rel_merged, case)
    tag_time = tag_run["completion"] - 5  # the job pushes the tag just before it ends
    olm_case = case if olm[0] == "success" else "silenced: %s olm-bundle" % svc
    if chart == "fail":
        post = d.postsubmit(svc + "-post-submit", repo, tag_time, case, base_ref=version,
                           base_sha=sha, state="failure", description="Job failed.",
                           duration=1087, start_delay=20)
        d.postsubmit(svc + "-controller-olm-bundle-pr", repo, tag_time, olm_case,
                     base_ref=version, base_sha=sha, duration=558, start_delay=22,
                     state=olm[0], description=olm[1])
        chart_run = d.postsubmit("update-ack-chart", repo, tag_time, case, base_ref=version,
                                 base_sha=sha, state="failure", description="Job failed.",
                                 start_delay=21, duration=0)
        chart_run["completion"] = post["completion"] + 302
    else:
        post = d.postsubmit(svc + "-post-submit", repo, tag_time, case, base_ref=version,
                            base_sha=sha, start_delay=20)
        d.postsubmit(svc + "-controller-olm-bundle-pr", repo, tag_time, olm_case,
                     base_ref=version, base_sha=sha, start_delay=22, state=olm[0],
                     description=olm[1])
        if chart == "never":
            return post
        chart_run = d.postsubmit("update-ack-chart", repo, tag_time, case, base_ref=version,
                                 base_sha=sha, start_delay=21, duration=0)
        chart_run["completion"] = post["completion"] + rng.randint(60, 150)
        # update-ack-chart pushes an ack-chart tag -> the umbrella chart is released
        d.postsubmit("ack-chart-release", "ack-chart", chart_run["completion"], case,
                     base_ref=ack_chart)
    chart_run["pending"] = chart_run["start"] + 9
    return post


def background(d):
    """Seeded ordinary traffic: PRs with 1-3 pushes, some merged, docs merges."""
    rng = d.rng
    at = d.at
    quiet = (at(QUIET[0]), at(QUIET[1]))
    controllers = sorted({j.name for j in d.jobs
                          if j.type == "presubmit" and j.name.endswith("-controller")})
    weights = [3 if prowjob.service_of(c) in BUSY else 1 for c in controllers]
    hour_w = [0.3] * 6 + [0.6] * 2 + [1.0] * 4 + [0.8] * 2 + [1.0] * 5 + [0.6] * 3 + [0.2] * 2

    def push_time(lo=None):
        while True:
            if lo is None:
                h = rng.choices(range(24), weights=hour_w)[0]
                t = d.day0 + h * 3600 + rng.randint(0, 3599)
            else:
                t = lo + rng.randint(15 * 60, 150 * 60)
            if t < d.day0 + 1800 or t > at("21:45:00"):
                if lo is not None:
                    return None
                continue
            if quiet[0] <= t < quiet[1]:
                if lo is not None:
                    return None
                continue
            return t

    repos = [rng.choices(controllers, weights=weights)[0] for _ in range(27)]
    repos += ["runtime-extra", "code-generator", "pkg"]
    for repo in repos:
        extra = {}
        if repo == "runtime-extra":
            repo = "runtime"
            extra["touches_pkg"] = True
        pr = {"number": d.pr_number(repo), "author": rng.choice(AUTHORS),
              "title": rng.choice(TITLES)}
        crd = repo.endswith("-controller") and rng.random() < 0.35
        npush = rng.choices([1, 2, 3], weights=[55, 30, 15])[0]
        times = [push_time()]
        for _ in range(npush - 1):
            t = push_time(times[-1])
            if t is None:
                break
            times.append(t)
        pr["push_times"] = times
        for t in times:
            d.push_pr(repo, pr, t, "background", crd=crd, **extra)
        d.supersede(pr)
        last_end = max(r["completion"] for r in pr["runs"][-1])
        if repo.endswith("-controller") and rng.random() < 0.5:
            when = last_end + rng.randint(600, 5400)
            if when < at("23:00:00"):
                d.merge(repo, when, "background merge")
    # docs and community merges
    for t in (at("11:37:20"), at("20:12:45")):
        d.postsubmit("deploy-docs", "docs", t, "background merge")
    d.postsubmit("community-docs-release", "community", at("14:03:10"), "background merge")


# ------------------------------------------------------------------------------------
# Checking a history file


URL_RE = re.compile(r"^https://prow\.ack\.aws\.dev/view/s3/ack-prow-artifacts/"
                    r"(pr-logs/pull/[^/]+_[^/]+/\d+|logs)/[^/]+/\d+$")


def check(path, jobs):
    """Validate an NDJSON history file; returns a list of problems (empty = valid)."""
    known = {}
    for j in jobs:
        known.setdefault((j.job, j.refs), j.type)
    problems = []
    last = None
    names = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = "line %d" % n
            try:
                doc = json.loads(line)
            except ValueError as e:
                problems.append("%s: not JSON: %s" % (where, e))
                continue
            try:
                md, spec, st = doc["metadata"], doc["spec"], doc["status"]
                assert doc["apiVersion"] == "prow.k8s.io/v1", "apiVersion"
                assert doc["kind"] == "ProwJob", "kind"
                for k in ("name", "labels", "annotations"):
                    assert k in md, "metadata." + k
                for k in ("type", "job", "cluster", "namespace", "agent", "report"):
                    assert k in spec, "spec." + k
                for k in ("startTime", "pendingTime", "completionTime", "state",
                          "description", "url", "build_id"):
                    assert k in st, "status." + k
                assert st["state"] in prowjob.FINAL_STATES, "state not final"
                t = spec["type"]
                if t == "periodic":
                    assert "refs" not in spec, "periodic with refs"
                    r = spec.get("extra_refs", [{}])[0]
                    refs = (r.get("org"), r.get("repo"))
                else:
                    r = spec["refs"]
                    refs = (r["org"], r["repo"])
                    for k in ("base_ref", "base_sha"):
                        assert r.get(k), "refs." + k
                    if t == "presubmit":
                        p = r["pulls"][0]
                        for k in ("number", "author", "sha"):
                            assert p.get(k), "pulls[0]." + k
                assert known.get((spec["job"], refs)) == t, \
                    "job %s %s in %s not in ack-jobs.txt" % (t, spec["job"], refs)
                lab = md["labels"]
                assert lab["prow.k8s.io/type"] == t, "label type"
                assert lab["prow.k8s.io/job"] == spec["job"][:63], "label job"
                assert lab["prow.k8s.io/build-id"] == st["build_id"], "label build-id"
                assert lab["prow.k8s.io/id"] == md["name"], "label id"
                assert md["annotations"]["prow.k8s.io/job"] == spec["job"], "annotation job"
                s, p, c = (prowjob.parse_rfc3339(st[k]) for k in
                           ("startTime", "pendingTime", "completionTime"))
                assert s <= p <= c, "times out of order"
                assert prowjob.rfc3339(c) == st["completionTime"], "time format"
                assert URL_RE.match(st["url"]) and st["url"].endswith(st["build_id"]), "url"
                assert last is None or c >= last, "not sorted by completionTime"
                last = c
                names.append(md["name"])
            except (AssertionError, KeyError, IndexError, TypeError) as e:
                problems.append("%s: %s" % (where, e or "missing field"))
    if len(set(names)) != len(names):
        problems.append("duplicate metadata.name")
    return problems


# ------------------------------------------------------------------------------------


def check_quiet_end(docs, quiet=3600):
    """The history must end with `quiet` seconds in which nothing fails and no release
    waits for its next stage, so that replayed, every hold (minutes) and every release
    stall timer (1 h) has come due on the event clock by the last event."""
    last = docs[-1][0]
    for t in docs:
        r = t[3]
        failing = r["state"] in ("failure", "error")
        tagged = r["type"] == "postsubmit" and re.match(r"^v\d+\.\d+\.\d+$", r["base_ref"])
        if (failing or (tagged and r["job"].endswith("-post-submit"))) and \
                t[0] > last - quiet:
            raise SystemExit("gen-history: %s %s at %s: less than %ds before the last event"
                             " (%s)" % (r["job"], r["state"], prowjob.rfc3339(t[0]), quiet,
                                        prowjob.rfc3339(last)))


def summary(docs, out=sys.stderr):
    runs = [t[3] for t in docs]
    by = lambda key: sorted({r[key] for r in runs})  # noqa: E731
    print("gen-history: %d runs (%s)" % (
        len(runs), ", ".join("%s %d" % (k, sum(1 for r in runs if r["type"] == k))
                             for k in by("type"))), file=out)
    print("  states: " + ", ".join("%s %d" % (k, sum(1 for r in runs if r["state"] == k))
                                   for k in by("state")), file=out)
    bad = [t for t in docs if t[3]["state"] in ("failure", "error")]
    cases = []
    for t in bad:
        if t[3]["case"] not in cases:
            cases.append(t[3]["case"])
    print("  failures (failure+error) by case: %d" % len(bad), file=out)
    for c in cases:
        rs = [t[3] for t in bad if t[3]["case"] == c]
        first, lastc = rs[0]["completion"], rs[-1]["completion"]
        jobs = []
        for r in rs:
            if r["job"] not in jobs:
                jobs.append(r["job"])
        shown = ", ".join(jobs) if len(jobs) <= 3 else "%s, ... (%d jobs)" % (
            ", ".join(jobs[:2]), len(jobs))
        print("    %-36s %2d  %s-%s  %s" % (c, len(rs), prowjob.rfc3339(first)[11:19],
                                            prowjob.rfc3339(lastc)[11:19], shown), file=out)
    ab = sum(1 for r in runs if r["state"] == "aborted")
    if ab:
        print("  aborted (superseded by a newer push): %d" % ab, file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--start", default=DEFAULT_START,
                    help="start of the day, RFC 3339 (default %s)" % DEFAULT_START)
    ap.add_argument("--out", default=DEFAULT_OUT,
                    help="output file, '-' for stdout (default demo/history.ndjson)")
    ap.add_argument("--check", metavar="PATH",
                    help="validate an existing history file instead of generating")
    ap.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args(argv)

    jobs = prowjob.load_ack_jobs(JOBS_FILE)
    if args.check:
        problems = check(args.check, jobs)
        for p in problems[:50]:
            print("gen-history: %s: %s" % (args.check, p), file=sys.stderr)
        if problems:
            return 1
        with open(args.check, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        print("gen-history: %s: %d documents, all valid" % (args.check, n), file=sys.stderr)
        return 0

    try:
        day0 = prowjob.parse_rfc3339(args.start)
    except ValueError:
        ap.error("--start: not an RFC 3339 time: %r" % args.start)
    d = build_day(day0, args.seed, jobs)
    docs = d.documents()
    check_quiet_end(docs)
    text = "".join(prowjob.to_json(t[4]) + "\n" for t in docs)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, args.out)
    if not args.quiet:
        summary(docs)
        if args.out != "-":
            print("  wrote %s" % os.path.relpath(args.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
