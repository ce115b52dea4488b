/**
 * Server-Sent Events for material progress: a snapshot first, then one event
 * per change (fanned out through the PubSub port, so any API process can
 * serve a stream whatever worker made the change), and a comment line every
 * 15 s so proxies keep the connection open. Changes that arrive while the
 * snapshot is being read are held and sent after it, and any not newer than
 * the snapshot are dropped, so a client never sees progress go backwards.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MaterialView } from './model.ts';

export const HEARTBEAT_MS = 15_000;

export interface SseStreams {
  /** Serve a stream: `subscribe` starts the changes, `snapshot` reads the current state (and may throw before anything is sent). */
  serve<S>(
    req: FastifyRequest,
    reply: FastifyReply,
    opts: {
      subscribe(onChange: (view: MaterialView) => void): Promise<() => Promise<void>>;
      snapshot(): Promise<S>;
      /** updatedAt per material id in the snapshot, for dropping stale changes. */
      versions(snapshot: S): Map<string, string>;
    },
  ): Promise<void>;
  /** End every open stream (server shutdown). */
  closeAll(): void;
}

const frame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function createSseStreams(): SseStreams {
  const open = new Set<() => void>();
  return {
    async serve(req, reply, opts) {
      let pending: MaterialView[] | null = [];
      let write: (view: MaterialView) => void = () => {};
      const unsubscribe = await opts.subscribe((view) => {
        if (pending) pending.push(view);
        else write(view);
      });
      let snapshot;
      try {
        snapshot = await opts.snapshot();
      } catch (err) {
        await unsubscribe();
        throw err;
      }
      const versions = opts.versions(snapshot);
      write = (view) => {
        const seen = versions.get(view.id);
        if (seen !== undefined && view.updatedAt < seen) return;
        versions.set(view.id, view.updatedAt);
        res.write(frame('material', view));
      };

      // From here on the connection is ours, not Fastify's reply cycle.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': String(req.id),
      });
      res.write(`retry: 3000\n\n${frame('snapshot', snapshot)}`);
      const held = pending;
      pending = null;
      for (const view of held) write(view);

      const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        open.delete(end);
        unsubscribe().catch(() => {});
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      req.raw.once('close', end);
      res.once('close', end);
    },
    closeAll() {
      for (const end of [...open]) end();
    },
  };
}
