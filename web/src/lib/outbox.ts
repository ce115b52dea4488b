/**
 * The exam's answer outbox: every answer is written to this browser's storage
 * (synchronously, before anything is sent) and stays marked as waiting until
 * the server acknowledges that exact version of it. Closing the tab, losing
 * the network or reloading the page loses nothing that was typed.
 *
 * Each question carries a sequence number that goes up on every change; the
 * server ignores a lower `seq` than the one it has, so resending is always
 * safe and a late retry can never overwrite a newer answer.
 *
 * localStorage rather than IndexedDB on purpose: its writes are synchronous,
 * so an answer is durable by the time the click handler returns.
 */
import type { SavedAnswer } from './types.ts';

export interface LocalAnswer {
  value: unknown;
  /** Version of this answer; increases on every change. */
  seq: number;
  /** Highest version the server has acknowledged (0: none). */
  ackedSeq: number;
  /** The server refused this version (it will not be resent until the answer changes). */
  rejected?: string | null;
}

export interface OutboxState {
  answers: Record<string, LocalAnswer>;
  flags: string[];
  /** Index of the question on screen, so a reload comes back to it. */
  current: number;
  /** Epoch ms of the last acknowledgement. */
  lastAckAt: number | null;
}

export interface AnswerToSend {
  questionId: string;
  value: unknown;
  seq: number;
}

/** The part of the Web Storage API the outbox uses (localStorage in a browser). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const PREFIX = 'examday.outbox.';
const empty = (): OutboxState => ({ answers: {}, flags: [], current: 0, lastAckAt: null });

function defaultStorage(): KeyValueStore | null {
  try {
    return (globalThis as { localStorage?: KeyValueStore }).localStorage ?? null;
  } catch {
    // Storage disabled by the browser's settings: reading the property throws.
    return null;
  }
}

export class AnswerOutbox {
  readonly key: string;
  #memory: OutboxState;
  /** False once a write to storage failed (quota, private mode): answers then live in memory only. */
  persistent = true;

  constructor(
    readonly attemptId: string,
    private readonly storage: KeyValueStore | null = defaultStorage(),
  ) {
    this.key = PREFIX + attemptId;
    this.#memory = this.#read();
    if (!storage) this.persistent = false;
  }

  /** Re-read on every change, so two tabs on one attempt never reuse a sequence number. */
  #read(): OutboxState {
    if (this.storage) {
      try {
        const raw = this.storage.getItem(this.key);
        if (raw) return { ...empty(), ...(JSON.parse(raw) as Partial<OutboxState>) };
      } catch {
        // Unreadable entry: fall back to what this tab holds.
      }
    }
    return this.#memory ?? empty();
  }

  #write(s: OutboxState): void {
    this.#memory = s;
    if (!this.storage) return;
    try {
      this.storage.setItem(this.key, JSON.stringify(s));
      this.persistent = true;
    } catch {
      this.persistent = false;
    }
  }

  #update(fn: (s: OutboxState) => void): OutboxState {
    const s = this.#read();
    fn(s);
    this.#write(s);
    return s;
  }

  state(): OutboxState {
    return this.#read();
  }

  /** Record a new answer (null clears it). Returns its sequence number. */
  setAnswer(questionId: string, value: unknown): number {
    let seq = 0;
    this.#update((s) => {
      const prev = s.answers[questionId];
      seq = (prev?.seq ?? 0) + 1;
      s.answers[questionId] = { value, seq, ackedSeq: prev?.ackedSeq ?? 0, rejected: null };
    });
    return seq;
  }

  /** Answers the server has not acknowledged yet, oldest question first. */
  pending(limit = 200): AnswerToSend[] {
    const s = this.#read();
    const out: AnswerToSend[] = [];
    for (const [questionId, a] of Object.entries(s.answers)) {
      if (a.seq > a.ackedSeq && !a.rejected) out.push({ questionId, value: a.value, seq: a.seq });
      if (out.length >= limit) break;
    }
    return out;
  }

  pendingCount(): number {
    return this.pending(Number.MAX_SAFE_INTEGER).length;
  }

  rejectedCount(): number {
    return Object.values(this.#read().answers).filter((a) => a.rejected && a.seq > a.ackedSeq).length;
  }

  /** The server committed these versions. A newer local change stays pending. */
  ack(acked: { questionId: string; seq: number }[], at = Date.now()): void {
    this.#update((s) => {
      for (const { questionId, seq } of acked) {
        const a = s.answers[questionId];
        if (a && seq > a.ackedSeq) a.ackedSeq = Math.min(seq, a.seq);
      }
      s.lastAckAt = at;
    });
  }

  /** The server refused this version; it stays on screen and in storage, marked. */
  reject(questionId: string, seq: number, message: string): void {
    this.#update((s) => {
      const a = s.answers[questionId];
      if (a && a.seq === seq) a.rejected = message;
    });
  }

  /**
   * Fold in what the server has (a resume, perhaps on another device): the
   * higher sequence number wins, exactly as on the server.
   */
  mergeServer(answers: SavedAnswer[]): void {
    this.#update((s) => {
      for (const sa of answers) {
        const a = s.answers[sa.questionId];
        if (!a || a.seq < sa.seq) s.answers[sa.questionId] = { value: sa.value, seq: sa.seq, ackedSeq: sa.seq, rejected: null };
        else if (a.seq === sa.seq) a.ackedSeq = Math.max(a.ackedSeq, sa.seq);
      }
      if (answers.length && s.lastAckAt === null) s.lastAckAt = Math.max(...answers.map((a) => Date.parse(a.savedAt)));
    });
  }

  toggleFlag(questionId: string): boolean {
    let flagged = false;
    this.#update((s) => {
      flagged = !s.flags.includes(questionId);
      s.flags = flagged ? [...s.flags, questionId] : s.flags.filter((f) => f !== questionId);
    });
    return flagged;
  }

  setCurrent(index: number): void {
    this.#update((s) => {
      s.current = index;
    });
  }

  /** After a successful submit: nothing is left to send. */
  clear(): void {
    this.#memory = empty();
    try {
      this.storage?.removeItem(this.key);
    } catch {
      // Nothing to do: the entry is harmless.
    }
  }
}
