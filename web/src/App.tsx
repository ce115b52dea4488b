/** The app shell: header with navigation by role, and the screen for the current path. */
import { useEffect, type ReactNode } from 'react';
import { api } from './lib/api.ts';
import { Link, match, navigate, usePath } from './lib/router.tsx';
import { getSession, setSession } from './lib/session.ts';
import type { Role } from './lib/types.ts';
import { useOnline, useSession } from './lib/useSession.ts';
import { t } from './strings.ts';
import { Page } from './components/ui.tsx';
import { SignIn } from './SignIn.tsx';
import { CandidateHome } from './candidate/Home.tsx';
import { Exam } from './candidate/Exam.tsx';
import { Result } from './candidate/Result.tsx';
import { Materials } from './author/Materials.tsx';
import { Review } from './author/Review.tsx';
import { Assessments } from './author/Assessments.tsx';
import { Sessions } from './author/Sessions.tsx';
import { Candidates } from './author/Candidates.tsx';
import { Operations } from './admin/Operations.tsx';
import { Results } from './admin/Results.tsx';

interface Route {
  path: string;
  roles: Role[];
  render: (p: Record<string, string>) => ReactNode;
  /** Full-screen: no site navigation (the exam). */
  bare?: boolean;
}

const STAFF: Role[] = ['author', 'admin'];

const routes: Route[] = [
  { path: '/candidate', roles: ['candidate'], render: () => <CandidateHome /> },
  { path: '/exam/:id', roles: ['candidate'], render: (p) => <Exam attemptId={p.id!} />, bare: true },
  { path: '/result/:id', roles: ['candidate'], render: (p) => <Result attemptId={p.id!} /> },
  { path: '/author', roles: STAFF, render: () => <Materials /> },
  { path: '/author/materials/:id', roles: STAFF, render: (p) => <Review materialId={p.id!} /> },
  { path: '/author/assessments', roles: STAFF, render: () => <Assessments /> },
  { path: '/author/sessions', roles: STAFF, render: () => <Sessions /> },
  { path: '/author/candidates', roles: STAFF, render: () => <Candidates /> },
  { path: '/results', roles: STAFF, render: () => <Results /> },
  { path: '/admin/operations', roles: ['admin'], render: () => <Operations /> },
];

export function homeFor(role: Role): string {
  return role === 'candidate' ? '/candidate' : role === 'admin' ? '/admin/operations' : '/author';
}

const navByRole: Record<Role, { to: string; label: string }[]> = {
  candidate: [{ to: '/candidate', label: t.nav.myExams }],
  author: [
    { to: '/author', label: t.nav.materials },
    { to: '/author/assessments', label: t.nav.assessments },
    { to: '/author/sessions', label: t.nav.sessions },
    { to: '/author/candidates', label: t.nav.candidates },
    { to: '/results', label: t.nav.results },
  ],
  admin: [
    { to: '/admin/operations', label: t.nav.operations },
    { to: '/results', label: t.nav.results },
    { to: '/author', label: t.nav.materials },
    { to: '/author/assessments', label: t.nav.assessments },
    { to: '/author/sessions', label: t.nav.sessions },
    { to: '/author/candidates', label: t.nav.candidates },
  ],
};

async function signOut(): Promise<void> {
  const s = getSession();
  setSession(null);
  navigate('/signin');
  if (s) await api.logout(s.refreshToken).catch(() => undefined);
}

function Header({ path }: { path: string }) {
  const session = useSession();
  const items = session ? navByRole[session.user.role] : [];
  return (
    <header className="site-header">
      <div className="site-header-inner">
        <Link to="/" className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          {t.app.name}
        </Link>
        {items.length > 0 ? (
          <nav aria-label={t.app.navLabel} className="site-nav">
            <ul>
              {items.map((i) => {
                const current = i.to === path || (i.to === '/author' && path.startsWith('/author/materials'));
                return (
                  <li key={i.to}>
                    <Link to={i.to} aria-current={current ? 'page' : undefined}>
                      {i.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
        ) : null}
        {session ? (
          <div className="who">
            <span>{t.app.signedInAs(session.user.name, t.app.roles[session.user.role] ?? session.user.role)}</span>
            <button type="button" className="button-quiet" onClick={() => void signOut()}>
              {t.app.signOut}
            </button>
          </div>
        ) : null}
      </div>
    </header>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function useScreen(path: string): { node: ReactNode; bare: boolean } {
  const session = useSession();
  if (!session) return { node: <SignIn />, bare: false };
  if (path === '/' || path === '/signin') return { node: <Redirect to={homeFor(session.user.role)} />, bare: false };
  for (const r of routes) {
    const params = match(r.path, path);
    if (!params) continue;
    if (!r.roles.includes(session.user.role)) {
      return {
        node: (
          <Page title={t.app.notFound}>
            <p>{t.app.wrongRole(r.roles.map((x) => t.app.roles[x] ?? x).join(' / '))}</p>
            <Link to={homeFor(session.user.role)}>{t.app.goHome}</Link>
          </Page>
        ),
        bare: false,
      };
    }
    return { node: r.render(params), bare: r.bare ?? false };
  }
  return {
    node: (
      <Page title={t.app.notFound}>
        <Link to="/">{t.app.goHome}</Link>
      </Page>
    ),
    bare: false,
  };
}

export function App() {
  const path = usePath();
  const online = useOnline();
  const { node, bare } = useScreen(path);
  return (
    <>
      <a href="#main" className="skip-link">
        {t.app.skip}
      </a>
      {bare ? null : <Header path={path} />}
      {!online && !bare ? (
        <div className="offline-banner" role="status">
          {t.app.offlineBanner}
        </div>
      ) : null}
      <main id="main" tabIndex={-1} className={bare ? 'main-bare' : 'main'}>
        {node}
      </main>
      {bare ? null : (
        <footer className="site-footer">
          <a href="/docs">{t.app.apiDocs}</a>
        </footer>
      )}
    </>
  );
}
