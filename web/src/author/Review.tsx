/**
 * Review generated questions beside the passage they cite: the page text with
 * the quoted passage highlighted. Edit, approve or reject one by one, or
 * approve many at once.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api } from '../lib/api.ts';
import { Link } from '../lib/router.tsx';
import type { Material, Question, QuestionStatus } from '../lib/types.ts';
import { t } from '../strings.ts';
import { ErrorNotice, Field, Loading, Notice, Page } from '../components/ui.tsx';

type Filter = 'all' | QuestionStatus;

/** Where the quote sits in the page text, ignoring differences in spacing and line breaks. */
export function findQuote(text: string, quote: string): [number, number] | null {
  const words = quote.trim().split(/\s+/).filter(Boolean);
  if (!words.length) return null;
  const pattern = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+');
  for (const flags of ['', 'i']) {
    const m = new RegExp(pattern, flags).exec(text);
    if (m) return [m.index, m.index + m[0].length];
  }
  return null;
}

function Passage({ materialId, page, quote }: { materialId: string; page: number; quote: string }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const box = useRef<HTMLDivElement>(null);
  const mark = useRef<HTMLElement>(null);

  useEffect(() => {
    let stop = false;
    setText(null);
    api.materialPage(materialId, page).then(
      (r) => !stop && setText(r.text),
      (err: unknown) => !stop && setError(err),
    );
    return () => {
      stop = true;
    };
  }, [materialId, page]);

  useEffect(() => {
    if (box.current && mark.current) box.current.scrollTop = Math.max(0, mark.current.offsetTop - box.current.clientHeight / 3);
  }, [text, quote]);

  const at = text ? findQuote(text, quote) : null;
  return (
    <section className="passage card" aria-labelledby="passage-heading">
      <h3 id="passage-heading">{t.review.sourceHeading(page)}</h3>
      <p className="hint">{t.review.sourceHelp}</p>
      <ErrorNotice error={error} />
      {text === null ? (
        <Loading />
      ) : at ? (
        <div className="passage-text" ref={box} tabIndex={0} aria-label={t.review.sourceHeading(page)}>
          {text.slice(0, at[0])}
          <mark ref={mark}>{text.slice(at[0], at[1])}</mark>
          {text.slice(at[1])}
        </div>
      ) : (
        <>
          <p>{t.review.quoteNotFound}</p>
          <blockquote>
            <mark>{quote}</mark>
          </blockquote>
          <div className="passage-text" ref={box} tabIndex={0} aria-label={t.review.sourceHeading(page)}>
            {text}
          </div>
        </>
      )}
    </section>
  );
}

interface Draft {
  stem: string;
  points: string;
  feedback: string;
  options: { id: string; text: string }[];
  correct: string | string[] | boolean | undefined;
  accepted: string;
  answer: string;
  tolerance: string;
}

const toDraft = (q: Question): Draft => ({
  stem: q.stem,
  points: String(q.points),
  feedback: q.feedback ?? '',
  options: q.options?.map((o) => ({ ...o })) ?? [],
  correct: q.correct,
  accepted: (q.accepted ?? []).join('\n'),
  answer: q.answer === undefined ? '' : String(q.answer),
  tolerance: q.tolerance === undefined ? '' : String(q.tolerance),
});

function patchOf(q: Question, d: Draft): Record<string, unknown> {
  const p: Record<string, unknown> = { stem: d.stem, points: Number(d.points), feedback: d.feedback.trim() ? d.feedback : null };
  if (q.type === 'single_choice' || q.type === 'multiple_response') {
    p.options = d.options;
    p.correct = d.correct;
  }
  if (q.type === 'true_false') p.correct = d.correct;
  if (q.type === 'short_text') p.accepted = d.accepted.split('\n').map((s) => s.trim()).filter(Boolean);
  if (q.type === 'numeric') {
    p.answer = Number(d.answer);
    p.tolerance = Number(d.tolerance || 0);
  }
  return p;
}

function Editor({ q, index, onChanged }: { q: Question; index: number; onChanged: (q: Question, message: string) => void }) {
  const [d, setD] = useState<Draft>(() => toDraft(q));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const dirty = JSON.stringify(d) !== JSON.stringify(toDraft(q));

  const run = async (fn: () => Promise<Question>, message: string): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const updated = await fn();
      setD(toDraft(updated));
      onChanged(updated, message);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const save = (): Promise<void> => run(() => api.patchQuestion(q.id, patchOf(q, d)), t.review.saved);
  const approve = (): Promise<void> =>
    run(async () => {
      if (dirty) await api.patchQuestion(q.id, patchOf(q, d));
      return api.approve(q.id);
    }, t.review.approved);
  const reject = (): Promise<void> => run(() => api.reject(q.id), t.review.rejected);
  const multi = q.type === 'multiple_response';
  const correctSet = new Set(Array.isArray(d.correct) ? d.correct : typeof d.correct === 'string' ? [d.correct] : []);

  return (
    <section className="editor card" aria-labelledby="editor-heading" data-question-id={q.id}>
      <div className="section-head">
        <h2 id="editor-heading">
          {t.review.editorHeading(index + 1)} <span className="muted small">· {t.types[q.type]}</span>
        </h2>
        <span className={`badge badge-${q.status}`}>{t.review.status[q.status]}</span>
        <div className="button-row editor-actions">
          <button type="button" className="button-primary" disabled={busy} onClick={() => void approve()}>
            {t.review.approve}
          </button>
          <button type="button" className="button-secondary" disabled={busy || !dirty} onClick={() => void save()}>
            {t.review.save}
          </button>
          <button type="button" className="button-danger" disabled={busy || q.status === 'rejected'} onClick={() => void reject()}>
            {t.review.reject}
          </button>
        </div>
      </div>
      <Field label={t.review.stem}>{(p) => <textarea {...p} rows={3} value={d.stem} onChange={(e) => setD({ ...d, stem: e.target.value })} />}</Field>
      {q.type === 'single_choice' || multi ? (
        <fieldset className="options-edit">
          <legend>{multi ? t.review.optionsLegendMulti : t.review.optionsLegend}</legend>
          {d.options.map((o, i) => (
            <div key={o.id} className="option-row">
              <input
                type={multi ? 'checkbox' : 'radio'}
                name={`correct-${q.id}`}
                checked={correctSet.has(o.id)}
                aria-label={t.review.correctOption(o.id)}
                onChange={() => {
                  if (!multi) return setD({ ...d, correct: o.id });
                  const next = new Set(correctSet);
                  if (next.has(o.id)) next.delete(o.id);
                  else next.add(o.id);
                  setD({ ...d, correct: d.options.map((x) => x.id).filter((id) => next.has(id)) });
                }}
              />
              <input
                type="text"
                aria-label={t.review.option(o.id)}
                value={o.text}
                onChange={(e) => {
                  const options = d.options.slice();
                  options[i] = { ...o, text: e.target.value };
                  setD({ ...d, options });
                }}
              />
            </div>
          ))}
        </fieldset>
      ) : null}
      {q.type === 'true_false' ? (
        <fieldset className="checks">
          <legend>{t.review.correctTf}</legend>
          {[true, false].map((v) => (
            <label key={String(v)} className="check">
              <input type="radio" name={`tf-${q.id}`} checked={d.correct === v} onChange={() => setD({ ...d, correct: v })} />{' '}
              {v ? t.exam.trueLabel : t.exam.falseLabel}
            </label>
          ))}
        </fieldset>
      ) : null}
      {q.type === 'short_text' ? (
        <Field label={t.review.accepted}>
          {(p) => <textarea {...p} rows={3} value={d.accepted} onChange={(e) => setD({ ...d, accepted: e.target.value })} />}
        </Field>
      ) : null}
      {q.type === 'numeric' ? (
        <div className="form-row">
          <Field label={t.review.numericAnswer}>
            {(p) => <input {...p} inputMode="decimal" value={d.answer} onChange={(e) => setD({ ...d, answer: e.target.value })} />}
          </Field>
          <Field label={t.review.tolerance}>
            {(p) => <input {...p} inputMode="decimal" value={d.tolerance} onChange={(e) => setD({ ...d, tolerance: e.target.value })} />}
          </Field>
        </div>
      ) : null}
      <div className="form-row">
        <Field label={t.review.points}>
          {(p) => <input {...p} type="number" min={0.01} step={0.5} className="input-short" value={d.points} onChange={(e) => setD({ ...d, points: e.target.value })} />}
        </Field>
      </div>
      <Field label={t.review.feedback}>{(p) => <textarea {...p} rows={2} value={d.feedback} onChange={(e) => setD({ ...d, feedback: e.target.value })} />}</Field>
      <ErrorNotice error={error} />
    </section>
  );
}

export function Review({ materialId }: { materialId: string }) {
  const [material, setMaterial] = useState<Material | null>(null);
  const [questions, setQuestions] = useState<Question[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState<Filter>('all');
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [checked, setChecked] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const [m, q] = await Promise.all([api.material(materialId), api.materialQuestions(materialId)]);
      setMaterial(m);
      setQuestions(q.items);
      setSelectedId((cur) => cur ?? q.items[0]?.id ?? null);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [materialId]);

  useEffect(() => {
    void load();
  }, [load]);

  const counts = useMemo(() => {
    const c = { draft: 0, approved: 0, rejected: 0 };
    for (const q of questions ?? []) c[q.status]++;
    return c;
  }, [questions]);
  const shown = (questions ?? []).filter((q) => filter === 'all' || q.status === filter);
  const selectedIndex = (questions ?? []).findIndex((q) => q.id === selectedId);
  const selected = selectedIndex >= 0 ? questions![selectedIndex]! : null;
  const drafts = (questions ?? []).filter((q) => q.status === 'draft').map((q) => q.id);

  const replace = (q: Question, message: string): void => {
    setQuestions((list) => (list ?? []).map((x) => (x.id === q.id ? { ...x, ...q } : x)));
    setNotice(message);
  };

  const bulk = async (ids: string[]): Promise<void> => {
    if (!ids.length) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.bulkApprove(ids);
      await load();
      setChecked(new Set());
      setNotice(t.review.bulkDone(r.approved));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const allShownChecked = shown.length > 0 && shown.every((q) => checked.has(q.id));
  const filters: { key: Filter; label: string }[] = [
    { key: 'all', label: t.review.all(questions?.length ?? 0) },
    { key: 'draft', label: t.review.filterStatus(t.review.status.draft!, counts.draft) },
    { key: 'approved', label: t.review.filterStatus(t.review.status.approved!, counts.approved) },
    { key: 'rejected', label: t.review.filterStatus(t.review.status.rejected!, counts.rejected) },
  ];

  return (
    <Page title={t.review.title(material?.filename ?? '…')} wide subtitle={t.review.intro}>
      <p>
        <Link to="/author">← {t.review.back}</Link>
      </p>
      <ErrorNotice error={error} onRetry={() => void load()} />
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {questions === null ? (
        <Loading />
      ) : questions.length === 0 ? (
        <p>{t.review.noneYet}</p>
      ) : (
        <>
          <div className="toolbar">
            <div className="segmented" role="group" aria-label={t.review.filter}>
              {filters.map((f) => (
                <button key={f.key} type="button" aria-pressed={filter === f.key} onClick={() => setFilter(f.key)}>
                  {f.label}
                </button>
              ))}
            </div>
            <div className="button-row">
              <button type="button" className="button-secondary" disabled={busy || checked.size === 0} onClick={() => void bulk([...checked])}>
                {t.review.approveSelected(checked.size)}
              </button>
              <button type="button" className="button-primary" disabled={busy || drafts.length === 0} onClick={() => void bulk(drafts)}>
                {t.review.approveAllDrafts(drafts.length)}
              </button>
            </div>
          </div>
          <div className="review-grid">
            <section className="review-list" aria-labelledby="qlist-heading">
              <h2 id="qlist-heading" className="visually-hidden">
                {t.review.listLabel}
              </h2>
              <label className="check select-all">
                <input
                  type="checkbox"
                  checked={allShownChecked}
                  onChange={() => setChecked(allShownChecked ? new Set() : new Set(shown.map((q) => q.id)))}
                />{' '}
                {t.review.selectAll}
              </label>
              {shown.length === 0 ? <p>{t.review.none}</p> : null}
              <ul>
                {shown.map((q) => {
                  const i = questions.indexOf(q);
                  return (
                    <li key={q.id} className={q.id === selectedId ? 'review-item is-selected' : 'review-item'} data-status={q.status}>
                      <input
                        type="checkbox"
                        aria-label={t.review.select(i + 1)}
                        checked={checked.has(q.id)}
                        onChange={() =>
                          setChecked((s) => {
                            const n = new Set(s);
                            if (n.has(q.id)) n.delete(q.id);
                            else n.add(q.id);
                            return n;
                          })
                        }
                      />
                      <button type="button" className="review-pick" aria-current={q.id === selectedId ? 'true' : undefined} onClick={() => setSelectedId(q.id)}>
                        <span className="review-meta">
                          <span className="q-number">{i + 1}.</span> <span className={`badge badge-${q.status}`}>{t.review.status[q.status]}</span>{' '}
                          <span className="muted small">
                            {t.types[q.type]}
                            {q.source?.page ? ` · ${t.review.page(q.source.page)}` : ''}
                          </span>
                        </span>
                        <span className="review-stem">{q.stem}</span>
                      </button>
                    </li>
                  );
                })}
              </ul>
            </section>
            <div className="review-detail">
              {selected ? (
                <>
                  {selected.source?.page && selected.source.quote ? (
                    <Passage materialId={selected.source.materialId ?? materialId} page={selected.source.page} quote={selected.source.quote} />
                  ) : (
                    <p className="card">{t.review.noSource}</p>
                  )}
                  <Editor key={selected.id + selected.status} q={selected} index={selectedIndex} onChanged={replace} />
                </>
              ) : (
                <p className="card">{t.review.pick}</p>
              )}
            </div>
          </div>
        </>
      )}
    </Page>
  );
}
