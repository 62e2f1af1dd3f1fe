-- base.lua -- the engine's keys, its configuration and the helpers every rule uses.
--
-- The engine is one script (consumer/lua/*.lua concatenated by make, in the order
-- base, wm, job, release, eco, step) run by EVALSHA once per batch: it buffers the
-- batch's events, takes its watermarks, then decides, in event-time order, every
-- buffered event and every timer up to the group watermark (docs/rules.md). Every
-- key it touches is one of KEYS; per-job, per-release and per-stage state are fields
-- of a few hashes. It returns one JSON object (the step's named results).
--
-- Redis runs Lua 5.1 with no globals: everything hangs off the local table E.

local E = {}
E.JOBS, E.HOT, E.RELS, E.ECOS, E.PEND = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
E.BUF, E.BUFD, E.TIM, E.WM, E.META = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
E.ALERTS, E.Q, E.QS, E.EXPL, E.EXPLT = KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15]
E.PINS, E.GC = KEYS[16], KEYS[17]

E.INF = 9007199254740991 -- 2^53 - 1: +infinity for times in ms
E.cfg = cjson.decode(ARGV[1])
E.res = {fast = 0, dup = 0, buffered = 0, late = 0, decided = 0, timers = 0, alerts = 0,
         held = 0, suppressed = {}, silences = {}, kinds = {}}
E.now = 0 -- event time of the item being decided

function E.count(tbl, name, n)
  E.res[tbl][name] = (E.res[tbl][name] or 0) + (n or 1)
end

-- ---- state: JSON objects in hash fields, cached while one item is decided ----
-- E.get returns the same table to every caller until E.flush writes back every table
-- it handed out (and deletes what E.del dropped), so rules may pass state around and
-- change it in place. E.JOBS has its own short form (job.lua).
E.cache = {}
E.NONE = {} -- cached: absent and unchanged

local function slot(h)
  local c = E.cache[h]
  if not c then
    c = {}
    E.cache[h] = c
  end
  return c
end

function E.decode(h, raw)
  if h == E.JOBS then return E.job_decode(raw) end
  return cjson.decode(raw)
end

function E.encode(h, obj)
  if h == E.JOBS then return E.job_encode(obj) end
  return cjson.encode(obj)
end

-- The object in field f of hash h, or nil (E.get(h, f, {}) creates it as that table).
function E.get(h, f, default)
  local c = slot(h)
  local v = c[f]
  if v == nil then
    local raw = redis.call('HGET', h, f)
    v = raw and E.decode(h, raw) or E.NONE
    c[f] = v
  end
  if v == false or v == E.NONE then
    if default == nil then return nil end
    c[f] = default
    return default
  end
  return v
end

function E.put(h, f, obj)
  slot(h)[f] = obj
end

function E.del(h, f)
  slot(h)[f] = false
end

function E.flush()
  for h, c in pairs(E.cache) do
    for f, v in pairs(c) do
      if v == E.NONE then -- read, found absent, left alone
      elseif v == false then
        redis.call('HDEL', h, f)
      else
        redis.call('HSET', h, f, E.encode(h, v))
        if h == E.JOBS then redis.call('ZADD', E.GC, v.lt or 0, 'j' .. f) end
        if h == E.RELS then redis.call('ZADD', E.GC, v.lt or 0, 'r' .. f) end
      end
    end
  end
  E.cache = {}
end

-- Lua's cjson encodes an empty table as {}: arrays that may be empty are sent as
-- lists with at least this shape and read back with E.list.
function E.list(t)
  if type(t) ~= 'table' then return {} end
  return t
end

function E.contains(list, v)
  for _, x in ipairs(E.list(list)) do
    if x == v then return true end
  end
  return false
end

function E.remove(list, v)
  local out = {}
  for _, x in ipairs(E.list(list)) do
    if x ~= v then out[#out + 1] = x end
  end
  return out
end

-- ",a,b," membership, as the DAG's ancestor and successor lists come.
function E.dag(stage)
  return E.cfg.dag[stage]
end

function E.is_ancestor(a, of)
  local d = E.dag(of)
  return d ~= nil and E.contains(d.a, a)
end

-- ---- timers: members of E.TIM scored by their deadline (event time) ----
function E.timer(member, at)
  redis.call('ZADD', E.TIM, at, member)
end

function E.untimer(member)
  redis.call('ZREM', E.TIM, member)
end

-- ---- alerts: one record in E.ALERTS, one entry per destination in E.Q ----
-- dests: "w:<receiver>" (webhook) or "a:<receiver>#<channel>" (Web API).
-- only: 'a' or 'w' keeps the destinations of that type; nil keeps all.
-- thread: 'open' (opens the incident's thread), 'reply' (a reply in it), 'update'
-- (chat.update of the message that opened it) or 'none'.
-- quiet: nothing to send here is expected (the caller explains it); else it is
-- counted as suppressed, reason no_receiver. Returns the alert id, or nil.
function E.emit(kind, rec, dests, thread, only, quiet)
  local kept = {}
  for _, d in ipairs(E.list(dests)) do
    if not only or string.sub(d, 1, 1) == only then kept[#kept + 1] = d end
  end
  if #kept == 0 then
    if not quiet then E.count('suppressed', 'no_receiver') end
    return nil
  end
  local seq = redis.call('HINCRBY', E.META, 'seq', 1)
  local id = string.format('a%012d', seq)
  rec.id, rec.kind, rec.t, rec.thread, rec.dests = id, kind, E.now, thread, kept
  redis.call('HSET', E.ALERTS, id, cjson.encode(rec))
  redis.call('HSET', E.ALERTS, id .. ':n', #kept)
  -- an edit of an incident's message: its incident, for the claim to coalesce edits
  if thread == 'update' and rec.inc then redis.call('HSET', E.ALERTS, id .. ':u', rec.inc) end
  for _, d in ipairs(kept) do
    redis.call('ZADD', E.Q, 0, d .. '\1' .. string.format('%012d', seq))
    redis.call('ZADD', E.QS, 'NX', 0, d)
  end
  E.res.alerts = E.res.alerts + 1
  E.count('kinds', kind)
  return id
end

-- ---- decision records (heraldctl explain), kept by event time ----
function E.explain(id, t, decision, reason, rule, js, extra)
  E.res.decided = E.res.decided + 1
  if decision == 'suppressed' then E.count('suppressed', reason) end
  if E.cfg.explain == 0 then return end
  local o = extra or {}
  o.event, o.decision, o.reason, o.rule = id, decision, reason, rule
  if js then
    o.job_state = {failures = js.nf or 0, failing_since = js.fft, suppressed = js.sup,
                   alert = js.al or 0, incident = js.inc}
  end
  local m = E.cur
  if m then
    o.job, o.state, o.service, o.stage, o.tier = m.job, m.st, m.svc, m.stg, m.tier
    if m.ver ~= '' then o.version = m.ver end
    if m.sil ~= '' then o.silence = m.sil end
    o.receivers = m.d
  end
  o.event_time, o.decided_at, o.consumer = t, E.cfg.wall, E.cfg.name
  redis.call('HSET', E.EXPL, id, cjson.encode(o))
  redis.call('ZADD', E.EXPLT, t, id)
end

-- Forget what is older than the state TTL (event time): decision records, and job and
-- release state no event has touched since. A few per step, so no step is slow.
function E.gc()
  local old = E.now - E.cfg.ttl
  if old <= 0 then return end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', E.EXPLT, '-inf', old, 'LIMIT', 0, 200)) do
    redis.call('HDEL', E.EXPL, id)
    redis.call('ZREM', E.EXPLT, id)
  end
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', E.GC, '-inf', old, 'LIMIT', 0, 100)) do
    local kind, k = string.sub(m, 1, 1), string.sub(m, 2)
    if kind == 'j' then redis.call('HDEL', E.JOBS, k)
    elseif kind == 'r' then redis.call('HDEL', E.RELS, k) end
    redis.call('ZREM', E.GC, m)
  end
end

-- The line an alert lists for another failed run: "chart-update: update-ack-chart
-- failure (build 123)".
function E.line(m)
  local l = m.stg .. ': ' .. m.job .. ' ' .. m.st
  if m.b and m.b ~= '' then l = l .. ' (build ' .. m.b .. ')' end
  return l
end

-- The keys of t in byte order: rules never depend on the order of pairs().
function E.sorted_keys(t)
  local ks = {}
  for k, _ in pairs(t or {}) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

function E.size(t)
  local n = 0
  for _ in pairs(t or {}) do n = n + 1 end
  return n
end
