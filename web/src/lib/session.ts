/**
 * The signed-in session, kept in localStorage so a reload (or a second tab)
 * stays signed in. Listeners hear every change, including sign-outs caused by
 * a refresh token that no longer works.
 */
import type { SignIn, User } from './types.ts';

const KEY = 'examday.session';

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires (by this browser's clock). */
  expiresAt: number;
  user: User;
  bookingId?: string | null;
}

type Listener = (s: Session | null) => void;
const listeners = new Set<Listener>();

function read(): Session | null {
  try {
    const raw = window.localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

let current: Session | null = read();

window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  current = read();
  for (const l of listeners) l(current);
});

export function getSession(): Session | null {
  return current;
}

export function setSession(s: Session | null): void {
  current = s;
  try {
    if (s) window.localStorage.setItem(KEY, JSON.stringify(s));
    else window.localStorage.removeItem(KEY);
  } catch {
    // Private mode or full storage: the session still lives in memory.
  }
  for (const l of listeners) l(s);
}

export function fromSignIn(r: SignIn): Session {
  return {
    accessToken: r.accessToken,
    refreshToken: r.refreshToken,
    expiresAt: Date.now() + r.expiresIn * 1000,
    user: r.user,
    bookingId: r.bookingId ?? null,
  };
}

export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
