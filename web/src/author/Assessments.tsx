/** Build an assessment from approved questions, publish it, download it as QTI, release results. */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, download } from '../lib/api.ts';
import { Link } from '../lib/router.tsx';
import type { Assessment, AssessmentDetail, Question, ReleasePolicy } from '../lib/types.ts';
import { t } from '../strings.ts';
import { ErrorNotice, Field, Loading, Notice, Page } from '../components/ui.tsx';

const POLICIES: ReleasePolicy[] = ['on_submit', 'after_session', 'manual'];

async function allApproved(): Promise<Question[]> {
  const out: Question[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.questions({ status: 'approved', limit: 200, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && out.length < 2000);
  return out;
}

export function Assessments() {
  const [list, setList] = useState<AssessmentDetail[] | null>(null);
  const [approved, setApproved] = useState<Question[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [minutes, setMinutes] = useState('30');
  const [policy, setPolicy] = useState<ReleasePolicy>('on_submit');
  const [shuffleItems, setShuffleItems] = useState(true);
  const [shuffleOptions, setShuffleOptions] = useState(true);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [formError, setFormError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      const page = await api.assessments();
      const details = await Promise.all(page.items.map((a: Assessment) => api.assessment(a.id)));
      setList(details);
      setApproved(await allApproved());
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setFormError(null);
    setNotice(null);
    if (chosen.size === 0) {
      setFormError(new Error(t.assessments.needQuestions));
      return;
    }
    setBusy('create');
    try {
      const a = await api.createAssessment({
        title: title.trim(),
        description,
        timeLimitS: Math.round(Number(minutes) * 60),
        shuffleItems,
        shuffleOptions,
        releasePolicy: policy,
        items: (approved ?? []).filter((q) => chosen.has(q.id)).map((q) => ({ questionId: q.id })),
      });
      setNotice(t.assessments.created(a.title));
      setTitle('');
      setDescription('');
      setChosen(new Set());
      await load();
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(null);
    }
  };

  const act = async (id: string, fn: () => Promise<string>): Promise<void> => {
    setBusy(id);
    setError(null);
    try {
      setNotice(await fn());
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Page title={t.assessments.title} subtitle={t.assessments.intro}>
      <ErrorNotice error={error} onRetry={() => void load()} />
      {notice ? <Notice kind="success">{notice}</Notice> : null}

      <section aria-labelledby="list-heading">
        <h2 id="list-heading">{t.assessments.listHeading}</h2>
        {list === null ? (
          <Loading />
        ) : list.length === 0 ? (
          <p>{t.assessments.none}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.assessments.colTitle}</th>
                  <th scope="col">{t.assessments.colState}</th>
                  <th scope="col">{t.assessments.colActions}</th>
                </tr>
              </thead>
              <tbody>
                {list.map((a) => {
                  const latest = a.versions.reduce<AssessmentDetail['versions'][number] | undefined>((m, v) => (!m || v.version > m.version ? v : m), undefined);
                  const edited = Date.parse(a.updatedAt);
                  // Releasing results also touches updatedAt; that is not a change to publish.
                  const byRelease = a.resultsReleasedAt !== null && Math.abs(edited - Date.parse(a.resultsReleasedAt)) < 1000;
                  const changed = latest ? edited > Date.parse(latest.publishedAt) + 1000 && !byRelease : true;
                  return (
                    <tr key={a.id} data-assessment-id={a.id}>
                      <th scope="row">
                        {a.title}
                        <div className="muted small">
                          {t.assessments.items(a.items.length)} · {t.assessments.minutes(Math.round(a.timeLimitS / 60))} · {t.assessments.release[a.releasePolicy]}
                        </div>
                      </th>
                      <td>
                        {latest ? (
                          <span className="badge badge-ok">{t.assessments.published(latest.version, latest.questionCount, latest.maxScore)}</span>
                        ) : (
                          <span className="badge badge-draft">{t.assessments.draft}</span>
                        )}
                        {latest && changed ? <div className="muted small">{t.assessments.changed}</div> : null}
                      </td>
                      <td>
                        <div className="button-row">
                          {!latest || changed ? (
                            <button
                              type="button"
                              className="button-primary button-small"
                              disabled={busy !== null}
                              aria-label={t.assessments.publishAria(a.title)}
                              onClick={() =>
                                void act(a.id, async () => {
                                  const v = await api.publish(a.id);
                                  return t.assessments.publishedNotice(a.title, v.version);
                                })
                              }
                            >
                              {t.assessments.publish}
                            </button>
                          ) : null}
                          {latest ? (
                            <>
                              <Link to={`/author/sessions?assessment=${a.id}`} className="button button-secondary button-small">
                                {t.assessments.schedule}
                              </Link>
                              <button
                                type="button"
                                className="button-secondary button-small"
                                aria-label={t.assessments.qtiAria(a.title)}
                                onClick={() => void download(`/assessments/${a.id}/versions/${latest.version}/qti`, `assessment-v${latest.version}-qti21.zip`).catch(setError)}
                              >
                                {t.assessments.qti}
                              </button>
                            </>
                          ) : null}
                          {latest && a.releasePolicy === 'manual' && !a.resultsReleasedAt ? (
                            <button
                              type="button"
                              className="button-secondary button-small"
                              disabled={busy !== null}
                              onClick={() =>
                                void act(a.id, async () => {
                                  await api.releaseResults(a.id);
                                  return t.assessments.releasedNotice;
                                })
                              }
                            >
                              {t.assessments.releaseResults}
                            </button>
                          ) : null}
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="new-heading">
        <h2 id="new-heading">{t.assessments.newHeading}</h2>
        <form onSubmit={(e) => void create(e)}>
          <Field label={t.assessments.titleLabel}>{(p) => <input {...p} value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />}</Field>
          <Field label={t.assessments.descriptionLabel}>
            {(p) => <textarea {...p} rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />}
          </Field>
          <div className="form-row">
            <Field label={t.assessments.timeLabel}>
              {(p) => <input {...p} type="number" min={1} max={1440} className="input-short" value={minutes} onChange={(e) => setMinutes(e.target.value)} required />}
            </Field>
            <Field label={t.assessments.releaseLabel}>
              {(p) => (
                <select {...p} value={policy} onChange={(e) => setPolicy(e.target.value as ReleasePolicy)}>
                  {POLICIES.map((x) => (
                    <option key={x} value={x}>
                      {t.assessments.release[x]}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          <label className="check">
            <input type="checkbox" checked={shuffleItems} onChange={(e) => setShuffleItems(e.target.checked)} /> {t.assessments.shuffleItems}
          </label>
          <label className="check">
            <input type="checkbox" checked={shuffleOptions} onChange={(e) => setShuffleOptions(e.target.checked)} /> {t.assessments.shuffleOptions}
          </label>
          <fieldset className="question-picker">
            <legend>{t.assessments.questionsLegend(chosen.size)}</legend>
            {approved === null ? (
              <Loading />
            ) : approved.length === 0 ? (
              <p>{t.assessments.noApproved}</p>
            ) : (
              <>
                <div className="button-row">
                  <button type="button" className="button-quiet button-small" onClick={() => setChosen(new Set(approved.map((q) => q.id)))}>
                    {t.assessments.selectAll}
                  </button>
                  <button type="button" className="button-quiet button-small" onClick={() => setChosen(new Set())}>
                    {t.assessments.selectNone}
                  </button>
                </div>
                <ul className="picker-list">
                  {approved.map((q) => (
                    <li key={q.id}>
                      <label className="check">
                        <input
                          type="checkbox"
                          checked={chosen.has(q.id)}
                          onChange={() =>
                            setChosen((s) => {
                              const n = new Set(s);
                              if (n.has(q.id)) n.delete(q.id);
                              else n.add(q.id);
                              return n;
                            })
                          }
                        />{' '}
                        <span>
                          {q.stem} <span className="muted small">({t.types[q.type]})</span>
                        </span>
                      </label>
                    </li>
                  ))}
                </ul>
              </>
            )}
          </fieldset>
          <ErrorNotice error={formError} />
          <button type="submit" className="button-primary" disabled={busy !== null}>
            {t.assessments.create}
          </button>
        </form>
      </section>
    </Page>
  );
}
