-- Gives a create's slot and reservation back when the create certainly made nothing upstream
-- (refused, or answered without creating). Idempotent: the hold's removal happens once.
-- KEYS[1] active zset  KEYS[2] holds hash  KEYS[3] wallet hash  KEYS[4] wallet-log stream
-- ARGV[1] slot  ARGV[2] at ms   -> 1 released, 0 nothing held
local gone = redis.call('ZREM', KEYS[1], ARGV[1])
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held then return gone end
redis.call('HDEL', KEYS[2], ARGV[1])
if held ~= '0' then redis.call('HINCRBY', KEYS[3], 'reserved', '-' .. held) end
redis.call('XADD', KEYS[4], '*', 'kind', 'release', 'slot', ARGV[1], 'task', '', 'usd_nanos', held,
  'at', ARGV[2], 'why', 'not-created')
return 1
