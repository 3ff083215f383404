/**
 * The Redis queue's Lua scripts. Each runs atomically on the server, so a
 * claim sees and changes the rotation, the ready sets and the leases in
 * one step. KEYS[1] is the queue's base key `{relay:<prefix>}:`; every key
 * a script touches starts with it, so all of them share one hash tag and
 * live on one Cluster slot.
 *
 * Keys under the base: job:<id> (hash), ready:<group> (zset, score =
 * (9 - priority) * BAND + seq, so ZPOPMIN yields the most urgent, oldest
 * job), ring (zset of groups with ready work, score = last served stamp),
 * last (hash group -> stamp, kept while a group is idle), caps (hash group
 * -> concurrency limit), gtenant (hash group -> tenant), leases (zset id
 * -> deadline), glease:<group> (zset id -> deadline: a group's live
 * leases are a ZCOUNT from now), delayed (zset id -> run-after), queued
 * (hash tenant -> waiting jobs; field '' is the total), done:<id> (the
 * completion, with a TTL; also the channel it is published on), wake
 * (list idle workers block on), seq and served (counters).
 */

const COMMON = `
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
local function finish(id, outcome, retention)
  redis.call('DEL', base .. 'job:' .. id)
  redis.call('SET', base .. 'done:' .. id, outcome, 'PX', retention)
  redis.call('PUBLISH', base .. 'done:' .. id, outcome)
end
local function unlease(id, g)
  redis.call('ZREM', base .. 'leases', id)
  redis.call('ZREM', base .. 'glease:' .. g, id)
end
-- Back to waiting (the caller has counted the attempt): ready now or delayed.
local function requeue(id, j, runAfter, now)
  local key = base .. 'job:' .. id
  redis.call('HINCRBY', base .. 'queued', j.t, 1)
  redis.call('HINCRBY', base .. 'queued', '', 1)
  if runAfter <= now then
    redis.call('HSET', key, 's', 'ready', 'r', num(runAfter), 'w', '', 'l', '0', 'c', '0')
    redis.call('ZADD', base .. 'ready:' .. j.g, score(j.p, j.q), id)
    activate(j.g)
    return true
  end
  redis.call('HSET', key, 's', 'delayed', 'r', num(runAfter), 'w', '', 'l', '0', 'c', '0')
  redis.call('ZADD', base .. 'delayed', num(runAfter), id)
  return false
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
local function load(id)
  local f = redis.call('HMGET', base .. 'job:' .. id, 's', 'w', 'l', 'g', 't', 'p', 'q', 'a', 'm', 'c')
  if not f[1] then return nil end
  return { s = f[1], w = f[2], l = tonumber(f[3]), g = f[4], t = f[5], p = f[6], q = f[7],
    a = tonumber(f[8]), m = tonumber(f[9]), c = f[10] }
end
local function holds(j, worker, now)
  return j ~= nil and j.s == 'running' and j.w == worker and j.l >= now
end
`;

/** ARGV: now, max total, n, then per job: id, tenant, group, priority, max attempts, payload, run-after, traceparent, concurrency, max queued, ready. */
const ENQUEUE = `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
local F = 11
local queued = base .. 'queued'
if tonumber(redis.call('HGET', queued, '') or '0') + n > tonumber(ARGV[2]) then return {'full', ''} end
local adding, limit = {}, {}
for i = 0, n - 1 do
  local o = 3 + i * F
  local t, lim = ARGV[o + 2], tonumber(ARGV[o + 10])
  adding[t] = (adding[t] or 0) + 1
  if limit[t] == nil or lim < limit[t] then limit[t] = lim end
  if redis.call('EXISTS', base .. 'job:' .. ARGV[o + 1]) == 1 then return {'conflict', ARGV[o + 1]} end
end
for t, a in pairs(adding) do
  if tonumber(redis.call('HGET', queued, t) or '0') + a > limit[t] then return {'full', t} end
end
local ready = 0
for i = 0, n - 1 do
  local o = 3 + i * F
  local id, t, g, p = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4]
  local q = redis.call('INCR', base .. 'seq')
  local isReady = ARGV[o + 11] == '1'
  redis.call('HSET', base .. 'job:' .. id, 't', t, 'g', g, 'p', p, 'a', '1', 'm', ARGV[o + 5],
    'd', ARGV[o + 6], 'e', ARGV[1], 'r', ARGV[o + 7], 'tp', ARGV[o + 8], 'q', q,
    's', isReady and 'ready' or 'delayed', 'w', '', 'l', '0', 'c', '0')
  redis.call('DEL', base .. 'done:' .. id)
  redis.call('HSET', base .. 'caps', g, ARGV[o + 9])
  redis.call('HSET', base .. 'gtenant', g, t)
  if isReady then
    redis.call('ZADD', base .. 'ready:' .. g, score(p, q), id)
    activate(g)
    ready = ready + 1
  else
    redis.call('ZADD', base .. 'delayed', ARGV[o + 7], id)
  end
end
for t, a in pairs(adding) do redis.call('HINCRBY', queued, t, a) end
redis.call('HINCRBY', queued, '', n)
wake(ready)
return {'ok'}
`;

/**
 * ARGV: now, n, worker, lease deadline. The round-robin of fairness.ts's
 * serveRoundRobin, over the ring in least-recently-served order.
 */
const CLAIM = `
local now, n, worker, untilMs = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
promote(now)
local groups = redis.call('ZRANGE', base .. 'ring', 0, -1)
local supply, open = {}, 0
for i, g in ipairs(groups) do
  local cap = tonumber(redis.call('HGET', base .. 'caps', g) or '0')
  if cap > 0 then
    supply[i] = cap - redis.call('ZCOUNT', base .. 'glease:' .. g, num(now), '+inf')
  else
    supply[i] = n
  end
  if supply[i] > 0 then open = open + 1 end
end
local out, served, perTenant, taken = {}, {}, {}, 0
while taken < n and open > 0 do
  for i, g in ipairs(groups) do
    if taken >= n then break end
    if supply[i] > 0 then
      local popped = redis.call('ZPOPMIN', base .. 'ready:' .. g)
      if #popped == 0 then
        supply[i] = 0
        open = open - 1
        redis.call('ZREM', base .. 'ring', g)
      else
        local id = popped[1]
        local key = base .. 'job:' .. id
        redis.call('HSET', key, 's', 'running', 'w', worker, 'l', untilMs, 'c', '0')
        redis.call('ZADD', base .. 'leases', untilMs, id)
        redis.call('ZADD', base .. 'glease:' .. g, untilMs, id)
        local f = redis.call('HMGET', key, 't', 'p', 'a', 'm', 'd', 'e', 'r', 'tp')
        out[#out + 1] = id
        out[#out + 1] = g
        for k = 1, 8 do out[#out + 1] = f[k] end
        perTenant[f[1]] = (perTenant[f[1]] or 0) + 1
        taken = taken + 1
        served[#served + 1] = g
        supply[i] = supply[i] - 1
        if supply[i] == 0 then open = open - 1 end
      end
    end
  end
end
if taken == 0 then
  -- Nothing to hand out: stale wake-up tokens would only wake idle workers for nothing.
  redis.call('DEL', base .. 'wake')
  return out
end
for t, k in pairs(perTenant) do redis.call('HINCRBY', base .. 'queued', t, -k) end
redis.call('HINCRBY', base .. 'queued', '', -taken)
-- Stamp served groups in the order of their last turn, so the rotation continues there.
local lastTurn, order = {}, {}
for k, g in ipairs(served) do lastTurn[g] = k end
for g in pairs(lastTurn) do order[#order + 1] = g end
table.sort(order, function(a, b) return lastTurn[a] < lastTurn[b] end)
for _, g in ipairs(order) do
  local stamp = redis.call('INCR', base .. 'served')
  redis.call('HSET', base .. 'last', g, stamp)
  if redis.call('EXISTS', base .. 'ready:' .. g) == 1 then
    redis.call('ZADD', base .. 'ring', 'XX', stamp, g)
  else
    redis.call('ZREM', base .. 'ring', g)
  end
end
return out
`;

/** ARGV: now, lease deadline, worker, ids... Returns per id: 0 lost, 1 extended, 2 extended and cancelled. */
const HEARTBEAT = `
local now, untilMs, worker = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local j = load(id)
  if holds(j, worker, now) then
    redis.call('HSET', base .. 'job:' .. id, 'l', untilMs)
    redis.call('ZADD', base .. 'leases', 'XX', untilMs, id)
    redis.call('ZADD', base .. 'glease:' .. j.g, 'XX', untilMs, id)
    out[#out + 1] = j.c == '1' and 2 or 1
  else
    out[#out + 1] = 0
  end
end
return out
`;

/** ARGV: now, retention, then (worker, id, outcome) triples. Returns 1 or 0 per triple. */
const COMPLETE = `
local now, retention = tonumber(ARGV[1]), ARGV[2]
local out = {}
for i = 3, #ARGV, 3 do
  local worker, id, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local j = load(id)
  if holds(j, worker, now) then
    unlease(id, j.g)
    finish(id, outcome, retention)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`;

/** ARGV: now, retention, worker, id, retry-at ('' = dead), dead outcome, cancelled outcome.
 * Returns {0} not held, {1, outcome} finished, {2} ready again, {3} delayed. */
const FAIL = `
local now, retention, worker, id, retryAt = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local j = load(id)
if not holds(j, worker, now) then return {0} end
unlease(id, j.g)
if j.c == '1' then
  finish(id, ARGV[7], retention)
  return {1, ARGV[7]}
end
if retryAt == '' or j.a >= j.m then
  finish(id, ARGV[6], retention)
  return {1, ARGV[6]}
end
redis.call('HINCRBY', base .. 'job:' .. id, 'a', 1)
if requeue(id, j, tonumber(retryAt), now) then
  wake(1)
  return {2}
end
return {3}
`;

/** ARGV: now, retention, id, instance, cancelled outcome. Returns the CancelOutcome. */
const CANCEL = `
local retention, id = ARGV[2], ARGV[3]
local j = load(id)
if j == nil then return 'unknown' end
if j.s == 'running' then
  redis.call('HSET', base .. 'job:' .. id, 'c', '1')
  redis.call('PUBLISH', base .. 'cancel', ARGV[4] .. ':' .. id)
  return 'signalled'
end
if j.s == 'ready' then
  redis.call('ZREM', base .. 'ready:' .. j.g, id)
  if redis.call('EXISTS', base .. 'ready:' .. j.g) == 0 then redis.call('ZREM', base .. 'ring', j.g) end
else
  redis.call('ZREM', base .. 'delayed', id)
end
redis.call('HINCRBY', base .. 'queued', j.t, -1)
redis.call('HINCRBY', base .. 'queued', '', -1)
finish(id, ARGV[5], retention)
return 'cancelled'
`;

/** ARGV: now, retention, limit, dead outcome, cancelled outcome.
 * Returns {requeued, dead, promoted, id, 'd' | 'c', ...}. */
const REAP = `
local now, retention = tonumber(ARGV[1]), ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', base .. 'leases', '-inf', '(' .. num(now), 'LIMIT', 0, tonumber(ARGV[3]))
local requeued, dead, finished = 0, 0, {}
for _, id in ipairs(ids) do
  local j = load(id)
  if j == nil or j.s ~= 'running' then
    redis.call('ZREM', base .. 'leases', id)
  else
    unlease(id, j.g)
    if j.c == '1' then
      finish(id, ARGV[5], retention)
      finished[#finished + 1] = id
      finished[#finished + 1] = 'c'
    elseif j.a < j.m then
      redis.call('HINCRBY', base .. 'job:' .. id, 'a', 1)
      requeue(id, j, now, now)
      requeued = requeued + 1
    else
      finish(id, ARGV[4], retention)
      dead = dead + 1
      finished[#finished + 1] = id
      finished[#finished + 1] = 'd'
    end
  end
end
local promoted = promote(now)
wake(requeued + promoted)
local out = {requeued, dead, promoted}
for _, v in ipairs(finished) do out[#out + 1] = v end
return out
`;

/** ARGV: (none). Returns {delayed, running, queued hash flat, {group, tenant, ready, oldest run-after}...}. */
const DEPTH = `
local groups = {}
local gt = redis.call('HGETALL', base .. 'gtenant')
for i = 1, #gt, 2 do
  local g, t = gt[i], gt[i + 1]
  local rk = base .. 'ready:' .. g
  local count = redis.call('ZCARD', rk)
  local oldest = ''
  if count > 0 then
    -- The oldest job is the first of some priority band.
    for p = 0, 9 do
      local lo = (9 - p) * BAND
      local first = redis.call('ZRANGEBYSCORE', rk, num(lo), num(lo + BAND - 1), 'LIMIT', 0, 1)
      if #first > 0 then
        local r = tonumber(redis.call('HGET', base .. 'job:' .. first[1], 'r'))
        if r ~= nil and (oldest == '' or r < oldest) then oldest = r end
      end
    end
  end
  groups[#groups + 1] = g
  groups[#groups + 1] = t
  groups[#groups + 1] = count
  groups[#groups + 1] = oldest == '' and '' or num(oldest)
end
return {redis.call('ZCARD', base .. 'delayed'), redis.call('ZCARD', base .. 'leases'),
  redis.call('HGETALL', base .. 'queued'), groups}
`;

/** The scripts by command name, each with the shared helpers in front. */
export const SCRIPTS = {
  relayEnqueue: COMMON + ENQUEUE,
  relayClaim: COMMON + CLAIM,
  relayHeartbeat: COMMON + HEARTBEAT,
  relayComplete: COMMON + COMPLETE,
  relayFail: COMMON + FAIL,
  relayCancel: COMMON + CANCEL,
  relayReap: COMMON + REAP,
  relayDepth: COMMON + DEPTH,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
