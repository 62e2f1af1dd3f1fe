#!/usr/bin/env python3
"""Helpers for demo/run.sh: wait for the consumers, then show what Slack received
and a summary read from the consumers' /metrics. Standard library only."""

import json
import re
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metrics(port):
    """Parse a /metrics page into a list of (name, labels dict, value)."""
    out = []
    for line in get(f"http://127.0.0.1:{port}/metrics").splitlines():
        m = SAMPLE.match(line)
        if not m or line.startswith('#'):
            continue
        labels = dict(LABEL.findall(m.group(3) or ''))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def total(samples, name, **want):
    return sum(v for n, l, v in samples if n == name
               and all(l.get(k) == w for k, w in want.items()))


def wait_assigned(ports, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            owned = [total(metrics(p), 'herald_partitions_assigned') for p in ports]
            if all(o > 0 for o in owned) and sum(owned) >= 4:
                print('   partitions split between the consumers: ' +
                      ', '.join(f'consumer-{i + 1}: {int(o)}' for i, o in enumerate(owned)))
                return 0
        except OSError:
            pass
        time.sleep(0.3)
    print('consumers did not get their partitions in time', file=sys.stderr)
    return 1


def block_texts(payload):
    """Every text of a message's blocks, in order."""
    texts = []
    for att in payload.get('attachments', []):
        for b in att.get('blocks', []):
            for key in ('text',):
                t = b.get(key)
                if isinstance(t, dict):
                    texts.append(t.get('text', ''))
            for f in b.get('fields', []) or []:
                texts.append(f.get('text', ''))
            for e in b.get('elements', []) or []:
                if isinstance(e, dict) and 'text' in e:
                    t = e['text']
                    texts.append(t.get('text', '') if isinstance(t, dict) else t)
    return texts


def unescape(s):
    return s.replace('&lt;', '<').replace('&gt;', '>').replace('&amp;', '&')


def show_messages(msgs):
    by_channel = {}
    for m in msgs:
        by_channel.setdefault(m['channel'], []).append(m)
    for ch in sorted(by_channel):
        print(f"\n#{ch}  ({len(by_channel[ch])} message{'s' if len(by_channel[ch]) != 1 else ''})")
        for m in by_channel[ch]:
            p = m['payload']
            print(f"  • {unescape(p.get('text', ''))}")
            for t in block_texts(p):
                t = unescape(t)
                if t.startswith('Suppressed') or 'repeat' in t:
                    print(f"      {t}")
    return by_channel


def report(slack, events, ports, timeout=120):
    # 1. wait until the consumers have taken in every event ...
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = 0
        for p in ports:
            s = metrics(p)
            seen += total(s, 'herald_events_consumed_total') + \
                total(s, 'herald_events_rejected_total')
        if seen >= events:
            break
        time.sleep(0.3)
    else:
        print(f'only {seen:.0f} of {events} events were consumed in time', file=sys.stderr)
        return 1
    # 2. ... and Slack has stopped receiving (deliveries finish after consumption).
    last, stable = -1, 0
    while stable < 4 and time.time() < deadline:
        n = len(json.loads(get(f'{slack}/_control/messages')))
        stable = stable + 1 if n == last else 0
        last = n
        time.sleep(0.4)
    msgs = json.loads(get(f'{slack}/_control/messages'))
    print('\n== what Slack received, by channel')
    by_channel = show_messages(msgs)
    critical = [m for m in msgs if '[critical]' in m['payload'].get('text', '')]
    if critical:
        m = critical[0]
        print(f"\n== one message in full (#{m['channel']}; Block Kit fields as Slack shows them)")
        for t in block_texts(m['payload']):
            t = unescape(t)
            label = re.match(r'^\*([^*]+)\*\n(.*)$', t, re.S)
            if label:
                print(f'   {label.group(1) + ":":<14}{label.group(2)}')
            else:
                print(f'   {t}')

    per = [metrics(p) for p in ports]
    allm = [x for s in per for x in s]
    consumed = total(allm, 'herald_events_consumed_total')
    failures = total(allm, 'herald_events_consumed_total', state='failure') + \
        total(allm, 'herald_events_consumed_total', state='error')
    sent = total(allm, 'herald_alerts_sent_total')
    suppressed = total(allm, 'herald_events_suppressed_total')
    rejected = total(allm, 'herald_events_rejected_total')
    failed = total(allm, 'herald_delivery_failures_total')
    lat_sum = total(allm, 'herald_pipeline_latency_seconds_sum')
    lat_cnt = total(allm, 'herald_pipeline_latency_seconds_count')

    print('\n== summary')
    print(f'   events in:          {consumed:.0f} (rejected {rejected:.0f})')
    print(f'   failures:           {failures:.0f}')
    print(f'   alerts sent:        {sent:.0f} Slack messages to {len(by_channel)} channels '
          f'(delivery failures: {failed:.0f})')
    print(f'   suppressed:         {suppressed:.0f} repeats inside their dedup window')
    for i, s in enumerate(per):
        print(f'   consumer-{i + 1}:         '
              f"{total(s, 'herald_events_consumed_total'):.0f} events, "
              f"{total(s, 'herald_alerts_sent_total'):.0f} alerts")
    if lat_cnt:
        print(f'   time to Slack:      {1000 * lat_sum / lat_cnt:.0f} ms on average from '
              'the producer reading a job\'s completion to Slack accepting the alert')
    if len(msgs) != sent:
        print(f'inconsistent: Slack recorded {len(msgs)} messages, consumers counted {sent:.0f}',
              file=sys.stderr)
        return 1
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == 'wait-assigned':
        return wait_assigned([int(p) for p in argv[2:]])
    if len(argv) >= 4 and argv[1] == 'report':
        return report(argv[2], int(argv[3]), [int(p) for p in argv[4:]])
    print('usage: show.py wait-assigned PORT... | report SLACK_URL EVENTS PORT...',
          file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
