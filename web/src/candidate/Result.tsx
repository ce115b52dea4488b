/** The candidate's result: marking in progress, not released yet (and why), or the score per question. */
import { useEffect, useState } from 'react';
import { ApiError, api } from '../lib/api.ts';
import { formatDateTime, formatNumber, percent } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import type { Attempt, AttemptResult, Paper } from '../lib/types.ts';
import { t } from '../strings.ts';
import { ErrorNotice, Loading, Page } from '../components/ui.tsx';
import { takeOver } from './handoff.ts';

/**
 * Marking runs as a background job, so the page asks until the attempt is
 * graded: first when the submit's answer says marking should be done, then
 * each ask about twice as long after the one before (with jitter, at most
 * MAX_ASK_MS, or longer when the server says so). At the end of an exam every candidate arrives here
 * within the same minute; asking every half second would multiply the
 * server's load just as it is busiest.
 */
// The load harness asks on the same schedule (src/loadtest/client-paths.ts, RESULT_ASKS).
const FIRST_ASK_MS = 3000;
const MAX_ASK_MS = 30_000;
const jittered = (ms: number): number => ms * (0.75 + Math.random() * 0.5);

export function Result({ attemptId }: { attemptId: string }) {
  const [result, setResult] = useState<AttemptResult | null>(null);
  const [attempt, setAttempt] = useState<Attempt | null>(null);
  const [paper, setPaper] = useState<Paper | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let stop = false;
    let timer = 0;
    const ask = async (next: number): Promise<void> => {
      try {
        const r = await api.result(attemptId);
        if (stop) return;
        setResult(r);
        setError(null);
        if (r.status !== 'graded') {
          // The server says when marking should be done (it may be held back while the server is busy).
          const hint = !r.released && r.askAgainInS ? r.askAgainInS * 1000 : 0;
          timer = window.setTimeout(() => void ask(Math.min(next * 2, MAX_ASK_MS)), jittered(Math.max(next, hint)));
        }
      } catch (err) {
        if (stop) return;
        // A busy server says when to come back: wait at least that long, quietly.
        if (err instanceof ApiError && (err.status === 503 || err.status === 429)) {
          const wait = Math.max(next, (err.retryAfterS ?? 0) * 1000);
          timer = window.setTimeout(() => void ask(Math.min(next * 2, MAX_ASK_MS)), jittered(wait));
          return;
        }
        setError(err);
      }
    };
    // Just submitted: the submit's answer and the paper on screen came along
    // (handoff.ts), and marking has barely started. The submit's answer says
    // when marking should be done (later while the server is at its busiest).
    const handed = takeOver(attemptId);
    if (handed) {
      setAttempt(handed.attempt);
      if (handed.paper) setPaper(handed.paper);
      const first = handed.attempt.askResultInS ? handed.attempt.askResultInS * 1000 : FIRST_ASK_MS;
      timer = window.setTimeout(() => void ask(FIRST_ASK_MS * 2), jittered(first));
    } else {
      void ask(FIRST_ASK_MS);
      void api.attempt(attemptId).then((a) => !stop && setAttempt(a), () => undefined);
    }
    if (!handed?.paper) void api.paper(attemptId).then((p) => !stop && setPaper(p), () => undefined);
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
  }, [attemptId, reload]);

  const stems = new Map((paper?.questions ?? []).map((q, i) => [q.id, { n: i + 1, stem: q.stem }]));

  return (
    <Page title={paper ? `${t.result.title}: ${paper.title}` : t.result.title}>
      <ErrorNotice error={error} onRetry={() => setReload((n) => n + 1)} />
      {attempt?.submittedAt ? <p className="muted">{t.result.submittedAt(formatDateTime(attempt.submittedAt))}</p> : null}
      {!result ? (
        <Loading />
      ) : result.status !== 'graded' ? (
        <Loading label={t.result.marking} />
      ) : !result.released ? (
        <p className="notice notice-info">{t.result.notReleased(result.reason)}</p>
      ) : (
        <>
          <div className="score card" data-testid="score">
            <span className="score-big">{t.result.score(formatNumber(result.score, 2).replace(/[.,]00$/, ''), formatNumber(result.maxScore, 2).replace(/[.,]00$/, ''))}</span>
            <span className="score-pct">{percent(result.score, result.maxScore)}</span>
            <p>{t.result.summary(result.grading.correctCount, result.grading.answeredCount, result.grading.questions.length)}</p>
          </div>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.result.colQuestion}</th>
                  <th scope="col">{t.result.colScore}</th>
                </tr>
              </thead>
              <tbody>
                {result.grading.questions.map((g, i) => {
                  const s = stems.get(g.questionId);
                  const verdict = !g.answered ? t.result.unanswered : g.correct ? t.result.correct : g.score > 0 ? t.result.partly : t.result.wrong;
                  const tone = !g.answered ? 'muted' : g.correct ? 'ok' : g.score > 0 ? 'warn' : 'danger';
                  return (
                    <tr key={g.questionId}>
                      <td>
                        <span className="q-number">{s?.n ?? i + 1}.</span> {s?.stem ?? ''}
                      </td>
                      <td className="nowrap">
                        {formatNumber(g.score, 2).replace(/[.,]00$/, '')} / {formatNumber(g.maxScore, 2).replace(/[.,]00$/, '')}{' '}
                        <span className={`badge badge-${tone}`}>{verdict}</span>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
      <p>
        <Link to="/candidate">{t.result.back}</Link>
      </p>
    </Page>
  );
}
