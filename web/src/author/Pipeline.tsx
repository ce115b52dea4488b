/** A material's processing as a row of steps: uploaded → reading text → writing questions → checking → ready. */
import type { Material } from '../lib/types.ts';
import { t } from '../strings.ts';

const STEPS = ['store', 'extract', 'generate', 'finalize', 'ready'] as const;
type Step = (typeof STEPS)[number];

function currentStep(m: Material): Step {
  if (m.status === 'ready') return 'ready';
  if (m.stage) return m.stage;
  return m.status === 'stored' ? 'store' : m.status === 'extracting' ? 'extract' : 'generate';
}

export function Pipeline({ m }: { m: Material }) {
  const at = STEPS.indexOf(currentStep(m));
  const failed = m.status === 'failed';
  return (
    <ol className="pipeline" aria-label={t.materials.pipelineLabel(m.filename)} data-status={m.status}>
      {STEPS.map((step, i) => {
        const state = failed && i === at ? 'failed' : i < at || m.status === 'ready' ? 'done' : i === at ? 'current' : 'todo';
        let detail = '';
        if (step === 'generate' && m.chunks.total > 0 && (state === 'current' || state === 'done')) detail = t.materials.chunks(m.chunks.done, m.chunks.total);
        return (
          <li key={step} className={`step step-${state}`} aria-current={state === 'current' ? 'step' : undefined}>
            <span className="step-mark" aria-hidden="true">
              {state === 'done' ? '✓' : state === 'failed' ? '!' : i + 1}
            </span>
            <span className="step-text">
              {t.materials.stages[step]}
              <span className="visually-hidden">: {t.materials.stageState[state]}</span>
              {detail ? <span className="step-detail">{detail}</span> : null}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
