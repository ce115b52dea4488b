/**
 * The candidate's start page: their booked exams, and the sessions of their
 * district with live seat counts.
 *
 * On exam day every candidate opens this page within the same minute, so it
 * costs no request after a sign-in (the sign-in's answer carries the bookings,
 * each with its attempt's status) and one otherwise. The
 * session list, and its seat-count polling, are loaded only for a candidate
 * with no exam still ahead, or on request.
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { api } from '../lib/api.ts';
import { formatTime, formatWindow } from '../lib/format.ts';
import { retryTransient } from '../lib/retry.ts';
import { navigate } from '../lib/router.tsx';
import type { Booking, ExamSession, Page as ListPage } from '../lib/types.ts';
import { useInterval, useSession } from '../lib/useSession.ts';
import { t } from '../strings.ts';
import { handOver, takeBookings } from './handoff.ts';
import { Bar, Dialog, ErrorNotice, Loading, Notice, Page } from '../components/ui.tsx';

const SEAT_POLL_MS = 5000;
/** How often the booking cards look at the clock (a session opening turns "opens at" into a start button; no request). */
const CLOCK_TICK_MS = 5000;

/** A booking whose exam is still ahead of the candidate: not ended, not submitted. */
function isAhead(b: Booking, now: number): boolean {
  return now < Date.parse(b.session.endsAt) && (b.attemptStatus === null || b.attemptStatus === 'in_progress');
}

function BookingCard({ booking, now, onStart }: { booking: Booking; now: number; onStart: (b: Booking) => void }) {
  const attempt = booking.attemptId ? { id: booking.attemptId, status: booking.attemptStatus ?? 'in_progress' } : undefined;
  const starts = Date.parse(booking.session.startsAt);
  const ends = Date.parse(booking.session.endsAt);
  let state: string;
  let action: ReactNode = null;
  if (attempt && attempt.status !== 'in_progress') {
    state = t.candidate.submitted;
    action = (
      <button type="button" className="button-secondary" onClick={() => navigate(`/result/${attempt.id}`)}>
        {t.candidate.seeResult}
      </button>
    );
  } else if (attempt) {
    state = t.candidate.inProgress;
    action = (
      <button type="button" className="button-primary" onClick={() => navigate(`/exam/${attempt.id}`)}>
        {t.candidate.resume}
      </button>
    );
  } else if (now < starts) {
    state = t.candidate.opensAt(formatWindow(booking.session.startsAt, booking.session.endsAt));
  } else if (now >= ends) {
    state = t.candidate.ended;
  } else {
    state = t.candidate.openNow(formatTime(booking.session.endsAt));
    action = (
      <button type="button" className="button-primary" onClick={() => onStart(booking)}>
        {t.candidate.start}
      </button>
    );
  }
  return (
    <li className="card booking">
      <div>
        <h3>{booking.session.title}</h3>
        <p className="muted">{formatWindow(booking.session.startsAt, booking.session.endsAt)}</p>
        <p className="booking-state">{state}</p>
      </div>
      {action}
    </li>
  );
}

export function CandidateHome() {
  const session = useSession();
  const [bookings, setBookings] = useState<Booking[] | null>(null);
  const [sessions, setSessions] = useState<ExamSession[] | null>(null);
  /** Whether the sessions to book are shown (and polled); undecided until the bookings are in. */
  const [showSessions, setShowSessions] = useState<boolean | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [bookingId, setBookingId] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ title: string; code: string } | null>(null);
  const [confirm, setConfirm] = useState<Booking | null>(null);
  const [starting, setStarting] = useState(false);
  /** Said while a start the server could not take yet is being sent again. */
  const [startNote, setStartNote] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());

  const loadSessions = useCallback(async () => {
    try {
      setSessions((await api.sessions()).items);
      setNow(Date.now());
    } catch (err) {
      setError(err);
    }
  }, []);

  /** The first load takes what the sign-in answered with, when there is that. */
  const loadBookings = useCallback(async (handed?: ListPage<Booking>) => {
    try {
      const b = handed ?? (await api.bookings());
      setBookings(b.items);
      const at = Date.now();
      setNow(at);
      setShowSessions((shown) => shown ?? !b.items.some((x) => isAhead(x, at)));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, []);

  useEffect(() => {
    void loadBookings(takeBookings());
  }, [loadBookings]);
  useEffect(() => {
    if (showSessions) void loadSessions();
  }, [showSessions, loadSessions]);
  const pollSessions = useCallback(() => void loadSessions(), [loadSessions]);
  useInterval(pollSessions, showSessions ? SEAT_POLL_MS : null);
  const tick = useCallback(() => setNow(Date.now()), []);
  useInterval(tick, CLOCK_TICK_MS);

  const book = async (s: ExamSession): Promise<void> => {
    setBookingId(s.id);
    setError(null);
    try {
      const r = await api.book(s.id);
      setNotice({ title: s.title, code: r.accessCode });
      await Promise.all([loadBookings(), loadSessions()]);
    } catch (err) {
      setError(err);
      await loadSessions();
    } finally {
      setBookingId(null);
    }
  };

  const start = async (): Promise<void> => {
    if (!confirm) return;
    setStarting(true);
    try {
      const sentAt = Date.now();
      // At 09:00 everyone starts at once: a busy server's 503 (or no answer) is tried again, as
      // Retry-After says, before the candidate is told anything went wrong. A start is safe to
      // repeat: the server answers with the attempt already started.
      const { paper, ...attempt } = await retryTransient(() => api.startAttempt(confirm.id), {
        onRetry: () => setStartNote(t.candidate.startBusy),
      });
      handOver({ attempt, paper, sentAt, receivedAt: Date.now() });
      navigate(`/exam/${attempt.id}`);
    } catch (err) {
      setError(err);
      setConfirm(null);
    } finally {
      setStarting(false);
      setStartNote(null);
    }
  };

  const user = session?.user;
  const bookedSessions = new Set((bookings ?? []).map((b) => b.sessionId));
  const bookedAssessments = new Set((bookings ?? []).map((b) => b.assessmentId));

  return (
    <Page title={t.candidate.hello(user?.name ?? '')} subtitle={user?.district ? t.candidate.district(user.district) : undefined}>
      <ErrorNotice error={error} onRetry={() => void loadBookings()} />
      {notice ? (
        <Notice kind="success">
          <p>{t.candidate.bookedNotice(notice.title)}</p>
          <p>
            {t.candidate.bookedCode} <code className="code-big">{notice.code}</code>
          </p>
        </Notice>
      ) : null}

      <section aria-labelledby="exams-heading">
        <h2 id="exams-heading">{t.candidate.yourExams}</h2>
        {bookings === null ? (
          <Loading />
        ) : bookings.length === 0 ? (
          <p>{t.candidate.noBookings}</p>
        ) : (
          <ul className="card-list">
            {bookings.map((b) => (
              <BookingCard key={b.id} booking={b} now={now} onStart={setConfirm} />
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="book-heading">
        <h2 id="book-heading">{t.candidate.bookTitle}</h2>
        <p className="muted">{t.candidate.bookHelp}</p>
        {showSessions === false ? (
          <button type="button" className="button-secondary" onClick={() => setShowSessions(true)}>
            {t.candidate.showSessions}
          </button>
        ) : sessions === null ? (
          <Loading />
        ) : sessions.length === 0 ? (
          <p>{t.candidate.noSessions}</p>
        ) : (
          <div className="table-wrap">
            <table className="sessions-table">
              <thead>
                <tr>
                  <th scope="col">{t.candidate.colSession}</th>
                  <th scope="col">{t.candidate.colWhen}</th>
                  <th scope="col">{t.candidate.colSeats}</th>
                  <th scope="col">{t.candidate.colAction}</th>
                </tr>
              </thead>
              <tbody>
                {sessions.map((s) => {
                  const mine = bookedSessions.has(s.id);
                  const otherForSame = !mine && bookedAssessments.has(s.assessmentId);
                  return (
                    <tr key={s.id} data-session-id={s.id}>
                      <th scope="row">
                        {s.title}
                        <div className="muted small">{s.assessmentTitle}</div>
                      </th>
                      <td>{formatWindow(s.startsAt, s.endsAt)}</td>
                      <td>
                        <span className="seats" data-testid="seats-left">
                          {s.seatsLeft > 0 ? t.candidate.seatsLeft(s.seatsLeft, s.capacity) : t.candidate.full}
                        </span>
                        <Bar value={s.booked} max={s.capacity} label={t.candidate.seatsLeft(s.seatsLeft, s.capacity)} />
                      </td>
                      <td>
                        {mine ? (
                          <span className="badge badge-ok">{t.candidate.booked}</span>
                        ) : (
                          <button
                            type="button"
                            className="button-primary button-small"
                            disabled={s.seatsLeft <= 0 || otherForSame || bookingId !== null}
                            aria-label={t.candidate.bookAria(s.title)}
                            onClick={() => void book(s)}
                          >
                            {bookingId === s.id ? t.candidate.booking : t.candidate.book}
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card how" aria-labelledby="how-heading">
        <h2 id="how-heading">{t.candidate.howTitle}</h2>
        <ol>
          {t.candidate.how.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ol>
      </section>

      <Dialog
        open={confirm !== null}
        title={t.candidate.startTitle}
        onClose={() => setConfirm(null)}
        actions={
          <>
            <button type="button" className="button-secondary" onClick={() => setConfirm(null)}>
              {t.candidate.notYet}
            </button>
            <button type="button" className="button-primary" disabled={starting} onClick={() => void start()}>
              {starting ? t.candidate.starting : t.candidate.startConfirm}
            </button>
          </>
        }
      >
        <p>{t.candidate.startBody}</p>
        <Notice kind="info">{startNote}</Notice>
      </Dialog>
    </Page>
  );
}
