/**
 * What the server has just answered with, handed from one page to the next so
 * that the next page does not ask for it again: the sign-in's answer (the
 * candidate's bookings) to the start page, the start's answer (the attempt and
 * its paper) to the exam page, the submit's answer (and the paper already on
 * screen) to the result page. On exam day every candidate makes these moves
 * within the same minute or two, so each request saved here is tens of
 * thousands saved on the server. A reload, a resume or another device finds
 * nothing here and asks the server.
 */
import type { Attempt, Booking, Page, Paper } from '../lib/types.ts';

export interface HandedAttempt {
  attempt: Attempt;
  paper?: Paper;
  /** Date.now() when the request was sent, and when its answer came (for the server-clock estimate). */
  sentAt: number;
  receivedAt: number;
}

/** Older than this, the attempt is asked for again (its remaining time would be stale). */
const FRESH_MS = 10_000;

let handed: HandedAttempt | undefined;

export function handOver(h: HandedAttempt): void {
  handed = h;
}

/** What was handed over for this attempt, once; undefined when there is nothing or it is stale. */
export function takeOver(attemptId: string): HandedAttempt | undefined {
  const h = handed;
  handed = undefined;
  return h && h.attempt.id === attemptId && Date.now() - h.receivedAt < FRESH_MS ? h : undefined;
}

let handedBookings: { page: Page<Booking>; receivedAt: number } | undefined;

export function handOverBookings(page: Page<Booking>): void {
  handedBookings = { page, receivedAt: Date.now() };
}

/** The bookings the sign-in answered with, once; undefined when there are none or they are stale. */
export function takeBookings(): Page<Booking> | undefined {
  const h = handedBookings;
  handedBookings = undefined;
  return h && Date.now() - h.receivedAt < FRESH_MS ? h.page : undefined;
}
