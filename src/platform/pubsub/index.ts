/**
 * PubSub port: fire-and-forget fan-out of small messages to every process
 * that listens, used for live progress (a job handler in a worker process
 * publishes; every API process with an open event stream receives). Two
 * adapters: in-process (`memory.ts`, the embedded default) and Redis pub/sub
 * (`redis.ts`, when REDIS_URL is set). One conformance suite runs on both.
 *
 * Guarantees:
 * - At-most-once, best effort: a message reaches the subscribers that were
 *   subscribed (and connected) when it was published; nothing is stored, so
 *   listeners that need the current state read it first and treat messages
 *   as "something changed" (the SSE routes send a snapshot first for this).
 * - Per channel and publisher, messages arrive in publish order.
 * - `subscribe` resolves once the subscription is active: a message published
 *   after that reaches the handler.
 * - A handler that throws does not affect other handlers or the adapter.
 */
export type MessageHandler = (message: string) => void;

export interface PubSub {
  readonly kind: 'memory' | 'redis';
  publish(channel: string, message: string): Promise<void>;
  /** Returns the function that ends this subscription (idempotent). */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
  /** Release connections; subscriptions end. */
  close(): Promise<void>;
}

/** Channels are plain identifiers, so no adapter has to escape them. */
export function validateChannel(channel: string): string {
  if (!/^[A-Za-z0-9:._-]{1,200}$/.test(channel)) throw new RangeError(`invalid channel ${JSON.stringify(channel)}`);
  return channel;
}

/** Calls each handler, isolating their failures from each other. */
export function deliver(handlers: Iterable<MessageHandler>, message: string, onError: (err: unknown) => void): void {
  for (const h of [...handlers]) {
    try {
      h(message);
    } catch (err) {
      onError(err);
    }
  }
}
