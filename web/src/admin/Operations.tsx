/** The operations page: queues, failed jobs with retry, AI budget, exams in progress, request latency. */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { ApiError, api } from '../lib/api.ts';
import { formatDateTime, formatNumber, formatTime } from '../lib/format.ts';
import type { Operations as Ops } from '../lib/types.ts';
import { useInterval } from '../lib/useSession.ts';
import { t } from '../strings.ts';
import { Bar, ErrorNotice, Loading, Notice, Page } from '../components/ui.tsx';

function Stat({ label, value, sub, children }: { label: string; value: string; sub?: string; children?: ReactNode }) {
  return (
    <div className="stat card">
      <h2 className="stat-label">{label}</h2>
      <p className="stat-value">{value}</p>
      {children}
      {sub ? <p className="muted small">{sub}</p> : null}
    </div>
  );
}

function breakerText(b: unknown): string {
  if (typeof b === 'string') return b;
  if (b && typeof b === 'object' && 'state' in b && typeof b.state === 'string') return b.state;
  return '—';
}

export function Operations() {
  const [ops, setOps] = useState<Ops | null>(null);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [retrying, setRetrying] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setOps(await api.operations());
      setUpdatedAt(Date.now());
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);
  useInterval(() => void load(), 5000);

  const retry = async (queue: string, id: string): Promise<void> => {
    setRetrying(id);
    try {
      await api.retryDeadLetter(queue, id);
      setNotice(t.operations.retried);
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setRetrying(null);
    }
  };

  const deadTotal = ops ? ops.queues.reduce((n, q) => n + q.dead, 0) : 0;
  return (
    <Page title={t.operations.title} wide subtitle={updatedAt ? t.operations.updated(formatTime(updatedAt)) : undefined}>
      {error instanceof ApiError && error.status === 404 ? <Notice kind="warning">{t.operations.unavailable}</Notice> : <ErrorNotice error={error} onRetry={() => void load()} />}
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {!ops ? (
        error ? null : <Loading />
      ) : (
        <>
          <div className="stats">
            <Stat label={t.operations.activeExams} value={formatNumber(ops.attempts.active)} sub={t.operations.submittedHour(ops.attempts.submittedLastHour)} />
            <Stat
              label={t.operations.p99}
              value={ops.http.p99Ms === null ? '—' : t.operations.ms(ops.http.p99Ms)}
              sub={t.operations.p99Sub(ops.http.requests)}
            />
            <Stat
              label={t.operations.aiToday}
              value={formatNumber(ops.ai.tokensToday)}
              sub={`${t.operations.aiSub(formatNumber(ops.ai.tokensToday), formatNumber(ops.ai.limits.tokensPerDay))} · ${t.operations.aiMinute(ops.ai.requestsLastMinute, ops.ai.limits.requestsPerMinute)} · ${t.operations.breaker(breakerText(ops.ai.breaker))}`}
            >
              <Bar value={ops.ai.tokensToday} max={ops.ai.limits.tokensPerDay} label={t.operations.aiSub(formatNumber(ops.ai.tokensToday), formatNumber(ops.ai.limits.tokensPerDay))} />
            </Stat>
            <Stat label={t.operations.deadTotal} value={formatNumber(deadTotal)} sub={t.operations.deadSub} />
          </div>

          <section aria-labelledby="queues-heading">
            <h2 id="queues-heading">{t.operations.queuesHeading}</h2>
            <div className="table-wrap">
              <table className="numbers">
                <thead>
                  <tr>
                    <th scope="col">{t.operations.colQueue}</th>
                    <th scope="col">{t.operations.colWaiting}</th>
                    <th scope="col">{t.operations.colActive}</th>
                    <th scope="col">{t.operations.colDelayed}</th>
                    <th scope="col">{t.operations.colDead}</th>
                  </tr>
                </thead>
                <tbody>
                  {ops.queues.map((q) => (
                    <tr key={q.queue}>
                      <th scope="row">{q.queue}</th>
                      <td>{formatNumber(q.waiting)}</td>
                      <td>{formatNumber(q.active)}</td>
                      <td>{formatNumber(q.delayed)}</td>
                      <td className={q.dead > 0 ? 'danger' : undefined}>{formatNumber(q.dead)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>

          <section aria-labelledby="dead-heading">
            <h2 id="dead-heading">{t.operations.deadHeading}</h2>
            {ops.deadLetters.length === 0 ? (
              <p>{t.operations.noDead}</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t.operations.colQueue}</th>
                      <th scope="col">{t.operations.colJob}</th>
                      <th scope="col">{t.operations.colAttempts}</th>
                      <th scope="col">{t.operations.colError}</th>
                      <th scope="col">{t.operations.colFailedAt}</th>
                      <th scope="col">
                        <span className="visually-hidden">{t.operations.retry}</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {ops.deadLetters.map((d) => (
                      <tr key={`${d.queue}/${d.id}`}>
                        <td>{d.queue}</td>
                        <td>
                          {d.name} <span className="muted small mono">{d.id}</span>
                        </td>
                        <td>{d.attempts}</td>
                        <td className="error-text">{d.error}</td>
                        <td className="nowrap">{formatDateTime(d.failedAt)}</td>
                        <td>
                          <button
                            type="button"
                            className="button-secondary button-small"
                            disabled={retrying !== null}
                            aria-label={t.operations.retryAria(d.name, d.id)}
                            onClick={() => void retry(d.queue, d.id)}
                          >
                            {t.operations.retry}
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
    </Page>
  );
}
