-- Credits a tenant's balance and logs the movement in one step.
-- KEYS[1] wallet hash  KEYS[2] wallet-log stream   ARGV[1] nanos  ARGV[2] at ms
-- -> {balance, reserved, spent}
redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'kind', 'credit', 'slot', '', 'task', '', 'usd_nanos', ARGV[1], 'at', ARGV[2])
local w = redis.call('HMGET', KEYS[1], 'balance', 'reserved', 'spent')
return {tonumber(w[1] or '0'), tonumber(w[2] or '0'), tonumber(w[3] or '0')}
