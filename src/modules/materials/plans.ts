/**
 * What each plan allows. Limits that must hold across every API node
 * (uploads per hour, storage, questions per day) are counted in the database;
 * concurrent uploads are counted in Redis when configured.
 */
import type { Plan } from '../../platform/db/schema.ts';

export interface PlanLimits {
  uploadsPerHour: number;
  /** Uploads streaming at once for one user: bounds the bandwidth and disk one account can tie up. */
  concurrentUploads: number;
  /** Bytes of source PDFs kept at once (retention frees them). */
  storageBytes: number;
  /** Generated questions per UTC day. */
  questionsPerDay: number;
}

const MB = 1024 * 1024;

export const PLANS: { readonly [P in Plan]: PlanLimits } = {
  free: { uploadsPerHour: 3, concurrentUploads: 1, storageBytes: 50 * MB, questionsPerDay: 100 },
  standard: { uploadsPerHour: 30, concurrentUploads: 3, storageBytes: 1024 * MB, questionsPerDay: 2000 },
  unlimited: {
    uploadsPerHour: Number.MAX_SAFE_INTEGER,
    concurrentUploads: 1000,
    storageBytes: Number.MAX_SAFE_INTEGER,
    questionsPerDay: Number.MAX_SAFE_INTEGER,
  },
};

export function planLimits(plan: Plan): PlanLimits {
  return PLANS[plan] ?? PLANS.standard;
}
