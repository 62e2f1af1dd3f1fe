-- finish.lua -- what became of messages claim.lua handed out (consumer/outbox.h).
--
-- KEYS  1 alerts  2 q  3 qsched  4 qstate  5 threads  6 storm  7 sent
-- ARGV  1 wall ms, then nine per message: destination, queue entry, alert id,
--       result (sent | refused | retry | aborted), Slack ts ('' none), delay ms (retry),
--       uncertain (1: the attempt may have been delivered, e.g. a timeout), fallback
--       destination ('' none: refused ones are dropped), fallback note
-- sent: the entry leaves the queue; the first message of an incident on a destination
--   (or the one that opens it) keeps its ts for the thread.
-- refused: the entry leaves the queue; a copy goes to the fallback destination with a
--   note saying who refused it and why.
-- retry: stays at the head; due again after the delay. aborted: due at once (shutdown).
-- Idempotent: finishing the same message twice changes nothing more.
-- Returns the number of entries that left the queue.
local now = tonumber(ARGV[1])
local left = 0
for i = 2, #ARGV, 9 do
  local d, m, id, r = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local ts, delay, unc = ARGV[i + 4], tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
  local fb, note = ARGV[i + 7], ARGV[i + 8]
  local v = redis.call('HGET', KEYS[4], d)
  local st = v and cjson.decode(v) or {}
  if r == 'sent' or r == 'refused' then
    if redis.call('ZREM', KEYS[2], m) == 1 then
      left = left + 1
      local rec = redis.call('HGET', KEYS[1], id)
      rec = rec and cjson.decode(rec)
      if r == 'sent' and ts ~= '' and rec and rec.inc then
        local tk = rec.inc .. '\1' .. d
        if rec.thread == 'open' or redis.call('HEXISTS', KEYS[5], tk) == 0 then
          redis.call('HSET', KEYS[5], tk, ts)
        end
      end
      if r == 'refused' and fb ~= '' then
        redis.call('ZADD', KEYS[2], 0, fb .. '\1' .. string.sub(id, 2))
        redis.call('ZADD', KEYS[3], 'NX', 0, fb)
        redis.call('HINCRBY', KEYS[1], id .. ':n', 1)
        redis.call('HSET', KEYS[7], id .. '\1' .. fb, note)
      end
      redis.call('HDEL', KEYS[7], id .. '\1' .. d)
      if redis.call('HINCRBY', KEYS[1], id .. ':n', -1) <= 0 then
        redis.call('HDEL', KEYS[1], id, id .. ':n', id .. ':u')
      end
    end
    st = {}
    redis.call('ZADD', KEYS[3], now, d)
  else
    if r == 'retry' then st.attempts = (st.attempts or 0) + 1 end
    st['until'], st.holder = nil, nil
    if unc == 1 then st.uncertain = 1 end
    redis.call('ZADD', KEYS[3], r == 'retry' and now + delay or now, d)
  end
  if next(st) then
    redis.call('HSET', KEYS[4], d, cjson.encode(st))
  else
    redis.call('HDEL', KEYS[4], d)
  end
end
return left
