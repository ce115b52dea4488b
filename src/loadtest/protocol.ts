/** What the coordinator and its generator processes say to each other over IPC. */
import type { IntervalSnapshot } from './stats.ts';

/** The exam-day scenario as every generator process runs it. Times are seconds from `startAt`. */
export interface ScenarioConfig {
  /** Numeric loopback address and port to connect to. */
  host: string;
  port: number;
  /** Value of the Host header. */
  hostHeader: string;
  /** API prefix, e.g. `/api/v1`. */
  basePath: string;
  /** Epoch milliseconds at which second 0 of the run begins (the same for every process). */
  startAt: number;
  /** Sign-ins are spread uniformly over the first `stormS` seconds. */
  stormS: number;
  /** Candidates submit by this second; the run is planned to end here. */
  durationS: number;
  /** Submits are spread over the last `submitWindowS` seconds before `durationS`. */
  submitWindowS: number;
  /** Requests still unanswered this long after `durationS` are abandoned and the run stops. */
  drainS: number;
  /** Seconds between one candidate's autosaves (jittered); 0 = back to back (saturation). */
  autosaveEveryS: number;
  /** Autosave interval jitter as a fraction of the interval (0.2 = ±20 %). */
  autosaveJitter: number;
  /** Share of candidates that reload the page mid-exam and resume. */
  reloadShare: number;
  /** Candidates sign in with an account code and book a seat first (else the code is tied to a booking). */
  bookingFirst: boolean;
  /** Per-try timeout. */
  timeoutMs: number;
  /** Source addresses for the candidates' connections, round robin (empty: the kernel chooses). */
  sourceAddresses: string[];
  seed: number;
}

export interface CandidateSeed {
  code: string;
  district: string;
}

export type ToChild =
  | { type: 'start'; index: number; config: ScenarioConfig; candidates: CandidateSeed[]; firstIndex: number; stride: number }
  | { type: 'stop' };

/** Latest acknowledged value per (attempt, question), as parallel arrays (cheap to send). */
export interface AckedChunk {
  attempt: string[];
  question: string[];
  seq: number[];
  /** The acknowledged value, JSON-encoded exactly as it was sent. */
  value: string[];
}

export interface ChildTotals {
  candidates: number;
  signedIn: number;
  started: number;
  submitted: number;
  /** Candidates that could not get through their flow (an operation failed for good). */
  gaveUp: number;
  connects: number;
  ackedWrites: number;
  resumes: number;
  /** Booking first: the chosen session filled up between listing and booking (the candidate picks another). */
  sessionFull: number;
  /** A resume showed an answer older than one the server had acknowledged. */
  resumeMismatches: number;
  examples: string[];
}

export type FromChild =
  | { type: 'ready' }
  | {
      type: 'tick';
      /** Seconds since startAt at the end of this interval. */
      sec: number;
      active: number;
      /** CPU used by this process in the interval, microseconds (user + system). */
      cpuUs: number;
      /** p99 event-loop delay of this process in the interval, ms. */
      lagMs: number;
      snapshot: IntervalSnapshot;
    }
  | { type: 'acked'; chunk: AckedChunk }
  | { type: 'done'; totals: ChildTotals };
