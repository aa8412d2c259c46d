-- Records a task's ownership in one step: the hash, the list indexes, the pending set, TTLs.
-- KEYS[1] task hash  KEYS[2] pending zset  KEYS[3] seq counter  KEYS[4..14] list indexes
-- KEYS[15] the "indexes complete" marker
-- ARGV[1] task id  ARGV[2] '1' = only if absent  ARGV[3] created ms  ARGV[4] ttl seconds
-- ARGV[5] '1' = pending (not terminal)  ARGV[6] '1' = hidden  ARGV[7] status
-- ARGV[8] retention floor score  ARGV[9..] field, value, ...
local existed
if ARGV[2] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
  existed = false
end
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
local added = redis.call('HSET', KEYS[1], unpack(fields))
-- Every record has a `channel` field, so a record that existed gains fewer fields than given.
if existed == nil then existed = added < #fields / 2 end
redis.call('EXPIRE', KEYS[1], ARGV[4])
-- The counter breaks ties between tasks recorded in the same millisecond (newest first). Its
-- TTL is set once per life: it only needs to outlive the millisecond.
local seq = redis.call('INCR', KEYS[3])
if seq == 1 then redis.call('EXPIRE', KEYS[3], ARGV[4]) end
seq = seq % 1000
local ix = ix_keys(4)
-- A tenant's first listed task: nothing older exists that the filter indexes could miss.
local first
if existed then
  first = redis.call('EXISTS', ix.all) == 0
  -- A rewrite may change the status or the visibility: place it afresh.
  ix_remove(ix, ARGV[1])
end
local placed
if ARGV[6] ~= '1' then
  placed = ix_place(ix, ARGV[1], tonumber(ARGV[3]) * 1000 + seq, ARGV[7], ARGV[8], ARGV[4])
end
if first == nil then
  if placed ~= nil then first = placed else first = redis.call('EXISTS', ix.all) == 0 end
end
if first then redis.call('SET', KEYS[15], '1') end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return 1
