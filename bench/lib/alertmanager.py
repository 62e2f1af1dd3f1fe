"""alertmanager.py -- Herald vs Prometheus Alertmanager on the same failure stream.

n distinct failures (presubmit failures across every controller and stage, each on its
own PR) arrive at once. Herald gets them as events on Kafka (published with kcat -P);
Alertmanager gets one alert per failure through its API (POST /api/v2/alerts, 64 per
request, as Prometheus batches them), labelled with the same service, stage and job.

Both group the same way: a stage failing across services is one incident (Herald's
ecosystem level; Alertmanager `group_by: [stage]`), and both send at once and fold or
update what follows (Herald on the Web API: chat.update keeps the incident's alert
current): Herald `ecosystem.hold: 0s`, `release.hold: 0s`, storm limit 1000/s;
Alertmanager `group_wait: 0s`, `group_interval: 1s`.

A failure is REPRESENTED when a message delivered after it was published names its
service and its stage:
- Herald (herald-slackd's record): one text element of the message (the text, a
  header, a field, a section) names both as words, or the message names exactly one
  stage and names the service anywhere (an ecosystem alert listing services);
- Alertmanager (the webhook payload): the notification carries an alert with those
  service and stage labels.
Measured: the time from the first failure handed over until every failure is
represented (or "never" within the wait), the time of the last message, and the dedup
outcome: how many messages, how many of the failures each represents.
"""

import fnmatch
import http.server
import json
import os
import re
import tempfile
import threading
import time
import urllib.request

import benchlib
import events
from benchlib import HarnessError, log
from report import figure

EXAMPLE_CONFIG = os.path.join(benchlib.REPO, "deploy", "herald.example.yaml")
AM_BIN = os.environ.get("ALERTMANAGER") or "prometheus-alertmanager"
AM_RULES = {
    "release": {"hold": "0s"},
    "ecosystem": {"hold": "0s"},
    "storm": {"rate": 1000, "burst": 1000},
}
QUIET_S = 2.0      # no new message for this long after the stream: done (opts.am_quiet_s)
MAX_WAIT_S = 60.0  # per tool and run
TOKEN = re.compile(r"[a-z0-9][a-z0-9-]*")


def shipped_stages(path=EXAMPLE_CONFIG):
    """[(stage, [job globs])] from classify.stages of the annotated example config (the
    shipped defaults), so the bench labels failures as Herald does."""
    with open(path) as f:
        text = f.read()
    sec = text[text.index("\nclassify:"):]
    sec = sec[:sec.index("\n  tiers:")]
    out = []
    for m in re.finditer(r"\{\s*name:\s*([\w-]+),\s*jobs:\s*\[([^\]]*)\]\s*\}", sec, re.S):
        globs = [g.strip().strip('"') for g in m.group(2).split(",") if g.strip()]
        out.append((m.group(1), globs))
    if not out:
        raise HarnessError("no classify.stages in %s" % path)
    return out


def stage_of(job, stages):
    for name, globs in stages:
        if any(fnmatch.fnmatchcase(job, g) for g in globs):
            return name
    return "other"


def _texts(o, out):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "text" and isinstance(v, str):
                out.append(v)
            else:
                _texts(v, out)
    elif isinstance(o, list):
        for v in o:
            _texts(v, out)
    return out


def herald_pairs(payload, services, stages):
    """The (service, stage) pairs a Slack payload names (see the module doc)."""
    pairs = set()
    all_sv, all_st = set(), set()
    for t in _texts(payload, []):
        toks = set(TOKEN.findall(t.lower()))
        sv, st = toks & services, toks & stages
        all_sv |= sv
        all_st |= st
        pairs |= {(a, b) for a in sv for b in st}
    if len(all_st) == 1:
        (st,) = all_st
        pairs |= {(a, st) for a in all_sv}
    return pairs


def outcome(pairs_of_failures, t_pub, messages):
    """messages: [(received ms, set of pairs[, is an edit])] in arrival order. Returns
    (ms until all represented or None, represented count, per-message counts of the
    messages that are not edits, last message ms)."""
    first_rep = {}
    per_msg = []
    for msg in messages:
        t, pairs = msg[0], msg[1]
        n = 0
        for i, pr in enumerate(pairs_of_failures):
            if pr in pairs and t >= t_pub:
                n += 1
                first_rep.setdefault(i, t)
        if len(msg) < 3 or not msg[2]:  # an edit (chat.update) is not another message
            per_msg.append(n)
    rep = len(first_rep)
    done = (max(first_rep.values()) - t_pub) if rep == len(pairs_of_failures) else None
    last = (messages[-1][0] - t_pub) if messages else None
    return done, rep, per_msg, last


class Hook(http.server.BaseHTTPRequestHandler):
    """Alertmanager's webhook receiver: records (ms, payload)."""

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        t = time.time() * 1000.0
        try:
            self.server.got.append((t, json.loads(body)))
        except ValueError:
            pass
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def _collect(get_messages, want, handled, t_pub, quiet=QUIET_S):
    """Poll until every failure is represented (then `quiet` s more for late messages),
    or no message arrived for `quiet` s after handled() is true, or MAX_WAIT_S."""
    deadline = time.monotonic() + MAX_WAIT_S
    last_n, last_change = -1, time.monotonic()
    all_at = None
    while True:
        msgs = get_messages()
        now = time.monotonic()
        if len(msgs) != last_n:
            last_n, last_change = len(msgs), now
        done, rep, _pm, _l = outcome(want, t_pub, msgs)
        if done is not None and all_at is None:
            all_at = now
        if all_at is not None and now - all_at >= quiet:
            break
        if all_at is None and handled() and now - last_change >= quiet:
            break
        if now > deadline:
            break
        time.sleep(0.1)
    return get_messages()


def start_herald(env, opts):
    """A broker and a consumer for one Herald run; the group join (3 s on the
    development broker) overlaps the Alertmanager run, which needs no broker."""
    from scenarios import variant_config
    broker = env.broker()
    env.fresh_state()
    # The Web API (chat.postMessage, chat.update): an incident's alert is kept current as
    # services join, the way Alertmanager's group notifications are. (A webhook channel
    # cannot edit: it hears of the later ones once the incident settles, W later.)
    api = [{"name": n, "type": "webapi", "token": env.slack.TOKEN, "channel": ch,
            "url": env.slack.api_url()} for n, ch in (("releases", "#releases"),
                                                      ("ci", "#ci"))]
    c = benchlib.Consumer(env, variant_config(env, broker, opts,
                                              extra=dict(AM_RULES, receivers=api)),
                          name="am")
    return broker, c


def run_herald(env, broker, c, lines, want, services, stages, quiet, lateness_s=None):
    """lateness_s: the producer's --lateness (None: its default). Herald's quiet wait
    starts once every event is consumed and none is waiting for a decision (a message
    cannot come before the watermark passed and the engine decided)."""
    pub = None
    extra = () if lateness_s is None else ("--lateness", "%gs" % lateness_s)

    seen = [0]

    def decided():
        """True from the second look in a row that finds it so (the gauge is set at
        the end of a step, the consumed count before it)."""
        ok = (c.handled() >= len(lines) and
              c.metrics().sum("herald_events_waiting") == 0)
        seen[0] = seen[0] + 1 if ok else 0
        return seen[0] >= 2
    try:
        c.wait_assigned_all()
        pub = benchlib.Publisher(env, broker, extra=extra)
        t_pub = pub.send_many(lines)[0]

        def msgs():
            return [(m["received_ms"], herald_pairs(m.get("payload"), services, stages),
                     m.get("api") == "webapi-update") for m in env.slack.messages()]
        out = _collect(msgs, want, decided, t_pub, quiet)
        return outcome(want, t_pub, out)
    finally:
        if pub:
            pub.close()
        c.stop()


AM_CONFIG = """route:
  receiver: hook
  group_by: [stage]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:%d/hook
        send_resolved: false
        max_alerts: 0
"""


def run_am(env, alerts, want, quiet):
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    hook.got = []
    th = threading.Thread(target=hook.serve_forever, daemon=True)
    th.start()
    tmp = tempfile.mkdtemp(prefix="herald-bench-am-")
    cfg = os.path.join(tmp, "am.yml")
    with open(cfg, "w") as f:
        f.write(AM_CONFIG % hook.server_address[1])
    port = benchlib.free_port()
    proc = benchlib.harness.Process("alertmanager", [
        AM_BIN, "--config.file=" + cfg, "--storage.path=" + os.path.join(tmp, "data"),
        "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address=",
        "--log.level=warn"], env.logs)
    base = "http://127.0.0.1:%d" % port
    try:
        benchlib.wait_until(lambda: benchlib.http("GET", base + "/-/ready")[0] == 200, 30,
                            what="alertmanager /-/ready")
        t_pub = time.time() * 1000.0
        for i in range(0, len(alerts), 64):
            st, body = benchlib.http("POST", base + "/api/v2/alerts", body=alerts[i:i + 64])
            if st != 200:
                raise HarnessError("alertmanager POST: %s %r" % (st, body[:200]))

        def msgs():
            out = []
            for t, p in list(hook.got):
                pairs = {(a.get("labels", {}).get("service"), a.get("labels", {}).get("stage"))
                         for a in p.get("alerts", [])}
                out.append((t, pairs))
            return out
        out = _collect(msgs, want, lambda: True, t_pub, quiet)
        return outcome(want, t_pub, out)
    finally:
        proc.stop()
        hook.shutdown()
        hook.server_close()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def compare(env, opts):
    n = opts.am_failures
    end = int(time.time())
    lines, idents = events.failure_stream(n, end)
    st = shipped_stages()
    stages = {s for s, _g in st} | {"other"}
    want = [(i.service, stage_of(i.job, st)) for i in idents]
    services = {w[0] for w in want}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alerts = [{"labels": {"alertname": "ProwJobFailed", "service": i.service,
                          "stage": stage_of(i.job, st), "job": i.job, "pr": str(i.pr)},
               "annotations": {"summary": "%s failed on PR #%d" % (i.job, i.pr)},
               "startsAt": now} for i in idents]
    R = {k: [] for k in ("h_all", "a_all", "h_last", "a_last", "h_msgs", "a_msgs",
                         "h_rep", "a_rep", "h_per", "a_per", "h0_all", "h0_last",
                         "h0_msgs", "h0_rep", "h0_per")}
    for run in range(opts.runs):
        log("alertmanager run %d/%d: %d failures" % (run + 1, opts.runs, n))
        broker, c = start_herald(env, opts)
        results = {}
        try:
            results["a"] = run_am(env, alerts, want, opts.am_quiet_s)
        except Exception:
            c.stop()
            raise
        results["h"] = run_herald(env, broker, c, lines, want, services, stages,
                                  opts.am_quiet_s)
        # The same with --lateness 0 (a source whose events come in order): the
        # pipeline alone, without the wait for the source's lateness.
        broker, c = start_herald(env, opts)
        results["h0"] = run_herald(env, broker, c, lines, want, services, stages,
                                   opts.am_quiet_s, lateness_s=0)
        for who, res in results.items():
            done, rep, per_msg, last = res
            R[who + "_all"].append(done / 1000.0 if done is not None else None)
            R[who + "_last"].append(last / 1000.0 if last is not None else None)
            R[who + "_msgs"].append(len(per_msg))
            R[who + "_rep"].append(rep)
            R[who + "_per"].append(per_msg)

    def summary(who):
        msgs = benchlib.median(R[who + "_msgs"])
        rep = benchlib.median(R[who + "_rep"])
        per = R[who + "_per"][len(R[who + "_per"]) // 2] if R[who + "_per"] else []
        per_s = sorted(per)
        return ("%d msgs, %s failures each (min/median/max), %d/%d represented" %
                (msgs or 0, "%d/%d/%d" % (per_s[0], per_s[len(per_s) // 2], per_s[-1])
                 if per_s else "-", rep or 0, n))
    note = ("%d distinct failures at once; group by stage; represented = a delivered "
            "message names the failure's service and stage" % n)
    return [
        figure("am.time_all_represented", "every failure represented: Herald vs "
               "Alertmanager", "s", "lower", R["h_all"], R["a_all"], "Alertmanager",
               target_ratio=("<=", 0.1), note=note, none_text="never",
               extra={"never_herald": R["h_all"].count(None),
                      "never_alertmanager": R["a_all"].count(None)}),
        figure("am.time_all_represented.lateness0", "every failure represented: Herald "
               "--lateness 0 vs Alertmanager", "s", "lower", R["h0_all"], R["a_all"],
               "Alertmanager", note=note, none_text="never",
               extra={"never_herald": R["h0_all"].count(None)}),
        figure("am.time_last_message", "last message: Herald vs Alertmanager", "s", "lower",
               R["h_last"], R["a_last"], "Alertmanager"),
        figure("am.messages", "messages for %d failures" % n, "msgs", "lower", R["h_msgs"],
               R["a_msgs"], "Alertmanager", extra={"per_message_herald": R["h_per"],
                                                    "per_message_alertmanager": R["a_per"]}),
        figure("am.represented", "failures represented (of %d)" % n, "failures", "higher",
               R["h_rep"], R["a_rep"], "Alertmanager"),
        figure("am.outcome.herald", "dedup outcome, Herald", "", "lower", [], text=summary("h")),
        figure("am.outcome.alertmanager", "dedup outcome, Alertmanager", "", "lower", [],
               text=summary("a")),
    ]
