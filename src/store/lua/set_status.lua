-- Records an observed status. A terminal status is final: it is never overwritten. A terminal
-- status also ends the task's admission slot and gives its reservation back (a succeeded prepaid
-- task is left to settle.lua, which charges it); the hold's removal makes that happen once.
-- KEYS[1] task hash  KEYS[2] pending zset  KEYS[3] active zset  KEYS[4] holds hash
-- KEYS[5] wallet hash  KEYS[6] wallet-log stream  KEYS[7..17] list indexes
-- ARGV[1] task id  ARGV[2] status  ARGV[3] '1' = terminal  ARGV[4] at ms
-- ARGV[5] retention floor score  ARGV[6] ttl seconds
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'status')
local final = cur == 'succeeded' or cur == 'failed' or cur == 'expired' or cur == 'cancelled'
if not final then
  redis.call('HSET', KEYS[1], 'status', ARGV[2])
  if ARGV[3] == '1' then ix_finish(ix_keys(7), ARGV[1], cur, ARGV[2], ARGV[5], ARGV[6]) end
end
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  local slot = redis.call('HGET', KEYS[1], 'slot')
  local charged_later = ARGV[2] == 'succeeded' and redis.call('HGET', KEYS[1], 'prepaid') == '1'
  if slot and not charged_later then
    redis.call('ZREM', KEYS[3], slot)
    local held = redis.call('HGET', KEYS[4], slot)
    if held then
      redis.call('HDEL', KEYS[4], slot)
      if held ~= '0' then redis.call('HINCRBY', KEYS[5], 'reserved', '-' .. held) end
      redis.call('XADD', KEYS[6], '*', 'kind', 'release', 'slot', slot, 'task', ARGV[1], 'usd_nanos', held,
        'at', ARGV[4], 'why', ARGV[2])
    end
  end
end
if final then return 0 end
return 1
