/**
 * Concurrent-upload slots per user. With Redis every API node counts in one
 * key; without it the count is per process (the embedded mode has one). A
 * slot is released in a `finally`; the key also expires, so a node that dies
 * mid-upload cannot hold a slot for longer than that.
 */

/** The few counter commands needed; an ioredis client has them. */
export interface CounterStore {
  incr(key: string): Promise<number>;
  decr(key: string): Promise<number>;
  pexpire(key: string, ms: number): Promise<number>;
}

export interface UploadSlots {
  /** True when a slot was taken (call `release` later), false when the user is at `limit`. */
  acquire(userId: string, limit: number): Promise<boolean>;
  release(userId: string): Promise<void>;
}

/** Longest an upload may keep a slot if its node dies without releasing it. */
const SLOT_TTL_MS = 15 * 60_000;

export function createUploadSlots(store: CounterStore | undefined, prefix: string): UploadSlots {
  if (!store) {
    const held = new Map<string, number>();
    return {
      async acquire(userId, limit) {
        const n = held.get(userId) ?? 0;
        if (n >= limit) return false;
        held.set(userId, n + 1);
        return true;
      },
      async release(userId) {
        const n = (held.get(userId) ?? 1) - 1;
        if (n <= 0) held.delete(userId);
        else held.set(userId, n);
      },
    };
  }
  const key = (userId: string): string => `${prefix}:upload-slots:${userId}`;
  return {
    async acquire(userId, limit) {
      const n = await store.incr(key(userId));
      await store.pexpire(key(userId), SLOT_TTL_MS);
      if (n <= limit) return true;
      await store.decr(key(userId));
      return false;
    },
    async release(userId) {
      await store.decr(key(userId));
    },
  };
}
