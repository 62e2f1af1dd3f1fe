-- wm.lua -- watermarks: how far in event time every live source has published
-- (docs/rules.md "Event time").
--
-- E.WM fields:  s:<source> -> "<partitions>|<wall ms of the last record>|<state>"
--               (state: live, done = final in every partition)
--               p:<source>|<partition> -> watermark ms, or "inf" after its final record
-- The group watermark is the minimum over live sources of the minimum over their
-- partitions; a partition not heard from yet holds it at -infinity. A source silent for
-- idle_timeout (wall clock) no longer holds anything back; a source that is done stays
-- as a tombstone so an old record read again cannot bring it back.

-- One record from the batch: {source, partition, ms, final, partitions}.
function E.wm_record(r)
  local src, part, ms, final, n = r[1], r[2], tonumber(r[3]), r[4] == 1, tonumber(r[5])
  local sk = 's:' .. src
  local s = redis.call('HGET', E.WM, sk)
  if s and string.find(s, '|done', 1, true) then return end
  redis.call('HSET', E.WM, sk, n .. '|' .. E.cfg.wall .. '|live')
  local pk = 'p:' .. src .. '|' .. part
  if final then
    redis.call('HSET', E.WM, pk, 'inf')
    return
  end
  local old = redis.call('HGET', E.WM, pk)
  if old == 'inf' then return end
  if not old or tonumber(old) < ms then redis.call('HSET', E.WM, pk, ms) end
end

-- The group watermark now (ms; E.INF when no source holds anything back).
function E.group_wm()
  local all = redis.call('HGETALL', E.WM)
  local src, parts = {}, {}
  for i = 1, #all, 2 do
    local f, v = all[i], all[i + 1]
    if string.sub(f, 1, 2) == 's:' then
      local n, wall, state = string.match(v, '^(%d+)|(%d+)|(%a+)$')
      src[string.sub(f, 3)] = {n = tonumber(n), wall = tonumber(wall), state = state}
    else
      parts[string.sub(f, 3)] = v
    end
  end
  local W = E.INF
  for name, s in pairs(src) do
    if s.state == 'live' then
      if E.cfg.wall - s.wall > E.cfg.idle then
        -- silent too long: it holds nothing back until it speaks again
        E.res.idle_sources = (E.res.idle_sources or 0) + 1
      else
        local mn = E.INF
        for p = 0, s.n - 1 do
          local v = parts[name .. '|' .. p]
          if not v then
            mn = -1
            break
          end
          if v ~= 'inf' and tonumber(v) < mn then mn = tonumber(v) end
        end
        if mn == E.INF then
          redis.call('HSET', E.WM, 's:' .. name, s.n .. '|' .. s.wall .. '|done')
          for p = 0, s.n - 1 do redis.call('HDEL', E.WM, 'p:' .. name .. '|' .. p) end
        elseif mn < W then
          W = mn
        end
      end
    elseif E.cfg.wall - s.wall > E.cfg.tombstone then
      redis.call('HDEL', E.WM, 's:' .. name)
    end
  end
  return W
end
