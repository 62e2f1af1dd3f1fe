"""topic_reader.py -- read the events topic back with a real Kafka client (Debian's
kcat, installed by `make deps`) and check the watermark contract (contracts §1).

    records = read_topic(bootstrap, "herald.events", partitions=4)
    problems = watermark_problems(records, expected_events)

Every record is a dict: partition, offset, key, headers (dict), value (str), and for a
watermark record `wm` (the parsed value) or for an event `event` (the parsed value).
"""

import json
import shutil
import subprocess

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


class TopicReadError(Exception):
    pass


def _headers(lst):
    out = {}
    for i in range(0, len(lst or []) - 1, 2):
        out[lst[i]] = lst[i + 1]
    return out


def read_partition(bootstrap, topic, partition, timeout=30.0):
    """Every record of one partition, from offset 0 to the end (kcat -e)."""
    if not KCAT:
        raise TopicReadError("kcat not found: run `make deps`")
    argv = [KCAT, "-b", bootstrap, "-C", "-t", topic, "-p", str(partition), "-o",
            "beginning", "-e", "-J", "-q"]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, check=False)
    if p.returncode != 0:
        raise TopicReadError("kcat exit %d: %s" % (p.returncode, p.stderr.decode()[-500:]))
    out = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        rec = {"partition": r["partition"], "offset": r["offset"], "key": r.get("key"),
               "headers": _headers(r.get("headers")), "value": r.get("payload")}
        if rec["headers"].get("herald-kind") == "watermark":
            rec["wm"] = json.loads(rec["value"])
        elif rec["key"] != "test/raw":
            try:
                rec["event"] = json.loads(rec["value"])
            except (TypeError, ValueError):
                rec["event"] = None
        out.append(rec)
    return out


def read_topic(bootstrap, topic, partitions, timeout=30.0):
    """{partition: [records]} for partitions 0..partitions-1."""
    return {p: read_partition(bootstrap, topic, p, timeout) for p in range(partitions)}


def event_ms(ev):
    """An event's event_time in epoch ms (the producer writes RFC 3339 with ms)."""
    import datetime
    s = ev["event_time"].replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(s).timestamp() * 1000 + 0.5)


def watermark_problems(topic_records, expect_events=None, expect_sources=1):
    """Everything wrong with the topic's records under the watermark contract, as a
    list of strings (empty = all good):
      - every partition starts with a (non-final) watermark record of each source
        before any event;
      - events come in event-time order within a partition;
      - a watermark record W never passes an unpublished event: no event of its
        partition with event time <= W comes after it;
      - watermarks of one source never go back in time within a partition;
      - the last record of each source in every partition is its final record, and
        nothing of that source follows it;
      - each record says the right partition count;
      - expect_events (if given) events in all."""
    problems = []
    nparts = len(topic_records)
    total = 0
    for p, recs in sorted(topic_records.items()):
        events = [(i, r) for i, r in enumerate(recs) if "event" in r]
        wms = [(i, r) for i, r in enumerate(recs) if "wm" in r]
        total += len(events)
        sources = []
        for _, r in wms:
            if r["wm"]["source"] not in sources:
                sources.append(r["wm"]["source"])
        if len(sources) != expect_sources:
            problems.append("partition %d: %d watermark sources, want %d: %s" % (
                p, len(sources), expect_sources, sources))
        if events and (not wms or wms[0][0] > events[0][0]):
            problems.append("partition %d: event at offset %d before any start record" % (
                p, events[0][1]["offset"]))
        last_t = None
        for i, r in events:
            if r["event"] is None:
                continue
            t = event_ms(r["event"])
            if last_t is not None and t < last_t:
                problems.append("partition %d offset %d: event time %d after %d" % (
                    p, r["offset"], t, last_t))
            last_t = t
        for src in sources:
            mine = [(i, r) for i, r in wms if r["wm"]["source"] == src]
            if mine[0][1]["wm"]["final"] and len(mine) == 1 and events:
                problems.append("partition %d: %s has only a final record" % (p, src))
            prev = None
            for k, (i, r) in enumerate(mine):
                w = r["wm"]
                if w["partitions"] != nparts:
                    problems.append("partition %d offset %d: partitions %d, want %d" % (
                        p, r["offset"], w["partitions"], nparts))
                if prev is not None and w["watermark_ms"] < prev:
                    problems.append("partition %d offset %d: watermark went back %d -> %d" % (
                        p, r["offset"], prev, w["watermark_ms"]))
                prev = w["watermark_ms"]
                if not w["final"]:
                    for j, e in events:
                        if j > i and e["event"] is not None and \
                                event_ms(e["event"]) <= w["watermark_ms"]:
                            problems.append(
                                "partition %d: watermark %d at offset %d passes the event "
                                "at offset %d (time %d)" % (p, w["watermark_ms"], r["offset"],
                                                            e["offset"], event_ms(e["event"])))
                            break
                if w["final"] and k != len(mine) - 1:
                    problems.append("partition %d: %s records after its final one" % (p, src))
            if not mine[-1][1]["wm"]["final"]:
                problems.append("partition %d: %s has no final record" % (p, src))
            else:
                after = [r for i, r in events if i > mine[-1][0]]
                if after and expect_sources == 1:
                    problems.append("partition %d: %d events after the final record" % (
                        p, len(after)))
    if expect_events is not None and total != expect_events:
        problems.append("%d events on the topic, want %d" % (total, expect_events))
    return problems
