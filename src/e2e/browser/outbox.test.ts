/**
 * The exam's answer queue (web/src/lib/outbox.ts and autosave.ts), outside a
 * browser: what is kept, what counts as saved, and how sending reacts to
 * the network going away, an overloaded server and a closed attempt.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerOutbox, type KeyValueStore } from '../../../web/src/lib/outbox.ts';
import { AutosaveEngine, backoffDelay, type OnlineEvents, type SendAnswers } from '../../../web/src/lib/autosave.ts';
import { ApiError, NetworkError } from '../../../web/src/lib/errors.ts';

class MemoryStore implements KeyValueStore {
  readonly data = new Map<string, string>();
  getItem(k: string): string | null {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.data.set(k, v);
  }
  removeItem(k: string): void {
    this.data.delete(k);
  }
}

class Network implements OnlineEvents {
  online = true;
  readonly #fns = new Map<string, Set<() => void>>();
  addEventListener(type: string, fn: () => void): void {
    if (!this.#fns.has(type)) this.#fns.set(type, new Set());
    this.#fns.get(type)!.add(fn);
  }
  removeEventListener(type: string, fn: () => void): void {
    this.#fns.get(type)?.delete(fn);
  }
  set(online: boolean): void {
    this.online = online;
    for (const fn of this.#fns.get(online ? 'online' : 'offline') ?? []) fn();
  }
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('answer outbox', () => {
  it('keeps every answer in storage, pending until its exact version is acknowledged', () => {
    const store = new MemoryStore();
    const box = new AnswerOutbox('a1', store);
    assert.equal(box.setAnswer('q1', 'b'), 1);
    assert.equal(box.setAnswer('q1', 'c'), 2);
    box.setAnswer('q2', true);
    assert.deepEqual(box.pending(), [
      { questionId: 'q1', value: 'c', seq: 2 },
      { questionId: 'q2', value: true, seq: 1 },
    ]);
    // A second outbox on the same storage (a reload) sees the same answers.
    const reloaded = new AnswerOutbox('a1', store);
    assert.equal(reloaded.pendingCount(), 2);
    // An ack of an older version leaves the newer one waiting.
    box.ack([{ questionId: 'q1', seq: 1 }, { questionId: 'q2', seq: 1 }]);
    assert.deepEqual(box.pending(), [{ questionId: 'q1', value: 'c', seq: 2 }]);
    box.ack([{ questionId: 'q1', seq: 2 }]);
    assert.equal(box.pendingCount(), 0);
    assert.ok(box.state().lastAckAt);
    box.clear();
    assert.equal(store.data.size, 0);
  });

  it('merges what the server has: the higher sequence number wins, as on the server', () => {
    const box = new AnswerOutbox('a2', new MemoryStore());
    box.setAnswer('q1', 'local'); // seq 1, unsent
    box.setAnswer('q2', 'x');
    box.setAnswer('q2', 'y');
    box.setAnswer('q2', 'z'); // seq 3, unsent
    box.mergeServer([
      { questionId: 'q1', value: 'from other device', seq: 4, savedAt: new Date().toISOString() },
      { questionId: 'q2', value: 'older', seq: 2, savedAt: new Date().toISOString() },
      { questionId: 'q3', value: 7, seq: 1, savedAt: new Date().toISOString() },
    ]);
    const s = box.state().answers;
    assert.equal(s.q1!.value, 'from other device');
    assert.equal(s.q1!.ackedSeq, 4);
    assert.equal(s.q2!.value, 'z');
    assert.deepEqual(box.pending(), [{ questionId: 'q2', value: 'z', seq: 3 }]);
    // The next change continues above the server's number.
    assert.equal(box.setAnswer('q1', 'again'), 5);
  });

  it('two tabs on one attempt never reuse a sequence number', () => {
    const store = new MemoryStore();
    const a = new AnswerOutbox('a3', store);
    const b = new AnswerOutbox('a3', store);
    assert.equal(a.setAnswer('q1', 'a'), 1);
    assert.equal(b.setAnswer('q1', 'b'), 2);
    assert.equal(a.setAnswer('q1', 'c'), 3);
  });

  it('still works, in memory, when storage refuses writes', () => {
    const full: KeyValueStore = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {},
    };
    const box = new AnswerOutbox('a4', full);
    box.setAnswer('q1', 'b');
    assert.equal(box.persistent, false);
    assert.equal(box.pendingCount(), 1);
  });
});

describe('autosave engine', () => {
  it('backoff grows exponentially with jitter inside [ceiling/2, ceiling], capped', () => {
    for (let n = 1; n <= 10; n++) {
      const ceiling = Math.min(30_000, 1000 * 2 ** (n - 1));
      assert.equal(backoffDelay(n, 1000, 30_000, () => 0), ceiling / 2);
      assert.equal(backoffDelay(n, 1000, 30_000, () => 1), ceiling);
    }
  });

  it('holds answers while offline and sends them all when the network returns', async () => {
    const net = new Network();
    const box = new AnswerOutbox('e1', new MemoryStore());
    const sent: number[] = [];
    const send: SendAnswers = async (answers) => {
      sent.push(answers.length);
      return { acked: answers.map((a) => ({ questionId: a.questionId, seq: a.seq })), serverTime: new Date().toISOString() };
    };
    const e = new AutosaveEngine(box, send, { isOnline: () => net.online, events: net, tickMs: 60_000 });
    const states: string[] = [];
    e.subscribe((s) => states.push(`${s.state}:${s.waiting}`));
    e.start();
    box.setAnswer('q1', 'a');
    e.changed();
    await tick(5);
    assert.equal(box.pendingCount(), 0);
    net.set(false);
    box.setAnswer('q2', 'b');
    e.changed();
    box.setAnswer('q3', 'c');
    e.changed();
    await tick(5);
    assert.deepEqual(e.status().state, 'offline');
    assert.equal(e.status().waiting, 2);
    assert.deepEqual(sent, [1]);
    net.set(true);
    await tick(5);
    assert.deepEqual(sent, [1, 2]);
    assert.equal(e.status().state, 'idle');
    assert.equal(e.status().waiting, 0);
    assert.ok(states.includes('offline:2'));
    e.stop();
  });

  it('retries a failed send after a backoff (or Retry-After), keeping the answers', async () => {
    const net = new Network();
    const box = new AnswerOutbox('e2', new MemoryStore());
    let calls = 0;
    const send: SendAnswers = async (answers) => {
      calls++;
      if (calls === 1) throw new NetworkError('reset');
      if (calls === 2) throw new ApiError(503, 'overloaded', 'busy', 0);
      return { acked: answers.map((a) => ({ questionId: a.questionId, seq: a.seq })), serverTime: new Date().toISOString() };
    };
    const e = new AutosaveEngine(box, send, { isOnline: () => net.online, events: net, baseDelayMs: 10, maxDelayMs: 40, tickMs: 60_000 });
    e.start();
    box.setAnswer('q1', 'a');
    const before = Date.now();
    e.changed();
    await tick(2);
    assert.equal(e.status().state, 'retrying');
    // The retry is scheduled after the failure; on a busy machine the clock may already be past it.
    assert.ok(e.status().retryAt! >= before, `retryAt ${e.status().retryAt} is after the send at ${before}`);
    assert.equal(box.pendingCount(), 1);
    await tick(150);
    assert.equal(calls, 3);
    assert.equal(e.status().state, 'idle');
    assert.equal(box.pendingCount(), 0);
    e.stop();
  });

  it('stops on a closed attempt and marks refused answers without blocking the others', async () => {
    const net = new Network();
    const box = new AnswerOutbox('e3', new MemoryStore());
    let closed = false;
    const send: SendAnswers = async (answers) => {
      if (closed) throw new ApiError(409, 'attempt_closed', 'closed');
      if (answers.some((a) => a.questionId === 'bad')) throw new ApiError(400, 'validation_failed', 'answer to bad: expected a number');
      return { acked: answers.map((a) => ({ questionId: a.questionId, seq: a.seq })), serverTime: new Date().toISOString() };
    };
    const e = new AutosaveEngine(box, send, { isOnline: () => net.online, events: net, tickMs: 60_000 });
    e.start();
    box.setAnswer('bad', 'x');
    box.setAnswer('good', 'y');
    e.changed();
    await tick(10);
    assert.equal(box.state().answers.bad!.rejected, 'answer to bad: expected a number');
    assert.equal(box.state().answers.good!.ackedSeq, 1);
    assert.equal(e.status().rejected, 1);
    closed = true;
    box.setAnswer('good', 'z');
    e.changed();
    await tick(10);
    assert.equal(e.status().state, 'closed');
    assert.equal(box.pendingCount(), 1, 'the unsent answer is kept, not dropped');
    e.stop();
  });
});
