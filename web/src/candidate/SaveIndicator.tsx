/** What the candidate needs to trust the exam: is every answer on the server, and if not, why and what happens next. */
import { useEffect, useState } from 'react';
import type { SaveStatus } from '../lib/autosave.ts';
import { formatAgo } from '../lib/format.ts';
import { t } from '../strings.ts';

export function SaveIndicator({ status }: { status: SaveStatus }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const id = window.setInterval(() => tick((n) => n + 1), 1000);
    return () => window.clearInterval(id);
  }, []);

  const { state, waiting, lastSavedAt, retryAt, rejected } = status;
  let tone: 'ok' | 'busy' | 'warn' | 'danger' = 'ok';
  let main: string;
  let sub: string | null = null;
  switch (state) {
    case 'saving':
      tone = 'busy';
      main = t.save.saving(Math.max(1, waiting));
      break;
    case 'offline':
      tone = 'warn';
      main = t.save.offline(waiting);
      sub = t.save.offlineHelp;
      break;
    case 'retrying':
      tone = 'warn';
      main = t.save.retrying(waiting);
      sub = retryAt ? t.save.retryIn(Math.max(1, Math.ceil((retryAt - Date.now()) / 1000))) : null;
      break;
    case 'closed':
      tone = 'warn';
      main = t.save.closed;
      break;
    case 'signed_out':
      tone = 'danger';
      main = t.save.signedOut(waiting);
      break;
    default:
      if (waiting > 0) {
        tone = 'busy';
        main = t.save.saving(waiting);
      } else if (lastSavedAt) {
        main = t.save.allSaved;
        sub = t.save.savedAgo(formatAgo(lastSavedAt));
      } else {
        main = t.save.none;
      }
  }
  return (
    <div className={`save-status save-${tone}`} data-testid="save-status" data-state={state} data-waiting={waiting}>
      <span className="save-dot" aria-hidden="true" />
      <span>
        <span className="visually-hidden">{t.save.label}: </span>
        <strong>{main}</strong>
        {sub ? <span className="save-sub">{sub}</span> : null}
        {rejected > 0 ? <span className="save-sub save-rejected">{t.save.rejected(rejected)}</span> : null}
      </span>
    </div>
  );
}
