-- Exactly-once settlement: idempotent per task and per settlement attempt.
-- In the same step the task's admission slot ends, its reservation is released, and a prepaid
-- task's price is charged to the balance: money moves exactly when the ledger entry is written.
-- KEYS[1] task hash  KEYS[2] ledger stream  KEYS[3] pending zset  KEYS[4] active zset
-- KEYS[5] holds hash  KEYS[6] wallet hash  KEYS[7] wallet-log stream  KEYS[8..18] list indexes
-- ARGV[1] settlement id  ARGV[2] task id  ARGV[3] sku  ARGV[4] total tokens  ARGV[5] usd nanos
-- ARGV[6] settled at ms  ARGV[7] public model  ARGV[8] final resolution  ARGV[9] channel
-- ARGV[10] unit price (micro-USD per million tokens)  ARGV[11] retention floor score
-- ARGV[12] ttl seconds
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 'no-task'} end
local prev = redis.call('HGET', KEYS[1], 'settled_by')
if prev then
  if prev == ARGV[1] then return {1, 'replay'} end
  return {0, prev}
end
local was = redis.call('HGET', KEYS[1], 'status') or 'queued'
ix_finish(ix_keys(8), ARGV[2], was, 'succeeded', ARGV[11], ARGV[12])
redis.call('HSET', KEYS[1], 'settled_by', ARGV[1], 'status', 'succeeded', 'settled_at', ARGV[6],
  'billed_tokens', ARGV[4], 'sku', ARGV[3], 'usd_nanos', ARGV[5], 'resolution', ARGV[8])
redis.call('HDEL', KEYS[1], 'defer_reason', 'defer_since', 'defer_attempts')
redis.call('ZREM', KEYS[3], ARGV[2])
local entry = redis.call('XADD', KEYS[2], '*', 'task', ARGV[2], 'settlement', ARGV[1], 'sku', ARGV[3],
  'tokens', ARGV[4], 'usd_nanos', ARGV[5], 'model', ARGV[7], 'at', ARGV[6], 'channel', ARGV[9],
  'unit_price', ARGV[10])
local slot = redis.call('HGET', KEYS[1], 'slot')
if slot then
  redis.call('ZREM', KEYS[4], slot)
  local held = redis.call('HGET', KEYS[5], slot)
  if held then
    redis.call('HDEL', KEYS[5], slot)
    if held ~= '0' then redis.call('HINCRBY', KEYS[6], 'reserved', '-' .. held) end
    redis.call('XADD', KEYS[7], '*', 'kind', 'release', 'slot', slot, 'task', ARGV[2], 'usd_nanos', held,
      'at', ARGV[6], 'why', 'settled')
  end
end
if redis.call('HGET', KEYS[1], 'prepaid') == '1' and ARGV[5] ~= '0' then
  redis.call('HINCRBY', KEYS[6], 'balance', '-' .. ARGV[5])
  redis.call('HINCRBY', KEYS[6], 'spent', ARGV[5])
  redis.call('XADD', KEYS[7], '*', 'kind', 'charge', 'slot', slot or '', 'task', ARGV[2], 'usd_nanos', ARGV[5],
    'at', ARGV[6], 'ledger', entry)
end
return {1, entry}
