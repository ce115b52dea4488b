/**
 * The frozen content of a published assessment version, and the per-candidate
 * paper drawn from it. A version never changes after publishing, so papers can
 * be cached and a candidate's selection/order is a pure function of the seed.
 */
import type { ReleasePolicy } from '../../platform/db/schema.ts';
import { seededRandom, shuffle } from '../../lib/seeded-random.ts';

export { seededRandom, shuffle };

export type Section =
  | { kind: 'fixed'; questionId: string }
  | { kind: 'random'; tag: string; count: number; poolIds: string[] };

export interface VersionContent<Q = unknown> {
  title: string;
  description: string;
  timeLimitS: number;
  shuffleItems: boolean;
  shuffleOptions: boolean;
  releasePolicy: ReleasePolicy;
  sections: Section[];
  /** Every question any candidate may get, by id, answers included (for grading). */
  questions: Record<string, Q>;
}

/** The question ids a candidate with this seed gets, in the order they see them. */
export function drawQuestionIds(content: Pick<VersionContent, 'sections' | 'shuffleItems'>, seed: number): string[] {
  const random = seededRandom(seed);
  const ids: string[] = [];
  const taken = new Set<string>();
  for (const s of content.sections) {
    if (s.kind === 'fixed') {
      if (!taken.has(s.questionId)) ids.push(s.questionId);
      taken.add(s.questionId);
    } else {
      const pool = shuffle(
        s.poolIds.filter((id) => !taken.has(id)),
        random,
      ).slice(0, s.count);
      for (const id of pool) taken.add(id);
      ids.push(...pool);
    }
  }
  return content.shuffleItems ? shuffle(ids, random) : ids;
}
