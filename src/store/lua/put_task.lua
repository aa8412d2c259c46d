-- Records a task's ownership in one step: the hash, the tenant's index, the pending set, TTLs.
-- KEYS[1] task hash  KEYS[2] tasks zset  KEYS[3] pending zset  KEYS[4] seq counter
-- ARGV[1] task id  ARGV[2] '1' = only if absent  ARGV[3] created ms  ARGV[4] ttl seconds
-- ARGV[5] '1' = pending (not terminal)  ARGV[6] '1' = hidden  ARGV[7..] field, value, ...
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[4])
-- The counter breaks ties between tasks recorded in the same millisecond (newest first).
local seq = redis.call('INCR', KEYS[4]) % 1000
redis.call('EXPIRE', KEYS[4], ARGV[4])
if ARGV[6] ~= '1' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) * 1000 + seq, ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
return 1
