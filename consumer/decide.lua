-- decide.lua -- one job event's fate, atomically (docs/rules.md; consumer/engine.h).
--
-- KEYS[1]  the job's state hash, P job:{<job key>}
-- ARGV     1 P (key prefix)   2 event id   3 class: fail | ok | skip | start
--          4 event time ms    5 build id   6 N (failures to alert)
--          7 repeat window ms 8 key ttl ms 9 service 10 stage 11 version ('' none)
--          12 ancestors of the stage in the release DAG, ",a,b," ('' = not in the DAG)
--          13 successors, ",c,"   14 release hold ms   15 ecosystem on ('1'/'0')
--          16 K   17 W ms   18 ecosystem hold ms   19 the event (JSON, kept if held)
--          20 wall clock ms   21 silenced ('1'/'0')   22 job name   23 state
--          24 stall timeout ms (0 off)
--
-- Returns {verdict, kind, reason, detail, failures, failing since, first build,
--          suppressed, suppressed since, started, more, ts (JSON {receiver: ts}),
--          lines (JSON array)}
-- verdict 0 alert now, 1 suppressed, 2 duplicate, 3 held, 4 no alert (state only).
-- kind: enum alert_kind (0 failure, 1 recovered, 2 reminder, 4 consequence,
-- 5 ecosystem, 6 ecosystem recovered).
--
-- Job hash fields: lt/lid last event decided (time, id), nf consecutive failures,
-- fft/ffb first failure time/build, al alert state (0 none, 1 alerted, 2 covered by a
-- release or ecosystem alert, 3 silenced), lat last alert time, sup/since repeats
-- since, pend id of its held alert, aid/conf/ares the alert chosen for event aid,
-- whether Slack confirmed it, and the result to give again if it is redelivered
-- unconfirmed; ts:<receiver> the Slack thread of the open incident.

local P, id, class = ARGV[1], ARGV[2], ARGV[3]
local t, build = tonumber(ARGV[4]), ARGV[5]
local N, win, ttl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local svc, stage, ver = ARGV[9], ARGV[10], ARGV[11]
local anc, succ = ARGV[12], ARGV[13]
local rhold = tonumber(ARGV[14])
local ecoon, K, W, ehold = ARGV[15] == '1', tonumber(ARGV[16]), tonumber(ARGV[17]),
  tonumber(ARGV[18])
local payload, wall, silenced = ARGV[19], tonumber(ARGV[20]), ARGV[21] == '1'
local job, state, stall = ARGV[22], ARGV[23], tonumber(ARGV[24])

local J = KEYS[1]
local R = nil
if ver ~= '' and anc ~= '' then R = P .. 'rel:{' .. svc .. '|' .. ver .. '}' end
local EC = P .. 'eco:{' .. stage .. '}'
local H, ST = P .. 'hold', P .. 'stall'

local function tsmap(key)
  local m, h = {}, redis.call('HGETALL', key)
  for i = 1, #h, 2 do
    if string.sub(h[i], 1, 3) == 'ts:' then m[string.sub(h[i], 4)] = h[i + 1] end
  end
  return m
end

local function clear_ts(key)
  local h = redis.call('HKEYS', key)
  for _, f in ipairs(h) do
    if string.sub(f, 1, 3) == 'ts:' then redis.call('HDEL', key, f) end
  end
end

local function result(v, kind, reason, detail, o)
  o = o or {}
  local ts = o.ts or {}
  local lines = o.lines or {}
  return {v, kind, reason, detail, o.nf or 0, o.fft or 0, o.ffb or '', o.sup or 0,
          o.since or 0, o.started or 0, o.more or 0,
          next(ts) and cjson.encode(ts) or '{}',
          #lines > 0 and cjson.encode(lines) or '[]'}
end

-- Remember the alert chosen for this event so an unconfirmed redelivery repeats it.
local function alert(res)
  redis.call('HSET', J, 'aid', id, 'conf', '0', 'ares', cjson.encode(res))
  return res
end

local function line_of(s, j, st, b)
  local l = s .. ': ' .. j .. ' ' .. st
  if b ~= '' then l = l .. ' (build ' .. b .. ')' end
  return l
end

-- The event clock: the newest event time seen, and the wall time it was seen at.
local c = redis.call('HMGET', P .. 'clock', 'ev')
if not tonumber(c[1]) or t > tonumber(c[1]) then
  redis.call('HSET', P .. 'clock', 'ev', t, 'wall', wall)
end

-- Already decided? Events of one job arrive in order; an event at or before the last
-- one decided is a redelivery (or a late older run, which cannot change the state).
local j = redis.call('HMGET', J, 'lt', 'lid', 'aid', 'conf', 'ares')
local lt = tonumber(j[1])
if lt and (t < lt or (t == lt and id <= j[2])) then
  if j[3] == id and j[4] == '0' and j[5] then return cjson.decode(j[5]) end
  return result(2, 0, 'duplicate', id == j[2] and 'already decided'
                or 'older than the last run decided for this job')
end
redis.call('HSET', J, 'lt', t, 'lid', id)
redis.call('PEXPIRE', J, ttl)

-- Release bookkeeping: which stages ran, and what must happen next (stall timers).
if R then
  local me = svc .. '|' .. ver .. '|' .. stage
  if class == 'start' then
    if stall > 0 then redis.call('ZADD', ST, t + stall, me .. '|finish') end
  elseif class == 'fail' or class == 'ok' then
    redis.call('ZREM', ST, me .. '|finish', me .. '|start')
  end
  if class ~= 'skip' then
    redis.call('SADD', R .. ':seen', stage)
    redis.call('PEXPIRE', R .. ':seen', ttl)
  end
  if class == 'ok' and stall > 0 then
    for s in string.gmatch(succ, '[^,]+') do
      if redis.call('SISMEMBER', R .. ':seen', s) == 0 then
        redis.call('ZADD', ST, t + stall, svc .. '|' .. ver .. '|' .. s .. '|start')
      end
    end
  end
end

if class == 'skip' or class == 'start' then
  return result(4, 0, 'state', class == 'skip' and 'not a failure (superseded or not final)'
                or 'run started')
end

local h = redis.call('HMGET', J, 'nf', 'fft', 'ffb', 'al', 'lat', 'sup', 'since', 'pend')
local nf, fft, ffb = tonumber(h[1]) or 0, tonumber(h[2]) or 0, h[3] or ''
local al, lat = tonumber(h[4]) or 0, tonumber(h[5]) or 0
local sup, since, pend = tonumber(h[6]) or 0, tonumber(h[7]) or 0, h[8]

-- ---- success -------------------------------------------------------------------------
if class == 'ok' then
  redis.call('HDEL', J, 'nf', 'fft', 'ffb', 'al', 'lat', 'sup', 'since', 'pend')
  local due = pend and redis.call('ZSCORE', H, pend)
  if pend and due and tonumber(due) > t then
    -- Failed, then passed before its alert left the hold: the alert says so.
    local pk = P .. 'pend:' .. pend
    if redis.call('EXISTS', pk) == 1 then
      redis.call('HSET', pk, 'rec', build .. '|' .. t)
    end
    return result(1, 0, 'recovered', 'passed again before its held failure alert was sent',
                  {nf = nf, fft = fft, ffb = ffb})
  end
  -- (A held alert already due by this event's time is sent before this batch's
  -- alerts; the recovery below follows it.)
  -- The job that put its service in the ecosystem window passed: the service leaves
  -- the window, and an open incident; the last one closes it.
  local ineco = false
  if redis.call('HGET', EC .. ':jobs', svc) == job then
    redis.call('HDEL', EC .. ':jobs', svc)
    redis.call('ZREM', EC .. ':w', svc)
    ineco = redis.call('SREM', EC .. ':failing', svc) == 1
  end
  if ineco and redis.call('SCARD', EC .. ':failing') == 0 and
     redis.call('HGET', EC, 'open') == '1' then
    local all = redis.call('SMEMBERS', EC .. ':all')
    table.sort(all)
    local res = result(0, 6, 'ecosystem', 'every service of the incident recovered',
                       {ts = tsmap(EC), lines = all,
                        started = tonumber(redis.call('HGET', EC, 'start')) or 0})
    redis.call('DEL', EC, EC .. ':failing', EC .. ':all', EC .. ':pend', EC .. ':jobs')
    clear_ts(J)
    return alert(res)
  end
  if al == 1 then
    local res = result(0, 1, 'recovered', 'a job that alerted passed again',
                       {nf = nf, fft = fft, ffb = ffb, ts = tsmap(J)})
    clear_ts(J)
    return alert(res)
  end
  if ineco then
    return result(1, 0, 'correlation', 'recovered inside an open ecosystem incident',
                  {nf = nf, fft = fft})
  end
  if nf > 0 then
    return result(4, 0, 'state', al == 3 and 'passed again (its failure was silenced)'
                  or 'passed again (failures stayed below the threshold, or were covered)',
                  {nf = nf, fft = fft})
  end
  return result(4, 0, 'state', 'passing')
end

-- ---- failure -------------------------------------------------------------------------
if nf == 0 then fft, ffb = t, build end
nf = nf + 1
redis.call('HSET', J, 'nf', nf, 'fft', fft, 'ffb', ffb)
local st = {nf = nf, fft = fft, ffb = ffb}

if al == 2 then
  return result(1, 0, 'correlation', 'still failing; covered by a release or ecosystem alert', st)
end
if al == 1 then
  if t - lat < win then
    if sup == 0 then since = t end
    sup = sup + 1
    redis.call('HSET', J, 'sup', sup, 'since', since)
    st.sup, st.since = sup, since
    return result(1, 0, 'dedup', 'still failing; repeat inside the window', st)
  end
  -- Still failing after the repeat window: a reminder, in the incident's thread.
  redis.call('HSET', J, 'lat', t, 'sup', 0, 'since', 0)
  if silenced then return result(1, 0, 'silence', 'reminder silenced', st) end
  st.sup, st.since, st.ts = sup, since, tsmap(J)
  return alert(result(0, 2, 'reminder', 'still failing after the repeat window', st))
end
if nf < N then
  return result(1, 0, 'threshold', 'failure ' .. nf .. ' of ' .. N .. ' needed to alert', st)
end
if silenced then
  redis.call('HSET', J, 'al', 3)
  return result(1, 0, 'silence', 'failure alert silenced', st)
end

-- The job crossed into failing. Ecosystem first: is this stage failing everywhere?
local due = t
if ecoon then
  redis.call('ZADD', EC .. ':w', t, svc)
  redis.call('ZREMRANGEBYSCORE', EC .. ':w', '-inf', '(' .. (t - W))
  redis.call('HSET', EC .. ':jobs', svc, job)
  redis.call('PEXPIRE', EC .. ':w', ttl)
  redis.call('PEXPIRE', EC .. ':jobs', ttl)
  local inc = redis.call('HMGET', EC, 'open', 'last')
  if inc[1] == '1' and t > (tonumber(inc[2]) or 0) + W then
    -- No failure joined it for a whole window: a new problem, not that incident.
    redis.call('DEL', EC, EC .. ':failing', EC .. ':all', EC .. ':pend')
    inc[1] = false
  end
  if inc[1] == '1' then
    redis.call('SADD', EC .. ':failing', svc)
    redis.call('SADD', EC .. ':all', svc)
    if t > (tonumber(inc[2]) or 0) then redis.call('HSET', EC, 'last', t) end
    redis.call('HSET', J, 'al', 2)
    return result(1, 0, 'correlation', 'part of the open ecosystem incident for ' .. stage, st)
  end
  local members = redis.call('ZRANGE', EC .. ':w', 0, -1, 'WITHSCORES')
  if #members / 2 >= K then
    local start, svcs = t, {}
    for i = 1, #members, 2 do
      svcs[#svcs + 1] = members[i]
      local s = tonumber(members[i + 1])
      if s < start then start = s end
      redis.call('SADD', EC .. ':failing', members[i])
      redis.call('SADD', EC .. ':all', members[i])
      -- Fold the per-service alerts still held for this stage.
      local p = redis.call('HGET', EC .. ':pend', members[i])
      if p then
        local pk = P .. 'pend:' .. p
        local pj = redis.call('HGET', pk, 'job')
        if pj then redis.call('HSET', pj, 'al', 2) redis.call('HDEL', pj, 'pend') end
        redis.call('ZREM', H, p)
        redis.call('DEL', pk, pk .. ':lines')
      end
    end
    table.sort(svcs)
    redis.call('HSET', EC, 'open', '1', 'start', start, 'last', t)
    redis.call('DEL', EC .. ':pend')
    for _, k in ipairs({EC, EC .. ':failing', EC .. ':all', EC .. ':jobs'}) do
      redis.call('PEXPIRE', k, ttl)
    end
    redis.call('HSET', J, 'al', 2)
    return alert(result(0, 5, 'ecosystem', #svcs .. ' services failed ' .. stage ..
                        ' within the window', {lines = svcs, started = start}))
  end
  if ehold > 0 then due = t + ehold end
end

-- Release level: one alert per service + version.
if R then
  local r = redis.call('HMGET', R, 'pend', 'sent', 'pstage', 'pa')
  local mine = line_of(stage, job, state, build)
  if r[1] and redis.call('EXISTS', P .. 'pend:' .. r[1]) == 1 then
    local pk = P .. 'pend:' .. r[1]
    redis.call('HSET', J, 'al', 2)
    if string.find(r[4] or '', ',' .. stage .. ',', 1, true) then
      -- Upstream of the held alert's stage: this becomes the alert, the other its
      -- consequence.
      local old = redis.call('HMGET', pk, 'line', 'job')
      redis.call('RPUSH', pk .. ':lines', old[1])
      if old[2] then redis.call('HSET', old[2], 'al', 2) redis.call('HDEL', old[2], 'pend') end
      redis.call('HSET', pk, 'ev', payload, 'job', J, 'line', mine, 'nf', nf, 'fft', fft,
                 'ffb', ffb, 'thr', N)
      redis.call('HSET', R, 'pstage', stage, 'pa', anc)
      redis.call('HSET', J, 'al', 1, 'lat', t, 'pend', r[1])
      return result(3, 0, 'release', 'upstream of the held alert of ' .. svc .. ' ' .. ver ..
                    '; now its subject', st)
    end
    redis.call('RPUSH', pk .. ':lines', mine)
    return result(1, 0, 'correlation', 'attached to the held alert of ' .. svc .. ' ' .. ver, st)
  end
  if r[2] == '1' then
    local downstream = false
    for _, f in ipairs(redis.call('SMEMBERS', R .. ':failed')) do
      if string.find(anc, ',' .. f .. ',', 1, true) then downstream = true end
    end
    redis.call('SADD', R .. ':failed', stage)
    if downstream then
      redis.call('HSET', J, 'al', 2)
      st.ts, st.lines = tsmap(R), {mine}
      return alert(result(0, 4, 'consequence', 'downstream of a failed stage of ' .. svc ..
                          ' ' .. ver, st))
    end
  else
    redis.call('HSET', R, 'pstage', stage, 'pa', anc)
    redis.call('SADD', R .. ':failed', stage)
    redis.call('PEXPIRE', R, ttl)
    redis.call('PEXPIRE', R .. ':failed', ttl)
    if rhold > 0 and t + rhold > due then due = t + rhold end
  end
end

redis.call('HSET', J, 'al', 1, 'lat', t, 'sup', 0, 'since', 0)
if due > t then
  -- Hold it, so related failures (same release, same stage elsewhere) can join.
  local pk = P .. 'pend:' .. id
  redis.call('HSET', pk, 'ev', payload, 'job', J, 'rel', R or '', 'line',
             line_of(stage, job, state, build), 'nf', nf, 'fft', fft, 'ffb', ffb, 'thr', N)
  redis.call('PEXPIRE', pk, ttl)
  redis.call('ZADD', H, due, id)
  redis.call('HSET', J, 'pend', id)
  if R then redis.call('HSET', R, 'pend', id) end
  if ecoon then
    redis.call('HSET', EC .. ':pend', svc, id)
    redis.call('PEXPIRE', EC .. ':pend', ttl)
  end
  return result(3, 0, 'held', 'held until ' .. due .. ' (event time) for related failures', st)
end
if R then redis.call('HSET', R, 'sent', '1') end
return alert(result(0, 0, 'failure', nf > 1 and ('failed ' .. nf .. ' times in a row')
                    or 'started failing', st))
