-- Marks a succeeded task whose reported usage cannot be billed automatically: it leaves
-- the pending set (the reconciler stops asking) and is never settled by the edge. Idempotent: the
-- first mark stands, and only that call answers 1 (so the metric counts a task once). Nothing is
-- charged: the task's slot ends and its reservation is given back, once.
-- KEYS[1] task hash  KEYS[2] pending zset  KEYS[3] active zset  KEYS[4] holds hash
-- KEYS[5] wallet hash  KEYS[6] wallet-log stream  KEYS[7..17] list indexes
-- ARGV[1] task id  ARGV[2] reason  ARGV[3] reported usage  ARGV[4] at ms
-- ARGV[5] retention floor score  ARGV[6] ttl seconds
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'settled_by') == 1 then return 0 end
local first = redis.call('HSETNX', KEYS[1], 'quarantined', ARGV[2])
if first == 1 then
  local was = redis.call('HGET', KEYS[1], 'status') or 'queued'
  ix_finish(ix_keys(7), ARGV[1], was, 'succeeded', ARGV[5], ARGV[6])
  redis.call('HSET', KEYS[1], 'quarantined_usage', ARGV[3], 'quarantined_at', ARGV[4], 'status', 'succeeded')
end
redis.call('ZREM', KEYS[2], ARGV[1])
local slot = redis.call('HGET', KEYS[1], 'slot')
if slot then
  redis.call('ZREM', KEYS[3], slot)
  local held = redis.call('HGET', KEYS[4], slot)
  if held then
    redis.call('HDEL', KEYS[4], slot)
    if held ~= '0' then redis.call('HINCRBY', KEYS[5], 'reserved', '-' .. held) end
    redis.call('XADD', KEYS[6], '*', 'kind', 'release', 'slot', slot, 'task', ARGV[1], 'usd_nanos', held,
      'at', ARGV[4], 'why', 'quarantined')
  end
end
return first
