-- flush.lua -- what the hold and the stall timers release now (consumer/engine.h).
--
-- ARGV 1 P (key prefix)  2 wall clock ms  3 lease ms  4 at most this many of each
--
-- The event clock is the newest event time any consumer decided, moved on by the wall
-- time since (so holds end even when no new events come), but no further than the
-- newest event read from any partition that still has events to read. A held alert due by that
-- clock is leased to the caller (moved to P hold:inflight until wall + lease); an
-- alert whose lease ran out (its consumer died before settling it) is due again.
-- Returns {clock, {{id, event JSON, failures, failing since, first build, threshold,
--          recovered "build|ms" or '', lines JSON, total lines}, ...},
--          {stall "service|version|stage|start|finish", ...}}
local P, wall = ARGV[1], tonumber(ARGV[2])
local lease, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local H, HI, ST = P .. 'hold', P .. 'hold:inflight', P .. 'stall'

local c = redis.call('HMGET', P .. 'clock', 'ev', 'wall')
local ev, cw = tonumber(c[1]), tonumber(c[2])
if not ev then return {0, {}, {}} end
local clock = ev + math.max(0, wall - (cw or wall))
-- A partition with events still to read holds the clock back to the newest event
-- time read from it (P clock:parts: "<topic>:<partition>" -> ms, or "eof").
for _, v in ipairs(redis.call('HVALS', P .. 'clock:parts')) do
  local ms = tonumber(v)
  if ms and ms < clock then clock = ms end
end

for _, id in ipairs(redis.call('ZRANGEBYSCORE', HI, '-inf', wall, 'LIMIT', 0, max)) do
  redis.call('ZREM', HI, id)
  redis.call('ZADD', H, 0, id)
end

local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', H, '-inf', clock, 'LIMIT', 0, max)) do
  redis.call('ZREM', H, id)
  local pk = P .. 'pend:' .. id
  local d = redis.call('HMGET', pk, 'ev', 'nf', 'fft', 'ffb', 'thr', 'rec')
  if d[1] then
    redis.call('ZADD', HI, wall + lease, id)
    local lines = redis.call('LRANGE', pk .. ':lines', 0, 49)
    out[#out + 1] = {id, d[1], d[2] or '0', d[3] or '0', d[4] or '', d[5] or '1',
                     d[6] or '', #lines > 0 and cjson.encode(lines) or '[]',
                     redis.call('LLEN', pk .. ':lines')}
  end
end

local stalls = redis.call('ZRANGEBYSCORE', ST, '-inf', clock, 'LIMIT', 0, max)
for _, m in ipairs(stalls) do redis.call('ZREM', ST, m) end
return {clock, out, stalls}
