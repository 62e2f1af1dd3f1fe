-- release.lua -- the release level: one service at one version through the release
-- DAG (docs/rules.md "Release level"), and the stall timers.
--
-- E.RELS field "<service>|<version>" -> {key, svc, ver, lt, n (incidents so far),
--   inc (the current incident's id), st (nil | pending | sent | eco | closed), pid (its
--   pending alert), failed {stage: true}, fin {stage: class of its last final run},
--   seen {stage: true}, sd {stage: {d, tier}} (where a stall of the stage goes),
--   eco (the ecosystem incident it was folded into)}
-- A failure waits for the stages upstream and downstream of it (in this release) to
-- finish, at most release.hold: the most upstream failed stage is the alert's subject
-- whatever order the runs complete in; the others are its lines.

function E.rel(m)
  if m.ver == '' or not E.dag(m.stg) then return nil end
  local key = m.svc .. '|' .. m.ver
  local R = E.get(E.RELS, key, {key = key, svc = m.svc, ver = m.ver, n = 0, failed = {},
                                fin = {}, seen = {}, sd = {}})
  if (R.lt or 0) < E.now then R.lt = E.now end
  return R
end

function E.rel_of_inc(inc)
  local key = string.match(inc, '^rel:(.-)#%d+$') or string.sub(inc, 5)
  return E.get(E.RELS, key)
end

-- The stages of this release a failure of `stage` waits for, not yet finished: those
-- upstream of it (one of them may be the cause: the subject is not known yet) and
-- those downstream (they may fail because of it: lines for its alert).
function E.rel_wait(R, stage)
  local up, down = {}, {}
  local d = E.dag(stage)
  for _, s in ipairs(E.list(d.a)) do
    if not R.fin[s] then up[#up + 1] = s end
  end
  for _, s in ipairs(E.list(d.d)) do
    if not R.fin[s] then down[#down + 1] = s end
  end
  return up, down
end

local function stall_timer(R, stage, kind)
  return 's\1' .. R.key .. '\1' .. stage .. '\1' .. kind
end

-- Bookkeeping for every run of a release stage, before its job's rules.
function E.rel_note(R, m, t)
  local stall = E.cfg.stall
  if m.c == 'start' then
    if stall > 0 and not R.fin[m.stg] then
      E.timer(stall_timer(R, m.stg, 'finish'), t + stall)
      R.sd[m.stg] = m.sd[m.stg]
    end
  else
    E.untimer(stall_timer(R, m.stg, 'finish'))
    R.fin[m.stg] = m.c
  end
  E.untimer(stall_timer(R, m.stg, 'start'))
  R.seen[m.stg] = true
  if m.c == 'ok' and stall > 0 then
    for _, s in ipairs(E.list(E.dag(m.stg).s)) do
      if not R.seen[s] then
        E.timer(stall_timer(R, s, 'start'), t + stall)
        R.sd[s] = m.sd[s]
      end
    end
  end
  if (R.st == 'pending' or R.st == 'eco') and m.c ~= 'start' then
    local P = E.pend_get(R.pid)
    if P then
      P.up = E.remove(P.up, m.stg)
      P.down = E.remove(P.down, m.stg)
    end
  end
end

-- After the event's rules: a held alert whose upstream stages all finished has its
-- subject (it goes to the ecosystem level); one whose stages all finished may go.
function E.rel_after(R)
  local P = R.pid and E.pend_get(R.pid)
  if not P then return end
  if P.phase == 'rel' and #E.list(P.up) == 0 then
    E.candidate(P)
  elseif P.phase == 'eco' then
    E.pend_try(P)
  end
end

local function explain_candidate(id, t, js, P, rule)
  if js.al == 4 then
    return E.explain(id, t, 'held', 'held', rule .. '; held until ' .. P.due ..
                     ' (event time) for the ecosystem level', js)
  elseif js.al == 2 then
    return E.explain(id, t, 'suppressed', 'correlation', rule .. '; part of ' .. js.inc, js)
  end
  return E.explain(id, t, 'alert', 'failure', rule, js)
end

-- A failure of a release stage that is a new problem for its job.
function E.rel_fail(js, m, t, id, payload, R)
  if R.st == 'pending' then
    local P = E.pend_get(R.pid)
    R.failed[m.stg] = true
    if P and P.phase == 'rel' and E.is_ancestor(m.stg, P.m.stg) then
      -- Upstream of the held alert's subject: this run is the subject now.
      table.insert(P.lines, 1, E.line(P.m))
      local old = E.job(P.k)
      if old.pid == P.id then old.al, old.pid, old.inc = 2, nil, R.inc end
      P.k, P.ev, P.m, P.t, P.rec = m.k, payload, m, t, nil
      P.nf, P.fft, P.ffb = js.nf, js.fft, js.ffb
      P.up, P.down = E.rel_wait(R, m.stg)
      js.al, js.pid = 4, P.id
      return E.explain(id, t, 'held', 'release', 'upstream of the held alert of ' .. R.key ..
                       '; now its subject', js)
    end
    if P then P.lines[#P.lines + 1] = E.line(m) end
    js.al, js.inc = 2, R.inc
    return E.explain(id, t, 'suppressed', 'correlation', 'attached to the held alert of ' ..
                     R.key, js)
  end
  if R.st == 'sent' or R.st == 'eco' then
    local downstream = false
    for _, f in ipairs(E.sorted_keys(R.failed)) do
      if E.is_ancestor(f, m.stg) then downstream = true end
    end
    R.failed[m.stg] = true
    js.al, js.inc = 2, R.inc
    if R.st == 'eco' then
      E.eco_member_line(R.eco, m)
      return E.explain(id, t, 'suppressed', 'correlation', 'part of ' .. R.eco, js)
    end
    local rec = E.run_rec(m, payload, js)
    rec.inc, rec.lines, rec.downstream = R.inc, {E.line(m)}, downstream
    -- Downstream of what failed: a reply in the release's thread (Web API); a webhook
    -- channel already has the cause. Another stage failing: everyone hears of it.
    local sent = E.emit('consequence', rec, m.d, 'reply', downstream and 'a' or nil, true)
    return E.explain(id, t, sent and 'alert' or 'suppressed', sent and 'consequence' or
                     'correlation', (downstream and 'downstream of a failed stage of ' or
                     'another stage failed in ') .. R.key, js)
  end
  -- A new problem in this release.
  R.n = (R.n or 0) + 1
  R.inc = 'rel:' .. R.key .. (R.n > 1 and ('#' .. R.n) or '')
  R.st, R.failed, R.eco = 'pending', {[m.stg] = true}, nil
  local P = E.pend_new(js, m, t, id, payload)
  P.rel = R.key
  R.pid = P.id
  P.up, P.down = E.rel_wait(R, m.stg)
  if #P.up > 0 then
    P.phase = 'rel'
    E.timer('p\1' .. P.id, P.hold_end)
    return E.explain(id, t, 'held', 'release', 'held until ' .. table.concat(P.up, ', ') ..
                     ' finish(es) in ' .. R.key .. ', at most until ' .. P.hold_end, js)
  end
  E.candidate(P)
  return explain_candidate(id, t, js, P, 'release ' .. R.key .. ' failed at ' .. m.stg)
end

-- A stall timer fired: 's\1<release>\1<stage>\1start|finish'.
function E.stall_fire(key, stage, kind)
  local R = E.get(E.RELS, key)
  if not R then return end
  local sd = R.sd[stage] or {}
  local text
  if kind == 'finish' then
    text = stage .. ' started and did not finish within ' .. math.floor(E.cfg.stall / 60000) ..
           ' min'
  else
    text = stage .. ' did not start within ' .. math.floor(E.cfg.stall / 60000) ..
           ' min after the stage before it succeeded'
  end
  E.emit('stalled', {inc = R.inc or ('rel:' .. key), svc = R.svc, ver = R.ver, stg = stage,
                     tier = sd.tier, lines = {text}}, sd.d, 'reply')
end
