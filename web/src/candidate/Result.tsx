/** The candidate's result: marking in progress, not released yet (and why), or the score per question. */
import { useEffect, useState } from 'react';
import { api } from '../lib/api.ts';
import { formatDateTime, formatNumber, percent } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import type { Attempt, AttemptResult, Paper } from '../lib/types.ts';
import { t } from '../strings.ts';
import { ErrorNotice, Loading, Page } from '../components/ui.tsx';

export function Result({ attemptId }: { attemptId: string }) {
  const [result, setResult] = useState<AttemptResult | null>(null);
  const [attempt, setAttempt] = useState<Attempt | null>(null);
  const [paper, setPaper] = useState<Paper | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let stop = false;
    let timer = 0;
    const poll = async (delay: number): Promise<void> => {
      try {
        const r = await api.result(attemptId);
        if (stop) return;
        setResult(r);
        setError(null);
        // Marking runs as a background job: ask again shortly, a little less often each time.
        if (r.status !== 'graded') timer = window.setTimeout(() => void poll(Math.min(delay * 1.5, 10_000)), delay);
      } catch (err) {
        if (!stop) setError(err);
      }
    };
    void poll(500);
    void api.attempt(attemptId).then((a) => !stop && setAttempt(a), () => undefined);
    void api.paper(attemptId).then((p) => !stop && setPaper(p), () => undefined);
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
