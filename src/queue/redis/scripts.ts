/**
 * The Redis queue's Lua scripts. Each runs atomically on the server, so a
 * claim sees and changes the rotation, the ready sets and the leases in
 * one step. KEYS[1] is the queue's base key `{relay:<prefix>}:`; every key
 * a script touches starts with it, so all of them share one hash tag and
 * live on one Cluster slot.
 *
 * Keys under the base:
 * - job:<id> hash of a waiting or leased job: t tenant, g group, p priority,
 *   q sequence, a attempt, m max attempts, d payload, e enqueued at, r run
 *   after, tp traceparent, s 'ready' | 'delayed' (while waiting), c cancel
 *   requested. Deleted when the job finishes.
 * - ready:<group> zset, score (9 - priority) * BAND + sequence: ZPOPMIN
 *   yields the most urgent, oldest job. delayed: zset id -> run-after.
 * - ring: zset of groups with ready work, score = last served stamp; last:
 *   hash group -> stamp (kept while idle); caps: group -> concurrency
 *   limit; gtenant: group -> tenant; served, seq: counters.
 * - A lease is a member of leases (zset id -> deadline) plus lw (hash
 *   id -> worker); jobs of limited groups are also in glease:<group> (zset
 *   id -> deadline; live leases are a ZCOUNT from now) and lg (id ->
 *   group). A claim writes these per batch, not per job.
 * - queued: hash tenant -> waiting jobs ('' is the total); done: hash id ->
 *   completion, with donezs (zset id -> finish time) for the reaper's purge;
 *   a completion is also published on the channel done:<id>; wake: the
 *   list idle workers block on.
 */

import { COMMON } from './lua-common.ts';
import { CANCEL, DEPTH, FAIL, HEARTBEAT, REAP } from './scripts-lifecycle.ts';

/**
 * Several enqueue calls, each admitted or refused whole, in order (so the
 * counts each call is checked against include the calls before it).
 * ARGV: now, max total, number of calls, then per call: its job count and
 * per job: id, tenant, group, priority, max attempts, payload, run-after,
 * traceparent, concurrency, max queued, ready, enqueued-at. Returns per call 'ok',
 * 'full:<tenant or empty>' or 'conflict:<id>'.
 */
const ENQUEUE = `
local F = 12
local queued = base .. 'queued'
local maxTotal = tonumber(ARGV[2])
local function enqueueCall(o0, n)
  if tonumber(redis.call('HGET', queued, '') or '0') + n > maxTotal then return 'full:' end
  local adding, limit = {}, {}
  for i = 0, n - 1 do
    local o = o0 + i * F
    local t, lim = ARGV[o + 2], tonumber(ARGV[o + 10])
    adding[t] = (adding[t] or 0) + 1
    if limit[t] == nil or lim < limit[t] then limit[t] = lim end
    if redis.call('EXISTS', base .. 'job:' .. ARGV[o + 1]) == 1 then return 'conflict:' .. ARGV[o + 1] end
  end
  for t, a in pairs(adding) do
    if tonumber(redis.call('HGET', queued, t) or '0') + a > limit[t] then return 'full:' .. t end
  end
  local ready, groups, ids = 0, {}, {}
  for i = 0, n - 1 do
    local o = o0 + i * F
    local id, t, g, p = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4]
    local q = redis.call('INCR', base .. 'seq')
    local isReady = ARGV[o + 11] == '1'
    redis.call('HSET', base .. 'job:' .. id, 't', t, 'g', g, 'p', p, 'a', '1', 'm', ARGV[o + 5],
      'd', ARGV[o + 6], 'e', ARGV[o + 12], 'r', ARGV[o + 7], 'tp', ARGV[o + 8], 'q', q,
      's', isReady and 'ready' or 'delayed', 'c', '0')
    groups[g] = { ARGV[o + 9], t }
    ids[i + 1] = id
    if isReady then
      redis.call('ZADD', base .. 'ready:' .. g, score(p, q), id)
      activate(g)
      ready = ready + 1
    else
      redis.call('ZADD', base .. 'delayed', ARGV[o + 7], id)
    end
  end
  for g, v in pairs(groups) do
    redis.call('HSET', base .. 'caps', g, v[1])
    redis.call('HSET', base .. 'gtenant', g, v[2])
  end
  -- A re-driven id starts without its old completion.
  redis.call('HDEL', base .. 'done', unpack(ids))
  redis.call('ZREM', base .. 'donezs', unpack(ids))
  for t, a in pairs(adding) do redis.call('HINCRBY', queued, t, a) end
  redis.call('HINCRBY', queued, '', n)
  wake(ready)
  return 'ok'
end
local out, o = {}, 4
for c = 1, tonumber(ARGV[3]) do
  local n = tonumber(ARGV[o])
  out[c] = enqueueCall(o, n)
  o = o + 1 + n * F
end
return out
`;

/**
 * ARGV: now, n, worker, lease deadline. The round-robin of fairness.ts's
 * serveRoundRobin over the ring (least recently served first): the turns
 * are planned first, then each group's share is popped and leased at once.
 */
const CLAIM = `
local now, n, worker, untilMs = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
promote(now)
local groups = redis.call('ZRANGE', base .. 'ring', 0, -1)
local supply, capped, open = {}, {}, 0
for i, g in ipairs(groups) do
  local cap = tonumber(redis.call('HGET', base .. 'caps', g) or '0')
  local ready = redis.call('ZCARD', base .. 'ready:' .. g)
  capped[i] = cap > 0
  supply[i] = math.min(ready, n)
  if cap > 0 then
    supply[i] = math.min(supply[i], cap - redis.call('ZCOUNT', base .. 'glease:' .. g, num(now), '+inf'))
  end
  if ready == 0 then redis.call('ZREM', base .. 'ring', g) end
  if supply[i] > 0 then open = open + 1 end
end
local slots, take, taken = {}, {}, 0
while taken < n and open > 0 do
  for i = 1, #groups do
    if taken >= n then break end
    if supply[i] > 0 then
      slots[#slots + 1] = i
      take[i] = (take[i] or 0) + 1
      taken = taken + 1
      supply[i] = supply[i] - 1
      if supply[i] == 0 then open = open - 1 end
    end
  end
end
if taken == 0 then
  -- Nothing to hand out: stale wake-up tokens would only wake idle workers for nothing.
  redis.call('DEL', base .. 'wake')
  return {}
end
-- Explicit counters instead of #t: the length operator is a search on every append.
local popped, leases, holders, nl = {}, {}, {}, 0
for i, k in pairs(take) do
  local g = groups[i]
  local r = redis.call('ZPOPMIN', base .. 'ready:' .. g, k)
  local ids, ni = {}, 0
  for x = 1, #r, 2 do
    local id = r[x]
    ni = ni + 1
    ids[ni] = id
    leases[nl + 1] = untilMs
    leases[nl + 2] = id
    holders[nl + 1] = id
    holders[nl + 2] = worker
    nl = nl + 2
  end
  popped[i] = ids
  if capped[i] and ni > 0 then
    local mine, grp = {}, {}
    for x, id in ipairs(ids) do
      mine[2 * x - 1] = untilMs
      mine[2 * x] = id
      grp[2 * x - 1] = id
      grp[2 * x] = g
    end
    redis.call('ZADD', base .. 'glease:' .. g, unpack(mine))
    redis.call('HSET', base .. 'lg', unpack(grp))
  end
end
redis.call('ZADD', base .. 'leases', unpack(leases))
redis.call('HSET', base .. 'lw', unpack(holders))
local jobs = base .. 'job:'
local out, served, perTenant, cursor, no, ns = {}, {}, {}, {}, 0, 0
for _, i in ipairs(slots) do
  local c = (cursor[i] or 0) + 1
  cursor[i] = c
  local id = popped[i][c]
  local f = redis.call('HMGET', jobs .. id, 't', 'p', 'a', 'm', 'd', 'e', 'r', 'tp')
  out[no + 1] = id
  out[no + 2] = groups[i]
  for k = 1, 8 do out[no + 2 + k] = f[k] end
  no = no + 10
  perTenant[f[1]] = (perTenant[f[1]] or 0) + 1
  ns = ns + 1
  served[ns] = groups[i]
end
for t, k in pairs(perTenant) do redis.call('HINCRBY', base .. 'queued', t, -k) end
redis.call('HINCRBY', base .. 'queued', '', -ns)
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

/** ARGV: now, then (worker, id, outcome) triples. Returns 1 or 0 per triple. */
const COMPLETE = `
local now = tonumber(ARGV[1])
local ids, n = {}, 0
for i = 3, #ARGV, 3 do
  n = n + 1
  ids[n] = ARGV[i]
end
-- The lease check for the whole batch in two calls.
local workers = redis.call('HMGET', base .. 'lw', unpack(ids))
local deadlines = redis.call('ZMSCORE', base .. 'leases', unpack(ids))
local jobs = base .. 'job:'
local out, won, keys, seen, outcomes, stamps, nw = {}, {}, {}, {}, {}, {}, 0
for x = 1, n do
  local id, o = ids[x], x * 3 - 1
  local d = deadlines[x]
  if not seen[id] and workers[x] == ARGV[o] and d and tonumber(d) >= now then
    seen[id] = true
    nw = nw + 1
    won[nw] = id
    keys[nw] = jobs .. id
    outcomes[2 * nw - 1] = id
    outcomes[2 * nw] = ARGV[o + 2]
    stamps[2 * nw - 1] = ARGV[1]
    stamps[2 * nw] = id
    redis.call('PUBLISH', base .. 'done:' .. id, ARGV[o + 2])
    out[x] = 1
  else
    out[x] = 0
  end
end
if nw > 0 then
  local groups = redis.call('HMGET', base .. 'lg', unpack(won))
  for x, g in ipairs(groups) do
    if g then redis.call('ZREM', base .. 'glease:' .. g, won[x]) end
  end
  redis.call('HDEL', base .. 'lg', unpack(won))
  redis.call('ZREM', base .. 'leases', unpack(won))
  redis.call('HDEL', base .. 'lw', unpack(won))
  redis.call('DEL', unpack(keys))
  redis.call('HSET', base .. 'done', unpack(outcomes))
  redis.call('ZADD', base .. 'donezs', unpack(stamps))
end
return out
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
