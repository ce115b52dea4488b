/**
 * The attempt a start request has just answered with, handed from the start
 * page to the exam page so that the exam page does not ask for it again: on
 * exam day that is one request fewer per candidate in the sign-in storm. A
 * reload, a resume or another device finds nothing here and asks the server.
 */
import type { Attempt } from '../lib/types.ts';

export interface StartedAttempt {
  attempt: Attempt;
  /** Date.now() when the start request was sent, and when its answer came (for the server-clock estimate). */
  sentAt: number;
  receivedAt: number;
}

/** Older than this, the attempt is asked for again (its remaining time would be stale). */
const FRESH_MS = 10_000;

let handed: StartedAttempt | undefined;

export function handOver(started: StartedAttempt): void {
  handed = started;
}

/** The attempt handed over for this id, once; undefined when there is none or it is stale. */
export function takeOver(attemptId: string): StartedAttempt | undefined {
  const h = handed;
  handed = undefined;
  return h && h.attempt.id === attemptId && Date.now() - h.receivedAt < FRESH_MS ? h : undefined;
}
