#!/usr/bin/env python3
"""Helpers for demo/run.sh. Standard library only.

  show.py wait-assigned PORT...      wait until the consumers own the partitions
  show.py report --slack URL --events N --history FILE --redis PORT --bin DIR PORT...
                                     what Slack received, by channel; what each alert
                                     level, storm control and the silence made of the
                                     day (from the messages, the consumers' /metrics
                                     and their decision records); a summary
"""

import argparse
import calendar
import json
import os
import re
import socket
import subprocess
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


# ---- a minimal Redis client (RESP over a socket; the demo's own redis-server) ----------

class Redis:
    def __init__(self, port, host='127.0.0.1', timeout=5):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile('rb')

    def close(self):
        self.f.close()
        self.sock.close()

    def _reply(self):
        line = self.f.readline()
        if not line:
            raise OSError('redis closed the connection')
        kind, rest = line[:1], line[1:-2]
        if kind == b'+':
            return rest.decode()
        if kind == b'-':
            raise OSError('redis: ' + rest.decode())
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode('utf-8', 'replace')
        if kind == b'*':
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise OSError('redis: unexpected reply %r' % line)

    def pipeline(self, cmds):
        out = bytearray()
        for cmd in cmds:
            out += b'*%d\r\n' % len(cmd)
            for a in cmd:
                a = str(a).encode()
                out += b'$%d\r\n%s\r\n' % (len(a), a)
        self.sock.sendall(bytes(out))
        return [self._reply() for _ in cmds]

    def call(self, *cmd):
        return self.pipeline([cmd])[0]


# ---- the replay: history lines to the producer, in event-time order ---------------------



def event_id(doc):
    """Herald's event id of a final ProwJob document: "<metadata.name>:<state>"."""
    return '%s:%s' % (doc['metadata']['name'], doc['status']['state'])


def completion_s(doc):
    return calendar.timegm(time.strptime(doc['status']['completionTime'],
                                         '%Y-%m-%dT%H:%M:%SZ'))


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


def header(msg):
    """The header block of a message (what Slack shows in bold on top)."""
    for att in msg['payload'].get('attachments', []):
        for b in att.get('blocks', []):
            if b.get('type') == 'header':
                return unescape(b['text']['text'])
    return ''


def plain(text):
    """text without a leading Slack emoji (":rotating_light: ")."""
    return re.sub(r'^:[a-z0-9_+-]+:\s*', '', text)


def titled(msg, title):
    """The lines of the section titled `title` ("*Also failed in this release:*")."""
    for t in block_texts(msg['payload']):
        t = unescape(t)
        if t.startswith('*' + title):
            return [l.lstrip('• ').strip() for l in t.split('\n')[1:] if l.strip()]
    return []


def contexts(msg):
    """The context lines of a message (the streak, the incident, ...)."""
    out = []
    for att in msg['payload'].get('attachments', []):
        for b in att.get('blocks', []):
            if b.get('type') == 'context':
                out += [unescape(e['text']) for e in b.get('elements', [])
                        if isinstance(e, dict) and isinstance(e.get('text'), str)]
    return out


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


def show_full(m):
    print(f"\n== one message in full (#{m['channel']}; Block Kit fields as Slack shows them)")
    for t in block_texts(m['payload']):
        t = unescape(t)
        label = re.match(r'^\*([^*]+)\*\n(.*)$', t, re.S)
        if label:
            name = label.group(1).rstrip(':') + ':'
            value = label.group(2).replace('\n', '\n' + ' ' * 17)
            if len(name) >= 14:
                print(f'   {name}\n{" " * 17}{value}')
            else:
                print(f'   {name:<14}{value}')
        else:
            print(f'   {t}')


# ---- the three levels, read from the messages, the metrics and the decision records ----

def hms(t):
    return time.strftime('%H:%M:%S', time.gmtime(t))


class Day:
    """The replayed history and the consumers' decision record of each event."""

    def __init__(self, history, redis, prefix):
        self.docs = []
        with open(history, encoding='utf-8') as f:
            for line in f:
                if line.strip():
                    self.docs.append(json.loads(line))
        ids = [event_id(d) for d in self.docs]
        recs = redis.pipeline([('HGET', prefix + 'explain', i) for i in ids])
        self.rec = {i: json.loads(r) for i, r in zip(ids, recs) if r}

    def runs(self, job, pr=None, states=None):
        out = []
        for d in self.docs:
            if d['spec']['job'] != job:
                continue
            pulls = (d['spec'].get('refs') or {}).get('pulls') or []
            if pr is not None and (not pulls or pulls[0].get('number') != pr):
                continue
            if states and d['status']['state'] not in states:
                continue
            out.append(d)
        return out

    def decision(self, doc):
        """What the consumers decided for doc, in a few words."""
        r = self.rec.get(event_id(doc))
        if not r:
            return 'no alert: changes nothing (a success of a healthy job)' \
                if doc['status']['state'] == 'success' else 'not decided'
        dec, why, rule = r.get('decision'), r.get('reason'), r.get('rule', '')
        if dec == 'held':
            return 'held for related failures (sent when due)'
        if dec == 'alert':
            return 'alert: ' + why
        if dec == 'suppressed':
            return 'suppressed (%s): %s' % (why, rule)
        return 'no alert: ' + rule


def timeline(day, title, docs):
    if not docs:
        return
    print('   ' + title)
    for d in docs:
        st = d['status']
        print('     %s  %-8s %s' % (hms(completion_s(d)), st['state'], day.decision(d)))


def find(msgs, pred):
    return [m for m in msgs if pred(m)]


def job_level(day, msgs, allm):
    print('\n== job level: a job\'s state across runs')
    kinds = [(k, total(allm, 'herald_alerts_by_kind_total', kind=k))
             for k in ('failure', 'reminder', 'recovered')]
    print('   messages by kind:   ' + ', '.join('%s %d' % (k, v) for k, v in kinds) +
          '   (a message to two channels counts twice)')
    reasons = ('dedup', 'threshold', 'correlation', 'held', 'silence')
    print('   suppressed:         ' + ', '.join(
        '%s %d' % (r, total(allm, 'herald_events_suppressed_total', reason=r))
        for r in reasons))
    timeline(day, 'scan-controllers-cve (periodic), three failed runs then a pass:',
             day.runs('scan-controllers-cve'))
    rec = find(msgs, lambda m: 'recovered' in header(m) and
               'scan-controllers-cve' in m['payload'].get('text', ''))
    if rec:
        print('     the recovery, as Slack shows it:')
        print('       ' + header(rec[0]))
        for c in contexts(rec[0]):
            print('       ' + c)
    timeline(day, 'sagemaker-kind-e2e on PR #287 (testgrid-num-failures-to-alert: "2"):',
             day.runs('sagemaker-kind-e2e', pr=287))
    timeline(day, 'opensearchservice-kind-e2e on PR #166 (OOM kill, superseded push, pass):',
             day.runs('opensearchservice-kind-e2e', pr=166))
    oom = find(msgs, lambda m: 'infrastructure' in header(m) and
               'opensearchservice' in m['payload'].get('text', ''))
    if oom:
        desc = [t for t in block_texts(oom[0]['payload']) if t.startswith('*Description*')]
        print('     the alert: "%s"' % header(oom[0]))
        if desc:
            print('       Description: ' + ' / '.join(
                unescape(desc[0]).split('\n')[1:]))


def release_level(day, msgs):
    print('\n== release level: one alert per service + version')
    rel = find(msgs, lambda m: titled(m, 'Also failed in this release'))
    if rel:
        m = rel[0]
        chans = sorted({'#' + x['channel'] for x in rel if header(x) == header(m)})
        print('   %s   (%s)' % (header(m), ', '.join(chans)))
        print('     Also failed in this release:')
        for line in titled(m, 'Also failed in this release'):
            print('       ' + line)
        field = {f.split('\n', 1)[0].strip('*'): f.split('\n', 1)[1]
                 for f in block_texts(m['payload']) if f.startswith('*') and '\n' in f}
        ver, repo = field.get('Version/ref'), field.get('Repository', '').split('/')[-1]
        for d in day.docs:
            refs = d['spec'].get('refs') or {}
            if d['status']['state'] in ('failure', 'error') and \
                    refs.get('base_ref') == ver and refs.get('repo') == repo:
                print('     %s  %-22s %s' % (hms(completion_s(d)), d['spec']['job'],
                                             day.decision(d)))
    else:
        print('   (no release alert with other failures attached)')
    for m in find(msgs, lambda m: 'release stalled' in header(m)):
        print('   %s   (#%s)' % (header(m), m['channel']))
        for line in titled(m, 'What is missing'):
            print('       ' + line)


def ecosystem_level(day, msgs):
    print('\n== ecosystem level: one stage failing across services')
    eco = [m for m in msgs if re.match(r'Ecosystem: ', plain(header(m)))]
    if not eco:
        print('   (no ecosystem incident)')
    for m in eco:
        print('   %s   (#%s)' % (plain(header(m)), m['channel']))
        services = titled(m, 'Services failing') or titled(m, 'Services')
        names = [re.sub(r'^[•\s]*\*([^*]+)\*.*$', r'\1', x) for x in services
                 if x.lstrip().startswith('•')]
        if names:
            print('     services: ' + ', '.join(names))
        for c in contexts(m):
            print('     ' + c)
    joined = [d for d in day.docs if 'eco:' in day.rec.get(event_id(d), {}).get('rule', '')]
    if joined:
        stages = sorted({day.rec[event_id(d)].get('stage') for d in joined})
        print('     %d failures of %s folded into the incident instead of a message each '
              '(decision records: "part of eco:...")' % (len(joined), ', '.join(stages)))


def storm_level(msgs):
    print('\n== storm control: at most 1 message/s per channel (burst 3); it delays, '
          'never drops or folds')
    by = {}
    for m in msgs:
        by.setdefault(m['channel'], []).append(m['received_ms'])
    worst = max(by.items(), key=lambda kv: len(kv[1])) if by else None
    if not worst:
        return
    ch, times = worst
    times.sort()
    busiest = max(sum(1 for u in times if t <= u < t + 1000) for t in times)
    print('   busiest channel #%s: %d messages, at most %d within one second' %
          (ch, len(times), busiest))


def run_ctl(ctl, *args):
    p = subprocess.run([ctl[0], '-r', '127.0.0.1:%d' % ctl[1], '--prefix', ctl[2]] +
                       list(args), capture_output=True, text=True, timeout=20)
    return (p.stdout + p.stderr).rstrip('\n')


def silences(day, ctl):
    print('\n== silences')
    print('   $ heraldctl silence list')
    for line in run_ctl(ctl, 'silence', 'list').split('\n'):
        print('   ' + line)
    silenced = [d for d in day.docs if day.rec.get(event_id(d), {}).get('silence')]
    for d in silenced[:1]:
        eid = event_id(d)
        print('   $ heraldctl explain %s' % eid)
        for line in run_ctl(ctl, 'explain', eid).split('\n'):
            print('   ' + line)
    if not silenced:
        print('   (no event matched a silence)')


def report(args):
    slack, events, ports = args.slack, args.events, args.ports
    # 1. wait until the consumers have taken in every event ...
    deadline = time.time() + args.timeout
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
    full = [m for m in msgs if titled(m, 'Also failed in this release')] or \
        [m for m in msgs if '[critical]' in m['payload'].get('text', '')]
    if full:
        show_full(full[0])

    per = [metrics(p) for p in ports]
    allm = [x for s in per for x in s]
    r = Redis(args.redis)
    day = Day(args.history, r, args.prefix)
    r.close()
    job_level(day, msgs, allm)
    release_level(day, msgs)
    ecosystem_level(day, msgs)
    storm_level(msgs)
    silences(day, (os.path.join(args.bin, 'heraldctl'), args.redis, args.prefix))

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
    print(f'   suppressed:         {suppressed:.0f} (repeats, below threshold, joined a '
          'release or ecosystem alert, silenced)')
    for i, s in enumerate(per):
        print(f'   consumer-{i + 1}:         '
              f"{total(s, 'herald_events_consumed_total'):.0f} events, "
              f"{total(s, 'herald_alerts_sent_total'):.0f} alerts")
    if lat_cnt:
        print(f'   time to Slack:      {1000 * lat_sum / lat_cnt:.0f} ms on average from '
              'the producer reading the history to Slack accepting an alert (the replay '
              'reads the whole file first, then paces it)')
    if len(msgs) != sent:
        print(f'inconsistent: Slack recorded {len(msgs)} messages, consumers counted {sent:.0f}',
              file=sys.stderr)
        return 1
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog='show.py', description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    w = sub.add_parser('wait-assigned', help='wait until the consumers own partitions')
    w.add_argument('ports', type=int, nargs='+', metavar='PORT')
    r = sub.add_parser('report', help='what Slack received, per level, and a summary')
    r.add_argument('--slack', required=True, metavar='URL')
    r.add_argument('--events', type=int, required=True)
    r.add_argument('--history', required=True)
    r.add_argument('--redis', type=int, required=True, metavar='PORT')
    r.add_argument('--prefix', default='demo:')
    r.add_argument('--bin', required=True, metavar='DIR', help='where heraldctl is')
    r.add_argument('--timeout', type=float, default=120)
    r.add_argument('ports', type=int, nargs='+', metavar='PORT')
    a = ap.parse_args(argv[1:])
    if a.cmd == 'wait-assigned':
        return wait_assigned(a.ports)
    return report(a)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
