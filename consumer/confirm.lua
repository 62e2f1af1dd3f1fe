-- confirm.lua -- Slack accepted the alert decide.lua chose for an event: a
-- redelivery of that event is now a duplicate. Keeps the Slack thread of a Web API
-- message that opens an incident, for its follow-ups (consumer/engine.h).
--
-- KEYS[1] the job's state hash
-- ARGV 1 event id  2 alert kind  3 release hash ('' none)  4 ecosystem hash ('' none)
--      5.. receiver, ts pairs
local J, id, kind = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('HGET', J, 'aid') ~= id then return 0 end
redis.call('HSET', J, 'conf', '1')
for i = 5, #ARGV, 2 do
  if kind == 0 then
    redis.call('HSET', J, 'ts:' .. ARGV[i], ARGV[i + 1])
    if ARGV[3] ~= '' then redis.call('HSET', ARGV[3], 'ts:' .. ARGV[i], ARGV[i + 1]) end
  elseif kind == 5 and ARGV[4] ~= '' then
    redis.call('HSET', ARGV[4], 'ts:' .. ARGV[i], ARGV[i + 1])
  end
end
return 1
