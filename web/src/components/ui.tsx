/** Small building blocks shared by every screen. */
import { useEffect, useId, useRef, type ReactNode } from 'react';
import { ApiError, NetworkError } from '../lib/api.ts';
import { t } from '../strings.ts';

let firstPage = true;

/** A screen: sets the document title and, after a navigation, moves focus to the heading for screen readers. */
export function Page({ title, children, wide = false, subtitle }: { title: string; children: ReactNode; wide?: boolean; subtitle?: ReactNode }) {
  const h1 = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · ${t.app.name}`;
  }, [title]);
  useEffect(() => {
    if (firstPage) firstPage = false;
    else h1.current?.focus();
  }, []);
  return (
    <div className={wide ? 'page page-wide' : 'page'}>
      <h1 ref={h1} tabIndex={-1}>
        {title}
      </h1>
      {subtitle ? <p className="subtitle">{subtitle}</p> : null}
      {children}
    </div>
  );
}

export function errorText(err: unknown): string {
  if (err instanceof NetworkError) return t.errors.network;
  if (err instanceof ApiError) {
    // A 503's detail is written for operators ("the database cannot be reached"); people get a plain one.
    if (err.status === 503) return t.errors.busy;
    return err.message;
  }
  return t.errors.generic(err instanceof Error ? err.message : String(err));
}

/** A message that screen readers announce: role=alert for errors, role=status otherwise. */
export function Notice({ kind = 'info', children }: { kind?: 'info' | 'success' | 'warning' | 'error'; children: ReactNode }) {
  if (!children) return null;
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <Notice kind="error">
      {errorText(error)}{' '}
      {onRetry ? (
        <button type="button" className="link-button" onClick={onRetry}>
          {t.app.retry}
        </button>
      ) : null}
    </Notice>
  );
}

export function Loading({ label = t.app.loading }: { label?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

/**
 * A modal dialog built on <dialog>: the browser traps focus, Escape closes
 * it, and focus returns to the opener afterwards.
 */
export function Dialog({
  open,
  title,
  onClose,
  children,
  actions,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
  actions: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose} onCancel={onClose} className="dialog">
      <h2 id={titleId}>{title}</h2>
      <div className="dialog-body">{children}</div>
      <div className="dialog-actions">{actions}</div>
    </dialog>
  );
}

/** A labelled form field with an optional hint and error, wired with aria-describedby. */
export function Field({
  label,
  hint,
  error,
  children,
  id: givenId,
}: {
  id?: string;
  label: string;
  hint?: ReactNode;
  error?: string | null;
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ReactNode;
}) {
  const autoId = useId();
  const id = givenId ?? autoId;
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  const described = [hint ? hintId : null, error ? errId : null].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {children({ id, ...(described ? { 'aria-describedby': described } : {}), ...(error ? { 'aria-invalid': true } : {}) })}
      {error ? (
        <p className="field-error" id={errId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A horizontal bar for "x of y" quantities, with the numbers as text beside it. */
export function Bar({ value, max, label, tone }: { value: number; max: number; label: string; tone?: 'ok' | 'warn' | 'danger' }) {
  const pct = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  const auto = pct >= 90 ? 'danger' : pct >= 70 ? 'warn' : 'ok';
  return (
    <div className={`bar bar-${tone ?? auto}`} role="meter" aria-valuemin={0} aria-valuemax={max} aria-valuenow={value} aria-label={label}>
      <div className="bar-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}
