/**
 * The exam screen. Answers go to the outbox (this browser's storage) first
 * and to the server from there; the screen always says which answers the
 * server has and which are still waiting. The countdown follows the server's
 * deadline; a reload or another device resumes where the server left off.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, NetworkError, api } from '../lib/api.ts';
import { AutosaveEngine, type SaveStatus } from '../lib/autosave.ts';
import { ServerClock } from '../lib/clock.ts';
import { AnswerOutbox } from '../lib/outbox.ts';
import { navigate } from '../lib/router.tsx';
import type { Attempt, Paper } from '../lib/types.ts';
import { useOnline } from '../lib/useSession.ts';
import { t } from '../strings.ts';
import { Dialog, ErrorNotice, Loading, Notice } from '../components/ui.tsx';
import { AnswerInput } from './QuestionView.tsx';
import { Navigator } from './Navigator.tsx';
import { SaveIndicator } from './SaveIndicator.tsx';
import { Timer } from './Timer.tsx';
import { handOver, takeOver } from './handoff.ts';

const TYPING_DEBOUNCE_MS = 700;

interface Loaded {
  attempt: Attempt;
  paper: Paper;
}

const isAnswered = (v: unknown): boolean => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== '';

export function Exam({ attemptId }: { attemptId: string }) {
  const outbox = useMemo(() => new AnswerOutbox(attemptId), [attemptId]);
  const clock = useMemo(() => new ServerClock(), []);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [engine, setEngine] = useState<AutosaveEngine | null>(null);
  const [status, setStatus] = useState<SaveStatus | null>(null);
  const [, setVersion] = useState(0);
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [confirmOpen, setConfirmOpen] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [timeUp, setTimeUp] = useState(false);
  const [announcement, setAnnouncement] = useState('');
  const online = useOnline();
  const questionHeading = useRef<HTMLHeadingElement>(null);
  const rerender = useCallback(() => setVersion((v) => v + 1), []);
  const announce = useCallback((msg: string) => setAnnouncement(msg), []);

  const load = useCallback(async () => {
    setLoadError(null);
    try {
      // Just started on the previous page: its answer is the attempt and its paper (handoff.ts);
      // after a reload or on another device one request brings both.
      const started = takeOver(attemptId);
      const sentAt = Date.now();
      const { paper: sentPaper, ...attempt } = started ? { ...started.attempt, paper: started.paper } : await api.resume(attemptId);
      clock.observe(attempt.serverTime, started?.sentAt ?? sentAt, started?.receivedAt ?? Date.now());
      if (attempt.status !== 'in_progress') {
        outbox.clear();
        navigate(`/result/${attemptId}`, { replace: true });
        return;
      }
      const paper = sentPaper ?? (await api.paper(attemptId));
      outbox.mergeServer(attempt.answers);
      setLoaded({ attempt, paper });
    } catch (err) {
      setLoadError(err);
    }
  }, [attemptId, clock, outbox]);

  useEffect(() => {
    void load();
  }, [load]);

  // While the first load fails for lack of network, keep trying quietly.
  useEffect(() => {
    if (!(loadError instanceof NetworkError)) return;
    const id = window.setTimeout(() => void load(), online ? 3000 : 1000);
    return () => window.clearTimeout(id);
  }, [loadError, load, online]);

  useEffect(() => {
    if (!loaded) return;
    const e = new AutosaveEngine(outbox, (answers) => api.saveAnswers(attemptId, answers), {
      onServerTime: (s, a, b) => clock.observe(s, a, b),
    });
    let previous: SaveStatus['state'] | null = null;
    const off = e.subscribe((s) => {
      setStatus(s);
      if (previous === 'offline' && s.state !== 'offline') announce(t.save.backOnline);
      if (previous && previous !== 'idle' && s.state === 'idle' && s.waiting === 0) announce(t.save.allSent);
      if (s.state === 'offline' && previous !== 'offline') announce(t.save.offline(s.waiting));
      previous = s.state;
      rerender();
    });
    e.start();
    setEngine(e);
    return () => {
      off();
      e.stop();
    };
  }, [loaded, outbox, attemptId, clock, announce, rerender]);

  // Leaving with answers the server does not have yet: let the browser ask first.
  useEffect(() => {
    const onLeave = (ev: BeforeUnloadEvent): void => {
      if (outbox.pendingCount() > 0) {
        ev.preventDefault();
        ev.returnValue = t.exam.leaveWarning;
      }
    };
    window.addEventListener('beforeunload', onLeave);
    return () => window.removeEventListener('beforeunload', onLeave);
  }, [outbox]);

  const submit = useCallback(async () => {
    setSubmitting(true);
    setSubmitError(null);
    try {
      await engine?.flush();
      const sentAt = Date.now();
      const submitted = await api.submit(attemptId, outbox.pending(200));
      engine?.close();
      outbox.clear();
      handOver({ attempt: submitted, ...(loaded ? { paper: loaded.paper } : {}), sentAt, receivedAt: Date.now() });
      navigate(`/result/${attemptId}`);
    } catch (err) {
      setSubmitError(err instanceof ApiError && err.code !== 'attempt_closed' ? err.message : t.exam.submitFailed);
      setSubmitting(false);
    }
  }, [attemptId, engine, outbox, loaded]);

  const onTimeUp = useCallback(() => {
    setTimeUp(true);
    announce(t.exam.timeUp);
    if (navigator.onLine) void submit();
  }, [announce, submit]);

  // Time ran out while offline: submit as soon as the connection returns.
  const wasOnline = useRef(online);
  useEffect(() => {
    if (timeUp && online && !wasOnline.current) void submit();
    wasOnline.current = online;
  }, [online, timeUp, submit]);

  if (!loaded) {
    return (
      <div className="exam-loading">
        {loadError ? <ErrorNotice error={loadError} onRetry={() => void load()} /> : <Loading label={t.exam.loading} />}
      </div>
    );
  }

  const { paper } = loaded;
  const state = outbox.state();
  const questions = paper.questions;
  if (questions.length === 0) return <div className="exam-loading"><Notice kind="warning">{t.exam.noQuestions}</Notice></div>;
  const current = Math.min(Math.max(0, state.current), questions.length - 1);
  const q = questions[current]!;
  const answers = state.answers;
  const answered = new Set(questions.filter((x) => isAnswered(answers[x.id]?.value)).map((x) => x.id));
  const flagged = new Set(state.flags);
  const waiting = new Set(Object.entries(answers).filter(([, a]) => a.seq > a.ackedSeq).map(([id]) => id));
  const local = answers[q.id];
  const closed = status?.state === 'closed';

  const go = (i: number): void => {
    outbox.setCurrent(i);
    rerender();
    window.requestAnimationFrame(() => questionHeading.current?.focus());
  };
  const answer = (value: unknown, typing: boolean): void => {
    if (closed) return;
    outbox.setAnswer(q.id, value);
    rerender();
    engine?.changed(typing ? TYPING_DEBOUNCE_MS : 0);
  };
  const unansweredList = questions.map((x, i) => (answered.has(x.id) ? null : i + 1)).filter((x): x is number => x !== null);
  const flaggedList = questions.map((x, i) => (flagged.has(x.id) ? i + 1 : null)).filter((x): x is number => x !== null);
  const headingId = `q-${q.id}-heading`;

  return (
    <div className="exam">
      <header className="exam-bar">
        <div className="exam-title">
          <h1>{paper.title}</h1>
          <span className="muted">{t.exam.questionOf(current + 1, questions.length)}</span>
        </div>
        <Timer deadline={loaded.attempt.deadline} clock={clock} onTimeUp={onTimeUp} announce={announce} />
        {status ? <SaveIndicator status={status} /> : null}
      </header>
      <div className="visually-hidden" aria-live="polite" role="status">
        {announcement}
      </div>
      {timeUp ? <Notice kind="warning">{online ? t.exam.timeUp : t.exam.timeUpOffline}</Notice> : null}
      {closed && !timeUp ? <Notice kind="warning">{t.exam.closed}</Notice> : null}
      {status && !status.persistent ? <Notice kind="warning">{t.exam.storageWarning}</Notice> : null}

      <div className="exam-body">
        <Navigator questions={questions} current={current} answered={answered} flagged={flagged} waiting={waiting} onGo={go} />
        <section className="question" aria-labelledby={headingId} data-question-id={q.id}>
          <h2 id={headingId} ref={questionHeading} tabIndex={-1} className="question-heading">
            {t.exam.questionOf(current + 1, questions.length)}
            <span className="question-points">{t.exam.points(q.points)}</span>
            {flagged.has(q.id) ? <span className="badge badge-warn">{t.exam.legendFlagged}</span> : null}
          </h2>
          <p className="stem" id={`q-${q.id}-stem`}>
            {q.stem}
          </p>
          <AnswerInput
            key={q.id}
            q={q}
            value={local?.value}
            order={paper.optionOrder[q.id]}
            draft={drafts[q.id]}
            onAnswer={answer}
            onDraft={(s) => setDrafts((d) => ({ ...d, [q.id]: s }))}
            labelledBy={`q-${q.id}-stem`}
          />
          {local?.rejected && local.seq > local.ackedSeq ? <Notice kind="error">{t.exam.refused(local.rejected)}</Notice> : null}
          <div className="question-tools">
            <button
              type="button"
              className="button-quiet"
              aria-pressed={flagged.has(q.id)}
              onClick={() => {
                outbox.toggleFlag(q.id);
                rerender();
              }}
            >
              <span aria-hidden="true">⚑ </span>
              {flagged.has(q.id) ? t.exam.unflag : t.exam.flag}
            </button>
            {isAnswered(local?.value) ? (
              <button
                type="button"
                className="button-quiet"
                onClick={() => {
                  setDrafts((d) => ({ ...d, [q.id]: '' }));
                  answer(null, false);
                }}
              >
                {t.exam.clear}
              </button>
            ) : null}
          </div>
          <div className="question-nav">
            <button type="button" className="button-secondary" disabled={current === 0} onClick={() => go(current - 1)}>
              <span aria-hidden="true">← </span>
              {t.exam.previous}
            </button>
            {current < questions.length - 1 ? (
              <button type="button" className="button-primary" onClick={() => go(current + 1)}>
                {t.exam.next}
                <span aria-hidden="true"> →</span>
              </button>
            ) : (
              <button type="button" className="button-primary" onClick={() => setConfirmOpen(true)}>
                {t.exam.review}
              </button>
            )}
          </div>
        </section>
      </div>
      <footer className="exam-footer">
        <button type="button" className="button-finish" onClick={() => setConfirmOpen(true)} disabled={submitting}>
          {t.exam.finish}
        </button>
      </footer>

      <Dialog
        open={confirmOpen}
        title={t.exam.submitTitle}
        onClose={() => setConfirmOpen(false)}
        actions={
          <>
            <button type="button" className="button-secondary" onClick={() => setConfirmOpen(false)}>
              {t.exam.keepWorking}
            </button>
            <button type="button" className="button-primary" disabled={submitting || !online} onClick={() => void submit()}>
              {submitting ? t.exam.submitting : t.exam.submitConfirm}
            </button>
          </>
        }
      >
        <p>
          <strong>{t.exam.submitAnswered(answered.size, questions.length)}</strong>
        </p>
        {unansweredList.length ? <p>{t.exam.submitUnanswered(unansweredList)}</p> : null}
        {flaggedList.length ? <p>{t.exam.submitFlagged(flaggedList)}</p> : null}
        {online && waiting.size > 0 ? <p>{t.exam.submitWaiting(waiting.size)}</p> : null}
        {!online ? <Notice kind="warning">{t.exam.submitOffline}</Notice> : null}
        {submitError ? <Notice kind="error">{submitError}</Notice> : null}
        <p>{t.exam.submitFinal}</p>
      </Dialog>
    </div>
  );
}
