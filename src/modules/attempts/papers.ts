/**
 * Per-version paper cache. A published version never changes, so each
 * question's candidate view is serialised once and served as bytes; what
 * differs per candidate (which questions, their order, option order) is a
 * small layout computed from the attempt's seed.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { drawQuestionIds, seededRandom, shuffle, type VersionContent } from '../assessments/content.ts';
import { fromContent, publicView, type Question } from '../questions/model.ts';

export interface Paper {
  versionId: string;
  content: VersionContent<Question>;
  maxScore: number;
  /** Candidate view of each question, pre-serialised. */
  questionJson: Map<string, string>;
}

export interface Layout {
  questionIds: string[];
  /** For choice questions when options are shuffled: option ids in display order. */
  optionOrder: Record<string, string[]>;
}

export class PaperCache {
  readonly #papers = new Map<string, Promise<Paper>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxEntries = 256,
  ) {}

  get(versionId: string): Promise<Paper> {
    let p = this.#papers.get(versionId);
    if (!p) {
      p = this.#load(versionId);
      // A failed load must not be cached.
      p.catch(() => this.#papers.delete(versionId));
      if (this.#papers.size >= this.maxEntries) {
        const oldest = this.#papers.keys().next().value;
        if (oldest !== undefined) this.#papers.delete(oldest);
      }
      this.#papers.set(versionId, p);
    }
    return p;
  }

  async #load(versionId: string): Promise<Paper> {
    const row = await this.db
      .selectFrom('assessment_versions')
      .select(['id', 'content', 'max_score'])
      .where('id', '=', versionId)
      .executeTakeFirstOrThrow();
    const content = row.content as VersionContent<unknown>;
    const questions: Record<string, Question> = {};
    const questionJson = new Map<string, string>();
    for (const [id, raw] of Object.entries(content.questions)) {
      const q = fromContent(id, raw);
      questions[id] = q;
      questionJson.set(id, JSON.stringify(publicView(q)));
    }
    return { versionId, content: { ...content, questions }, maxScore: Number(row.max_score), questionJson };
  }
}

export function layoutFor(paper: Paper, seed: number): Layout {
  const questionIds = drawQuestionIds(paper.content, seed);
  const optionOrder: Record<string, string[]> = {};
  if (paper.content.shuffleOptions) {
    const random = seededRandom(seed ^ 0x5bd1e995);
    for (const id of questionIds) {
      const q = paper.content.questions[id];
      if (q && (q.type === 'single_choice' || q.type === 'multiple_response')) {
        optionOrder[id] = shuffle(
          q.options.map((o) => o.id),
          random,
        );
      }
    }
  }
  return { questionIds, optionOrder };
}

/** The paper for one candidate as a JSON string built from cached pieces. */
export function renderPaper(paper: Paper, layout: Layout, header: Record<string, unknown>): string {
  const items = layout.questionIds.map((id) => paper.questionJson.get(id)).filter((s) => s !== undefined);
  const head = JSON.stringify({
    ...header,
    title: paper.content.title,
    description: paper.content.description,
    timeLimitS: paper.content.timeLimitS,
    maxScore: paper.maxScore,
    optionOrder: layout.optionOrder,
  });
  return `${head.slice(0, -1)},"questions":[${items.join(',')}]}`;
}
