/**
 * The hot path's cache of attempt facts, so that autosave, paper and resume
 * read no attempt row. Ownership, deadline, seed and the drawn question set
 * never change, so an open attempt's facts are kept until its deadline has
 * passed. Status only moves forward (in_progress → submitted → graded). A
 * stale "in_progress" here is harmless: whichever process submitted, the
 * group-commit upsert re-checks status and deadline under FOR SHARE and
 * refuses the write, and the service then forgets the entry. The cache only
 * ever skips reads, never the guard. A submit through this process marks the
 * entry submitted at once.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { BatchLoader } from './batch-loader.ts';
import { layoutFor, type Layout, type PaperCache } from './papers.ts';

export type AttemptStatus = 'in_progress' | 'submitted' | 'graded';

/** What the hot path needs to know about an attempt; immutable except status. */
export interface AttemptFacts {
  id: string;
  candidateId: string;
  sessionId: string;
  versionId: string;
  seed: number;
  deadlineMs: number;
  status: AttemptStatus;
  layout: Layout;
  questionIds: Set<string>;
  /** Drop from the cache after this (deadline + grace + a margin). */
  keepUntilMs: number;
}

/** The attempt columns facts are made of. */
export interface AttemptFactsRow {
  id: string;
  candidate_id: string;
  session_id: string;
  assessment_version_id: string;
  seed: number;
  deadline_at: Date;
  status: AttemptStatus;
}

/** Attempts whose facts one process keeps (~1 KB each); the oldest go first. */
const FACTS_MAX = 200_000;
/** Facts of closed attempts (results, late reads) are re-read after this. */
const CLOSED_FACTS_TTL_MS = 60_000;

export class AttemptFactsCache {
  readonly #facts = new Map<string, AttemptFacts>();
  // Misses in the same turn of the event loop are read in one query.
  readonly #rows: BatchLoader<string, AttemptFactsRow>;

  constructor(
    db: Kysely<Database>,
    private readonly papers: PaperCache,
    private readonly graceS: number,
  ) {
    this.#rows = new BatchLoader(async (ids: string[]) => {
      const found = await db
        .selectFrom('attempts')
        .select(['id', 'candidate_id', 'session_id', 'assessment_version_id', 'seed', 'deadline_at', 'status'])
        .where('id', 'in', ids)
        .execute();
      return new Map(found.map((r) => [r.id, r]));
    });
  }

  /** The attempt's facts, from the cache or read (undefined when there is no such attempt). */
  async get(attemptId: string): Promise<AttemptFacts | undefined> {
    const id = attemptId.toLowerCase(); // PostgreSQL prints uuids in lower case
    const hit = this.#facts.get(id);
    if (hit && Date.now() < hit.keepUntilMs) return hit;
    const row = await this.#rows.load(id);
    if (!row) return undefined;
    return this.remember(row);
  }

  /** Keep the facts of a row just written or read (a new attempt's, say); returns them. */
  async remember(row: AttemptFactsRow): Promise<AttemptFacts> {
    const paper = await this.papers.get(row.assessment_version_id);
    const layout = layoutFor(paper, row.seed);
    const deadlineMs = row.deadline_at.getTime();
    const now = Date.now();
    const f: AttemptFacts = {
      id: row.id,
      candidateId: row.candidate_id,
      sessionId: row.session_id,
      versionId: row.assessment_version_id,
      seed: row.seed,
      deadlineMs,
      status: row.status,
      layout,
      questionIds: new Set(layout.questionIds),
      keepUntilMs:
        row.status === 'in_progress'
          ? Math.max(deadlineMs + this.graceS * 1000, now) + CLOSED_FACTS_TTL_MS
          : now + CLOSED_FACTS_TTL_MS,
    };
    this.#keep(f);
    return f;
  }

  /**
   * This process closed the attempt, so it knows the new status: the result
   * page that follows every submit need not read the attempt again. Closed
   * elsewhere, the status is not known here (submitted or already graded):
   * `forget` it instead, and the next ask reads it again.
   */
  markSubmitted(attemptId: string): void {
    const f = this.#facts.get(attemptId.toLowerCase());
    if (f) this.#keep({ ...f, status: 'submitted', keepUntilMs: Date.now() + CLOSED_FACTS_TTL_MS });
  }

  /** Forget an attempt's facts: it was closed by another process, or a write to it was refused. */
  forget(attemptId: string): void {
    this.#facts.delete(attemptId.toLowerCase());
  }

  #keep(f: AttemptFacts): void {
    if (this.#facts.size >= FACTS_MAX) {
      // Maps iterate in insertion order: drop the oldest tenth in one go.
      let n = FACTS_MAX / 10;
      for (const k of this.#facts.keys()) {
        this.#facts.delete(k);
        if (--n <= 0) break;
      }
    }
    this.#facts.set(f.id, f);
  }
}
