-- Hides a task for its tenant: out of the listing index; the hash (audit, billing) stays.
-- KEYS[1] task hash  KEYS[2] tasks zset   ARGV[1] task id
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hidden', '1')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
