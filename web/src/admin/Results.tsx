/** Results of an assessment: score distribution per district, per-question facility and discrimination, CSV export. */
import { useEffect, useState } from 'react';
import { ApiError, api, download } from '../lib/api.ts';
import { formatNumber } from '../lib/format.ts';
import type { Assessment, AssessmentResults } from '../lib/types.ts';
import { t } from '../strings.ts';
import { ErrorNotice, Field, Loading, Notice, Page } from '../components/ui.tsx';
import { Histogram } from './Histogram.tsx';

const num = (n: number | null, digits = 1): string => (n === null ? '—' : formatNumber(n, digits));

export function Results() {
  const [assessments, setAssessments] = useState<Assessment[] | null>(null);
  const [id, setId] = useState(() => new URLSearchParams(window.location.search).get('assessment') ?? '');
  const [results, setResults] = useState<AssessmentResults | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    api.assessments().then(
      (p) => {
        const published = p.items.filter((a) => a.latestVersion > 0);
        setAssessments(published);
        setId((cur) => cur || published[0]?.id || '');
      },
      (err: unknown) => setError(err),
    );
  }, []);

  useEffect(() => {
    if (!id) return;
    let stop = false;
    setLoading(true);
    setResults(null);
    setError(null);
    api.results(id).then(
      (r) => {
        if (!stop) setResults(r);
      },
      (err: unknown) => {
        if (!stop) setError(err);
      },
    ).finally(() => !stop && setLoading(false));
    const u = new URL(window.location.href);
    u.searchParams.set('assessment', id);
    window.history.replaceState(null, '', u);
    return () => {
      stop = true;
    };
  }, [id]);

  return (
    <Page title={t.results.title} wide subtitle={t.results.intro}>
      {assessments === null ? (
        <Loading />
      ) : assessments.length === 0 ? (
        <p>{t.results.none}</p>
      ) : (
        <div className="toolbar">
          <Field label={t.results.chooseLabel}>
            {(p) => (
              <select {...p} value={id} onChange={(e) => setId(e.target.value)}>
                <option value="" disabled>
                  {t.results.choose}
                </option>
                {assessments.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.title}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {results ? (
            <button type="button" className="button-secondary" onClick={() => void download(`/assessments/${id}/results.csv`, 'results.csv').catch(setError)}>
              {t.results.csv}
            </button>
          ) : null}
        </div>
      )}
      {error instanceof ApiError && error.status === 404 ? <Notice kind="warning">{t.results.unavailable}</Notice> : <ErrorNotice error={error} />}
      {loading ? <Loading /> : null}
      {results ? (
        <>
          <p className="lead">{t.results.summary(results.submitted, results.attempts, results.maxScore)}</p>
          <section aria-labelledby="districts-heading">
            <h2 id="districts-heading">{t.results.districtsHeading}</h2>
            {results.districts.length === 0 ? <p>{t.results.noSubmissions}</p> : null}
            <div className="district-grid">
              {results.districts.map((d) => (
                <article key={d.district} className="card district" aria-labelledby={`d-${d.district}`}>
                  <h3 id={`d-${d.district}`}>{t.results.district(d.district)}</h3>
                  <dl className="kv">
                    <div>
                      <dt>{t.results.stats.candidates}</dt>
                      <dd>{d.candidates}</dd>
                    </div>
                    <div>
                      <dt>{t.results.stats.submitted}</dt>
                      <dd>{d.submitted}</dd>
                    </div>
                    <div>
                      <dt>{t.results.stats.mean}</dt>
                      <dd>{num(d.mean)}</dd>
                    </div>
                    <div>
                      <dt>{t.results.stats.median}</dt>
                      <dd>{num(d.median)}</dd>
                    </div>
                    <div>
                      <dt>{t.results.stats.range}</dt>
                      <dd>
                        {num(d.min)} – {num(d.max)}
                      </dd>
                    </div>
                  </dl>
                  <Histogram bins={d.histogram} label={t.results.chartLabel(d.district)} />
                </article>
              ))}
            </div>
          </section>
          <section aria-labelledby="questions-heading">
            <h2 id="questions-heading">{t.results.questionsHeading}</h2>
            <p className="hint">{t.results.facilityHelp}</p>
            <p className="hint">{t.results.discriminationHelp}</p>
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t.results.colQuestion}</th>
                    <th scope="col">{t.results.colType}</th>
                    <th scope="col">{t.results.colResponses}</th>
                    <th scope="col">{t.results.colFacility}</th>
                    <th scope="col">{t.results.colDiscrimination}</th>
                  </tr>
                </thead>
                <tbody>
                  {results.questions.map((q, i) => (
                    <tr key={q.questionId}>
                      <td>
                        <span className="q-number">{i + 1}.</span> {q.stem}
                      </td>
                      <td>{t.types[q.type] ?? q.type}</td>
                      <td className="num">{q.responses}</td>
                      <td className="num">
                        {num(q.facility, 2)}
                        {q.facility !== null ? <Bar01 value={q.facility} /> : null}
                      </td>
                      <td className="num">
                        {num(q.discrimination, 2)}{' '}
                        {q.discrimination !== null && q.discrimination < 0.2 ? <span className="badge badge-warn">{t.results.check}</span> : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      ) : null}
    </Page>
  );
}

function Bar01({ value }: { value: number }) {
  return (
    <span className="mini-bar" aria-hidden="true">
      <span style={{ width: `${Math.max(0, Math.min(1, value)) * 100}%` }} />
    </span>
  );
}
