/** Schedule exam sessions (assessment, district, window, seats) and watch their bookings fill up. */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api } from '../lib/api.ts';
import { formatWindow } from '../lib/format.ts';
import type { AssessmentDetail, ExamSession } from '../lib/types.ts';
import { useInterval } from '../lib/useSession.ts';
import { t } from '../strings.ts';
import { Bar, ErrorNotice, Field, Loading, Notice, Page } from '../components/ui.tsx';

/** A Date as the value of <input type="datetime-local"> (local time, minutes). */
function localInput(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function Sessions() {
  const [sessions, setSessions] = useState<ExamSession[] | null>(null);
  const [published, setPublished] = useState<AssessmentDetail[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [formError, setFormError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const now = new Date();
  now.setSeconds(0, 0);
  const [assessmentId, setAssessmentId] = useState(() => new URLSearchParams(window.location.search).get('assessment') ?? '');
  const [district, setDistrict] = useState('');
  const [title, setTitle] = useState('');
  const [startsAt, setStartsAt] = useState(() => localInput(now));
  const [endsAt, setEndsAt] = useState(() => localInput(new Date(now.getTime() + 2 * 3600_000)));
  const [capacity, setCapacity] = useState('30');

  const loadSessions = useCallback(async () => {
    try {
      setSessions((await api.sessions()).items);
    } catch (err) {
      setError(err);
    }
  }, []);

  useEffect(() => {
    void loadSessions();
    void (async () => {
      try {
        const page = await api.assessments();
        const details = await Promise.all(page.items.filter((a) => a.latestVersion > 0).map((a) => api.assessment(a.id)));
        setPublished(details);
      } catch (err) {
        setError(err);
      }
    })();
  }, [loadSessions]);
  useInterval(() => void loadSessions(), 10_000);

  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setFormError(null);
    setNotice(null);
    try {
      const s = await api.createSession({
        assessmentId,
        district: district.trim(),
        ...(title.trim() ? { title: title.trim() } : {}),
        startsAt: new Date(startsAt).toISOString(),
        endsAt: new Date(endsAt).toISOString(),
        capacity: Number(capacity),
      });
      setNotice(t.sessions.created(s.title, s.district));
      setTitle('');
      await loadSessions();
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };

  const districts = [...new Set((sessions ?? []).map((s) => s.district))].sort();
  const nowMs = Date.now();

  return (
    <Page title={t.sessions.title} subtitle={t.sessions.intro}>
      <ErrorNotice error={error} />
      <section className="card" aria-labelledby="new-heading">
        <h2 id="new-heading">{t.sessions.newHeading}</h2>
        {published !== null && published.length === 0 ? <p>{t.sessions.noPublished}</p> : null}
        <form onSubmit={(e) => void create(e)}>
          <Field label={t.sessions.assessmentLabel}>
            {(p) => (
              <select {...p} value={assessmentId} onChange={(e) => setAssessmentId(e.target.value)} required>
                <option value="">{t.sessions.choose}</option>
                {(published ?? []).map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.title}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <div className="form-row">
            <Field label={t.sessions.districtLabel} hint={t.sessions.districtHint}>
              {(p) => (
                <>
                  <input {...p} list="district-list" value={district} onChange={(e) => setDistrict(e.target.value)} required maxLength={100} />
                  <datalist id="district-list">
                    {districts.map((d) => (
                      <option key={d} value={d} />
                    ))}
                  </datalist>
                </>
              )}
            </Field>
            <Field label={t.sessions.titleLabel}>{(p) => <input {...p} value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} />}</Field>
          </div>
          <div className="form-row">
            <Field label={t.sessions.startsLabel}>
              {(p) => <input {...p} type="datetime-local" value={startsAt} onChange={(e) => setStartsAt(e.target.value)} required />}
            </Field>
            <Field label={t.sessions.endsLabel}>
              {(p) => <input {...p} type="datetime-local" value={endsAt} onChange={(e) => setEndsAt(e.target.value)} required />}
            </Field>
            <Field label={t.sessions.capacityLabel}>
              {(p) => <input {...p} type="number" min={1} max={100000} className="input-short" value={capacity} onChange={(e) => setCapacity(e.target.value)} required />}
            </Field>
          </div>
          <ErrorNotice error={formError} />
          {notice ? <Notice kind="success">{notice}</Notice> : null}
          <button type="submit" className="button-primary" disabled={busy}>
            {t.sessions.create}
          </button>
        </form>
      </section>

      <section aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">{t.sessions.listHeading}</h2>
        {sessions === null ? (
          <Loading />
        ) : sessions.length === 0 ? (
          <p>{t.sessions.none}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.sessions.colSession}</th>
                  <th scope="col">{t.sessions.colDistrict}</th>
                  <th scope="col">{t.sessions.colWhen}</th>
                  <th scope="col">{t.sessions.colSeats}</th>
                  <th scope="col">{t.sessions.colState}</th>
                </tr>
              </thead>
              <tbody>
                {sessions.map((s) => {
                  const state = nowMs < Date.parse(s.startsAt) ? 'upcoming' : nowMs >= Date.parse(s.endsAt) ? 'ended' : 'open';
                  return (
                    <tr key={s.id} data-session-id={s.id}>
                      <th scope="row">
                        {s.title}
                        <div className="muted small">{s.assessmentTitle}</div>
                      </th>
                      <td>{s.district}</td>
                      <td>{formatWindow(s.startsAt, s.endsAt)}</td>
                      <td>
                        {t.sessions.booked(s.booked, s.capacity)}
                        <Bar value={s.booked} max={s.capacity} label={t.sessions.booked(s.booked, s.capacity)} />
                      </td>
                      <td>
                        <span className={`badge badge-${state === 'open' ? 'ok' : state === 'ended' ? 'muted' : 'draft'}`}>{t.sessions[state]}</span>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Page>
  );
}
