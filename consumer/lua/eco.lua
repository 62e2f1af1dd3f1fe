-- eco.lua -- the ecosystem level: one stage failing across services
-- (docs/rules.md "Ecosystem level").
--
-- E.ECOS field <stage> -> {win {service: {t, pid, k}}, cur (the open incident)}: the
--   services whose failure of the stage (a new problem, its subject) is within W.
-- E.ECOS field "eco:<stage>@<start>" -> the incident {inc, stg, start, last, open,
--   members {service: {k, ver, job, b, url, stg, lines, t, rel, rec}}, d, late}.
-- K services in W open an incident: one alert naming every member (version, link and
-- the consequences inside), the members' held alerts folded into it. Services that
-- fail later join it while it is not quiet for W: on the Web API the alert is kept
-- current with chat.update; a webhook channel gets one follow-up once it settles.
-- When every member's failing job has passed: one recovery.

-- Called when a pending alert's subject is settled (nothing upstream of it is left
-- to finish): the ecosystem level considers it, then it waits for its hold.
function E.candidate(P)
  P.phase = 'eco'
  local eco = E.cfg.eco
  if eco.on == 1 and P.m.eco == 1 then
    if E.eco_consider(P) then return end
    P.eco_due = P.t + eco.hold
  end
  E.pend_try(P)
end

-- Send P when its holds are over: the ecosystem hold (from its failure), and the
-- stages downstream of it in its release (they finish, or release.hold ends). Else
-- set its timer to when they will be.
function E.pend_try(P)
  if P.phase == 'rel' then
    if E.now >= P.hold_end then return E.candidate(P) end -- upstream never finished
    return E.timer('p\1' .. P.id, P.hold_end)
  end
  local at = P.eco_due or 0
  if #E.list(P.down) > 0 and P.hold_end > at then at = P.hold_end end
  if E.now >= at then return E.pend_emit(P) end
  P.due = at
  E.timer('p\1' .. P.id, at)
end

local function member_of(P)
  local m = P.m
  return {k = P.k, bk = m.bk, ver = m.ver, job = m.job, b = m.b, url = m.url, stg = m.stg,
          lines = P.lines, t = P.t, rel = P.rel, rec = P.rec and true or nil}
end

-- The alert record of an incident: every member, sorted by service.
local function incident_rec(I)
  local ms, rec = {}, 0
  for _, svc in ipairs(E.sorted_keys(I.members)) do
    local x = I.members[svc]
    ms[#ms + 1] = {svc = svc, ver = x.ver, job = x.job, b = x.b, url = x.url, stg = x.stg,
                   lines = x.lines, rec = x.rec}
    if x.rec then rec = rec + 1 end
  end
  return {inc = I.inc, stg = I.stg, svc = '', start = I.start, win = E.cfg.eco.W,
          members = ms, n = #ms, recovered = rec, tier = I.tier}
end

-- A member whose job is kept per pull request (a presubmit) recovers when any run of
-- the job passes: its job, without the pull request, is marked in E.HOT, so that such
-- a success is decided and not skipped as a success of a healthy job.
function E.mark_member(k, bk, inc)
  if bk and bk ~= k then redis.call('HSET', E.HOT, '\1' .. bk, inc) end
end

-- Fold pending alert P into incident I.
local function fold(I, P)
  I.members[P.m.svc] = member_of(P)
  E.mark_member(P.k, P.m.bk, I.inc)
  if P.rel then
    local R = E.get(E.RELS, P.rel)
    if R then R.st, R.eco, R.pid = 'eco', I.inc, nil end
  end
  E.pend_fold(P, I.inc)
  E.res.folded = (E.res.folded or 0) + 1
end

-- P's subject joins the stage's window; returns true when P was folded into an
-- incident (a new one, or the open one).
function E.eco_consider(P)
  local eco, st = E.cfg.eco, P.m.stg
  local Wn = E.get(E.ECOS, st, {win = {}})
  local I = Wn.cur and E.get(E.ECOS, Wn.cur)
  if I and (not I.open or P.t > I.last + eco.W) then
    Wn.cur, I = nil, nil -- quiet for a whole window: a new problem, not that incident
  end
  if I then
    fold(I, P)
    if P.t > I.last then I.last = P.t end
    I.late = true
    E.emit('ecosystem-update', incident_rec(I), I.d, 'update', 'a', true)
    E.timer('e\1' .. I.inc, I.last + eco.W)
    return true
  end
  Wn.win[P.m.svc] = {t = P.t, pid = P.id, k = P.k, bk = P.m.bk, ver = P.m.ver, job = P.m.job,
                     b = P.m.b, url = P.m.url}
  local n, start = 0, P.t
  for _, svc in ipairs(E.sorted_keys(Wn.win)) do
    local e = Wn.win[svc]
    if e.t < P.t - eco.W then
      Wn.win[svc] = nil
    else
      n = n + 1
      if e.t < start then start = e.t end
    end
  end
  if n < eco.K then return false end
  local inc = 'eco:' .. st .. '@' .. start
  I = {inc = inc, stg = st, start = start, last = P.t, open = true, members = {},
       d = eco.d or P.m.d, tier = P.m.tier}
  E.put(E.ECOS, inc, I)
  redis.call('ZADD', E.GC, P.t, 'e' .. inc)
  Wn.cur = inc
  for _, svc in ipairs(E.sorted_keys(Wn.win)) do
    local e = Wn.win[svc]
    local Q = E.pend_get(e.pid)
    if Q and Q.m.stg == st then
      fold(I, Q)
    else
      -- its alert went out before the incident opened: named, not folded; its
      -- recovery also counts for the incident
      local js = E.job(e.k)
      I.members[svc] = {k = e.k, bk = e.bk, t = e.t, stg = st, own = true, ver = e.ver,
                        job = e.job, b = e.b, url = e.url}
      E.mark_member(e.k, e.bk, inc)
      js.eco = inc
    end
  end
  Wn.win = {}
  E.emit('ecosystem', incident_rec(I), I.d, 'open')
  return true
end

-- The job that put its service in the stage's window passed: it leaves the window.
function E.eco_window_leave(m)
  if m.eco ~= 1 then return end
  local Wn = E.get(E.ECOS, m.stg)
  local e = Wn and Wn.win[m.svc]
  if e and (e.bk or e.k) == m.bk then Wn.win[m.svc] = nil end
end

-- A consequence of a folded release failed: it goes into the member's lines.
function E.eco_member_line(inc, m)
  local I = E.get(E.ECOS, inc)
  if not I then return end
  local x = I.members[m.svc]
  if not x then return end
  x.lines = E.list(x.lines)
  x.lines[#x.lines + 1] = E.line(m)
  E.emit('ecosystem-update', incident_rec(I), I.d, 'update', 'a', true)
end

-- A job that belonged to incident `inc` passed (its own alert's job, or a covered one).
-- own: the job's own alert (its release's subject), not one it was covered by.
function E.incident_recovered(inc, m, own)
  if not inc then return end
  if string.sub(inc, 1, 4) == 'rel:' then
    local R = E.rel_of_inc(inc)
    if own and R and R.inc == inc and R.st == 'sent' then R.st = 'closed' end
    return
  end
  if string.sub(inc, 1, 4) ~= 'eco:' then return end
  local I = E.get(E.ECOS, inc)
  if not I or not I.open then return end
  local x = I.members[m.svc]
  if not x or (x.bk or x.k) ~= m.bk or x.rec then return end
  x.rec = true
  if x.bk and x.bk ~= x.k then redis.call('HDEL', E.HOT, '\1' .. x.bk) end
  if x.rel then
    local R = E.get(E.RELS, x.rel)
    if R and R.eco == inc then R.st = 'closed' end
  end
  for _, svc in ipairs(E.sorted_keys(I.members)) do
    if not I.members[svc].rec then
      E.emit('ecosystem-update', incident_rec(I), I.d, 'update', 'a', true)
      return
    end
  end
  I.open = false
  E.untimer('e\1' .. inc)
  for _, svc in ipairs(E.sorted_keys(I.members)) do
    local y = I.members[svc]
    if y.bk and y.bk ~= y.k then redis.call('HDEL', E.HOT, '\1' .. y.bk) end
  end
  E.emit('ecosystem-recovered', incident_rec(I), I.d, 'reply')
  local Wn = E.get(E.ECOS, I.stg)
  if Wn and Wn.cur == inc then Wn.cur = nil end
end

-- The settle timer of an incident: no service joined it for W.
function E.eco_settle(inc)
  local I = E.get(E.ECOS, inc)
  if not I or not I.open or not I.late then return end
  I.late = nil
  -- Webhook channels hear once of everyone who joined after the alert; on the Web API
  -- the alert was kept current, and a long list goes into its thread in full.
  E.emit('ecosystem-update', incident_rec(I), I.d, 'reply', 'w', true)
  if E.size(I.members) > E.cfg.eco.list then
    E.emit('ecosystem-update', incident_rec(I), I.d, 'reply', 'a', true)
  end
end
