"""prowjob.py -- build realistic ProwJob documents for Herald's tests and demo data.

Python 3 standard library only. Import it from a test with::

    sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
    import prowjob

    doc = prowjob.make_prowjob(
        "lambda-post-submit", "postsubmit", prowjob.ORG, "lambda-controller",
        "failure", start=1795524503, completion=1795525590,
        build_id=prowjob.snowflake_build_id(1795524503), base_ref="v1.6.0")
    line = prowjob.to_json(doc)        # compact JSON, one NDJSON line

A document has the shape of a real ``prow.k8s.io/v1`` ProwJob as Prow writes it
(``pkg/pjutil``, ``pkg/pod-utils/decorate.LabelsAndAnnotationsForSpec``), minus the pod
spec and decoration config, which Herald never reads:

- ``metadata``: ``name`` (uuid-like, deterministic from the run's identity),
  ``namespace``, ``creationTimestamp``, ``labels`` (``created-by-prow``,
  ``prow.k8s.io/type``, ``prow.k8s.io/job`` cut to 63 characters,
  ``prow.k8s.io/context``, ``prow.k8s.io/refs.org|repo|base_ref``,
  ``prow.k8s.io/refs.pull``, ``prow.k8s.io/build-id``, ``prow.k8s.io/id``) and
  ``annotations`` (``prow.k8s.io/job`` full name, ``prow.k8s.io/context``).
- ``spec``: ``type``, ``job``, ``cluster``, ``namespace``, ``agent``, ``context``,
  ``report``, ``refs`` (presubmit/postsubmit/batch) or ``extra_refs`` (periodic),
  optional ``job_queue_name`` and ``reporter_config.slack``.
- ``status``: ``startTime``, ``pendingTime``, ``completionTime`` (RFC 3339 UTC,
  ``2026-11-24T10:00:00Z``), ``state``, ``description``, ``url``, ``build_id``.

Times are epoch seconds (int) everywhere in this API. Everything is deterministic: the
same arguments give the same document, byte for byte (see ``to_json``).

The module also parses ``tests/fixtures/ack-jobs.txt`` (the real list of ACK's jobs):
see ``load_ack_jobs`` and ``AckJob``.
"""

import collections
import datetime
import hashlib
import json
import uuid

__all__ = [
    "ORG", "TEST_INFRA_REPO", "PROW_URL", "LOG_BUCKET", "TYPES", "STATES",
    "FINAL_STATES", "DESCRIPTIONS", "INFRA_DESCRIPTIONS", "ABORTED_SUPERSEDED",
    "ABORTED_RUNNING_TIMEOUT", "LABEL_MAX", "rfc3339", "parse_rfc3339",
    "snowflake_build_id", "fake_sha", "prowjob_name", "job_url", "make_pull",
    "make_prowjob", "lifecycle", "to_json", "AckJob", "load_ack_jobs", "parse_ack_jobs",
    "split_repo", "service_of", "trigger_options",
]

# --------------------------------------------------------------------------------------
# Constants (ACK's Prow)

ORG = "aws-controllers-k8s"
"""The GitHub org of ACK (what ``${TEST_INFRA_ORG}`` becomes in production)."""
TEST_INFRA_REPO = "test-infra"
"""What ``${TEST_INFRA_REPO}`` becomes in production."""
PROW_URL = "https://prow.ack.aws.dev"
"""ACK's Deck."""
LOG_BUCKET = "ack-prow-artifacts"
"""ACK's S3 log bucket; Spyglass links are ``<PROW_URL>/view/s3/<LOG_BUCKET>/...``."""

TYPES = ("presubmit", "postsubmit", "periodic", "batch")
STATES = ("scheduling", "triggered", "pending", "success", "failure", "aborted", "error")
FINAL_STATES = ("success", "failure", "aborted", "error")
"""The states a finished run ends in (``completionTime`` is set)."""

DESCRIPTIONS = {
    "scheduling": "",
    "triggered": "",
    "pending": "Job triggered.",
    "success": "Job succeeded.",
    "failure": "Job failed.",
    "aborted": "Job aborted.",
    "error": "Pod got deleted unexpectedly",
}
"""Default ``status.description`` per state (Prow's plank texts)."""

INFRA_DESCRIPTIONS = (
    "Pod can not be created: ",
    "Job pod was OOM killed by the cluster.",
    "Job pod was evicted by the cluster.",
    "Pod scheduling timeout.",
    "Pod pending timeout.",
    "Pod got deleted unexpectedly",
)
"""Descriptions Prow gives infrastructure failures (state ``error``); the first is a
prefix followed by the Kubernetes error."""

ABORTED_SUPERSEDED = "Aborted as the newer version of this job is running."
"""Description of a presubmit aborted because a newer push started the same job."""
ABORTED_RUNNING_TIMEOUT = "Pod running timeout."
"""Description of a run aborted for exceeding its timeout."""

LABEL_MAX = 63
"""Kubernetes label values are at most 63 characters."""

_TRIGGERED = ("scheduling", "triggered")
_NAME_NS = uuid.UUID("6a1c1f0e-6b4e-4f1e-9c1d-686572616c64")  # fixed: names are stable
_SNOWFLAKE_EPOCH_MS = 1288834974657  # Prow's build IDs are Twitter-style snowflakes

# --------------------------------------------------------------------------------------
# Small helpers


def rfc3339(epoch):
    """Format epoch seconds as RFC 3339 UTC: ``2026-11-24T10:00:00Z``."""
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    """Parse ``2026-11-24T10:00:00Z`` (or with an offset / fraction) to epoch seconds."""
    s = text.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp())


def snowflake_build_id(epoch, seq=0, worker=1):
    """A Prow-like build ID for a run started at ``epoch`` seconds.

    Prow's build IDs are snowflakes: ``(ms since 2010-11-04T01:42:54.657Z) << 22 |
    worker << 12 | seq`` (e.g. ``1549129474832863232`` is 2022-07-18T20:30:22Z). They grow
    with time, so sorting by build ID sorts by start. ``seq`` (0..4095) separates runs
    started in the same second. Returned as a decimal string, like ``status.build_id``.
    """
    if not 0 <= seq < 4096:
        raise ValueError("seq must be in 0..4095")
    ms = int(epoch) * 1000 - _SNOWFLAKE_EPOCH_MS
    return str((ms << 22) | ((worker & 0x3FF) << 12) | seq)


def fake_sha(*parts):
    """A deterministic 40-hex git SHA made from ``parts``."""
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _trim_label(value):
    """Cut a label value to 63 characters the way Prow does (trailing ``._-`` removed)."""
    if len(value) <= LABEL_MAX:
        return value
    return value[:LABEL_MAX].rstrip("._-")


def prowjob_name(job, type, org, repo, build_id, pulls=None):
    """The deterministic ``metadata.name`` of a run: a UUID (v5) of its identity.

    The identity is the job, type, org/repo, pull numbers and build ID -- not the state
    or times, so every state of one run (triggered, pending, success) shares a name,
    as in Prow.
    """
    numbers = ",".join(str(p["number"] if isinstance(p, dict) else p) for p in pulls or ())
    key = "|".join([job, type, org or "", repo or "", numbers, str(build_id or "")])
    return str(uuid.uuid5(_NAME_NS, key))


def job_url(job, type, org, repo, build_id, pr=None):
    """The Spyglass URL of a run on ACK's Deck.

    Presubmits (and batches): ``.../pr-logs/pull/<org>_<repo>/<pr>/<job>/<build_id>``
    (a batch uses ``batch`` for ``<pr>``); postsubmits and periodics:
    ``.../logs/<job>/<build_id>``.
    """
    base = "%s/view/s3/%s" % (PROW_URL, LOG_BUCKET)
    if type in ("presubmit", "batch"):
        where = "batch" if type == "batch" else str(pr)
        return "%s/pr-logs/pull/%s_%s/%s/%s/%s" % (base, org, repo, where, job, build_id)
    return "%s/logs/%s/%s" % (base, job, build_id)


def make_pull(number, org, repo, author=None, sha=None, title=None, link=None):
    """One ``refs.pulls[]`` entry: ``number``, ``author``, ``sha``, ``title``, ``link``.

    ``sha`` defaults to a deterministic fake head SHA of the PR, ``link`` to
    ``https://github.com/<org>/<repo>/pull/<number>``. Fields left None are omitted
    (except ``number``, ``sha`` and ``link``, which are always set).
    """
    pull = {"number": int(number)}
    if author is not None:
        pull["author"] = author
    pull["sha"] = sha or fake_sha(org, repo, "pull", number)
    if title is not None:
        pull["title"] = title
    pull["link"] = link or "https://github.com/%s/%s/pull/%d" % (org, repo, int(number))
    return pull


def to_json(doc):
    """Compact JSON text of a document, keys in build order: one NDJSON line (no
    newline). Deterministic: ``make_prowjob`` always builds keys in the same order."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------
# The ProwJob builder


def make_prowjob(job, type, org, repo, state, start, completion, build_id,
                 base_ref=None, base_sha=None, pulls=None, description=None,
                 url=None, annotations=None, labels=None, report=None,
                 reporter_slack=None, name=None, *, pending=None, cluster="default",
                 namespace="test-pods", agent="kubernetes", context=None,
                 job_queue_name=None, extra_refs=None, prowjob_namespace="default"):
    """Build one ProwJob document (a dict) for one state of one run.

    Required:
      job          spec.job, e.g. ``"lambda-post-submit"``
      type         ``presubmit`` | ``postsubmit`` | ``periodic`` | ``batch``
      org, repo    the repository (``repo`` without the org, e.g. ``"lambda-controller"``).
                   Presubmits, postsubmits and batches get ``spec.refs``; periodics get
                   ``spec.extra_refs[0]`` instead (no ``refs``), or nothing at all when
                   ``org``/``repo`` are None (ACK's ``label-sync`` has no refs).
      state        one of ``STATES``
      start        epoch seconds: ``status.startTime`` and ``metadata.creationTimestamp``
      completion   epoch seconds or None: ``status.completionTime``. Required for the
                   final states (``FINAL_STATES``), refused for the others.
      build_id     ``status.build_id`` and the ``prow.k8s.io/build-id`` label (str or
                   int; see ``snowflake_build_id``); None leaves both out.

    Optional:
      base_ref     branch, or the tag for tag-triggered postsubmits (``"v1.6.0"``);
                   default ``"main"``
      base_sha     default: a deterministic fake SHA of (org, repo, base_ref, build_id)
      pulls        list of PR numbers or of dicts (``number``, ``author``, ``sha``,
                   ``title``, ``link``; see ``make_pull``); required for presubmits
      description  ``status.description``; default from ``DESCRIPTIONS`` by state
      url          ``status.url``; default ``job_url(...)``. Left out for the
                   ``scheduling``/``triggered`` states (no pod yet) unless given.
      annotations  extra ``metadata.annotations``, merged over the defaults
      labels       extra ``metadata.labels`` (e.g. ``{"prow.k8s.io/retest": "true"}``),
                   merged over the defaults; a None value removes a default label
      report       ``spec.report``; default True
      reporter_slack  dict for ``spec.reporter_config.slack`` (``channel``,
                   ``job_states_to_report``, ``report_template``, ``report``)
      name         ``metadata.name``; default ``prowjob_name(...)``, identical for every
                   state of the same run

    Keyword-only:
      pending      epoch seconds for ``status.pendingTime`` (states after ``triggered``);
                   default a few seconds after ``start``
      cluster, namespace, agent   spec fields; defaults ``"default"``, ``"test-pods"``,
                   ``"kubernetes"`` (ACK's presubmits set ``cluster: build``)
      context      ``spec.context``; default the job name for presubmits, postsubmits
                   and batches, none for periodics
      job_queue_name  ``spec.job_queue_name`` (ACK's OLM bundle jobs: ``olm-bundle-prs``)
      extra_refs   explicit ``spec.extra_refs`` list (overrides the periodic default)
      prowjob_namespace  ``metadata.namespace``; default ``"default"``

    Raises ValueError for an unknown type/state, a final state without ``completion``
    (or the reverse), ``completion < start``, a presubmit without pulls, or a
    non-periodic job without org/repo.
    """
    if type not in TYPES:
        raise ValueError("type %r: not one of %s" % (type, ", ".join(TYPES)))
    if state not in STATES:
        raise ValueError("state %r: not one of %s" % (state, ", ".join(STATES)))
    if not job:
        raise ValueError("job: empty")
    start = int(start)
    if state in FINAL_STATES:
        if completion is None:
            raise ValueError("state %s needs a completion time" % state)
        completion = int(completion)
        if completion < start:
            raise ValueError("completion %d is before start %d" % (completion, start))
    elif completion is not None:
        raise ValueError("state %s is not final: completion must be None" % state)
    if type != "periodic" and (not org or not repo):
        raise ValueError("%s %s needs org and repo" % (type, job))
    if build_id is not None:
        build_id = str(build_id)
    if base_ref is None:
        base_ref = "main"

    pull_list = []
    for p in pulls or ():
        if isinstance(p, dict):
            d = dict(p)
            if "number" not in d:
                raise ValueError("pull %r: no number" % (p,))
            pull_list.append(make_pull(d.pop("number"), org, repo, **d))
        else:
            pull_list.append(make_pull(p, org, repo))
    if type in ("presubmit", "batch") and not pull_list:
        raise ValueError("%s %s needs pulls" % (type, job))
    if type in ("postsubmit", "periodic") and pull_list:
        raise ValueError("%s %s cannot have pulls" % (type, job))

    # spec
    spec = {
        "type": type,
        "job": job,
        "cluster": cluster,
        "namespace": namespace,
        "agent": agent,
        "report": True if report is None else bool(report),
    }
    if context is None and type != "periodic":
        context = job
    if context is not None:
        spec["context"] = context
    primary = None
    if type == "periodic":
        if extra_refs is not None:
            spec["extra_refs"] = [dict(r) for r in extra_refs]
        elif org and repo:
            spec["extra_refs"] = [{
                "org": org, "repo": repo, "base_ref": base_ref,
                "repo_link": "https://github.com/%s/%s" % (org, repo),
            }]
        if spec.get("extra_refs"):
            primary = spec["extra_refs"][0]
    else:
        if base_sha is None:
            base_sha = fake_sha(org, repo, base_ref, build_id)
        refs = {
            "org": org,
            "repo": repo,
            "repo_link": "https://github.com/%s/%s" % (org, repo),
            "base_ref": base_ref,
            "base_sha": base_sha,
            "base_link": "https://github.com/%s/%s/commit/%s" % (org, repo, base_sha),
        }
        if pull_list:
            refs["pulls"] = pull_list
        spec["refs"] = refs
        if extra_refs is not None:
            spec["extra_refs"] = [dict(r) for r in extra_refs]
        primary = refs
    if job_queue_name:
        spec["job_queue_name"] = job_queue_name
    if reporter_slack is not None:
        spec["reporter_config"] = {"slack": dict(reporter_slack)}

    # metadata
    if name is None:
        name = prowjob_name(job, type, primary and primary.get("org"),
                            primary and primary.get("repo"), build_id, pull_list)
    lab = {
        "created-by-prow": "true",
        "prow.k8s.io/type": type,
        "prow.k8s.io/job": _trim_label(job),
        "prow.k8s.io/context": _trim_label(context or ""),
        "prow.k8s.io/id": name,
    }
    if primary:
        lab["prow.k8s.io/refs.org"] = primary.get("org", "")
        lab["prow.k8s.io/refs.repo"] = primary.get("repo", "")
        lab["prow.k8s.io/refs.base_ref"] = _trim_label(primary.get("base_ref", ""))
        if primary.get("pulls"):
            lab["prow.k8s.io/refs.pull"] = str(primary["pulls"][0]["number"])
    if build_id is not None:
        lab["prow.k8s.io/build-id"] = build_id
    for k, v in (labels or {}).items():
        if v is None:
            lab.pop(k, None)
        else:
            lab[k] = str(v)
    ann = {"prow.k8s.io/job": job, "prow.k8s.io/context": context or ""}
    for k, v in (annotations or {}).items():
        if v is None:
            ann.pop(k, None)
        else:
            ann[k] = str(v)
    metadata = {
        "name": name,
        "namespace": prowjob_namespace,
        "creationTimestamp": rfc3339(start),
        "labels": lab,
        "annotations": ann,
    }

    # status
    status = {"startTime": rfc3339(start), "state": state}
    if state not in _TRIGGERED:
        if pending is None:
            pending = start + 5
            if completion is not None:
                pending = min(pending, start + (completion - start) // 2)
        pending = int(pending)
        if pending < start or (completion is not None and pending > completion):
            raise ValueError("pendingTime must lie between start and completion")
        status["pendingTime"] = rfc3339(pending)
    if completion is not None:
        status["completionTime"] = rfc3339(completion)
    if description is None:
        description = DESCRIPTIONS[state]
    if description:
        status["description"] = description
    if url is None and state not in _TRIGGERED and build_id is not None:
        pr = pull_list[0]["number"] if pull_list else None
        url = job_url(job, type, primary and primary.get("org"),
                      primary and primary.get("repo"), build_id, pr)
    if url:
        status["url"] = url
    if build_id is not None:
        status["build_id"] = build_id

    return {
        "apiVersion": "prow.k8s.io/v1",
        "kind": "ProwJob",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


def lifecycle(job, type, org, repo, state, start, completion, build_id, **kwargs):
    """The documents Prow shows for one run, in order: ``triggered`` (at ``start``),
    ``pending`` (pod running) and the final ``state`` (at ``completion``).

    All three share ``metadata.name`` and ``build_id``; the first two have no
    ``completionTime``. ``kwargs`` are passed to ``make_prowjob`` (``description`` only
    to the final document).
    """
    if state not in FINAL_STATES:
        raise ValueError("lifecycle: %r is not a final state" % state)
    final = make_prowjob(job, type, org, repo, state, start, completion, build_id,
                         **kwargs)
    early = dict(kwargs)
    early.pop("description", None)
    early.pop("url", None)
    early["name"] = final["metadata"]["name"]
    early["pending"] = parse_rfc3339(final["status"]["pendingTime"])
    return [
        make_prowjob(job, type, org, repo, "triggered", start, None, build_id, **early),
        make_prowjob(job, type, org, repo, "pending", start, None, build_id, **early),
        final,
    ]


# --------------------------------------------------------------------------------------
# ack-jobs.txt


class AckJob(collections.namedtuple("AckJob", "type repo job trigger")):
    """One line of ``ack-jobs.txt``: ``(type, repo, job, trigger)``.

    ``repo`` is ``"aws-controllers-k8s/<name>"`` for presubmits and postsubmits; for
    periodics it is the file's ``"(extra_refs: <name> ...)"`` text (``"(extra_refs: -)"``
    when the job has none). ``trigger`` is the TRIGGER column with the optional extra
    column appended after a space (e.g. ``"branches=^v[0-9]+\\.[0-9]+\\.[0-9]+$
    job_queue_name=olm-bundle-prs"``); ``trigger_options`` splits it.
    """

    __slots__ = ()

    @property
    def org(self):
        """The org of the job's repository (periodics: of ``extra_refs[0]``), or None."""
        return self.refs[0]

    @property
    def name(self):
        """The repository name without org (``"lambda-controller"``), or None."""
        return self.refs[1]

    @property
    def refs(self):
        """``(org, repo)`` that ``make_prowjob`` wants; ``(None, None)`` for a periodic
        without extra_refs."""
        if self.type == "periodic":
            inner = self.repo.strip("()").split(":", 1)[-1].strip()
            first = inner.split()[0] if inner else "-"
            if first == "-":
                return (None, None)
            if "/" in first:
                return tuple(first.split("/", 1))
            return (ORG, first)
        return split_repo(self.repo)

    @property
    def service(self):
        """ACK service name: the repo name without ``-controller`` (None if no repo)."""
        return service_of(self.name) if self.name else None

    @property
    def options(self):
        """``trigger_options(self.trigger)``."""
        return trigger_options(self.trigger)


DEFAULT_SUBSTITUTIONS = {
    "${TEST_INFRA_ORG}": ORG,
    "${TEST_INFRA_REPO}": TEST_INFRA_REPO,
}
"""Placeholders replaced by ``load_ack_jobs`` (``${TEST_INFRA_BRANCH}`` is kept as is)."""


def parse_ack_jobs(text, substitutions=None):
    """Parse the text of ``ack-jobs.txt`` into a list of ``AckJob``, in file order.

    Comment lines (``#``) and blank lines are skipped. Placeholders in
    ``substitutions`` (default ``DEFAULT_SUBSTITUTIONS``) are replaced in every field.
    Raises ValueError on a line with fewer than 4 tab-separated columns or an unknown
    type.
    """
    subs = DEFAULT_SUBSTITUTIONS if substitutions is None else substitutions
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        for k, v in subs.items():
            line = line.replace(k, v)
        cols = line.split("\t")
        if len(cols) < 4:
            raise ValueError("line %d: %d columns, want at least 4" % (lineno, len(cols)))
        if cols[0] not in TYPES:
            raise ValueError("line %d: unknown type %r" % (lineno, cols[0]))
        trigger = " ".join(c for c in cols[3:] if c)
        out.append(AckJob(cols[0], cols[1], cols[2], trigger))
    return out


def load_ack_jobs(path, substitutions=None):
    """Read and parse ``ack-jobs.txt`` (see ``parse_ack_jobs``)."""
    with open(path, encoding="utf-8") as f:
        return parse_ack_jobs(f.read(), substitutions)


def split_repo(full):
    """``"aws-controllers-k8s/lambda-controller"`` -> ``("aws-controllers-k8s",
    "lambda-controller")``; a name without ``/`` gets ``ORG``."""
    if "/" in full:
        org, name = full.split("/", 1)
        return (org, name)
    return (ORG, full)


def service_of(repo):
    """ACK's service of a repo: ``"lambda-controller"`` -> ``"lambda"`` (others as is)."""
    name = repo.split("/")[-1]
    return name[:-len("-controller")] if name.endswith("-controller") else name


def trigger_options(trigger):
    """Split a trigger into a dict: flags map to True, ``key=value`` to the value.

    ``"always_run optional cluster=build"`` -> ``{"always_run": True, "optional": True,
    "cluster": "build"}``; ``"interval=6h"`` -> ``{"interval": "6h"}``.
    """
    opts = {}
    for tok in trigger.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            opts[k] = v
        else:
            opts[tok] = True
    return opts
