/** A score histogram as an SVG bar chart, with the same numbers in a table for screen readers and keyboard users. */
import type { HistogramBin } from '../lib/types.ts';
import { t } from '../strings.ts';

const W = 360;
const H = 160;
const PAD_L = 32;
const PAD_B = 28;

export function Histogram({ bins, label }: { bins: HistogramBin[]; label: string }) {
  const max = Math.max(1, ...bins.map((b) => b.count));
  const innerW = W - PAD_L - 8;
  const innerH = H - PAD_B - 8;
  const bw = bins.length ? innerW / bins.length : innerW;
  const fmt = (n: number): string => String(Math.round(n * 100) / 100);
  return (
    <figure className="histogram">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="xMidYMid meet">
        <line x1={PAD_L} y1={8} x2={PAD_L} y2={8 + innerH} className="axis" />
        <line x1={PAD_L} y1={8 + innerH} x2={PAD_L + innerW} y2={8 + innerH} className="axis" />
        <text x={PAD_L - 6} y={14} textAnchor="end" className="tick">
          {max}
        </text>
        <text x={PAD_L - 6} y={8 + innerH} textAnchor="end" className="tick">
          0
        </text>
        {bins.map((b, i) => {
          const h = (b.count / max) * innerH;
          const x = PAD_L + i * bw + 2;
          return (
            <g key={i}>
              <rect x={x} y={8 + innerH - h} width={Math.max(1, bw - 4)} height={h} className="bar-rect">
                <title>{t.results.bar(b.from, b.to, b.count)}</title>
              </rect>
              {bins.length <= 12 || i % 2 === 0 ? (
                <text x={x + (bw - 4) / 2} y={H - 12} textAnchor="middle" className="tick">
                  {fmt(b.from)}
                </text>
              ) : null}
            </g>
          );
        })}
        <text x={PAD_L + innerW / 2} y={H - 1} textAnchor="middle" className="axis-label">
          {t.results.axisScore}
        </text>
      </svg>
      <details>
        <summary>{t.results.showTable}</summary>
        <table className="numbers">
          <thead>
            <tr>
              <th scope="col">{t.results.axisScore}</th>
              <th scope="col">{t.results.axisCount}</th>
            </tr>
          </thead>
          <tbody>
            {bins.map((b, i) => (
              <tr key={i}>
                <td>
                  {fmt(b.from)}–{fmt(b.to)}%
                </td>
                <td>{b.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
