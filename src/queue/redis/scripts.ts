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
 * - queued: hash tenant -> waiting jobs ('' is the total); done:<id> the
 *   completion with a TTL (and the channel it is published on); wake: the
 *   list idle workers block on.
 */

import { COMMON } from './lua-common.ts';
import { CANCEL, DEPTH, FAIL, HEARTBEAT, REAP } from './scripts-lifecycle.ts';

/** ARGV: now, max total, n, then per job: id, tenant, group, priority, max attempts, payload, run-after, traceparent, concurrency, max queued, ready. */
const ENQUEUE = `
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
local ready, groups = 0, {}
for i = 0, n - 1 do
  local o = 3 + i * F
  local id, t, g, p = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4]
  local q = redis.call('INCR', base .. 'seq')
  local isReady = ARGV[o + 11] == '1'
  redis.call('HSET', base .. 'job:' .. id, 't', t, 'g', g, 'p', p, 'a', '1', 'm', ARGV[o + 5],
    'd', ARGV[o + 6], 'e', ARGV[1], 'r', ARGV[o + 7], 'tp', ARGV[o + 8], 'q', q,
    's', isReady and 'ready' or 'delayed', 'c', '0')
  redis.call('DEL', base .. 'done:' .. id)
  groups[g] = { ARGV[o + 9], t }
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
for t, a in pairs(adding) do redis.call('HINCRBY', queued, t, a) end
redis.call('HINCRBY', queued, '', n)
wake(ready)
return {'ok'}
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
local popped, leases, holders = {}, {}, {}
for i, k in pairs(take) do
  local g = groups[i]
  local r = redis.call('ZPOPMIN', base .. 'ready:' .. g, k)
  local ids, mine, grp = {}, {}, {}
  for x = 1, #r, 2 do
    local id = r[x]
    ids[#ids + 1] = id
    leases[#leases + 1] = untilMs
    leases[#leases + 1] = id
    holders[#holders + 1] = id
    holders[#holders + 1] = worker
    mine[#mine + 1] = untilMs
    mine[#mine + 1] = id
    grp[#grp + 1] = id
    grp[#grp + 1] = g
  end
  popped[i] = ids
  if capped[i] and #ids > 0 then
    redis.call('ZADD', base .. 'glease:' .. g, unpack(mine))
    redis.call('HSET', base .. 'lg', unpack(grp))
  end
end
redis.call('ZADD', base .. 'leases', unpack(leases))
redis.call('HSET', base .. 'lw', unpack(holders))
local out, served, perTenant, cursor = {}, {}, {}, {}
for _, i in ipairs(slots) do
  local c = (cursor[i] or 0) + 1
  cursor[i] = c
  local id = popped[i][c]
  local f = redis.call('HMGET', base .. 'job:' .. id, 't', 'p', 'a', 'm', 'd', 'e', 'r', 'tp')
  out[#out + 1] = id
  out[#out + 1] = groups[i]
  for k = 1, 8 do out[#out + 1] = f[k] end
  perTenant[f[1]] = (perTenant[f[1]] or 0) + 1
  served[#served + 1] = groups[i]
end
for t, k in pairs(perTenant) do redis.call('HINCRBY', base .. 'queued', t, -k) end
redis.call('HINCRBY', base .. 'queued', '', -#served)
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

/** ARGV: now, retention, then (worker, id, outcome) triples. Returns 1 or 0 per triple. */
const COMPLETE = `
local now, retention = tonumber(ARGV[1]), ARGV[2]
local ids = {}
for i = 4, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
-- The lease check for the whole batch in two calls.
local workers = redis.call('HMGET', base .. 'lw', unpack(ids))
local deadlines = redis.call('ZMSCORE', base .. 'leases', unpack(ids))
local out, won, keys, seen = {}, {}, {}, {}
for x, id in ipairs(ids) do
  local o = 3 + (x - 1) * 3
  local d = deadlines[x]
  if not seen[id] and workers[x] == ARGV[o] and d and tonumber(d) >= now then
    seen[id] = true
    won[#won + 1] = id
    keys[#keys + 1] = base .. 'job:' .. id
    redis.call('SET', base .. 'done:' .. id, ARGV[o + 2], 'PX', retention)
    redis.call('PUBLISH', base .. 'done:' .. id, ARGV[o + 2])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if #won > 0 then
  local groups = redis.call('HMGET', base .. 'lg', unpack(won))
  for x, g in ipairs(groups) do
    if g then redis.call('ZREM', base .. 'glease:' .. g, won[x]) end
  end
  redis.call('HDEL', base .. 'lg', unpack(won))
  redis.call('ZREM', base .. 'leases', unpack(won))
  redis.call('HDEL', base .. 'lw', unpack(won))
  redis.call('DEL', unpack(keys))
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
