-- Hides a task for its tenant: out of the listing index; the hash (audit, billing) stays. A hidden
-- task is never looked at again, so a slot it still holds (the upstream no longer had it) ends
-- here and its reservation is given back, once; a settled task's slot ended with its settlement.
-- KEYS[1] task hash  KEYS[2] active zset  KEYS[3] holds hash  KEYS[4] wallet hash
-- KEYS[5] wallet-log stream  KEYS[6..16] list indexes   ARGV[1] task id  ARGV[2] at ms
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hidden', '1')
ix_remove(ix_keys(6), ARGV[1])
local slot = redis.call('HGET', KEYS[1], 'slot')
if slot then
  redis.call('ZREM', KEYS[2], slot)
  local held = redis.call('HGET', KEYS[3], slot)
  if held then
    redis.call('HDEL', KEYS[3], slot)
    if held ~= '0' then redis.call('HINCRBY', KEYS[4], 'reserved', '-' .. held) end
    redis.call('XADD', KEYS[5], '*', 'kind', 'release', 'slot', slot, 'task', ARGV[1], 'usd_nanos', held,
      'at', ARGV[2], 'why', 'hidden')
  end
end
return 1
