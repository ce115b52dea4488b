/** Import candidates from CSV and show the per-row report, with the new access codes to hand out. */
import { useState, type FormEvent } from 'react';
import { api } from '../lib/api.ts';
import type { ImportReport } from '../lib/types.ts';
import { t } from '../strings.ts';
import { ErrorNotice, Field, Notice, Page } from '../components/ui.tsx';

/** The first field of each line, by line number, for the report (the server reports by line). */
function namesByLine(csv: string): Map<number, string> {
  const out = new Map<number, string>();
  csv.split(/\r?\n/).forEach((line, i) => {
    const first = line.split(',')[0]?.replace(/^"|"$/g, '').trim() ?? '';
    out.set(i + 1, first);
  });
  return out;
}

const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function Candidates() {
  const [csv, setCsv] = useState('');
  const [report, setReport] = useState<ImportReport | null>(null);
  const [names, setNames] = useState<Map<number, string>>(new Map());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const onFile = async (f: File | undefined): Promise<void> => {
    if (f) setCsv(await f.text());
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    if (!csv.trim()) {
      setError(new Error(t.candidates.empty));
      return;
    }
    setBusy(true);
    try {
      setReport(await api.importCandidates(csv));
      setNames(namesByLine(csv));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const downloadCodes = (): void => {
    if (!report) return;
    const lines = ['name,accessCode'];
    for (const r of report.rows) if (r.accessCode) lines.push(`${csvCell(names.get(r.line) ?? '')},${r.accessCode}`);
    const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'access-codes.csv';
    document.body.append(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  return (
    <Page title={t.candidates.title} subtitle={t.candidates.intro}>
      <section className="card" aria-labelledby="import-heading">
        <h2 id="import-heading">{t.candidates.import}</h2>
        <p>{t.candidates.format}</p>
        <form onSubmit={(e) => void submit(e)}>
          <Field label={t.candidates.fileLabel}>
            {(p) => <input {...p} type="file" accept=".csv,text/csv,text/plain" onChange={(e) => void onFile(e.target.files?.[0])} />}
          </Field>
          <Field label={t.candidates.pasteLabel}>
            {(p) => (
              <textarea
                {...p}
                rows={6}
                className="mono"
                value={csv}
                onChange={(e) => setCsv(e.target.value)}
                placeholder={'name,email,district\nAda Lovelace,ada@example.org,north'}
                spellCheck={false}
              />
            )}
          </Field>
          <ErrorNotice error={error} />
          <button type="submit" className="button-primary" disabled={busy}>
            {busy ? t.candidates.importing : t.candidates.import}
          </button>
        </form>
      </section>

      {report ? (
        <section aria-labelledby="report-heading">
          <h2 id="report-heading">{t.candidates.reportHeading}</h2>
          <Notice kind={report.errors ? 'warning' : 'success'}>{t.candidates.summary(report.created, report.existing, report.errors)}</Notice>
          {report.created > 0 ? (
            <p className="button-row">
              <span>{t.candidates.codeOnce}</span>
              <button type="button" className="button-secondary button-small" onClick={downloadCodes}>
                {t.candidates.downloadCodes}
              </button>
            </p>
          ) : null}
          <div className="table-wrap">
            <table className="import-report">
              <thead>
                <tr>
                  <th scope="col">{t.candidates.colLine}</th>
                  <th scope="col">{t.candidates.colName}</th>
                  <th scope="col">{t.candidates.colStatus}</th>
                  <th scope="col">{t.candidates.colDetail}</th>
                </tr>
              </thead>
              <tbody>
                {report.rows.map((r) => (
                  <tr key={r.line} data-status={r.status}>
                    <td>{r.line}</td>
                    <td>{names.get(r.line) ?? ''}</td>
                    <td>
                      <span className={`badge badge-${r.status === 'created' ? 'ok' : r.status === 'existing' ? 'muted' : 'danger'}`}>
                        {t.candidates.status[r.status]}
                      </span>
                    </td>
                    <td>{r.accessCode ? <code data-testid="access-code">{r.accessCode}</code> : (r.error ?? '')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </Page>
  );
}
