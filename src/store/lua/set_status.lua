-- Records an observed status. A terminal status is final: it is never overwritten.
-- KEYS[1] task hash  KEYS[2] pending zset   ARGV[1] task id  ARGV[2] status  ARGV[3] '1' = terminal
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'status')
local final = cur == 'succeeded' or cur == 'failed' or cur == 'expired' or cur == 'cancelled'
if not final then redis.call('HSET', KEYS[1], 'status', ARGV[2]) end
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) end
if final then return 0 end
return 1
