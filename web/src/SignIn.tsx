/** Sign-in: an access code for candidates, email and password for staff; demo accounts listed in demo mode. */
import { useEffect, useState, type FormEvent } from 'react';
import { api } from './lib/api.ts';
import { retryTransient } from './lib/retry.ts';
import { navigate } from './lib/router.tsx';
import { fromSignIn, setSession } from './lib/session.ts';
import type { DemoAccount, SignIn as SignInResponse } from './lib/types.ts';
import { t } from './strings.ts';
import { handOverBookings } from './candidate/handoff.ts';
import { ErrorNotice, Field, Notice, Page } from './components/ui.tsx';

function done(r: SignInResponse): void {
  if (r.bookings) handOverBookings(r.bookings);
  setSession(fromSignIn(r));
  const path = window.location.pathname;
  if (path === '/' || path === '/signin') {
    navigate(r.user.role === 'candidate' ? '/candidate' : r.user.role === 'admin' ? '/admin/operations' : '/author', { replace: true });
  }
}

export function SignIn() {
  const [code, setCode] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<'code' | 'staff' | null>(null);
  const [codeError, setCodeError] = useState<unknown>(null);
  /** Said while a sign-in the server could not take yet (the 09:00 storm) is being sent again. */
  const [codeNote, setCodeNote] = useState<string | null>(null);
  const [staffError, setStaffError] = useState<unknown>(null);
  const [demo, setDemo] = useState<DemoAccount[]>([]);

  useEffect(() => {
    void api.appConfig().then((c) => setDemo(c.demoAccounts));
  }, []);

  const submitCode = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy('code');
    setCodeError(null);
    try {
      done(await retryTransient(() => api.accessCode(code.trim()), { onRetry: () => setCodeNote(t.signIn.busy) }));
    } catch (err) {
      setCodeError(err);
    } finally {
      setBusy(null);
      setCodeNote(null);
    }
  };

  const submitStaff = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy('staff');
    setStaffError(null);
    try {
      done(await api.login(email.trim(), password));
    } catch (err) {
      setStaffError(err);
    } finally {
      setBusy(null);
    }
  };

  const useDemo = (a: DemoAccount): void => {
    if (a.login.includes('@')) {
      setEmail(a.login);
      setPassword(a.secret);
      document.getElementById('staff-email')?.focus();
    } else {
      setCode(a.secret);
      document.getElementById('access-code')?.focus();
    }
  };

  return (
    <Page title={t.signIn.title} subtitle={t.signIn.intro}>
      <div className="signin-grid">
        <section className="card card-primary" aria-labelledby="candidate-heading">
          <h2 id="candidate-heading">{t.signIn.candidateHeading}</h2>
          <p>{t.signIn.candidateHelp}</p>
          <form onSubmit={(e) => void submitCode(e)}>
            <Field id="access-code" label={t.signIn.codeLabel} hint={t.signIn.codeHint}>
              {(p) => (
                <input
                  {...p}
                  className="input-code"
                  value={code}
                  onChange={(e) => setCode(e.target.value)}
                  autoComplete="one-time-code"
                  autoCapitalize="characters"
                  spellCheck={false}
                  required
                  minLength={4}
                />
              )}
            </Field>
            <ErrorNotice error={codeError} />
            <Notice kind="info">{codeNote}</Notice>
            <button type="submit" className="button-primary" disabled={busy !== null}>
              {busy === 'code' ? t.signIn.signingIn : t.signIn.codeButton}
            </button>
          </form>
        </section>
        <section className="card" aria-labelledby="staff-heading">
          <h2 id="staff-heading">{t.signIn.staffHeading}</h2>
          <p>{t.signIn.staffHelp}</p>
          <form onSubmit={(e) => void submitStaff(e)}>
            <Field id="staff-email" label={t.signIn.emailLabel}>
              {(p) => (
                <input {...p} type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" required />
              )}
            </Field>
            <Field label={t.signIn.passwordLabel}>
              {(p) => (
                <input
                  {...p}
                  type="password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  autoComplete="current-password"
                  required
                />
              )}
            </Field>
            <ErrorNotice error={staffError} />
            <button type="submit" className="button-secondary" disabled={busy !== null}>
              {busy === 'staff' ? t.signIn.signingIn : t.signIn.staffButton}
            </button>
          </form>
        </section>
      </div>
      {demo.length > 0 ? (
        <section className="card demo" aria-labelledby="demo-heading">
          <h2 id="demo-heading">{t.signIn.demoHeading}</h2>
          <p>{t.signIn.demoHelp}</p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.signIn.demoRole}</th>
                  <th scope="col">{t.signIn.demoLogin}</th>
                  <th scope="col">{t.signIn.demoSecret}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t.signIn.demoUseShort}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {demo.map((a) => (
                  <tr key={a.login}>
                    <td>{a.role}</td>
                    <td>{a.login}</td>
                    <td>
                      <code>{a.secret}</code>
                    </td>
                    <td>
                      <button type="button" className="button-secondary button-small" onClick={() => useDemo(a)} aria-label={t.signIn.demoUse(a.login)}>
                        {t.signIn.demoUseShort}
                      </button>
                    </td>
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
