/**
 * Redis provider budget: every worker process counts in the same keys. One
 * Lua script checks all three windows and increments them together, so
 * concurrent reservers on any number of processes never pass a limit. The
 * windows come from the Redis server's clock (TIME), not each process's, so
 * processes with skewed clocks still agree on which window they are in.
 */
import type { Redis } from 'ioredis';
import { clampReservation, type BudgetLimits, type ProviderBudget } from './index.ts';

export interface RedisBudgetOptions {
  url: string;
  prefix: string;
  limits: BudgetLimits;
  onError?: (err: unknown) => void;
}

const WINDOWS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute = math.floor(now / 60000)
local day = math.floor(now / 86400000)
local base = KEYS[1]
local rk = base .. ':r:' .. minute
local tmk = base .. ':tm:' .. minute
local tdk = base .. ':td:' .. day
local minuteLeft = (minute + 1) * 60000 - now
local dayLeft = (day + 1) * 86400000 - now
local function add(key, n, ttl)
  redis.call('INCRBY', key, n)
  redis.call('PEXPIRE', key, ttl)
end
`;

/** Returns 0 when the reservation was counted, else ms until the refusing window ends. */
const RESERVE = `${WINDOWS}
local req = tonumber(ARGV[1])
local tok = tonumber(ARGV[2])
local r = tonumber(redis.call('GET', rk) or '0')
local tm = tonumber(redis.call('GET', tmk) or '0')
local td = tonumber(redis.call('GET', tdk) or '0')
local wait = 0
if r + req > tonumber(ARGV[3]) or tm + tok > tonumber(ARGV[4]) then wait = minuteLeft end
if td + tok > tonumber(ARGV[5]) then wait = math.max(wait, dayLeft) end
if wait > 0 then return wait end
-- Keys outlive their window a little, so a late commit still finds them.
add(rk, req, minuteLeft + 5000)
add(tmk, tok, minuteLeft + 5000)
add(tdk, tok, dayLeft + 60000)
return 0
`;

const COMMIT = `${WINDOWS}
local delta = tonumber(ARGV[1])
add(tmk, delta, minuteLeft + 5000)
add(tdk, delta, dayLeft + 60000)
return 0
`;

type BudgetRedis = Redis & {
  examdayReserve(key: string, requests: number, tokens: number, rpm: number, tpm: number, tpd: number): Promise<number>;
  examdayCommit(key: string, delta: number): Promise<number>;
};

export async function createRedisBudget(opts: RedisBudgetOptions): Promise<ProviderBudget> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(opts.url, { maxRetriesPerRequest: 2 }) as BudgetRedis;
  redis.on('error', opts.onError ?? (() => {}));
  // defineCommand sends EVALSHA and falls back to EVAL once per connection.
  redis.defineCommand('examdayReserve', { numberOfKeys: 1, lua: RESERVE });
  redis.defineCommand('examdayCommit', { numberOfKeys: 1, lua: COMMIT });
  const key = `${opts.prefix}:budget`;
  const { limits } = opts;
  return {
    kind: 'redis',
    async reserve(requests, estimatedTokens) {
      const want = clampReservation(limits, requests, estimatedTokens);
      const wait = await redis.examdayReserve(key, want.requests, want.tokens, limits.requestsPerMinute, limits.tokensPerMinute, limits.tokensPerDay);
      return wait > 0 ? { ok: false, retryAfterMs: wait } : { ok: true };
    },
    async commit(tokenDelta) {
      const delta = Math.round(tokenDelta);
      if (delta !== 0) await redis.examdayCommit(key, delta);
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
