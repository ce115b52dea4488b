/**
 * Helpers for tests that sit an exam over HTTP: an answer of the right shape
 * for any paper question, and a reader for `text/event-stream` responses.
 */

export interface PaperQuestion {
  id: string;
  type: string;
  options?: { id: string }[];
}

/** A valid answer for `q` that differs with `seq`, so each save is distinguishable. */
export function valueFor(q: PaperQuestion, seq: number): unknown {
  switch (q.type) {
    case 'single_choice':
      return q.options![seq % q.options!.length]!.id;
    case 'multiple_response':
      return [q.options![seq % q.options!.length]!.id];
    case 'true_false':
      return seq % 2 === 0;
    case 'numeric':
      return seq;
    default:
      return `answer ${seq}`;
  }
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads `text/event-stream` frames until `stop` matches one (inclusive); throws on timeout or end of stream. */
export async function readEvents(res: Response, stop: (e: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  const seen = (): string => JSON.stringify(events.map((e) => e.event));
  let buffer = '';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms: ${seen()}`)), timeoutMs);
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (!event || data === undefined) continue;
        const parsed = { event, data: JSON.parse(data) as unknown };
        events.push(parsed);
        if (stop(parsed)) return events;
      }
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  throw new Error(`stream ended without a matching event: ${seen()}`);
}
