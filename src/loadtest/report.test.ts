/** The report's inline SVG charts: gridline labels. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineChart } from './report.ts';

const yLabels = (svg: string): string[] =>
  [...svg.matchAll(/<text x="\d+" y="[\d.]+" class="a" text-anchor="end">([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('report charts', () => {
  it('labels the gridlines of a count chart with whole numbers, an all-zero one included', () => {
    const zeros = lineChart('Errors per second', 'errors/s', [{ name: 'errors', color: '#c00', points: [[1, 0], [2, 0]] }], { counts: true });
    assert.deepEqual(yLabels(zeros), ['0', '1', '2', '3', '4']);
    const some = lineChart('Errors per second', 'errors/s', [{ name: 'errors', color: '#c00', points: [[1, 3], [2, 37]] }], { counts: true });
    assert.deepEqual(yLabels(some), ['0', '10', '20', '30', '40']);
    const many = lineChart('Throughput', 'requests/s', [{ name: 'req/s', color: '#00c', points: [[1, 2_663]] }], { counts: true });
    assert.deepEqual(yLabels(many), ['0', '1,000', '2,000', '3,000', '4,000']);
  });

  it('keeps fractional gridlines for measurements', () => {
    const ms = lineChart('Autosave', 'ms', [{ name: 'p99', color: '#c00', points: [[1, 0.8]] }]);
    assert.deepEqual(yLabels(ms), ['0', '0.25', '0.5', '0.75', '1']);
  });
});
