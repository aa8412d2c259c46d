-- The tenant's task list indexes (ZSETs scored by creation order, under the tenant's hash tag):
-- every visible task is in `all` and in its model's index; an unfinished one (last recorded
-- status queued or running) in `open`; a finished one in its status's index and its
-- status-and-model index. Scripts that change a task's status or visibility keep them in step.
-- Each index is maintained when it is added to and its last maintenance is more than a slack
-- (an hour, less under a short retention) old: entries older than the retention floor are pruned
-- and its TTL set to the retention plus the slack. An entry is thus pruned at most a slack after
-- it ages out, and no index outlives by more than the slack the records it lists; reads skip
-- entries below the floor anyway. Maintaining on every add would cost two more commands per index.
-- The caller passes the eleven keys (declared, so the script is Cluster-safe) from `first` on:
-- all, open, model, succeeded, failed, expired, cancelled, then the four status-and-model keys.
local TERMINAL = {'succeeded', 'failed', 'expired', 'cancelled'}

local function ix_keys(first)
  local ix = {all = KEYS[first], open = KEYS[first + 1], model = KEYS[first + 2], status = {}, status_model = {}}
  for i, s in ipairs(TERMINAL) do
    ix.status[s] = KEYS[first + 2 + i]
    ix.status_model[s] = KEYS[first + 6 + i]
  end
  return ix
end

-- The remaining TTL tells when the index was last maintained (it was set to ttl + slack then);
-- -2 (absent) and -1 (no TTL) are due too. Returns whether the index was absent.
local function ix_add(key, score, id, floor, ttl)
  local ttl_n = tonumber(ttl)
  local left = redis.call('TTL', key)
  if left < ttl_n then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. floor)
  end
  redis.call('ZADD', key, score, id)
  if left < ttl_n then
    redis.call('EXPIRE', key, ttl_n + math.min(3600, math.floor(ttl_n / 8)))
  end
  return left == -2
end

-- Out of every index (hidden, or about to be placed again).
local function ix_remove(ix, id)
  redis.call('ZREM', ix.all, id)
  redis.call('ZREM', ix.open, id)
  redis.call('ZREM', ix.model, id)
  for _, s in ipairs(TERMINAL) do
    redis.call('ZREM', ix.status[s], id)
    redis.call('ZREM', ix.status_model[s], id)
  end
end

-- A visible task with this recorded status; one created before the retention floor has
-- nothing left to list. Returns whether `all` was absent (nil: not placed).
local function ix_place(ix, id, score, status, floor, ttl)
  if tonumber(score) < tonumber(floor) then return nil end
  local fresh = ix_add(ix.all, score, id, floor, ttl)
  ix_add(ix.model, score, id, floor, ttl)
  if ix.status[status] then
    ix_add(ix.status[status], score, id, floor, ttl)
    ix_add(ix.status_model[status], score, id, floor, ttl)
  else
    ix_add(ix.open, score, id, floor, ttl)
  end
  return fresh
end

-- A listed task's recorded status changed from `from` to the terminal `to`: out of `open` (or
-- the old status's indexes) and into the new status's. A task not listed (hidden, pruned)
-- stays out.
local function ix_finish(ix, id, from, to, floor, ttl)
  if from == to then return end
  local score = redis.call('ZSCORE', ix.all, id)
  if not score then return end
  if ix.status[from] then
    redis.call('ZREM', ix.status[from], id)
    redis.call('ZREM', ix.status_model[from], id)
  else
    redis.call('ZREM', ix.open, id)
  end
  ix_add(ix.status[to], score, id, floor, ttl)
  ix_add(ix.status_model[to], score, id, floor, ttl)
end
