-- settle.lua -- a held alert was delivered (or given up on): forget it, and keep the
-- Slack thread of each Web API message for the follow-ups (consumer/engine.h).
--
-- ARGV 1 P  2 pending id  3.. receiver, ts pairs
local P, id = ARGV[1], ARGV[2]
local pk = P .. 'pend:' .. id
local d = redis.call('HMGET', pk, 'job', 'rel')
redis.call('ZREM', P .. 'hold:inflight', id)
if d[1] and redis.call('HGET', d[1], 'pend') == id then
  redis.call('HDEL', d[1], 'pend')
  for i = 3, #ARGV, 2 do redis.call('HSET', d[1], 'ts:' .. ARGV[i], ARGV[i + 1]) end
end
if d[2] and d[2] ~= '' then
  redis.call('HSET', d[2], 'sent', '1')
  if redis.call('HGET', d[2], 'pend') == id then redis.call('HDEL', d[2], 'pend') end
  for i = 3, #ARGV, 2 do redis.call('HSET', d[2], 'ts:' .. ARGV[i], ARGV[i + 1]) end
end
redis.call('DEL', pk, pk .. ':lines')
return 1
