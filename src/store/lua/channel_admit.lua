-- Takes room on a capped channel for one create (channels[].max_active_tasks). Its own
-- script under the channel's hash tag: the tenant's admission is another cluster slot, so the two
-- cannot be one script; the caller gives the tenant slot back when the channel refuses.
-- KEYS[1] channel active zset (slot -> admitted ms)
-- ARGV[1] slot  ARGV[2] now ms  ARGV[3] max active  ARGV[4] entries admitted before this ms are stale
-- -> {1, active after} | {0, active}
-- A stale entry belongs to a create that died before its task was recorded, or a task whose end
-- was never observed: neither can still hold a place in the upstream's queue.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {1, redis.call('ZCARD', KEYS[1])} end
local active = redis.call('ZCARD', KEYS[1])
if active >= tonumber(ARGV[3]) then return {0, active} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return {1, active + 1}
