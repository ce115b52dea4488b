/** Dates, durations and numbers as people read them, in the browser's locale. */
import { t } from '../strings.ts';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export const formatDateTime = (iso: string | number): string => dateTime.format(new Date(iso));
export const formatTime = (iso: string | number): string => timeOnly.format(new Date(iso));

/** A window such as "22 Nov 2026, 09:00 – 11:00". */
export function formatWindow(startIso: string, endIso: string): string {
  const a = new Date(startIso);
  const b = new Date(endIso);
  const sameDay = a.toDateString() === b.toDateString();
  return `${dateTime.format(a)} – ${sameDay ? timeOnly.format(b) : dateTime.format(b)}`;
}

/** 1:05:09 or 05:09. */
export function formatClock(totalS: number): string {
  const s = Math.max(0, Math.floor(totalS));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** "just now", "5 s ago", "3 min ago". */
export function formatAgo(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 2) return t.time.justNow;
  if (s < 60) return t.time.secondsAgo(s);
  const m = Math.round(s / 60);
  if (m < 60) return t.time.minutesAgo(m);
  return formatTime(ms);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export const formatNumber = (n: number, digits = 0): string =>
  n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });

export const percent = (part: number, whole: number): string => (whole > 0 ? `${Math.round((part / whole) * 100)}%` : '—');
