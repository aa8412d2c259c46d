-- Admits one create for a tenant, all or nothing: the sliding minute of
-- creates, the active slots, and for a prepaid tenant the reservation of the request's worst-case
-- price. One script in the tenant's slot, so every node sharing the store sees one count.
-- KEYS[1] active zset (slot -> admitted ms)  KEYS[2] creates zset (window)  KEYS[3] holds hash
-- KEYS[4] wallet hash  KEYS[5] wallet-log stream
-- ARGV[1] slot  ARGV[2] now ms  ARGV[3] max active ('' = unlimited)
-- ARGV[4] creates per minute ('' = unlimited)  ARGV[5] nanos to reserve ('' = not prepaid)
-- ARGV[6] slots admitted before this ms are stale
-- -> {1,'ok',0} | {0,'rate',retry after ms} | {0,'active',active} | {0,'quota',available nanos}
local now = tonumber(ARGV[2])
-- Dropping a stale slot gives its reservation back; the removal of the hold makes it happen once.
local function release(slot)
  redis.call('ZREM', KEYS[1], slot)
  local held = redis.call('HGET', KEYS[3], slot)
  if not held then return end
  redis.call('HDEL', KEYS[3], slot)
  if held ~= '0' then redis.call('HINCRBY', KEYS[4], 'reserved', '-' .. held) end
  redis.call('XADD', KEYS[5], '*', 'kind', 'release', 'slot', slot, 'task', '', 'usd_nanos', held,
    'at', ARGV[2], 'why', 'stale')
end
for _, slot in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[6])) do release(slot) end
if ARGV[4] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, 'rate', tonumber(oldest[2]) + 60000 - now}
  end
end
if ARGV[3] ~= '' then
  local active = redis.call('ZCARD', KEYS[1])
  if active >= tonumber(ARGV[3]) then return {0, 'active', active} end
end
if ARGV[5] ~= '' then
  local w = redis.call('HMGET', KEYS[4], 'balance', 'reserved')
  local available = tonumber(w[1] or '0') - tonumber(w[2] or '0')
  if available < tonumber(ARGV[5]) then return {0, 'quota', available} end
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
  redis.call('HINCRBY', KEYS[4], 'reserved', ARGV[5])
  redis.call('XADD', KEYS[5], '*', 'kind', 'reserve', 'slot', ARGV[1], 'task', '', 'usd_nanos', ARGV[5],
    'at', ARGV[2])
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], 61000)
end
return {1, 'ok', 0}
