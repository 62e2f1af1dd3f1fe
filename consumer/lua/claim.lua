-- claim.lua -- take the next message of each destination that is ready, for sending
-- (consumer/outbox.h). One message in flight per destination keeps a channel's order
-- and lets a reply find the ts of the message that opened its thread.
--
-- KEYS  1 alerts  2 q  3 qsched  4 qstate  5 threads  6 storm  7 sent
-- ARGV  1 wall ms  2 lease ms  3 at most this many destinations  4 holder (this
--       consumer's token)  5 rate (messages per second per destination)  6 burst
-- Returns JSON {"items": [{d, m, id, rec, parent, note, attempts, uncertain, since}],
--               "depth": messages queued, "next": wall ms the next one is due or 0}
-- A destination is leased to its holder until wall + lease; a holder that died loses
-- it when the lease ends. The rate limit delays a message; it never drops one.
local now, lease, max, holder = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  ARGV[4]
local rate, burst = tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}

local function state(d)
  local v = redis.call('HGET', KEYS[4], d)
  return v and cjson.decode(v) or {}
end

-- The token bucket of d: true if a message may go now, else d is due when one will.
local function take_token(d)
  local b = redis.call('HGET', KEYS[6], d)
  local tokens, ts = burst, now
  if b then
    local t, at = string.match(b, '^([%d.]+)|(%d+)$')
    tokens, ts = tonumber(t) or burst, tonumber(at) or now
  end
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  if tokens < 1 then
    redis.call('ZADD', KEYS[3], now + math.ceil((1 - tokens) * 1000 / rate), d)
    return false
  end
  redis.call('HSET', KEYS[6], d, string.format('%.3f|%d', tokens - 1, now))
  return true
end

-- Forget queue entry m of alert id (its record goes with its last entry).
local function drop(m, id)
  redis.call('ZREM', KEYS[2], m)
  if redis.call('HINCRBY', KEYS[1], id .. ':n', -1) <= 0 then
    redis.call('HDEL', KEYS[1], id, id .. ':n', id .. ':u')
  end
end

-- The head of d's queue and its record, or nil and whether d may have more (true:
-- it looked at LOOK * 8 entries and found none to send; look again next time). An edit
-- (chat.update of an incident's message; its record's ':u' field names the incident)
-- that a newer edit of the same message follows within the entries looked at (other
-- messages may come between) is dropped: only the newest state matters, and Slack is
-- not asked to edit the same message once per change.
local LOOK = 256
local function head_of(d)
  for _ = 1, 8 do
    local q = redis.call('ZRANGEBYLEX', KEYS[2], '[' .. d .. '\1', '[' .. d .. '\2',
                         'LIMIT', 0, LOOK)
    if #q == 0 then return nil, false end
    local incs, last = {}, {}
    for i, m in ipairs(q) do
      local inc = redis.call('HGET', KEYS[1], 'a' .. string.sub(m, #d + 2) .. ':u')
      if inc then incs[i], last[inc] = inc, i end
    end
    for i, m in ipairs(q) do
      local id = 'a' .. string.sub(m, #d + 2)
      if incs[i] and last[incs[i]] > i then
        drop(m, id)
      else
        local rec = redis.call('HGET', KEYS[1], id)
        if rec then return m, rec, cjson.decode(rec) end
        redis.call('ZREM', KEYS[2], m) -- its record is gone: nothing to send
      end
    end
    if #q < LOOK then return nil, false end
  end
  return nil, true
end

for _, d in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 4 * max + 16)) do
  if #out >= max then break end
  local st = state(d)
  if (st['until'] or 0) <= now then
    local head, rec, r = head_of(d)
    if not head then
      if not rec then -- empty (rec is "more" here)
        redis.call('ZREM', KEYS[3], d)
        redis.call('HDEL', KEYS[4], d)
      end
    elseif take_token(d) then
      local id = 'a' .. string.sub(head, #d + 2)
      st['until'], st.holder, st.since = now + lease, holder, st.since or now
      redis.call('HSET', KEYS[4], d, cjson.encode(st))
      local parent = r.inc and redis.call('HGET', KEYS[5], r.inc .. '\1' .. d)
      out[#out + 1] = {d = d, m = head, id = id, rec = rec, parent = parent or '',
                       note = redis.call('HGET', KEYS[7], id .. '\1' .. d) or '',
                       attempts = st.attempts or 0, uncertain = st.uncertain or 0,
                       since = st.since}
    end
  end
end
local nxt = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
return cjson.encode({items = out, depth = redis.call('ZCARD', KEYS[2]),
                     next = tonumber(nxt[2]) or 0})
