/** The question navigator: one button per question, showing answered, flagged, unsaved and current. */
import type { PaperQuestion } from '../lib/types.ts';
import { t } from '../strings.ts';

export function Navigator({
  questions,
  current,
  answered,
  flagged,
  waiting,
  onGo,
}: {
  questions: PaperQuestion[];
  current: number;
  answered: Set<string>;
  flagged: Set<string>;
  waiting: Set<string>;
  onGo: (i: number) => void;
}) {
  const nAnswered = questions.filter((q) => answered.has(q.id)).length;
  const nFlagged = questions.filter((q) => flagged.has(q.id)).length;
  return (
    <nav className="navigator" aria-labelledby="nav-heading">
      <h2 id="nav-heading">{t.exam.navigator}</h2>
      <p className="muted small" aria-live="polite">
        {t.exam.navSummary(nAnswered, questions.length, nFlagged)}
      </p>
      <ol className="nav-grid">
        {questions.map((q, i) => {
          const a = answered.has(q.id);
          const f = flagged.has(q.id);
          const w = waiting.has(q.id);
          const classes = ['nav-item', a ? 'is-answered' : '', f ? 'is-flagged' : '', i === current ? 'is-current' : '', w ? 'is-waiting' : '']
            .filter(Boolean)
            .join(' ');
          return (
            <li key={q.id}>
              <button
                type="button"
                className={classes}
                aria-label={t.exam.navItem(i + 1, a, f, w)}
                aria-current={i === current ? 'step' : undefined}
                onClick={() => onGo(i)}
                data-question-index={i}
              >
                {i + 1}
                {f ? (
                  <span className="nav-flag" aria-hidden="true">
                    ⚑
                  </span>
                ) : null}
              </button>
            </li>
          );
        })}
      </ol>
      <ul className="legend" aria-hidden="true">
        <li>
          <span className="nav-item is-answered legend-swatch" /> {t.exam.legendAnswered}
        </li>
        <li>
          <span className="nav-item legend-swatch" /> {t.exam.legendUnanswered}
        </li>
        <li>
          <span className="nav-item legend-swatch">
            <span className="nav-flag">⚑</span>
          </span>{' '}
          {t.exam.legendFlagged}
        </li>
        <li>
          <span className="nav-item is-current legend-swatch" /> {t.exam.legendCurrent}
        </li>
      </ul>
    </nav>
  );
}
