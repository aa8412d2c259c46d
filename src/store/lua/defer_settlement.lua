-- Notes on a task that its settlement was deferred: the latest reason, when it was first
-- deferred, how many attempts. A settled or unknown task is left alone; settle.lua clears it.
-- KEYS[1] task hash   ARGV[1] reason   ARGV[2] now ms
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'settled_by') == 1 then return 0 end
redis.call('HSETNX', KEYS[1], 'defer_since', ARGV[2])
redis.call('HSET', KEYS[1], 'defer_reason', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'defer_attempts', 1)
return 1
