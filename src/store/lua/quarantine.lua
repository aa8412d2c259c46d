-- Marks a succeeded task whose reported usage cannot be billed automatically (SPEC §6): it leaves
-- the pending set (the reconciler stops asking) and is never settled by the edge. Idempotent: the
-- first mark stands, and only that call answers 1 (so the metric counts a task once).
-- KEYS[1] task hash  KEYS[2] pending zset   ARGV[1] task id  ARGV[2] reason  ARGV[3] reported usage
-- ARGV[4] at ms
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'settled_by') == 1 then return 0 end
local first = redis.call('HSETNX', KEYS[1], 'quarantined', ARGV[2])
if first == 1 then
  redis.call('HSET', KEYS[1], 'quarantined_usage', ARGV[3], 'quarantined_at', ARGV[4], 'status', 'succeeded')
end
redis.call('ZREM', KEYS[2], ARGV[1])
return first
