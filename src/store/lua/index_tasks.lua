-- Indexes tasks recorded before the filter indexes existed (once per tenant, in batches), from
-- each record as it is now, so a concurrent status change cannot be undone. An entry of `all`
-- whose record has expired is dropped.
-- KEYS[1..11] list indexes of one model  KEYS[12..] the tasks' hashes
-- ARGV[1] the model  ARGV[2] retention floor score  ARGV[3] ttl seconds  ARGV[4..] task ids
local ix = ix_keys(1)
for i = 4, #ARGV do
  local id, key = ARGV[i], KEYS[i + 8]
  local score = redis.call('ZSCORE', ix.all, id)
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', ix.all, id)
  elseif score then
    local rec = redis.call('HMGET', key, 'hidden', 'status', 'public_model')
    if rec[1] == '1' then
      ix_remove(ix, id)
    elseif rec[3] == ARGV[1] then
      ix_place(ix, id, score, rec[2] or 'queued', ARGV[2], ARGV[3])
    end
  end
end
return 1
