/**
 * Server-Sent Events over fetch: EventSource cannot send the Authorization
 * header, fetch can. Reconnects after the server's `retry:` delay (or a
 * backed-off default) until aborted; each reconnect starts with a snapshot.
 */
import { authorizedFetch } from './api.ts';

export interface SseEvent {
  event: string;
  data: string;
}

export function streamEvents(path: string, onEvent: (e: SseEvent) => void, onState: (connected: boolean) => void): () => void {
  const abort = new AbortController();
  let retryMs = 3000;
  let failures = 0;

  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        const res = await authorizedFetch(path, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onState(true);
        failures = 0;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
              else if (line.startsWith('retry:')) retryMs = Number(line.slice(6)) || retryMs;
            }
            if (data.length) onEvent({ event, data: data.join('\n') });
          }
        }
      } catch {
        if (abort.signal.aborted) return;
        failures++;
      }
      onState(false);
      if (abort.signal.aborted) return;
      const wait = Math.min(30_000, retryMs * 2 ** Math.min(failures, 4)) * (0.5 + Math.random() / 2);
      await new Promise((r) => window.setTimeout(r, wait));
    }
  };
  void run();
  return () => abort.abort();
}
