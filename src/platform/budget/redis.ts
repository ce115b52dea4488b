/**
 * Redis provider budget: every worker process counts in the same keys. One
 * Lua script slides the window, checks every limit and counts the
 * reservation, so concurrent reservers on any number of processes never pass
 * a limit. Time comes from the Redis server's clock (TIME), not each
 * process's, so processes with skewed clocks still agree on the window.
 *
 * Keys under `<prefix>:budget`: `:log` (sorted set of reservation ids by
 * time), `:req` / `:tok` (hashes of each live reservation's counts), `:sr` /
 * `:st` (their running sums), `:seq`, and `:td:<day>` (tokens of a UTC day).
 */
import type { Redis } from 'ioredis';
import { clampReservation, DEFAULT_WINDOW_MS, type BudgetLimits, type ProviderBudget } from './index.ts';

export interface RedisBudgetOptions {
  url: string;
  prefix: string;
  limits: BudgetLimits;
  /** Length of the sliding "minute" (default a minute plus one second). */
  windowMs?: number;
  onError?: (err: unknown) => void;
}

/** ARGV[1] is the window length; leaves `now`, `day` and the slid window in place. */
const SLIDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local day = math.floor(now / 86400000)
local base = KEYS[1]
local logk, reqk, tokk, srk, stk = base .. ':log', base .. ':req', base .. ':tok', base .. ':sr', base .. ':st'
local tdk = base .. ':td:' .. day
local gone = redis.call('ZRANGEBYSCORE', logk, '-inf', now - window)
for _, id in ipairs(gone) do
  redis.call('DECRBY', srk, tonumber(redis.call('HGET', reqk, id) or '0'))
  redis.call('DECRBY', stk, tonumber(redis.call('HGET', tokk, id) or '0'))
  redis.call('HDEL', reqk, id)
  redis.call('HDEL', tokk, id)
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', logk, '-inf', now - window) end
local sr = tonumber(redis.call('GET', srk) or '0')
local st = tonumber(redis.call('GET', stk) or '0')
local td = tonumber(redis.call('GET', tdk) or '0')
local function keep()
  for _, k in ipairs({ logk, reqk, tokk, srk, stk }) do redis.call('PEXPIRE', k, window * 2) end
  redis.call('PEXPIRE', tdk, (day + 1) * 86400000 - now + 60000)
end
`;

/** ARGV: window, requests, tokens, rpm, tpm, tpd. Returns {0, id} when counted, else {ms to wait}. */
const RESERVE = `${SLIDE}
local req, tok = tonumber(ARGV[2]), tonumber(ARGV[3])
local rpm, tpm, tpd = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local wait = 0
if sr + req > rpm or st + tok > tpm then
  local r, tk = sr, st
  local live = redis.call('ZRANGE', logk, 0, -1, 'WITHSCORES')
  for i = 1, #live, 2 do
    local id = live[i]
    r = r - tonumber(redis.call('HGET', reqk, id) or '0')
    tk = tk - tonumber(redis.call('HGET', tokk, id) or '0')
    if r + req <= rpm and tk + tok <= tpm then
      wait = math.max(1, tonumber(live[i + 1]) + window - now)
      break
    end
  end
  if wait <= 0 then wait = window end
end
if td + tok > tpd then wait = math.max(wait, (day + 1) * 86400000 - now) end
if wait > 0 then return { wait } end
local id = tostring(redis.call('INCR', base .. ':seq'))
redis.call('ZADD', logk, now, id)
redis.call('HSET', reqk, id, req)
redis.call('HSET', tokk, id, tok)
redis.call('INCRBY', srk, req)
redis.call('INCRBY', stk, tok)
redis.call('INCRBY', tdk, tok)
keep()
return { 0, id }
`;

/** ARGV: window, id, delta. */
const COMMIT = `${SLIDE}
local id, delta = ARGV[2], tonumber(ARGV[3])
local old = redis.call('HGET', tokk, id)
if old then
  local nxt = math.max(0, tonumber(old) + delta)
  redis.call('HSET', tokk, id, nxt)
  redis.call('INCRBY', stk, nxt - tonumber(old))
  delta = nxt - tonumber(old)
end
redis.call('SET', tdk, math.max(0, td + delta))
keep()
return 0
`;

/** ARGV: window. */
const USAGE = `${SLIDE}
return { sr, math.max(0, st), td }
`;

type BudgetRedis = Redis & {
  examdayReserve(key: string, windowMs: number, requests: number, tokens: number, rpm: number, tpm: number, tpd: number): Promise<[number, string?]>;
  examdayCommit(key: string, windowMs: number, id: string, delta: number): Promise<number>;
  examdayUsage(key: string, windowMs: number): Promise<[number, number, number]>;
};

export async function createRedisBudget(opts: RedisBudgetOptions): Promise<ProviderBudget> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(opts.url, { maxRetriesPerRequest: 2 }) as BudgetRedis;
  redis.on('error', opts.onError ?? (() => {}));
  // defineCommand sends EVALSHA and falls back to EVAL once per connection.
  redis.defineCommand('examdayReserve', { numberOfKeys: 1, lua: RESERVE });
  redis.defineCommand('examdayCommit', { numberOfKeys: 1, lua: COMMIT });
  redis.defineCommand('examdayUsage', { numberOfKeys: 1, lua: USAGE });
  const key = `${opts.prefix}:budget`;
  const windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
  const { limits } = opts;
  return {
    kind: 'redis',
    async reserve(requests, estimatedTokens) {
      const want = clampReservation(limits, requests, estimatedTokens);
      const [wait, id] = await redis.examdayReserve(key, windowMs, want.requests, want.tokens, limits.requestsPerMinute, limits.tokensPerMinute, limits.tokensPerDay);
      return wait > 0 || id === undefined ? { ok: false, retryAfterMs: Math.max(1, wait) } : { ok: true, id };
    },
    async commit(id, tokenDelta) {
      const delta = Math.round(tokenDelta);
      if (delta !== 0) await redis.examdayCommit(key, windowMs, id, delta);
    },
    async usage() {
      const [requests, minuteTokens, dayTokens] = await redis.examdayUsage(key, windowMs);
      return { requestsLastMinute: requests, tokensLastMinute: minuteTokens, tokensToday: Math.max(0, dayTokens) };
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
