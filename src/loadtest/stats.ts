/**
 * Latency and error accounting for the load harness.
 *
 * Each generator process records into a `Recorder`: one HDR histogram per
 * endpoint for the current one-second interval (values in microseconds,
 * measured from each request's intended send time), plus counts and errors
 * keyed by `status code` (e.g. `503 overloaded`, `net ECONNRESET`). Every
 * second the interval is encoded and sent to the coordinator, which merges
 * the intervals of every process into a per-second series and a whole-run
 * `Aggregate`. HDR histograms merge exactly, so percentiles over the run are
 * true percentiles, not averages of per-process percentiles.
 */
import * as hdr from 'hdr-histogram-js';

export const ENDPOINTS = ['login', 'refresh', 'bookings', 'sessions', 'book', 'start', 'paper', 'autosave', 'resume', 'submit', 'result'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export type Histogram = hdr.Histogram;

/** Microseconds, 1 µs to one hour at 3 significant digits. */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export const encodeHistogram = (h: Histogram): string => hdr.encodeIntoCompressedBase64(h);
export const decodeHistogram = (s: string): Histogram => hdr.decodeFromCompressedBase64(s);

/** Counts for one endpoint over an interval or a run. */
export interface EndpointCounts {
  /** Requests that got a success response (the operation completed). */
  ok: number;
  /** Responses or transport failures that were not a success (each try counts). */
  errors: number;
  /** Operations given up on (not retryable, or the run ended while retrying). */
  failed: number;
  /** Tries after the first. */
  retries: number;
}

/** One process's interval, as sent over IPC. */
export interface IntervalSnapshot {
  endpoints: Partial<Record<Endpoint, EndpointCounts & { hist: string }>>;
  errorsByKey: Record<string, number>;
  /** The same errors keyed `endpoint status code` (e.g. `submit 503 overloaded`). */
  errorsByEndpoint: Record<string, number>;
  /** Keep-alive connections the server had closed while idle; the request went out again at once on a new one (what browsers do). */
  staleReconnects: number;
}

const zeroCounts = (): EndpointCounts => ({ ok: 0, errors: 0, failed: 0, retries: 0 });

/** Per-process recorder; `flush()` returns the interval and starts a new one. */
export class Recorder {
  #hists = new Map<Endpoint, Histogram>();
  #counts = new Map<Endpoint, EndpointCounts>();
  #errors = new Map<string, number>();
  #errorsByEndpoint = new Map<string, number>();
  #stale = 0;

  #c(ep: Endpoint): EndpointCounts {
    let c = this.#counts.get(ep);
    if (!c) this.#counts.set(ep, (c = zeroCounts()));
    return c;
  }

  ok(ep: Endpoint, latencyMs: number): void {
    this.#latency(ep, latencyMs);
    this.#c(ep).ok++;
  }

  /**
   * A paper that came in another request's answer (a start's): its latency is
   * a paper load's, so the paper percentiles cover every load; the request
   * itself is counted under its own endpoint, and `paper`'s counts stay GETs.
   */
  paperLoaded(latencyMs: number): void {
    this.#latency('paper', latencyMs);
  }

  /**
   * An answer changed while the save before was in flight, sent in the next
   * save with the others (as the web client does): its latency runs from its
   * own tick to that save's answer, so the autosave percentiles cover every
   * tick; the request itself is counted once, by `ok`.
   */
  changeSaved(latencyMs: number): void {
    this.#latency('autosave', latencyMs);
  }

  #latency(ep: Endpoint, latencyMs: number): void {
    let h = this.#hists.get(ep);
    if (!h) this.#hists.set(ep, (h = newHistogram()));
    h.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
  }

  error(ep: Endpoint, key: string): void {
    this.#c(ep).errors++;
    this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
    const k = `${ep} ${key}`;
    this.#errorsByEndpoint.set(k, (this.#errorsByEndpoint.get(k) ?? 0) + 1);
  }

  failed(ep: Endpoint): void {
    this.#c(ep).failed++;
  }

  retry(ep: Endpoint): void {
    this.#c(ep).retries++;
  }

  staleReconnect(): void {
    this.#stale++;
  }

  flush(): IntervalSnapshot {
    const endpoints: IntervalSnapshot['endpoints'] = {};
    for (const [ep, c] of this.#counts) endpoints[ep] = { ...c, hist: '' };
    // A paper loaded with a start has a latency but no request of its own.
    for (const [ep, h] of this.#hists) {
      if (h.totalCount === 0) continue;
      endpoints[ep] = { ...(endpoints[ep] ?? zeroCounts()), hist: encodeHistogram(h) };
      h.reset();
    }
    this.#counts.clear();
    const snap: IntervalSnapshot = {
      endpoints,
      errorsByKey: Object.fromEntries(this.#errors),
      errorsByEndpoint: Object.fromEntries(this.#errorsByEndpoint),
      staleReconnects: this.#stale,
    };
    this.#errors.clear();
    this.#errorsByEndpoint.clear();
    this.#stale = 0;
    return snap;
  }
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

const ms = (us: number): number => Math.round(us / 100) / 10;

export function summarize(h: Histogram | undefined): LatencySummary {
  if (!h || h.totalCount === 0) return { count: 0, p50_ms: 0, p95_ms: 0, p99_ms: 0, max_ms: 0, mean_ms: 0 };
  return {
    count: h.totalCount,
    p50_ms: ms(h.getValueAtPercentile(50)),
    p95_ms: ms(h.getValueAtPercentile(95)),
    p99_ms: ms(h.getValueAtPercentile(99)),
    max_ms: ms(h.maxValue),
    mean_ms: ms(h.mean),
  };
}

/** Merged counts and histograms of any number of intervals from any number of processes. */
export class Aggregate {
  readonly hists = new Map<Endpoint, Histogram>();
  readonly counts = new Map<Endpoint, EndpointCounts>();
  readonly errorsByKey = new Map<string, number>();
  readonly errorsByEndpoint = new Map<string, number>();
  staleReconnects = 0;

  add(s: IntervalSnapshot): void {
    for (const [ep, c] of Object.entries(s.endpoints) as [Endpoint, EndpointCounts & { hist: string }][]) {
      let t = this.counts.get(ep);
      if (!t) this.counts.set(ep, (t = zeroCounts()));
      t.ok += c.ok;
      t.errors += c.errors;
      t.failed += c.failed;
      t.retries += c.retries;
      if (c.hist) this.#hist(ep).add(decodeHistogram(c.hist));
    }
    for (const [k, n] of Object.entries(s.errorsByKey)) this.errorsByKey.set(k, (this.errorsByKey.get(k) ?? 0) + n);
    for (const [k, n] of Object.entries(s.errorsByEndpoint)) this.errorsByEndpoint.set(k, (this.errorsByEndpoint.get(k) ?? 0) + n);
    this.staleReconnects += s.staleReconnects;
  }

  #hist(ep: Endpoint): Histogram {
    let h = this.hists.get(ep);
    if (!h) this.hists.set(ep, (h = newHistogram()));
    return h;
  }

  /** Every endpoint's latencies together. */
  all(): Histogram {
    const h = newHistogram();
    for (const x of this.hists.values()) h.add(x);
    return h;
  }

  /** Requests answered or failed (each try counts once). */
  requests(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c.ok + c.errors;
    return n;
  }

  errors(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c.errors;
    return n;
  }

  failedOps(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c.failed;
    return n;
  }

  endpointSummary(): Partial<Record<Endpoint, EndpointCounts & LatencySummary>> {
    const out: Partial<Record<Endpoint, EndpointCounts & LatencySummary>> = {};
    for (const ep of ENDPOINTS) {
      const c = this.counts.get(ep);
      const h = this.hists.get(ep);
      if (c || h) out[ep] = { ...(c ?? zeroCounts()), ...summarize(h) };
    }
    return out;
  }
}
