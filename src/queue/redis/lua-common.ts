/**
 * Lua helpers every Redis queue script starts with (see scripts.ts for the
 * key layout): scores, the rotation, wake-up tokens, finishing a job,
 * lease checks and requeues, so each rule is written once.
 */

export const COMMON = `
local base = KEYS[1]
local BAND = 10000000000000
local function num(x) return string.format('%.0f', x) end
local function score(p, q) return num((9 - tonumber(p)) * BAND + tonumber(q)) end
local function activate(g)
  if not redis.call('ZSCORE', base .. 'ring', g) then
    redis.call('ZADD', base .. 'ring', tonumber(redis.call('HGET', base .. 'last', g) or '0'), g)
  end
end
local function wake(n)
  if n <= 0 then return end
  for i = 1, math.min(n, 16) do redis.call('LPUSH', base .. 'wake', '1') end
  redis.call('LTRIM', base .. 'wake', 0, 63)
end
-- Completions live in one hash (done) indexed by finish time (donezs) for the reaper's purge.
local function finish(id, outcome, now)
  redis.call('DEL', base .. 'job:' .. id)
  redis.call('HSET', base .. 'done', id, outcome)
  redis.call('ZADD', base .. 'donezs', num(now), id)
  redis.call('PUBLISH', base .. 'done:' .. id, outcome)
end
-- The worker holding a live lease on id, or nil.
local function holder(id, now)
  local w = redis.call('HGET', base .. 'lw', id)
  if not w then return nil end
  local l = redis.call('ZSCORE', base .. 'leases', id)
  if not l or tonumber(l) < now then return nil end
  return w
end
local function unlease(id)
  redis.call('ZREM', base .. 'leases', id)
  redis.call('HDEL', base .. 'lw', id)
  local g = redis.call('HGET', base .. 'lg', id)
  if g then
    redis.call('ZREM', base .. 'glease:' .. g, id)
    redis.call('HDEL', base .. 'lg', id)
  end
end
local function load(id)
  local f = redis.call('HMGET', base .. 'job:' .. id, 's', 'g', 't', 'p', 'q', 'a', 'm', 'c')
  if not f[1] then return nil end
  return { s = f[1], g = f[2], t = f[3], p = f[4], q = f[5], a = tonumber(f[6]), m = tonumber(f[7]), c = f[8] }
end
-- Back to waiting for attempt + 1 (the lease is already gone): ready now or delayed.
local function requeue(id, j, runAfter, now)
  local key = base .. 'job:' .. id
  redis.call('HINCRBY', base .. 'queued', j.t, 1)
  redis.call('HINCRBY', base .. 'queued', '', 1)
  local ready = runAfter <= now
  redis.call('HSET', key, 's', ready and 'ready' or 'delayed', 'r', num(runAfter), 'c', '0', 'a', j.a + 1)
  if ready then
    redis.call('ZADD', base .. 'ready:' .. j.g, score(j.p, j.q), id)
    activate(j.g)
  else
    redis.call('ZADD', base .. 'delayed', num(runAfter), id)
  end
  return ready
end
local function promote(now)
  local due = redis.call('ZRANGEBYSCORE', base .. 'delayed', '-inf', num(now), 'LIMIT', 0, 200)
  for _, id in ipairs(due) do
    redis.call('ZREM', base .. 'delayed', id)
    local f = redis.call('HMGET', base .. 'job:' .. id, 'g', 'p', 'q')
    redis.call('HSET', base .. 'job:' .. id, 's', 'ready')
    redis.call('ZADD', base .. 'ready:' .. f[1], score(f[2], f[3]), id)
    activate(f[1])
  end
  return #due
end
`;
