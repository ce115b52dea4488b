/** In-process PubSub: enough when one process serves every request (the embedded mode). */
import { deliver, validateChannel, type MessageHandler, type PubSub } from './index.ts';

export function createMemoryPubSub(opts: { onError?: (err: unknown) => void } = {}): PubSub {
  const channels = new Map<string, Set<MessageHandler>>();
  const onError = opts.onError ?? (() => {});
  let closed = false;
  return {
    kind: 'memory',
    async publish(channel, message) {
      validateChannel(channel);
      if (closed) return;
      const handlers = channels.get(channel);
      // Delivered on a later tick, as a networked adapter would, so no caller comes to rely on synchronous delivery.
      if (handlers?.size) queueMicrotask(() => deliver(handlers, message, onError));
    },
    async subscribe(channel, handler) {
      validateChannel(channel);
      let set = channels.get(channel);
      if (!set) channels.set(channel, (set = new Set()));
      // A wrapper per subscription, so one handler subscribed twice is two subscriptions.
      const entry: MessageHandler = (m) => handler(m);
      set.add(entry);
      return async () => {
        const current = channels.get(channel);
        current?.delete(entry);
        if (current?.size === 0) channels.delete(channel);
      };
    },
    async close() {
      closed = true;
      channels.clear();
    },
  };
}
