/**
 * Latency from this process's Prometheus histogram: every route's buckets
 * summed, and a quantile estimated the way Prometheus' `histogram_quantile`
 * does (linear within the bucket that holds the rank; the highest finite
 * bound when the rank falls in the +Inf bucket).
 */
import type { Histogram } from 'prom-client';

export interface Bucket {
  /** Upper bound in seconds (Infinity for +Inf). */
  le: number;
  /** Cumulative count of observations ≤ le. */
  count: number;
}

/** The q-quantile in the histogram's unit, or 0 when nothing was observed. */
export function quantileFromBuckets(buckets: readonly Bucket[], q: number): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of sorted) {
    if (b.count >= rank && b.count > below) {
      if (!Number.isFinite(b.le)) return lower;
      return lower + (b.le - lower) * ((rank - below) / (b.count - below));
    }
    if (Number.isFinite(b.le)) lower = b.le;
    below = b.count;
  }
  return lower;
}

/** p99 in milliseconds (2 decimals) and the request count over every label set of a seconds histogram. */
export async function latencySummary(histogram: Histogram<string>, q = 0.99): Promise<{ p99Ms: number; requests: number }> {
  const { values } = await histogram.get();
  const byBound = new Map<number, number>();
  let requests = 0;
  for (const v of values) {
    if (v.metricName?.endsWith('_count')) requests += v.value;
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + v.value);
  }
  const buckets = [...byBound].map(([le, count]) => ({ le, count }));
  return { p99Ms: Math.round(quantileFromBuckets(buckets, q) * 1000 * 100) / 100, requests };
}
