/**
 * The Redis store for @fastify/rate-limit, counting the attempts of one turn
 * of the event loop in one script call. The plugin's own Redis store sends a
 * script call per request; at 09:00 every candidate signs in within a minute
 * and each sign-in is counted, so the sign-in storm paid one Redis command
 * (its arguments, its promise, its reply) per sign-in in each API process:
 * ~45 µs of the ~490 µs a sign-in costs (`npm run bench -- endpoints`).
 *
 * The counting is the plugin's: INCR, and the window starts (PEXPIRE) at the
 * first attempt; with `continueExceeding` every attempt over the limit starts
 * it again, with `exponentialBackoff` it doubles per attempt over the limit.
 * The keys of a call may hash to different Redis Cluster slots, so this
 * store is for one Redis server (as examday's other Redis use is).
 *
 * While Redis cannot be reached, each process counts on its own, with the
 * plugin's in-memory store, rather than fail every sign-in (a Redis restart in
 * the sign-in storm answered 507 sign-ins 500). The limit then holds per API
 * process instead of across them, for as long as Redis is away.
 */
import { createRequire } from 'node:module';
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { TurnBuffer } from '../lib/turn-buffer.ts';

const SCRIPT = `
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local continueExceeding = ARGV[3] == 'true'
local backoff = ARGV[4] == 'true'
local out = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('INCR', key)
  local ttl = window
  if current == 1 or (continueExceeding and current > max) then
    redis.call('PEXPIRE', key, window)
  elseif backoff and current > max then
    ttl = math.min(window * (2 ^ (current - max - 1)), 2 ^ 53 - 1)
    redis.call('PEXPIRE', key, ttl)
  else
    ttl = redis.call('PTTL', key)
  end
  out[2 * i - 1] = current
  out[2 * i] = ttl
end
return out
`;

/** Keys per script call: a script blocks Redis while it runs. */
const MAX_KEYS = 500;

type Callback = (err: Error | null, result?: { current: number; ttl: number }) => void;

interface CountingStore {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void;
}
/** The plugin's own in-memory store (an LRU of counters), published in its package but not in its types. */
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache?: number,
) => CountingStore;
/** Counters kept per process while Redis is away (the plugin's default size). */
const LOCAL_KEYS = 5000;

export interface BatchedStoreOptions {
  /** Called when an attempt is counted in process memory because Redis failed or is not connected. */
  onFallback?: (err: Error) => void;
}

interface Ask {
  key: string;
  cb: Callback;
  timeWindow: number;
  max: number;
}

interface RouteLimit {
  routeInfo?: { method?: string | string[]; url?: string };
  continueExceeding?: boolean;
  exponentialBackoff?: boolean;
}

type CountingRedis = Redis & {
  examdayRateLimitMany(...args: (string | number)[]): Promise<number[]>;
};

class BatchedStore implements FastifyRateLimitStore {
  readonly #asks: TurnBuffer<Ask>;
  readonly #local: CountingStore;

  constructor(
    private readonly redis: CountingRedis,
    private readonly prefix: string,
    private readonly continueExceeding: boolean,
    private readonly exponentialBackoff: boolean,
    private readonly opts: BatchedStoreOptions,
  ) {
    this.#asks = new TurnBuffer((chunk) => this.#count(chunk), MAX_KEYS);
    this.#local = new LocalStore(continueExceeding, exponentialBackoff, LOCAL_KEYS);
  }

  incr(key: string, cb: Callback, timeWindow?: number, max?: number): void {
    this.#asks.push({ key: this.prefix + key, cb, timeWindow: timeWindow ?? 60_000, max: max ?? 1000 });
  }

  child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
    // What the plugin really passes (its route's merged settings; the published type says otherwise).
    const o = routeOptions as unknown as RouteLimit;
    return new BatchedStore(
      this.redis,
      `${this.prefix}${String(o.routeInfo?.method ?? '')}${o.routeInfo?.url ?? ''}-`,
      o.continueExceeding ?? this.continueExceeding,
      o.exponentialBackoff ?? this.exponentialBackoff,
      this.opts,
    );
  }

  #countLocally(asks: Ask[], err: Error): void {
    this.opts.onFallback?.(err);
    for (const a of asks) this.#local.incr(a.key, a.cb, a.timeWindow, a.max);
  }

  #count(asks: Ask[]): void {
    // Not connected (reconnecting, or gone): a command would wait in ioredis's queue for reconnect attempts.
    if (this.redis.status !== 'ready') return this.#countLocally(asks, new Error(`redis is ${this.redis.status}`));
    // One call per window and limit (a route has one of each; the split only guards a function-valued limit).
    const groups = new Map<string, Ask[]>();
    for (const a of asks) {
      const g = `${a.timeWindow}:${a.max}`;
      const list = groups.get(g);
      if (list) list.push(a);
      else groups.set(g, [a]);
    }
    for (const group of groups.values()) {
      const { timeWindow, max } = group[0]!;
      this.redis
        .examdayRateLimitMany(group.length, ...group.map((a) => a.key), timeWindow, max, String(this.continueExceeding), String(this.exponentialBackoff))
        .then(
          (r) => group.forEach((a, i) => a.cb(null, { current: Number(r[2 * i]), ttl: Number(r[2 * i + 1]) })),
          (err: unknown) => this.#countLocally(group, err instanceof Error ? err : new Error(String(err))),
        );
    }
  }
}

/** The `store` option of @fastify/rate-limit: counters in `redis` under `prefix`. */
export function batchedRedisStore(redis: Redis, prefix: string, opts: BatchedStoreOptions = {}): FastifyRateLimitStoreCtor {
  const r = redis as CountingRedis;
  if (typeof r.examdayRateLimitMany !== 'function') r.defineCommand('examdayRateLimitMany', { lua: SCRIPT });
  return class extends BatchedStore {
    constructor(options: FastifyRateLimitOptions) {
      const o = options as RouteLimit;
      super(r, prefix, o.continueExceeding ?? false, o.exponentialBackoff ?? false, opts);
    }
  };
}
