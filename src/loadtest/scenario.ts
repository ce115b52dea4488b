/**
 * One simulated candidate on exam day, as the web client behaves:
 *
 *   sign in with the access code (its answer carries the start page's
 *   bookings) or, booking first, list the district's sessions and book a
 *   seat → start the attempt (its answer carries the paper; a server that
 *   does not send it is asked) → autosave every T s (jittered), each save carrying every
 *   answer not yet acknowledged → maybe reload mid-exam (new connection,
 *   resume: attempt state and paper again, in one answer) → submit with a last answer →
 *   ask for the result until it is graded (RESULT_ASKS).
 *
 * The paths and query strings are the web app's (client-paths.ts).
 *
 * Every operation has an intended time (the schedule), and its latency is
 * taken from that time to the successful response, including waits for a
 * busy connection and retries: a stalled server cannot hide its queue.
 * Failed tries are retried with the client's backoff (backoff.ts).
 */
import { performance } from 'node:perf_hooks';
import { isRetryable, parseRetryAfter, retryDelayMs } from './backoff.ts';
import { RESULT_ASKS, clientPaths } from './client-paths.ts';
import { Connection, TransportError, buildRequest, type HttpResponse } from './http.ts';
import type { AckedChunk, ChildTotals, ScenarioConfig } from './protocol.ts';
import type { Scheduler } from './scheduler.ts';
import type { Endpoint, Recorder } from './stats.ts';

/** Shared by every candidate of one generator process. */
export interface RunState {
  cfg: ScenarioConfig;
  rec: Recorder;
  sched: Scheduler;
  random: () => number;
  /** performance.now() of second 0. */
  t0: number;
  /** performance.now() after which nothing more is tried. */
  hardStopAt: number;
  stopped: boolean;
  /** Connections with a request in flight (for the timeout sweep). */
  inflight: Set<Connection>;
  /** Candidates signed in and not yet done. */
  active: number;
  totals: ChildTotals;
}

interface PaperQuestion {
  id: string;
  type: string;
  options?: { id: string }[];
}

/** JSON of a valid answer for a question, different for consecutive seqs where the type allows. */
type ValueOf = (seq: number) => string;

function answerValues(q: PaperQuestion): ValueOf | undefined {
  const ids = (q.options ?? []).map((o) => JSON.stringify(o.id));
  switch (q.type) {
    case 'single_choice':
      return ids.length ? (seq) => ids[seq % ids.length]! : undefined;
    case 'multiple_response': {
      if (!ids.length) return undefined;
      // Growing prefixes of the options, then single options: varied and valid.
      const choices = [...ids.map((_, i) => `[${ids.slice(0, i + 1).join(',')}]`), ...ids.map((id) => `[${id}]`)];
      return (seq) => choices[seq % choices.length]!;
    }
    case 'true_false':
      return (seq) => (seq % 2 === 0 ? 'true' : 'false');
    case 'short_text':
      return (seq) => `"answer ${seq}"`;
    case 'numeric':
      return (seq) => String(seq);
    default:
      return undefined;
  }
}

function problemCode(body: Buffer): string {
  try {
    const p = JSON.parse(body.toString()) as { code?: unknown };
    return typeof p.code === 'string' ? p.code : 'unknown';
  } catch {
    return 'unknown';
  }
}

const now = (): number => performance.now();

export class Candidate {
  readonly conn: Connection;
  #access: string | undefined;
  #refresh: string | undefined;
  #accessExpiresAt = Infinity;
  #attemptId = '';
  #qids: string[] = [];
  #values: ValueOf[] = [];
  #seq = new Int32Array(0);
  /** Highest seq the server is known to hold (acknowledged, or shown on resume). */
  #known = new Int32Array(0);
  /** Highest seq acknowledged by a save or submit, and the value sent with it. */
  #ackedSeq = new Int32Array(0);
  #ackedJson: string[] = [];
  #signedIn = false;
  /** Pre-built request-line prefix of this candidate's autosave. */
  #savePath = '';

  constructor(
    private readonly s: RunState,
    private readonly code: string,
    localAddress: string | undefined,
    localPort?: () => number,
  ) {
    this.conn = new Connection({ host: s.cfg.host, port: s.cfg.port, localAddress, localPort });
  }

  #req(method: string, path: string, body?: string): string {
    return buildRequest(method, path, this.s.cfg.hostHeader, this.#access, body);
  }

  /**
   * One logical operation: send, and retry as the web client does until it
   * succeeds, gets a final answer, or the run ends. Latency is recorded from
   * `intendedAt` to the successful response.
   */
  async #op(
    ep: Endpoint,
    intendedAt: number,
    request: () => string,
    accept?: (r: HttpResponse) => boolean,
  ): Promise<HttpResponse | undefined> {
    const { s } = this;
    if (ep !== 'refresh' && ep !== 'login' && now() > this.#accessExpiresAt) await this.#renew();
    let retry = 0;
    let staleResent = false;
    for (;;) {
      if (s.stopped) return undefined;
      let res: HttpResponse | undefined;
      let errKey = '';
      s.inflight.add(this.conn);
      try {
        res = await this.conn.send(request());
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        if (err.stale && !staleResent && !s.stopped) {
          staleResent = true;
          s.rec.staleReconnect();
          continue;
        }
        errKey = err.code === 'timeout' ? 'timeout' : err.code === 'stopped' ? 'unfinished at end of run' : `net ${err.code}`;
      } finally {
        s.inflight.delete(this.conn);
      }
      if (res && ((res.status >= 200 && res.status < 300) || accept?.(res))) {
        s.rec.ok(ep, now() - intendedAt);
        return res;
      }
      if (res) errKey = `${res.status} ${problemCode(res.body)}`;
      s.rec.error(ep, errKey);
      const status = res?.status ?? 0;
      if (s.stopped || !isRetryable(status)) {
        s.rec.failed(ep);
        return res;
      }
      const delay = retryDelayMs(retry++, parseRetryAfter(res?.retryAfter), s.random);
      if (now() + delay > s.hardStopAt) {
        s.rec.failed(ep);
        return undefined;
      }
      s.rec.retry(ep);
      await s.sched.sleep(delay);
    }
  }

  #json<T>(r: HttpResponse): T {
    return JSON.parse(r.body.toString()) as T;
  }

  #takeTokens(r: HttpResponse): { bookingId?: string | null; bookings?: unknown } {
    const t = this.#json<{ accessToken: string; refreshToken: string; expiresIn: number; bookingId?: string | null; bookings?: unknown }>(r);
    this.#access = t.accessToken;
    this.#refresh = t.refreshToken;
    // Renew a minute before expiry, as the web client does.
    this.#accessExpiresAt = now() + Math.max(10, t.expiresIn - 60) * 1000;
    return t;
  }

  async #renew(): Promise<void> {
    const body = JSON.stringify({ refreshToken: this.#refresh });
    const r = await this.#op('refresh', now(), () => buildRequest('POST', this.s.cfg.basePath + clientPaths.refresh(), this.s.cfg.hostHeader, undefined, body));
    if (r && r.status === 200) this.#takeTokens(r);
    else this.#accessExpiresAt = Infinity; // the next call shows what is wrong
  }

  /** The whole exam; resolves when this candidate is done or the run stops. */
  async run(signInAt: number, submitAt: number, reloadAt: number | undefined): Promise<void> {
    const { s } = this;
    const base = s.cfg.basePath;
    await s.sched.sleepUntil(signInAt);
    if (s.stopped) return;
    try {
      const ok = await this.#exam(base, signInAt, submitAt, reloadAt);
      if (!ok && !s.stopped) s.totals.gaveUp++;
    } finally {
      if (this.#signedIn) s.active--;
      this.conn.close();
    }
  }

  async #exam(base: string, signInAt: number, submitAt: number, reloadAt: number | undefined): Promise<boolean> {
    const { s } = this;
    const loginBody = JSON.stringify({ code: this.code });
    const login = await this.#op('login', signInAt, () => buildRequest('POST', base + clientPaths.signIn(), s.cfg.hostHeader, undefined, loginBody));
    if (login?.status !== 200) return false;
    s.totals.signedIn++;
    this.#signedIn = true;
    s.active++;
    const signedIn = this.#takeTokens(login);
    let bookingId = signedIn.bookingId ?? undefined;

    if (bookingId) {
      // The start page: the sign-in's answer carries it; a server that does not send it is asked.
      if (signedIn.bookings === undefined) {
        const r = await this.#op('bookings', now(), () => this.#req('GET', base + clientPaths.dashboard()));
        if (r?.status !== 200) return false;
      }
    } else {
      bookingId = await this.#book(base);
      if (!bookingId) return false;
    }

    const startAt = now();
    const started = await this.#op('start', startAt, () => this.#req('POST', base + clientPaths.start(bookingId)));
    if (started?.status !== 200) return false;
    const attempt = this.#json<{ id: string; answers: { questionId: string; seq: number }[]; paper?: { questions: PaperQuestion[] } }>(started);
    this.#attemptId = attempt.id;
    this.#savePath = base + clientPaths.answers(attempt.id);
    s.totals.started++;

    if (attempt.paper) {
      // The paper's load time is the start's: both came in one answer.
      s.rec.paperLoaded(now() - startAt);
      if (!this.#takePaper(attempt.paper)) return false;
    } else if (!(await this.#loadPaper(base, now()))) return false;
    this.#adoptServerSeqs(attempt.answers);

    // Autosave loop. The first save is spread over one interval so the
    // candidates who signed in together do not save together forever. Each
    // tick is one changed answer. Ticks that come due while a save is in
    // flight go together in the next save, sent as soon as that one is
    // answered: the web client keeps one save in flight and sends everything
    // changed meanwhile after it, so a slow server sees one request a
    // candidate, not a burst of catch-up saves.
    const every = s.cfg.autosaveEveryS * 1000;
    const after = (t: number) => (every > 0 ? t + every * (1 + s.cfg.autosaveJitter * (2 * s.random() - 1)) : now());
    let ticks = [every > 0 ? now() + s.random() * every : now()];
    let reloadDue = reloadAt;
    while (!s.stopped) {
      const first = ticks[0]!;
      if (first >= submitAt) break;
      await s.sched.sleepUntil(first);
      if (s.stopped) return false;
      if (reloadDue !== undefined && first >= reloadDue) {
        reloadDue = undefined;
        if (!(await this.#reload(base, first))) return false;
      }
      const r = await this.#save(ticks);
      if (r === 'closed') return false;
      // The next tick, and every one after it that came due meanwhile.
      const due = [after(ticks[ticks.length - 1]!)];
      for (let t = after(due[0]!); every > 0 && t <= now() && t < submitAt; t = after(t)) due.push(t);
      ticks = due;
    }

    await s.sched.sleepUntil(submitAt);
    if (s.stopped) return false;
    this.#change();
    const body = this.#pendingJson();
    const sent = this.#pendingSnapshot();
    const sub = await this.#op('submit', submitAt, () => this.#req('POST', base + clientPaths.submit(this.#attemptId), body));
    if (sub?.status !== 200) return false;
    this.#ack(sent);
    s.totals.submitted++;
    await this.#awaitResult(base, this.#json<{ askResultInS?: number }>(sub).askResultInS);
    return true;
  }

  /**
   * The result page: ask until the attempt is graded, as the web app does
   * (RESULT_ASKS) — first when the submit's answer said — or until the run stops.
   */
  async #awaitResult(base: string, askResultInS: number | undefined): Promise<void> {
    const { s } = this;
    const path = base + clientPaths.result(this.#attemptId);
    const jittered = (ms: number) => ms * (1 + RESULT_ASKS.jitter * (2 * s.random() - 1));
    let at = now() + jittered(askResultInS ? askResultInS * 1000 : RESULT_ASKS.firstMs);
    for (let wait: number = RESULT_ASKS.firstMs * 2; ; wait = Math.min(wait * 2, RESULT_ASKS.maxMs)) {
      await s.sched.sleepUntil(at);
      if (s.stopped) return;
      const r = await this.#op('result', at, () => this.#req('GET', path));
      if (r?.status !== 200) return;
      const body = this.#json<{ status: string; askAgainInS?: number }>(r);
      if (body.status === 'graded') return;
      at = now() + jittered(Math.max(wait, (body.askAgainInS ?? 0) * 1000));
    }
  }

  /** Booking first: list the district's open sessions, book a seat in one with room. */
  async #book(base: string): Promise<string | undefined> {
    const full = new Set<string>();
    for (let round = 0; round < 5 && !this.s.stopped; round++) {
      const list = await this.#op('sessions', now(), () => this.#req('GET', base + clientPaths.sessions()));
      if (list?.status !== 200) return undefined;
      const open = this.#json<{ items: { id: string; seatsLeft: number }[] }>(list).items.filter((x) => x.seatsLeft > 0 && !full.has(x.id));
      if (!open.length) return undefined;
      // Candidates spread over the sessions with room, in proportion to the seats left.
      let ticket = this.s.random() * open.reduce((n, x) => n + x.seatsLeft, 0);
      const pick = open.find((x) => (ticket -= x.seatsLeft) < 0) ?? open[open.length - 1]!;
      const booked = await this.#op(
        'book',
        now(),
        () => this.#req('POST', base + clientPaths.book(pick.id)),
        // Answers the client handles: a retried booking whose first try went
        // through ("already booked"), and a seat taken since the list was read.
        (r) => r.status === 409 && ['already_booked', 'session_full'].includes(problemCode(r.body)),
      );
      if (!booked) return undefined;
      if (booked.status === 201) return this.#json<{ booking: { id: string } }>(booked).booking.id;
      const p = this.#json<{ code?: string; bookingId?: string }>(booked);
      if (p.code === 'already_booked' && p.bookingId) return p.bookingId;
      if (p.code !== 'session_full') return undefined;
      this.s.totals.sessionFull++;
      full.add(pick.id);
    }
    return undefined;
  }

  async #loadPaper(base: string, intendedAt: number): Promise<boolean> {
    const r = await this.#op('paper', intendedAt, () => this.#req('GET', base + clientPaths.paper(this.#attemptId)));
    if (r?.status !== 200) return false;
    if (this.#qids.length > 0) return true; // a reload: same paper
    return this.#takePaper(this.#json<{ questions: PaperQuestion[] }>(r));
  }

  /** The questions this candidate answers, from their paper; false when it has none to answer. */
  #takePaper(paper: { questions: PaperQuestion[] }): boolean {
    for (const q of paper.questions) {
      const v = answerValues(q);
      if (v) {
        this.#qids.push(q.id);
        this.#values.push(v);
      }
    }
    const n = this.#qids.length;
    this.#seq = new Int32Array(n);
    this.#known = new Int32Array(n);
    this.#ackedSeq = new Int32Array(n);
    this.#ackedJson = new Array<string>(n).fill('');
    return n > 0;
  }

  /** Continue numbering after what the server already holds (a resumed attempt). */
  #adoptServerSeqs(answers: { questionId: string; seq: number }[]): void {
    for (const a of answers) {
      const i = this.#qids.indexOf(a.questionId);
      if (i < 0) continue;
      if (a.seq > this.#seq[i]!) this.#seq[i] = a.seq;
      if (a.seq > this.#known[i]!) this.#known[i] = a.seq;
    }
  }

  /** The candidate changes one answer. */
  #change(): void {
    const i = Math.floor(this.s.random() * this.#qids.length);
    this.#seq[i]!++;
  }

  #pendingJson(): string {
    let items = '';
    for (let i = 0; i < this.#qids.length; i++) {
      const seq = this.#seq[i]!;
      if (seq <= this.#known[i]!) continue;
      if (items) items += ',';
      items += `{"questionId":"${this.#qids[i]}","value":${this.#values[i]!(seq)},"seq":${seq}}`;
    }
    return `{"answers":[${items}]}`;
  }

  /** The seqs a request carries (0 where it carries nothing), to mark acknowledged when it succeeds. */
  #pendingSnapshot(): Int32Array {
    const sent = this.#seq.slice();
    for (let i = 0; i < sent.length; i++) if (sent[i]! <= this.#known[i]!) sent[i] = 0;
    return sent;
  }

  #ack(sent: Int32Array): void {
    for (let i = 0; i < sent.length; i++) {
      const seq = sent[i]!;
      if (seq > this.#known[i]!) this.#known[i] = seq;
      if (seq > this.#ackedSeq[i]!) {
        this.#ackedSeq[i] = seq;
        this.#ackedJson[i] = this.#values[i]!(seq);
        this.s.totals.ackedWrites++;
      }
    }
  }

  /**
   * One save for the ticks at `intendedAt` (oldest first), one changed answer
   * each. Its latency is taken from the oldest; each later tick gets its own
   * sample from its own time, so the autosave percentiles cover every change.
   */
  async #save(intendedAt: readonly number[]): Promise<'ok' | 'failed' | 'closed'> {
    for (let i = 0; i < intendedAt.length; i++) this.#change();
    const body = this.#pendingJson();
    const sent = this.#pendingSnapshot();
    const r = await this.#op('autosave', intendedAt[0]!, () => buildRequest('PUT', this.#savePath, this.s.cfg.hostHeader, this.#access, body));
    for (let i = 1; i < intendedAt.length; i++) {
      if (r?.status === 200) this.s.rec.changeSaved(now() - intendedAt[i]!);
      else this.s.rec.failed('autosave');
    }
    if (r?.status === 200) {
      this.#ack(sent);
      return 'ok';
    }
    // Unsent answers stay pending and go with the next save.
    return r && problemCode(r.body) === 'attempt_closed' ? 'closed' : 'failed';
  }

  /** Reload: a new connection, the attempt state and the paper again; check nothing acknowledged is missing. */
  async #reload(base: string, intendedAt: number): Promise<boolean> {
    const { s } = this;
    this.conn.close();
    const r = await this.#op('resume', intendedAt, () => this.#req('GET', base + clientPaths.resume(this.#attemptId)));
    if (r?.status !== 200) return false;
    s.totals.resumes++;
    const view = this.#json<{ answers: { questionId: string; value: unknown; seq: number }[]; paper?: unknown }>(r);
    const held = new Map(view.answers.map((a) => [a.questionId, a]));
    for (let i = 0; i < this.#qids.length; i++) {
      const acked = this.#ackedSeq[i]!;
      if (acked === 0) continue;
      const a = held.get(this.#qids[i]!);
      if (!a || a.seq < acked || (a.seq === acked && JSON.stringify(a.value) !== this.#ackedJson[i])) {
        s.totals.resumeMismatches++;
        if (s.totals.examples.length < 5) {
          s.totals.examples.push(
            `resume of attempt ${this.#attemptId}: question ${this.#qids[i]} acknowledged seq ${acked}, server returned ${a ? `seq ${a.seq}` : 'nothing'}`,
          );
        }
      }
    }
    this.#adoptServerSeqs(view.answers);
    if (view.paper === undefined) return this.#loadPaper(base, now());
    s.rec.paperLoaded(now() - intendedAt); // the same paper as before: nothing more to take from it
    return true;
  }

  /** This candidate's acknowledged answers, appended to `out`. */
  collectAcked(out: AckedChunk): void {
    for (let i = 0; i < this.#qids.length; i++) {
      if (this.#ackedSeq[i]! === 0) continue;
      out.attempt.push(this.#attemptId);
      out.question.push(this.#qids[i]!);
      out.seq.push(this.#ackedSeq[i]!);
      out.value.push(this.#ackedJson[i]!);
    }
  }
}
