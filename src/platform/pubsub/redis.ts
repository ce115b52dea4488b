/**
 * Redis PubSub. A connection in subscriber mode can do nothing else, so the
 * adapter owns two: one to publish, one dedicated to subscriptions. Channels
 * are namespaced by the deployment's prefix. One Redis SUBSCRIBE per channel
 * however many local handlers it has; UNSUBSCRIBE when the last one leaves.
 */
import type { Redis } from 'ioredis';
import { deliver, validateChannel, type MessageHandler, type PubSub } from './index.ts';

export interface RedisPubSubOptions {
  url: string;
  prefix: string;
  onError?: (err: unknown) => void;
}

export async function createRedisPubSub(opts: RedisPubSubOptions): Promise<PubSub> {
  const { Redis } = await import('ioredis');
  const onError = opts.onError ?? (() => {});
  const connect = (): Redis => {
    const r = new Redis(opts.url, { maxRetriesPerRequest: 2, lazyConnect: false });
    r.on('error', onError);
    return r;
  };
  const publisher = connect();
  const subscriber = connect();
  const channels = new Map<string, Set<MessageHandler>>();
  const name = (channel: string): string => `${opts.prefix}:ps:${validateChannel(channel)}`;
  const local = (redisChannel: string): string => redisChannel.slice(opts.prefix.length + 4);

  subscriber.on('message', (redisChannel: string, message: string) => {
    const handlers = channels.get(local(redisChannel));
    if (handlers) deliver(handlers, message, onError);
  });

  return {
    kind: 'redis',
    async publish(channel, message) {
      await publisher.publish(name(channel), message);
    },
    async subscribe(channel, handler) {
      const key = name(channel);
      let set = channels.get(channel);
      if (!set) {
        channels.set(channel, (set = new Set()));
        // Resolves after Redis confirmed the subscription, which is the port's "active" guarantee.
        await subscriber.subscribe(key);
      }
      const entry: MessageHandler = (m) => handler(m);
      set.add(entry);
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        const current = channels.get(channel);
        current?.delete(entry);
        if (current && current.size === 0) {
          channels.delete(channel);
          await subscriber.unsubscribe(key).catch(onError);
        }
      };
    },
    async close() {
      channels.clear();
      await Promise.all([publisher.quit().catch(() => publisher.disconnect()), subscriber.quit().catch(() => subscriber.disconnect())]);
    },
  };
}
