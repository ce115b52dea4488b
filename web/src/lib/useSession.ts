import { useEffect, useState } from 'react';
import { getSession, onSessionChange, type Session } from './session.ts';

export function useSession(): Session | null {
  const [s, setS] = useState(getSession());
  useEffect(() => onSessionChange(setS), []);
  return s;
}

/** Re-renders when the browser goes on- or offline. */
export function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const on = (): void => setOnline(true);
    const off = (): void => setOnline(false);
    window.addEventListener('online', on);
    window.addEventListener('offline', off);
    return () => {
      window.removeEventListener('online', on);
      window.removeEventListener('offline', off);
    };
  }, []);
  return online;
}

/** Calls `fn` now and every `ms` while the page is visible; returns nothing, the caller keeps state. */
export function useInterval(fn: () => void, ms: number | null): void {
  useEffect(() => {
    if (ms === null) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === 'visible') fn();
    }, ms);
    return () => window.clearInterval(id);
  }, [fn, ms]);
}
