-- step.lua -- one step of the engine: take a batch, then decide up to the watermark.
--
-- ARGV[1]  the configuration (JSON, consumer/engine.c builds it)
-- ARGV[2]  the batch: {"wm": [[source, partition, ms, final 0|1, partitions], ...],
--          "tps": ["<topic>:<partition>", ...] (report the pins of these)}
-- ARGV[3..] ten per event: id, event ms, job key, class (fail|ok|start|skip),
--          release stage (1|0), "<topic>:<partition>", offset, the job key without a
--          pull request (presubmits; else the job key), facts (JSON), the event;
--          facts and event "" for a light event: taken only if it can change nothing,
--          else its index (from 0) goes to "need" and nothing is decided this step
-- Returns JSON: the counts, {"pins": {tp: lowest offset still needed or -1}},
-- "wm" (the group watermark), "clock" (event time of the last item decided), "more"
-- (items are due beyond this step's bound: call again), or {"epoch_lost": ...}.

local cfg = E.cfg
local ep = redis.call('HGET', E.META, 'epoch')
if ep ~= cfg.epoch then return cjson.encode({epoch_lost = true, epoch = ep or ''}) end

local function pin_of(tp, off)
  return tp .. '\1' .. string.format('%016d', tonumber(off))
end

-- ---- ingest ------------------------------------------------------------------------
local hdr = cjson.decode(ARGV[2])
for _, r in ipairs(E.list(hdr.wm)) do E.wm_record(r) end
local Wlast = tonumber(redis.call('HGET', E.META, 'wm') or '-1')
local need = {}

for i = 3, #ARGV, 10 do
  local id, t, k, c, rel = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local bk = ARGV[i + 7]
  local fast = false
  if c ~= 'fail' and rel ~= '1' and redis.call('HEXISTS', E.HOT, k) == 0 and
     (bk == k or redis.call('HEXISTS', E.HOT, '\1' .. bk) == 0) then
    -- A run that cannot change anything: a success (or a start, or an abort) of a
    -- job with no story and nothing waiting to be decided.
    local v = redis.call('HGET', E.JOBS, k)
    fast = not v or string.byte(v, 1) ~= 123
  end
  if fast then
    E.res.fast = E.res.fast + 1
  elseif ARGV[i + 8] == '' then
    need[#need + 1] = (i - 3) / 10 -- light, and it has a story: send it again in full
  elseif redis.call('ZSCORE', E.BUF, id) then
    E.res.dup = E.res.dup + 1 -- a copy of an event waiting to be decided
  else
    local v = redis.call('HGET', E.JOBS, k)
    local js = v and E.job_decode(v) or {}
    if js.lt and (t < js.lt or (t == js.lt and id <= js.lid)) then
      E.res.dup = E.res.dup + 1 -- decided before (a redelivery, a copy, or older)
    else
      redis.call('ZADD', E.BUF, t, id)
      redis.call('HSET', E.BUFD, id, ARGV[i + 8] .. '\n' .. ARGV[i + 9])
      redis.call('HINCRBY', E.HOT, k, 1)
      redis.call('ZADD', E.PINS, 0, pin_of(ARGV[i + 5], ARGV[i + 6]))
      E.res.buffered = E.res.buffered + 1
      if t <= Wlast then E.res.late = E.res.late + 1 end
    end
  end
end
if #need > 0 then
  -- Deciding now could decide past an event not taken yet: the caller sends these in
  -- full and that call decides.
  E.res.need = need
  return cjson.encode(E.res)
end

-- ---- decide ------------------------------------------------------------------------
function E.process_event(id, t)
  local raw = redis.call('HGET', E.BUFD, id)
  redis.call('ZREM', E.BUF, id)
  redis.call('HDEL', E.BUFD, id)
  if not raw then return end
  local nl = string.find(raw, '\n', 1, true)
  local m, payload = cjson.decode(string.sub(raw, 1, nl - 1)), string.sub(raw, nl + 1)
  E.cur = m
  if redis.call('HINCRBY', E.HOT, m.k, -1) <= 0 then redis.call('HDEL', E.HOT, m.k) end
  local pin = pin_of(m.tp, m.off)
  local js = E.job(m.k)
  if js.lt and (t < js.lt or (t == js.lt and id <= js.lid)) then
    redis.call('ZREM', E.PINS, pin)
    E.res.dup = E.res.dup + 1
    return
  end
  js.lt, js.lid = t, id
  local R = E.rel(m)
  if R then E.rel_note(R, m, t) end
  if m.c == 'fail' then
    E.job_fail(js, m, t, id, payload, R)
  elseif m.c == 'ok' then
    E.job_ok(js, m, t, id, payload)
  else
    E.explain(id, t, 'no-alert', 'state', m.c == 'start' and 'run started' or
              'not a failure (superseded, or not final)', nil)
  end
  if R then E.rel_after(R) end
  -- An event whose alert is held keeps its offset pinned: if Redis lost everything,
  -- consumers would read it again from Kafka and hold it again.
  local P = js.al == 4 and E.pend_get(js.pid)
  if P and P.k == m.k then
    P.pins = E.list(P.pins)
    P.pins[#P.pins + 1] = pin
  else
    redis.call('ZREM', E.PINS, pin)
  end
end

function E.process_timer(member)
  redis.call('ZREM', E.TIM, member)
  E.res.timers = E.res.timers + 1
  local kind, rest = string.sub(member, 1, 1), string.sub(member, 3)
  if kind == 'p' then
    local P = E.pend_get(rest)
    if P then E.pend_try(P) end
  elseif kind == 's' then
    local key, stage, k = string.match(rest, '^(.*)\1([^\1]*)\1(%a+)$')
    if key then E.stall_fire(key, stage, k) end
  elseif kind == 'e' then
    E.eco_settle(rest)
  end
end

local W = E.group_wm()
local n = 0
E.now = tonumber(redis.call('HGET', E.META, 'clock') or '0')
while n < cfg.max do
  local ev = redis.call('ZRANGE', E.BUF, 0, 0, 'WITHSCORES')
  local tm = redis.call('ZRANGE', E.TIM, 0, 0, 'WITHSCORES')
  local et, tt = tonumber(ev[2]), tonumber(tm[2])
  local at = et
  if not et or (tt and tt < et) then at = tt end
  if not at or at > W then break end
  E.now = at
  E.cur = nil
  -- One item that breaks a rule (a bug) must not wedge every consumer: it is logged,
  -- counted and taken off the queue; what it wrote before the error stays.
  local ok, err
  if at == et then
    ok, err = pcall(E.process_event, ev[1], et)
    if not ok then
      redis.call('ZREM', E.BUF, ev[1])
      redis.call('HDEL', E.BUFD, ev[1])
    end
  else
    ok, err = pcall(E.process_timer, tm[1])
    if not ok then redis.call('ZREM', E.TIM, tm[1]) end
  end
  if ok then
    E.flush()
  else
    E.cache = {}
    E.res.errors = E.res.errors or {}
    if #E.res.errors < 5 then
      E.res.errors[#E.res.errors + 1] = (at == et and ev[1] or tm[1]) .. ': ' .. tostring(err)
    end
    E.res.failed = (E.res.failed or 0) + 1
  end
  n = n + 1
end
E.res.more = n >= cfg.max
E.gc()
redis.call('HSET', E.META, 'wm', W, 'clock', E.now)

local pins = {}
for _, tp in ipairs(E.list(hdr.tps)) do
  local p = redis.call('ZRANGEBYLEX', E.PINS, '[' .. tp .. '\1', '[' .. tp .. '\2', 'LIMIT', 0, 1)
  pins[tp] = p[1] and tonumber(string.sub(p[1], #tp + 2)) or -1
end
E.res.pins, E.res.wm, E.res.clock = pins, W, E.now
E.res.pending = redis.call('ZCARD', E.BUF)
return cjson.encode(E.res)
