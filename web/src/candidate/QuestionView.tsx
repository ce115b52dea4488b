/** One question on the exam screen and the control that answers it. */
import { useId } from 'react';
import type { PaperQuestion } from '../lib/types.ts';
import { t } from '../strings.ts';

/** The same rule as the server: digits, one "." or "," decimal separator, optional exponent. */
const NUMERIC = /^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:e[+-]?\d+)?$/i;
export const isNumericText = (s: string): boolean => NUMERIC.test(s.normalize('NFKC').trim().replace(/^\u2212/, '-'));

export function orderedOptions(q: PaperQuestion, order: string[] | undefined): { id: string; text: string }[] {
  const options = q.options ?? [];
  if (!order) return options;
  const byId = new Map(options.map((o) => [o.id, o]));
  return order.map((id) => byId.get(id)).filter((o): o is { id: string; text: string } => o !== undefined);
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function AnswerInput({
  q,
  value,
  order,
  draft,
  onAnswer,
  onDraft,
  labelledBy,
}: {
  q: PaperQuestion;
  value: unknown;
  order: string[] | undefined;
  /** Numeric questions: the text typed, which may not be a number yet. */
  draft: string | undefined;
  onAnswer: (value: unknown, typing: boolean) => void;
  onDraft: (text: string) => void;
  labelledBy: string;
}) {
  const uid = useId();
  switch (q.type) {
    case 'single_choice':
    case 'multiple_response': {
      const multi = q.type === 'multiple_response';
      const selected = new Set(multi ? (Array.isArray(value) ? (value as string[]) : []) : typeof value === 'string' ? [value] : []);
      const hintId = `${uid}-hint`;
      return (
        <fieldset className="choices" aria-labelledby={labelledBy} aria-describedby={hintId}>
          <p className="hint" id={hintId}>
            {multi ? t.exam.selectMany : t.exam.selectOne}
          </p>
          {orderedOptions(q, order).map((o, i) => {
            const checked = selected.has(o.id);
            const toggle = (): void => {
              if (!multi) return onAnswer(o.id, false);
              const next = new Set(selected);
              if (next.has(o.id)) next.delete(o.id);
              else next.add(o.id);
              const ids = orderedOptions(q, order)
                .map((x) => x.id)
                .filter((id) => next.has(id));
              onAnswer(ids.length ? ids : null, false);
            };
            return (
              <label key={o.id} className={checked ? 'choice is-checked' : 'choice'}>
                <input type={multi ? 'checkbox' : 'radio'} name={`${uid}-q`} value={o.id} checked={checked} onChange={toggle} />
                <span className="choice-letter" aria-hidden="true">
                  {LETTERS[i] ?? i + 1}
                </span>
                <span className="choice-text">{o.text}</span>
              </label>
            );
          })}
        </fieldset>
      );
    }
    case 'true_false':
      return (
        <fieldset className="choices" aria-labelledby={labelledBy}>
          {[true, false].map((v) => (
            <label key={String(v)} className={value === v ? 'choice is-checked' : 'choice'}>
              <input type="radio" name={`${uid}-tf`} checked={value === v} onChange={() => onAnswer(v, false)} />
              <span className="choice-text">{v ? t.exam.trueLabel : t.exam.falseLabel}</span>
            </label>
          ))}
        </fieldset>
      );
    case 'short_text':
      return (
        <div className="field">
          <label htmlFor={`${uid}-text`}>{t.exam.textLabel}</label>
          <textarea
            id={`${uid}-text`}
            rows={3}
            value={typeof value === 'string' ? value : ''}
            onChange={(e) => {
              // U+0000 (pasted from a binary file) is invisible and cannot be stored: the server would refuse the answer.
              const text = e.target.value.replaceAll('\u0000', '');
              onAnswer(text === '' ? null : text, true);
            }}
            maxLength={2000}
          />
        </div>
      );
    case 'numeric': {
      const text = draft ?? (typeof value === 'string' || typeof value === 'number' ? String(value) : '');
      const invalid = text.trim() !== '' && !isNumericText(text);
      return (
        <div className="field">
          <label htmlFor={`${uid}-num`}>{t.exam.numberLabel}</label>
          <p className="hint" id={`${uid}-num-hint`}>
            {t.exam.numberHint}
          </p>
          <input
            id={`${uid}-num`}
            className="input-number"
            inputMode="decimal"
            autoComplete="off"
            value={text}
            aria-describedby={`${uid}-num-hint${invalid ? ` ${uid}-num-err` : ''}`}
            aria-invalid={invalid || undefined}
            onChange={(e) => {
              const s = e.target.value;
              onDraft(s);
              if (s.trim() === '') onAnswer(null, true);
              else if (isNumericText(s)) onAnswer(s.trim(), true);
            }}
          />
          {invalid ? (
            <p className="field-error" id={`${uid}-num-err`}>
              {t.exam.numberInvalid}
            </p>
          ) : null}
        </div>
      );
    }
  }
}
