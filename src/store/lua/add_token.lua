-- Binds a token hash to a tenant unless another tenant holds it: one hash, one tenant. Check and
-- set in one script, so two concurrent binds of one hash to two tenants cannot both succeed.
-- KEYS[1] token key   ARGV[1] tenant id   -> {1, tenant} bound (or already ours), {0, holder}
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0, holder} end
if not holder then redis.call('SET', KEYS[1], ARGV[1]) end
return {1, ARGV[1]}
