-- job.lua -- the job level: one job's runs over time (docs/rules.md "Job level").
--
-- E.JOBS field <job key> -> "<lt>|<lid>" for a healthy job (only the last event
-- decided, for redeliveries), or a JSON object while it has a story:
--   lt, lid     event time and id of the last event decided
--   nf fft ffb  consecutive failures, first failure's time and build
--   al          0 none, 1 alerted (its own incident `inc` is open), 2 covered by the
--               incident `inc` (a release's or the ecosystem's), 3 silenced,
--               4 pending: its alert `pid` waits in the hold
--   ver         the release version the open incident is about ('' none)
--   lat nrem rs the last alert's time, reminders sent, failed runs since
--   sup since   repeats suppressed since the last alert, from when
--   d           where the alert went (recoveries and reminders follow it)

function E.job_decode(raw)
  if string.byte(raw, 1) == 123 then return cjson.decode(raw) end
  local bar = string.find(raw, '|', 1, true)
  return {lt = tonumber(string.sub(raw, 1, bar - 1)), lid = string.sub(raw, bar + 1)}
end

function E.job_encode(js)
  if (js.nf or 0) == 0 and (js.al or 0) == 0 then return (js.lt or 0) .. '|' .. (js.lid or '') end
  return cjson.encode(js)
end

function E.job(k)
  return E.get(E.JOBS, k, {})
end

-- The job's story ends: back to healthy (the last event decided is kept).
function E.job_clear(js)
  for _, f in ipairs({'nf', 'fft', 'ffb', 'al', 'inc', 'ver', 'lat', 'nrem', 'rs', 'sup',
                      'since', 'pid', 'd', 'eco'}) do js[f] = nil end
end

-- A new problem for the job: forget the incident it belonged to (the streak stays).
function E.job_reset_incident(js)
  for _, f in ipairs({'al', 'inc', 'ver', 'lat', 'nrem', 'rs', 'sup', 'since', 'pid', 'eco'}) do
    js[f] = nil
  end
end

-- The fields of an alert record about one run.
function E.run_rec(m, payload, js)
  return {ev = payload, svc = m.svc, stg = m.stg, ver = m.ver, tier = m.tier, job = m.job,
          nf = js.nf or 0, fft = js.fft or 0, ffb = js.ffb or '', thr = m.N,
          sup = js.sup or 0, since = js.since or 0}
end

-- Is the job still covered by the incident it was folded into?
function E.still_covered(js, m)
  local inc = js.inc or ''
  if string.sub(inc, 1, 4) == 'rel:' then
    local R = E.rel_of_inc(inc)
    return R ~= nil and R.st ~= 'closed' and R.inc == inc and m.ver == R.ver
  elseif string.sub(inc, 1, 4) == 'eco:' then
    local I = E.get(E.ECOS, inc)
    return I ~= nil and I.open and I.stg == m.stg
  end
  return false
end

-- A failed run of a job whose alert was sent: a reminder, or counted.
local function repeat_of_alert(js, m, t, id, payload)
  js.rs = (js.rs or 0) + 1
  local i = js.nrem or 0
  local rem = E.cfg.rem
  local gap = rem[math.min(i + 1, #rem)]
  local runs = 2 ^ math.min(i, 3)
  if t - (js.lat or t) >= gap and js.rs >= runs then
    js.lat, js.nrem, js.rs = t, i + 1, 0
    if m.sil ~= '' then
      E.count('silences', m.sil)
      return E.explain(id, t, 'suppressed', 'silence', 'reminder silenced by ' .. m.sil, js)
    end
    local rec = E.run_rec(m, payload, js)
    rec.inc = js.inc
    js.sup, js.since = 0, 0
    E.emit('reminder', rec, js.d or m.d, 'reply')
    return E.explain(id, t, 'alert', 'reminder', 'still failing; reminder ' .. (i + 1), js)
  end
  if (js.sup or 0) == 0 then js.since = t end
  js.sup = (js.sup or 0) + 1
  return E.explain(id, t, 'suppressed', 'dedup', 'still failing; the next reminder needs ' ..
                   math.floor(gap / 60000) .. ' min and ' .. runs ..
                   ' failed run(s) since the last alert', js)
end

function E.job_fail(js, m, t, id, payload, R)
  if (js.al or 0) ~= 0 and m.ver ~= '' and (js.ver or '') ~= '' and js.ver ~= m.ver then
    E.job_reset_incident(js) -- a failure of another release is a new problem
  end
  if (js.nf or 0) == 0 then js.fft, js.ffb = t, m.b end
  js.nf = (js.nf or 0) + 1
  if js.al == 2 then
    if E.still_covered(js, m) then
      return E.explain(id, t, 'suppressed', 'correlation', 'still failing; part of ' .. js.inc, js)
    end
    E.job_reset_incident(js)
  end
  if js.al == 1 then return repeat_of_alert(js, m, t, id, payload) end
  if js.al == 4 then
    if (js.sup or 0) == 0 then js.since = t end
    js.sup = (js.sup or 0) + 1
    return E.explain(id, t, 'suppressed', 'held', 'failed again while its alert is held', js)
  end
  if js.nf < m.N then
    return E.explain(id, t, 'suppressed', 'threshold',
                     'failure ' .. js.nf .. ' of ' .. m.N .. ' needed to alert', js)
  end
  if m.sil ~= '' then
    js.al = 3
    E.count('silences', m.sil)
    return E.explain(id, t, 'suppressed', 'silence', 'failure alert silenced by ' .. m.sil, js)
  end
  js.al, js.d, js.ver = 0, m.d, m.ver
  if R then return E.rel_fail(js, m, t, id, payload, R) end
  local P = E.pend_new(js, m, t, id, payload)
  E.candidate(P)
  if js.al == 4 then
    return E.explain(id, t, 'held', 'held', 'held until ' .. P.due ..
                     ' (event time) for the ecosystem level', js)
  end
  if js.al == 2 then
    return E.explain(id, t, 'suppressed', 'correlation', 'part of ' .. js.inc, js)
  end
  return E.explain(id, t, 'alert', 'failure', js.nf > 1 and ('failed ' .. js.nf ..
                   ' times in a row') or 'started failing', js)
end

function E.job_ok(js, m, t, id, payload)
  local al, inc = js.al or 0, js.inc
  E.eco_window_leave(m)
  if js.eco then E.incident_recovered(js.eco, m, false) end
  if m.bk ~= m.k then -- a run of a presubmit on another pull request
    local member_of = redis.call('HGET', E.HOT, '\1' .. m.bk)
    if member_of then E.incident_recovered(member_of, m, false) end
  end
  if al == 4 then
    local P = E.pend_get(js.pid)
    if P then P.rec = {b = m.b, t = t} end
    E.job_clear(js)
    return E.explain(id, t, 'suppressed', 'recovered',
                     'passed again before its held alert was sent', nil)
  end
  if al == 1 then
    local rec = E.run_rec(m, payload, js)
    rec.inc = inc
    E.emit('recovered', rec, js.d or m.d, 'reply')
    E.job_clear(js)
    E.incident_recovered(inc, m, true)
    return E.explain(id, t, 'alert', 'recovered', 'a job that alerted passed again', nil)
  end
  local had = js.nf or 0
  E.job_clear(js)
  if al == 2 then E.incident_recovered(inc, m, false) end
  if had > 0 then
    return E.explain(id, t, 'no-alert', 'state', al == 2 and ('passed again (covered by ' ..
                     inc .. ')') or 'passed again (below the threshold, or silenced)', nil)
  end
  return E.explain(id, t, 'no-alert', 'state', 'passing', nil)
end

-- ---- pending alerts: a new problem waiting in the hold (E.PEND field <id>) ----
-- {id, k (subject job), ev (payload), m (the subject's facts), t (failure time),
--  nf fft ffb (the streak), lines, rel (release key or nil), up / down (stages of the
--  release upstream / downstream of the subject not finished yet), phase 'rel' (up is
--  not empty: the subject may still change) or 'eco' (in the ecosystem window; sent at
--  max(eco_due, the end of `down` or hold_end)), due, rec {b, t} (the job passed
--  again meanwhile)}. Timer: 'p\1<id>'.

function E.pend_get(pid)
  if not pid then return nil end
  return E.get(E.PEND, pid)
end

function E.pend_new(js, m, t, id, payload)
  local P = {id = id, k = m.k, ev = payload, m = m, t = t, lines = {}, phase = 'eco',
             due = t, hold_end = t + E.cfg.hold, nf = js.nf, fft = js.fft, ffb = js.ffb}
  E.put(E.PEND, id, P)
  js.al, js.pid = 4, id
  E.res.held = E.res.held + 1
  return P
end

function E.pend_drop(P)
  E.del(E.PEND, P.id)
  E.untimer('p\1' .. P.id)
  for _, pin in ipairs(E.list(P.pins)) do redis.call('ZREM', E.PINS, pin) end
end

-- The subject job of P is now covered by incident inc (folded into it).
function E.pend_fold(P, inc)
  E.pend_drop(P)
  local js = E.job(P.k)
  if js.pid == P.id then
    if P.rec then E.job_clear(js) else js.al, js.pid, js.inc = 2, nil, inc end
  end
end

-- Send a pending alert now: the subject's failure, and the lines of what joined it.
function E.pend_emit(P)
  E.pend_drop(P)
  local m = P.m
  local rec = E.run_rec(m, P.ev, {nf = P.nf, fft = P.fft, ffb = P.ffb})
  rec.lines = P.lines
  local inc = 'job:' .. P.k .. '@' .. (P.fft or P.t)
  local R = P.rel and E.get(E.RELS, P.rel)
  if R then
    inc = R.inc
    R.st, R.pid = 'sent', nil
  end
  rec.inc = inc
  if P.rec then rec.note = P.rec end
  E.emit('failure', rec, m.d, 'open')
  local js = E.job(P.k)
  if js.pid == P.id then
    if P.rec then
      E.job_clear(js)
      if R then R.st = 'closed' end
    else
      js.al, js.pid, js.inc, js.lat, js.nrem, js.rs = 1, nil, inc, P.t, 0, 0
    end
  end
end
