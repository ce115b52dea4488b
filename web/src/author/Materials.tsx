/** Upload PDFs (with a progress bar) and watch each one's processing live over Server-Sent Events. */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, uploadWithProgress } from '../lib/api.ts';
import { formatBytes, formatDateTime } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import { streamEvents } from '../lib/sse.ts';
import type { Material, Page as ListPage, QuestionType } from '../lib/types.ts';
import { t } from '../strings.ts';
import { ErrorNotice, Field, Loading, Notice, Page } from '../components/ui.tsx';
import { Pipeline } from './Pipeline.tsx';

const TYPES: QuestionType[] = ['single_choice', 'true_false', 'short_text', 'multiple_response', 'numeric'];
const DEFAULT_TYPES = new Set<QuestionType>(['single_choice', 'true_false', 'short_text']);

export function Materials() {
  const [materials, setMaterials] = useState<Material[] | null>(null);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [file, setFile] = useState<File | null>(null);
  const [count, setCount] = useState('5');
  const [types, setTypes] = useState<Set<QuestionType>>(DEFAULT_TYPES);
  const [progress, setProgress] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const upsert = useCallback((m: Material) => {
    setMaterials((list) => {
      const items = list ?? [];
      const i = items.findIndex((x) => x.id === m.id);
      if (i < 0) return [m, ...items];
      // Never let an older update overwrite a newer one.
      if (items[i]!.updatedAt > m.updatedAt) return items;
      const next = items.slice();
      next[i] = m;
      return next;
    });
  }, []);

  useEffect(() => {
    void api.materials().then(
      (p) => setMaterials((cur) => cur ?? p.items),
      (err: unknown) => setError(err),
    );
    return streamEvents(
      '/materials/events',
      (e) => {
        if (e.event === 'snapshot') {
          const snap = JSON.parse(e.data) as ListPage<Material>;
          setMaterials((cur) => {
            const byId = new Map((cur ?? []).map((m) => [m.id, m]));
            for (const m of snap.items) {
              const old = byId.get(m.id);
              if (!old || old.updatedAt <= m.updatedAt) byId.set(m.id, m);
            }
            return [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
          });
        } else if (e.event === 'material') {
          upsert(JSON.parse(e.data) as Material);
        }
      },
      setConnected,
    );
  }, [upsert]);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    if (!file) {
      setError(new Error(t.materials.chooseFile));
      return;
    }
    const form = new FormData();
    form.set('count', count);
    form.set('types', [...types].join(','));
    form.set('file', file, file.name);
    setProgress(0);
    try {
      const m = await uploadWithProgress<Material>('/materials', form, setProgress);
      upsert(m);
      setNotice(t.materials.uploaded(m.filename));
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
    } catch (err) {
      setError(err);
    } finally {
      setProgress(null);
    }
  };

  const toggleType = (ty: QuestionType): void =>
    setTypes((s) => {
      const n = new Set(s);
      if (n.has(ty)) n.delete(ty);
      else n.add(ty);
      return n;
    });

  return (
    <Page title={t.materials.title} subtitle={t.materials.intro}>
      <section className="card" aria-labelledby="upload-heading">
        <h2 id="upload-heading">{t.materials.uploadHeading}</h2>
        <form onSubmit={(e) => void submit(e)} className="upload-form">
          <Field label={t.materials.fileLabel} hint={t.materials.fileHint}>
            {(p) => (
              <input
                {...p}
                ref={fileInput}
                type="file"
                accept="application/pdf,.pdf"
                onChange={(e) => setFile(e.target.files?.[0] ?? null)}
              />
            )}
          </Field>
          <details className="options">
            <summary>
              {t.materials.options}: <span className="muted">{t.materials.optionsSummary(count, [...types].map((ty) => t.types[ty]).join(', '))}</span>
            </summary>
            <div className="form-row">
              <Field label={t.materials.countLabel}>
                {(p) => <input {...p} type="number" min={1} max={20} value={count} onChange={(e) => setCount(e.target.value)} className="input-short" />}
              </Field>
              <fieldset className="checks">
                <legend>{t.materials.typesLegend}</legend>
                {TYPES.map((ty) => (
                  <label key={ty} className="check">
                    <input type="checkbox" checked={types.has(ty)} onChange={() => toggleType(ty)} /> {t.types[ty]}
                  </label>
                ))}
              </fieldset>
            </div>
          </details>
          {progress !== null ? (
            <div className="upload-progress">
              <label htmlFor="upload-progress">{t.materials.uploading(file?.name ?? '', Math.round(progress * 100))}</label>
              <progress id="upload-progress" max={1} value={progress} />
            </div>
          ) : null}
          <ErrorNotice error={error} />
          {notice ? <Notice kind="success">{notice}</Notice> : null}
          <button type="submit" className="button-primary" disabled={progress !== null || types.size === 0}>
            {t.materials.upload}
          </button>
        </form>
      </section>

      <section aria-labelledby="list-heading">
        <div className="section-head">
          <h2 id="list-heading">{t.materials.listHeading}</h2>
          <span className={connected ? 'live live-on' : 'live'} role="status">
            <span className="live-dot" aria-hidden="true" />
            {connected ? t.materials.live : t.materials.reconnecting}
          </span>
        </div>
        <p className="muted small">{t.materials.liveHelp}</p>
        {materials === null ? (
          <Loading />
        ) : materials.length === 0 ? (
          <p>{t.materials.none}</p>
        ) : (
          <ul className="card-list">
            {materials.map((m) => (
              <li key={m.id} className="card material" data-material-id={m.id} data-status={m.status}>
                <div className="material-head">
                  <div>
                    <h3>{m.filename}</h3>
                    <p className="muted small">{t.materials.meta(formatBytes(m.sizeBytes), m.pageCount, formatDateTime(m.createdAt))}</p>
                  </div>
                  {m.questions.created > 0 || m.status === 'ready' ? (
                    <Link to={`/author/materials/${m.id}`} className="button button-secondary" aria-label={t.materials.reviewAria(m.filename)}>
                      {t.materials.review}
                    </Link>
                  ) : null}
                </div>
                <Pipeline m={m} />
                {m.status === 'ready' ? <p className="material-result ok">{t.materials.ready(m.questions.created)}</p> : null}
                {m.status === 'failed' && m.error ? <p className="material-result danger">{t.materials.failed(m.error.message)}</p> : null}
              </li>
            ))}
          </ul>
        )}
      </section>
    </Page>
  );
}
