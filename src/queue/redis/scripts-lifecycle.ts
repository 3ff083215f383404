/**
 * The Redis queue's scripts for the life of a leased job beyond claim and
 * complete: heartbeats, failures and retries, cancels, the reaper, and the
 * depth report. Key layout: scripts.ts.
 */

/** ARGV: now, lease deadline, worker, ids... Returns per id: 0 lost, 1 extended, 2 extended and cancelled. */
export const HEARTBEAT = `
local now, untilMs, worker = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if holder(id, now) == worker then
    redis.call('ZADD', base .. 'leases', 'XX', untilMs, id)
    local g = redis.call('HGET', base .. 'lg', id)
    if g then redis.call('ZADD', base .. 'glease:' .. g, 'XX', untilMs, id) end
    out[#out + 1] = redis.call('HGET', base .. 'job:' .. id, 'c') == '1' and 2 or 1
  else
    out[#out + 1] = 0
  end
end
return out
`;

/** ARGV: now, worker, id, retry-at ('' = dead), dead outcome, cancelled outcome.
 * Returns {0} not held, {1, outcome} finished, {2} ready again, {3} delayed. */
export const FAIL = `
local now, worker, id, retryAt = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
if holder(id, now) ~= worker then return {0} end
local j = load(id)
unlease(id)
if j.c == '1' then
  finish(id, ARGV[6], now)
  return {1, ARGV[6]}
end
if retryAt == '' or j.a >= j.m then
  finish(id, ARGV[5], now)
  return {1, ARGV[5]}
end
if requeue(id, j, tonumber(retryAt), now) then
  wake(1)
  return {2}
end
return {3}
`;

/** ARGV: now, id, instance, cancelled outcome. Returns the CancelOutcome. */
export const CANCEL = `
local now, id = tonumber(ARGV[1]), ARGV[2]
local j = load(id)
if j == nil then return 'unknown' end
if redis.call('HEXISTS', base .. 'lw', id) == 1 then
  redis.call('HSET', base .. 'job:' .. id, 'c', '1')
  redis.call('PUBLISH', base .. 'cancel', ARGV[3] .. ':' .. id)
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
finish(id, ARGV[4], now)
return 'cancelled'
`;

/** ARGV: now, retention, limit, dead outcome, cancelled outcome.
 * Returns {requeued, dead, promoted, purged, id, 'd' | 'c', ...}. */
export const REAP = `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', base .. 'leases', '-inf', '(' .. num(now), 'LIMIT', 0, tonumber(ARGV[3]))
local requeued, dead, finished = 0, 0, {}
for _, id in ipairs(ids) do
  local j = load(id)
  unlease(id)
  if j ~= nil then
    if j.c == '1' then
      finish(id, ARGV[5], now)
      finished[#finished + 1] = id
      finished[#finished + 1] = 'c'
    elseif j.a < j.m then
      requeue(id, j, now, now)
      requeued = requeued + 1
    else
      finish(id, ARGV[4], now)
      dead = dead + 1
      finished[#finished + 1] = id
      finished[#finished + 1] = 'd'
    end
  end
end
local promoted = promote(now)
wake(requeued + promoted)
-- Completions past their retention (ARGV[2]) go, oldest first.
local old = redis.call('ZRANGEBYSCORE', base .. 'donezs', '-inf', '(' .. num(now - tonumber(ARGV[2])), 'LIMIT', 0, 5000)
if #old > 0 then
  redis.call('HDEL', base .. 'done', unpack(old))
  redis.call('ZREM', base .. 'donezs', unpack(old))
end
local out = {requeued, dead, promoted, #old}
for _, v in ipairs(finished) do out[#out + 1] = v end
return out
`;

/** ARGV: (none). Returns {delayed, running, queued hash flat, {group, tenant, ready, oldest run-after}...}. */
export const DEPTH = `
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
