"""scenarios.py -- the core figures: replay, publish, Redis, memory, latency.

Each scenario takes (env, opts) and returns a list of figures (report.figure()). A
figure holds the samples of every run for Herald and for its baseline, measured side by
side in the same invocation (alternating which goes first), so that the ratio of a
pair is taken under the same machine load.
"""

import json
import os
import re
import time

import benchlib
import events
from benchlib import HarnessError, log
from report import figure

DAY = 86400


def history_end():
    """The end of the bench histories: yesterday 00:00 UTC (event times in the past, and
    the same bytes for a whole day, so the dataset cache is reused)."""
    return (int(time.time()) // DAY - 1) * DAY


# Rule settings for the latency and tracked-jobs runs: every failure is sent at once
# (no hold), no ecosystem folding, a storm limit that never folds 5 failures/s. They
# measure the pipeline, not the waits the rules impose on purpose.
LIVE_RULES = {
    "release": {"hold": "0s"},
    "ecosystem": {"enabled": False},
    "storm": {"rate": 1000, "burst": 1000},
}


def variant_config(env, broker, opts, kafka_props=None, batch_wait=None, extra=None):
    """A consumer config for this run, with the invocation's --kafka-prop/--batch-wait
    (opts) applied over the scenario's own settings."""
    props = dict(kafka_props or {})
    props.update(opts.kafka_props)
    bw = opts.batch_wait if opts.batch_wait is not None else batch_wait
    return benchlib.herald_config(env, broker, env.uniq("g"), env.uniq("p") + ":",
                                  kafka_props=props, batch_wait=bw, extra=extra)


def kcat_drain(broker, expect, topic=benchlib.TOPIC, tries=3):
    """kcat -C (all partitions, from the beginning). Returns {"rate", "wall_s",
    "first_s", "rss_kib", "cpu_us_per_msg"}. The rate leaves start-up out, like the
    consumer's: (expect - 1) / (time to read `expect` records - time to read 1), from
    runs of `kcat -C -c COUNT` (kcat's output is buffered, so when its lines arrive
    says nothing about when it read them). Each is the best of `tries` runs: kcat's
    reads stall at random for up to fetch.wait.max.ms (500 ms) when a fetch of some
    partition comes back empty, which is not the reading speed being measured."""
    def once(count):
        argv = [benchlib.KCAT, "-C", "-b", broker.bootstrap, "-t", topic, "-o",
                "beginning", "-c", str(count), "-q", "-f", "%o\n"]
        wall, rc, out, err, rss = benchlib.run_timed(argv, timeout=300)
        if rc != 0 or out.count(b"\n") < count:
            raise HarnessError("kcat -C -c %d: exit %d, %d records: %s" %
                               (count, rc, out.count(b"\n"),
                                err.decode(errors="replace")[-300:]))
        return wall, rss, benchlib.LAST_RUSAGE["cpu_s"]
    one = min((once(1) for _ in range(tries)), key=lambda r: r[0])
    full = min((once(expect) for _ in range(tries)), key=lambda r: r[0])
    rate = (expect - 1) / (full[0] - one[0]) if full[0] > one[0] else None
    return {"rate": rate, "wall_s": full[0], "first_s": one[0], "rss_kib": full[1],
            "cpu_us_per_msg": (full[2] - one[2]) * 1e6 / (expect - 1)}


def replay(env, opts):
    """Replay throughput (consumer vs kcat -C), publish rate (herald-producer vs
    kcat -P), Redis per event and peak RSS after the backlog: the same runs."""
    n = opts.replay_events
    end = history_end()
    path = env.cached("history-%d-%d" % (n, end), lambda: events.history(n, end))
    producer = os.path.join(env.bin, "herald-producer")
    kcat_p = [benchlib.KCAT, "-P", "-t", "bench.kcat",
              # herald-producer's own settings (producer/main.c): idempotent, lz4, 5 ms.
              "-X", "enable.idempotence=true", "-X", "compression.codec=lz4",
              "-X", "linger.ms=5"]
    S = {k: [] for k in ("c_rate", "k_rate", "p_rate", "kp_rate", "c_rss", "k_rss",
                         "cmd_ev", "cpu_ev", "cmd_batch", "reads_batch", "c_wall", "batches",
                         "ev_batch", "c_cpu", "k_cpu", "kc_rss")}
    calls_total = {}
    for run in range(opts.runs):
        log("replay run %d/%d (%d events)" % (run + 1, opts.runs, n))
        broker = env.broker()
        env.fresh_state()
        herald_first = run % 2 == 0

        def pub_herald():
            wall, rc, out, err, _ = benchlib.run_timed([producer, "-b", broker.bootstrap,
                                                        path])
            summ = benchlib.harness.producer_summary(out.decode(errors="replace"))
            if rc != 0 or not summ:
                raise HarnessError("herald-producer exit %d: %s" %
                                   (rc, err.decode(errors="replace")[-800:]))
            S["p_rate"].append(summ["published"] / wall)
            return summ["published"]

        def pub_kcat():
            wall, rc, _o, err, _ = benchlib.run_timed(kcat_p + ["-b", broker.bootstrap],
                                                      stdin_path=path)
            if rc != 0:
                raise HarnessError("kcat -P exit %d: %s" % (rc, err[-500:]))
            S["kp_rate"].append(n / wall)

        if herald_first:
            published = pub_herald()
            pub_kcat()
        else:
            pub_kcat()
            published = pub_herald()
        env.check_untrimmed(broker)

        def cons_herald():
            cfg = variant_config(env, broker, opts)
            before = benchlib.redis_info(env)
            t0 = time.monotonic()
            c = benchlib.Consumer(env, cfg, name="replay")
            try:
                first, first_n, done = c.wait_handled(published, timeout=opts.timeout)
                rss = c.peak_rss_kib()
                cpu = benchlib.cpu_seconds(c.proc.pid)
                batches = c.metrics().sum("herald_batches_total")
            finally:
                c.stop()
            after = benchlib.redis_info(env)
            d = benchlib.redis_delta(before, after)
            S["c_rate"].append((published - first_n) / (done - first) if done > first
                               else None)
            S["c_wall"].append(done - t0)
            S["c_rss"].append(rss / 1024.0 if rss else None)
            S["c_cpu"].append(cpu * 1e6 / published if cpu is not None else None)
            ncalls = sum(d["calls"].values())
            S["cmd_ev"].append(ncalls / published)
            S["cpu_ev"].append(d["cpu_s"] * 1e6 / published)
            S["batches"].append(batches)
            S["cmd_batch"].append(ncalls / batches if batches else None)
            S["reads_batch"].append(d["reads"] / batches if batches else None)
            S["ev_batch"].append(published / batches if batches else None)
            for k, v in d["calls"].items():
                calls_total.setdefault(k, []).append(v / published)

        def cons_kcat():
            # The memory baseline: librdkafka's high-level consumer (as Herald) with
            # the same properties, reading the same backlog. Started first: its group
            # join (3 s, idle) overlaps the kcat -C runs.
            # (Not in --quick: the join would add 3 s to every run.)
            kc = None
            if not opts.quick:
                kc = benchlib.KcatConsumer(env, broker, env.uniq("kr"),
                                           props=opts.kafka_props, fmt="%o\n")
            try:
                r = kcat_drain(broker, published)
                S["k_rate"].append(r["rate"])
                S["kc_rss"].append(r["rss_kib"] / 1024.0)
                S["k_cpu"].append(r["cpu_us_per_msg"])
                if kc is None:
                    return
                benchlib.wait_until(lambda: kc.count() >= published, opts.timeout,
                                    interval=0.05, what="kcat -G read the backlog")
                S["k_rss"].append(benchlib.peak_rss_kib(kc.proc.pid) / 1024.0)
            finally:
                if kc is not None:
                    kc.stop()

        if herald_first:
            cons_herald()
            cons_kcat()
        else:
            cons_kcat()
            cons_herald()

    ev_size = os.path.getsize(path) / n
    note = "%d events (ProwJobs of %.0f B; 95 %% successes of healthy jobs)" % (n, ev_size)
    per_cmd = {k: benchlib.median(v) for k, v in sorted(calls_total.items())}
    return [
        figure("replay.rate", "replay: herald-consumer vs kcat -C", "events/s", "higher",
               S["c_rate"], S["k_rate"], "kcat -C", target_ratio=(">=", 0.5), note=note,
               extra={"consumer_wall_s_incl_start": S["c_wall"]}),
        figure("publish.rate", "publish: herald-producer vs kcat -P", "events/s", "higher",
               S["p_rate"], S["kp_rate"], "kcat -P",
               note="same NDJSON input; kcat -P with herald-producer's settings "
                    "(idempotent, lz4, linger 5 ms), one record per line"),
        figure("replay.cpu_per_event", "consumer CPU per event (replay)", "us", "lower",
               S["c_cpu"], S["k_cpu"], "kcat -C",
               note="the consumer's user+sys CPU over its whole run / events; kcat: the "
                    "same difference as its rate"),
        figure("rss.backlog", "consumer peak RSS after a %dk backlog" % (n // 1000), "MiB",
               "lower", S["c_rss"], S["k_rss"] or None, "kcat -G", target_value=("<=", 32),
               note="baseline: kcat -G (librdkafka's high-level consumer, as Herald) with "
                    "the same kafka properties",
               extra={"kcat_C_rss_mib": S["kc_rss"]}),
        figure("redis.cmds_per_event", "Redis commands per event", "cmds", "lower",
               S["cmd_ev"], note="INFO commandstats delta over the replay",
               extra={"per_command": per_cmd}),
        figure("redis.cmds_per_batch", "Redis commands per batch", "cmds", "lower",
               S["cmd_batch"], extra={"events_per_batch": S["ev_batch"],
                                      "batches": S["batches"],
                                      # socket reads, not round trips (16 KiB each):
                                      "redis_reads_per_batch": S["reads_batch"]}),
        figure("redis.cpu_per_event", "Redis CPU per event", "us", "lower", S["cpu_ev"],
               note="INFO used_cpu_user+used_cpu_sys delta"),
    ]


def read_lines(path):
    with open(path, "rb") as f:
        return [ln.rstrip(b"\n") for ln in f if ln.strip()]


def tracked_jobs(env, opts):
    """Peak RSS with few vs many tracked jobs, the consumer keeping up with a paced
    stream (so the figure is about job state, not a backlog)."""
    n = opts.tracked_events
    end = history_end()
    sizes = (100, n)
    data = {}
    for j in sizes:
        path = env.cached("tracked-%d-%d-%d" % (n, j, end),
                          lambda j=j: events.history(n, end, healthy=j - 25, failing=25,
                                                     spacing=0.5, seed=j))
        data[j] = read_lines(path)
    rss = {j: [] for j in sizes}
    lag = {j: [] for j in sizes}
    rate = opts.tracked_rate
    for run in range(opts.runs):
        # Both sizes side by side, each on its own broker (memory is what is measured;
        # the paced rate is far below what one consumer can take).
        log("tracked-jobs run %d/%d: %s jobs, %d events at %d/s each" %
            (run + 1, opts.runs, " and ".join(str(j) for j in sizes), n, rate))
        env.fresh_state()
        brokers = env.brokers(len(sizes))
        cons, pubs = {}, {}
        try:
            for j, broker in zip(sizes, brokers):
                cons[j] = benchlib.Consumer(env, variant_config(env, broker, opts,
                                                                extra=LIVE_RULES),
                                            name="tracked-%d" % j)
            for j, broker in zip(sizes, brokers):
                cons[j].wait_assigned_all()
                pubs[j] = benchlib.Publisher(env, broker, name="producer-%d" % j)
            t0 = time.monotonic()
            step = max(1, int(rate) // 100)
            worst = {j: 0 for j in sizes}
            for i in range(0, n, step):
                due = t0 + i / rate
                while time.monotonic() < due:
                    time.sleep(max(0.0, min(0.01, due - time.monotonic())))
                for j in sizes:
                    pubs[j].send_many(data[j][i:i + step])
                if i % (step * 50) == 0:
                    for j in sizes:
                        worst[j] = max(worst[j], i - cons[j].handled())
            for j in sizes:
                p, pubs[j] = pubs[j], None
                if p.close() != 0:
                    raise HarnessError("herald-producer failed: %s" %
                                       benchlib.harness.tail(p.err_path, 5))
            for j in sizes:
                cons[j].wait_handled(len(data[j]), timeout=opts.timeout)
                rss[j].append(cons[j].peak_rss_kib() / 1024.0)
                lag[j].append(worst[j])
        finally:
            for p in pubs.values():
                if p:
                    p.close()
            for c in cons.values():
                c.stop()
    return [figure("rss.tracked", "consumer peak RSS, %d vs 100 tracked jobs" % n, "MiB",
                   "lower", rss[n], rss[100], "100 tracked jobs", target_value=("<=", 32),
                   note="%d events published at %d/s while the consumer runs" % (n, rate),
                   extra={"max_lag_events": {str(k): v for k, v in lag.items()}})]


# ---- latency --------------------------------------------------------------------------

def _herald_arrivals(env, failures):
    """{build_id: ms herald-slackd received the first message naming it (its link
    carries the build id)}."""
    got = {}
    for m in env.slack.messages():
        for bid in re.findall(r"\d{15,20}", json.dumps(m.get("payload"))):
            if bid in failures and bid not in got:
                got[bid] = m["received_ms"]
    return got


def _wait_delivered(env, kc, failures, published, timeout):
    """Wait until herald-slackd has a message for every failure and kcat has every
    record (or timeout); returns (herald arrivals, kcat arrivals)."""
    deadline = time.monotonic() + timeout
    while True:
        h = _herald_arrivals(env, failures)
        if len(h) >= len(failures) and kc.count() >= published:
            break
        if time.monotonic() > deadline:
            log("latency: %d/%d failures delivered, kcat %d/%d records after %.0fs" %
                (len(h), len(failures), kc.count(), published, timeout))
            break
        time.sleep(0.2)
    return h, kc.arrivals_by_build()


def _lat(pubs, arr):
    out = []
    missing = 0
    for bid, t in pubs.items():
        if bid in arr:
            out.append(arr[bid] - t)
        else:
            missing += 1
    return out, missing


# name, consumer's librdkafka properties, batch_wait, kcat's properties, producer's
# options. "pipeline": the shipped defaults with the producer's --lateness 0, so what
# is measured is the pipeline alone, not the wait for the source's lateness (2 s).
# "fetch10" (the before figures' tuned row; the consumer's own fetch.wait.max.ms is 10
# now) runs only when --latency-settings names it.
LAT_DEFAULT = ("defaults", "pipeline")
LAT_SETTINGS = (
    ("defaults", {}, None, {}, ()),
    ("pipeline", {}, None, {}, ("--lateness", "0")),
    ("fetch10", {"fetch.wait.max.ms": "10"}, "10ms", {"fetch.wait.max.ms": "10"}, ()),
)
LAT_LABELS = {"defaults": "defaults", "pipeline": "defaults, --lateness 0",
              "fetch10": "fetch.wait/batch_wait 10ms"}


def latency(env, opts):
    """Failure published -> herald-slackd has it, vs kcat -G's time-to-consume for the
    same records, steady (opts.steady_rate for opts.steady_s) then inside a burst."""
    steady_n = int(opts.steady_rate * opts.steady_s)
    warmup, _ = events.live_stream(1, int(time.time()), fail_every=0, seed=23,
                                   first_pr=900000)

    def stream(run, lead_s=1.0):
        """A run's events as a live source has them: each completes in the second it
        is sent (the steady part paced from t0, the burst right after it). New PRs
        every run: each failure is a new identity and alerts at once."""
        base = 1000000 + run * 100000
        t0 = time.time() + lead_s
        steady, sf = events.live_stream(steady_n, int(t0), seed=21 + run, first_pr=base,
                                        rate=opts.steady_rate)
        return t0, steady, {f[0]: f[1] for f in sf}

    def burst_of(run):
        """The burst: completing in the second it is sent."""
        burst, bf = events.live_stream(opts.burst_events, int(time.time()), seed=51 + run,
                                       first_pr=1000000 + run * 100000 + 40000)
        return burst, {f[0]: f[1] for f in bf}
    figs = []
    for name, props, bw, kprops, pargs in LAT_SETTINGS:
        if name not in (opts.latency_settings or LAT_DEFAULT):
            continue
        res = {k: [] for k in ("s50", "s95", "s99", "b50", "b95", "b99",
                               "ks50", "ks95", "ks99", "kb50", "kb95", "kb99", "cpu", "kcpu")}
        # kcat gets the same fetch settings as the consumer (--kafka-prop included).
        kprops = dict(kprops)
        kprops.update({k: v for k, v in opts.kafka_props.items() if k.startswith("fetch.")})
        missing = []
        # One consumer and one kcat for the runs of a setting (joining a group on the
        # development broker takes 3 s); every run has its own failures.
        broker = env.broker()
        env.fresh_state()
        c = benchlib.Consumer(env, variant_config(env, broker, opts, kafka_props=props,
                                                  batch_wait=bw, extra=LIVE_RULES),
                              name="latency")
        kc = benchlib.KcatConsumer(env, broker, env.uniq("kg"), props=kprops)
        pub = None
        try:
            c.wait_assigned_all()
            kc.wait_assigned()
            pub = benchlib.Publisher(env, broker, extra=pargs)
            pub.send_many(warmup)
            benchlib.wait_until(lambda: c.handled() >= 1 and kc.count() >= 1, 30,
                                what="warm-up event consumed")
            sent = 1
            for run in range(opts.runs):
                t0w, steady, sfail = stream(run)
                log("latency %s run %d/%d: %d events at %g/s, then a burst of %d" %
                    (name, run + 1, opts.runs, steady_n, opts.steady_rate,
                     opts.burst_events))
                pubs = {}
                time.sleep(max(0.0, t0w - time.time()))
                cpu0 = (benchlib.cpu_seconds(c.proc.pid), benchlib.cpu_seconds(kc.proc.pid))
                t0 = time.monotonic()
                for i, line in enumerate(steady):
                    due = t0 + i / opts.steady_rate
                    while True:
                        left = due - time.monotonic()
                        if left <= 0:
                            break
                        time.sleep(left)
                    t = pub.send(line)
                    if i in sfail:
                        pubs[sfail[i]] = t
                sent += len(steady)
                wall = time.monotonic() - t0
                cpu1 = (benchlib.cpu_seconds(c.proc.pid), benchlib.cpu_seconds(kc.proc.pid))
                res["cpu"].append((cpu1[0] - cpu0[0]) / wall * 1000 if None not in
                                  (cpu0[0], cpu1[0]) else None)
                res["kcpu"].append((cpu1[1] - cpu0[1]) / wall * 1000 if None not in
                                   (cpu0[1], cpu1[1]) else None)
                h, k_arr = _wait_delivered(env, kc, pubs, sent, 60)
                hl, hm = _lat(pubs, h)
                kl, km = _lat(pubs, k_arr)
                time.sleep(0.5)
                burst, bfail = burst_of(run)
                times = pub.send_many(burst)
                sent += len(burst)
                bpubs = {bfail[i]: t for i, t in enumerate(times) if i in bfail}
                h, k_arr = _wait_delivered(env, kc, bpubs, sent, 120)
                bhl, bhm = _lat(bpubs, h)
                bkl, bkm = _lat(bpubs, k_arr)
                missing.append({"steady_herald": hm, "steady_kcat": km,
                                "burst_herald": bhm, "burst_kcat": bkm})
                for key, vals in (("s", hl), ("ks", kl), ("b", bhl), ("kb", bkl)):
                    for p in (50, 95, 99):
                        res["%s%d" % (key, p)].append(benchlib.percentile(vals, p))
                time.sleep(0.5)
        finally:
            if pub:
                pub.close()
            kc.stop()
            c.stop()
        label = LAT_LABELS[name]
        for p in (50, 95, 99):
            tgt = ("<=", 50) if p == 99 else None
            figs.append(figure("latency.steady.p%d.%s" % (p, name),
                               "latency steady %g/s p%d, %s" % (opts.steady_rate, p, label),
                               "ms", "lower", res["s%d" % p], res["ks%d" % p], "kcat -G",
                               target_value=tgt,
                               target_ratio=("<=", 2) if p == 99 else None,
                               extra={"missing": missing} if p == 50 else None))
        figs.append(figure("cpu.steady.%s" % name, "consumer CPU at %g/s steady, %s" %
                           (opts.steady_rate, label), "ms/s", "lower", res["cpu"],
                           res["kcpu"], "kcat -G",
                           note="CPU time (user+sys) per second of wall time, /proc"))
        for p in (50, 95, 99):
            tgt = ("<=", 250) if p == 99 else None
            figs.append(figure("latency.burst.p%d.%s" % (p, name),
                               "latency in a %dk burst p%d, %s" %
                               (opts.burst_events // 1000, p, label),
                               "ms", "lower", res["b%d" % p], res["kb%d" % p], "kcat -G",
                               target_value=tgt,
                               target_ratio=("<=", 2) if p == 99 else None))
    return figs


# ---- Redis round trips ----------------------------------------------------------------

def redis_round_trips(env, opts):
    """Round trips between the consumer and Redis per batch, counted by a proxy that
    parses both RESP streams (redisproxy.py) while the consumer replays the first
    opts.rt_events events of the replay history. The consumer's idle rate (its timers,
    measured for opts.rt_idle_s after the replay) is taken out."""
    import redisproxy
    redisproxy.check_counter()
    n = opts.rt_events
    end = history_end()
    full = opts.replay_events
    path = env.cached("history-%d-%d" % (full, end), lambda: events.history(full, end))
    sub = env.cached("history-%d-%d-first-%d" % (full, end, n),
                     lambda: [ln.decode() for ln in read_lines(path)[:n]])
    producer = os.path.join(env.bin, "herald-producer")
    R = {k: [] for k in ("rt_batch", "rt_event", "cmd_batch", "batches", "idle_rt_s")}
    for run in range(opts.runs):
        log("redis round trips run %d/%d (%d events)" % (run + 1, opts.runs, n))
        broker = env.broker()
        env.fresh_state()
        _w, rc, _o, err, _ = benchlib.run_timed([producer, "-b", broker.bootstrap, sub])
        if rc != 0:
            raise HarnessError("herald-producer exit %d: %s" % (rc, err[-500:]))
        proxy = redisproxy.RedisProxy(env.redis.host, env.redis.port)
        c = None
        try:
            cfg = variant_config(env, broker, opts)
            cfg["redis"]["host"], cfg["redis"]["port"] = proxy.host, proxy.port
            c = benchlib.Consumer(env, cfg, name="roundtrips")
            c.wait_assigned_all()
            m0, t0 = proxy.counts(), time.monotonic()
            b0 = c.metrics().sum("herald_batches_total")
            c.wait_handled(n, timeout=opts.timeout)
            m1, t1 = proxy.counts(), time.monotonic()
            batches = c.metrics().sum("herald_batches_total") - b0
            time.sleep(opts.rt_idle_s)
            m2, t2 = proxy.counts(), time.monotonic()
        finally:
            if c:
                c.stop()
            proxy.close()
        idle = (m2["round_trips"] - m1["round_trips"]) / (t2 - t1)
        rts = (m1["round_trips"] - m0["round_trips"]) - idle * (t1 - t0)
        R["rt_batch"].append(rts / batches if batches else None)
        R["rt_event"].append(rts / n)
        R["cmd_batch"].append((m1["commands"] - m0["commands"]) / batches if batches else None)
        R["batches"].append(batches)
        R["idle_rt_s"].append(idle)
    note = ("%d events; a round trip = the consumer sends a command with nothing "
            "outstanding (counted by a RESP proxy)" % n)
    return [
        figure("redis.round_trips_per_batch", "Redis round trips per batch", "trips",
               "lower", R["rt_batch"], target_value=("<=", 2), note=note,
               extra={"batches": R["batches"], "idle_round_trips_per_s": R["idle_rt_s"],
                      "per_event": R["rt_event"]}),
        figure("redis.wire_commands_per_batch", "Redis commands sent per batch (on the wire)",
               "cmds", "lower", R["cmd_batch"],
               note="scripts count as one; INFO commandstats counts what they run"),
    ]
