/**
 * Demo data for a first embedded start, and large data sets for load tests.
 * Load-test seeding is set-based (batched unnest inserts) so 100,000
 * candidates take seconds, not a round trip each.
 */
import { randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { AppContext } from '../../context.ts';
import type { Database } from '../../platform/db/schema.ts';
import { hashPassword } from '../auth/service.ts';
import { hashAccessCode, newAccessCode, type Principal } from '../auth/tokens.ts';
import { publishAssessment } from '../assessments/publish.ts';
import { questionBody, type QuestionInput } from '../questions/model.ts';

/** What the seeders need: only the database (the load harness seeds without a full context). */
type SeedTarget = Pick<AppContext, 'db'>;

const DEMO_PASSWORD = 'examday-demo-2026';
const DISTRICTS = ['north', 'south', 'east'];

/** Sample questions covering every question type. */
const SAMPLE: QuestionInput[] = [
  {
    type: 'single_choice',
    stem: 'Which planet is closest to the Sun?',
    points: 1,
    tags: ['demo', 'science'],
    options: [
      { id: 'a', text: 'Venus' },
      { id: 'b', text: 'Mercury' },
      { id: 'c', text: 'Mars' },
    ],
    correct: 'b',
    feedback: 'Mercury orbits at about 0.39 AU.',
  },
  {
    type: 'multiple_response',
    stem: 'Which of these are prime numbers?',
    points: 2,
    tags: ['demo', 'maths'],
    options: [
      { id: 'a', text: '2' },
      { id: 'b', text: '9' },
      { id: 'c', text: '11' },
      { id: 'd', text: '15' },
    ],
    correct: ['a', 'c'],
    scoring: 'partial',
  },
  { type: 'true_false', stem: 'Water boils at 100 °C at sea level.', points: 1, tags: ['demo', 'science'], correct: true },
  {
    type: 'short_text',
    stem: 'What is the capital of France?',
    points: 1,
    tags: ['demo', 'geography'],
    accepted: ['Paris'],
    match: 'normalized',
  },
  { type: 'numeric', stem: 'What is 7 × 6?', points: 1, tags: ['demo', 'maths'], answer: 42, tolerance: 0 },
] as QuestionInput[];

async function createQuestions(ctx: SeedTarget, ownerId: string): Promise<string[]> {
  const ids: string[] = [];
  for (const input of SAMPLE) {
    const cols = questionBody(input);
    const row = await ctx.db.kysely
      .insertInto('questions')
      .values({
        owner_id: ownerId,
        type: cols.type,
        stem: cols.stem,
        points: cols.points,
        feedback: cols.feedback ?? null,
        tags: cols.tags,
        difficulty: cols.difficulty ?? null,
        body: JSON.stringify(cols.body),
        status: 'approved',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(row.id);
  }
  return ids;
}

async function createPublishedAssessment(
  ctx: SeedTarget,
  author: Principal,
  title: string,
  timeLimitS: number,
): Promise<{ assessmentId: string; versionId: string }> {
  const questionIds = await createQuestions(ctx, author.id);
  const a = await ctx.db.kysely
    .insertInto('assessments')
    .values({
      owner_id: author.id,
      title,
      description: 'A short demonstration exam covering every question type.',
      items: JSON.stringify(questionIds.map((questionId) => ({ questionId }))),
      time_limit_s: timeLimitS,
      shuffle_items: true,
      shuffle_options: true,
      release_policy: 'on_submit',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await publishAssessment(ctx.db.kysely, author, a.id);
  const v = await ctx.db.kysely
    .selectFrom('assessment_versions')
    .select('id')
    .where('assessment_id', '=', a.id)
    .orderBy('version', 'desc')
    .executeTakeFirstOrThrow();
  return { assessmentId: a.id, versionId: v.id };
}

async function staff(ctx: SeedTarget, role: 'admin' | 'author', email: string, name: string): Promise<string> {
  const row = await ctx.db.kysely
    .insertInto('users')
    .values({ role, email, name, password_hash: await hashPassword(DEMO_PASSWORD) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Seed once (first start): admin, author, candidates in three districts, a published assessment, sessions open today. */
export async function seedDemo(ctx: AppContext): Promise<void> {
  const k = ctx.db.kysely;
  const marker = await k.selectFrom('settings').select('value').where('key', '=', 'demo_seeded').executeTakeFirst();
  if (marker) {
    const saved = await k.selectFrom('settings').select('value').where('key', '=', 'demo_accounts').executeTakeFirst();
    if (saved) ctx.demoAccounts = JSON.parse(saved.value) as AppContext['demoAccounts'];
    return;
  }
  const adminId = await staff(ctx, 'admin', 'admin@examday.local', 'Ada Admin');
  const authorId = await staff(ctx, 'author', 'author@examday.local', 'Alan Author');
  void adminId;
  const author: Principal = { id: authorId, role: 'author', district: null };
  const { assessmentId, versionId } = await createPublishedAssessment(ctx, author, 'Demo exam: general knowledge', 20 * 60);

  const dayStart = new Date();
  dayStart.setUTCHours(0, 0, 0, 0);
  const dayEnd = new Date(dayStart.getTime() + 24 * 3600 * 1000);
  const accounts: AppContext['demoAccounts'] = [
    { role: 'admin', login: 'admin@examday.local', secret: DEMO_PASSWORD },
    { role: 'author', login: 'author@examday.local', secret: DEMO_PASSWORD },
  ];
  for (const district of DISTRICTS) {
    const session = await k
      .insertInto('exam_sessions')
      .values({
        assessment_id: assessmentId,
        assessment_version_id: versionId,
        owner_id: authorId,
        title: `Demo session (${district})`,
        district,
        starts_at: dayStart,
        ends_at: dayEnd,
        capacity: 50,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (let i = 1; i <= 3; i++) {
      const name = `${district[0]!.toUpperCase()}${district.slice(1)} Candidate ${i}`;
      const { user, accessCode } = await ctx.users.createCandidateWithCode({
        name,
        email: `${district}${i}@candidates.examday.local`,
        district,
      });
      // The first candidate of each district is already booked; the others book themselves.
      if (i === 1) {
        await k.transaction().execute(async (tx) => {
          await tx.updateTable('exam_sessions').set({ booked: sql`booked + 1` }).where('id', '=', session.id).execute();
          await tx
            .insertInto('bookings')
            .values({ session_id: session.id, assessment_id: assessmentId, candidate_id: user.id })
            .execute();
        });
      }
      accounts.push({ role: `candidate (${district}${i === 1 ? ', booked' : ''})`, login: name, secret: accessCode });
    }
  }
  await k
    .insertInto('settings')
    .values([
      { key: 'demo_seeded', value: new Date().toISOString() },
      { key: 'demo_accounts', value: JSON.stringify(accounts) },
    ])
    .execute();
  ctx.demoAccounts = accounts;
  ctx.log.info({ accounts: accounts.length }, 'demo data seeded');
}

export interface LoadSeedOptions {
  candidates: number;
  districts: number;
  sessionsPerDistrict: number;
  outFile?: string | undefined;
  /**
   * Candidates get an account access code and no booking: they book a seat
   * themselves (the harness's booking-first mode). Sessions then have 10 %
   * spare seats so the last bookers still find room.
   */
  bookingFirst?: boolean;
  /** The assessment's time limit (default 3 h: longer than any load run). */
  timeLimitS?: number;
  /** Sessions are open from a minute ago for this long (default 12 h). */
  openForS?: number;
}

export interface LoadSeedSummary {
  /** Names this data set: its districts end with it, and `dropLoad` removes it. */
  runTag: string;
  assessmentId: string;
  versionId: string;
  districts: string[];
  sessions: number;
  candidates: number;
  bookingFirst: boolean;
  seconds: number;
  outFile: string | null;
}

export interface LoadCandidate {
  candidateId: string;
  district: string;
  /** Empty in booking-first mode. */
  sessionId: string;
  bookingId: string;
  accessCode: string;
}

export const LOAD_CSV_HEADER = 'candidateId,district,sessionId,bookingId,accessCode';

/**
 * A load-test data set: one published assessment, sessions open for the next
 * 12 hours in each district, N candidates spread over the districts and booked
 * (or, booking first, only given an account code). Writes
 * `candidateId,district,sessionId,bookingId,accessCode` CSV to outFile, and
 * returns the rows when `collect` is given.
 */
export async function seedLoad(ctx: SeedTarget, o: LoadSeedOptions, collect?: LoadCandidate[]): Promise<LoadSeedSummary> {
  const k = ctx.db.kysely;
  const started = Date.now();
  const runTag = `${Date.now().toString(36)}${randomInt(1000)}`;
  const bookingFirst = o.bookingFirst ?? false;
  const authorId = await staff(ctx, 'author', `loadtest-${runTag}@examday.local`, `Load test author ${runTag}`);
  const author: Principal = { id: authorId, role: 'author', district: null };
  const { assessmentId, versionId } = await createPublishedAssessment(ctx, author, `Load test ${runTag}`, o.timeLimitS ?? 3 * 3600);
  const now = Date.now();
  const districts = Array.from({ length: o.districts }, (_, i) => `d${i + 1}-${runTag}`);
  const perSession = Math.ceil(o.candidates / (o.districts * o.sessionsPerDistrict));
  const capacity = bookingFirst ? Math.ceil(perSession * 1.1) + 1 : perSession;
  const sessions: { id: string; district: string }[] = [];
  for (const district of districts) {
    for (let s = 0; s < o.sessionsPerDistrict; s++) {
      const row = await k
        .insertInto('exam_sessions')
        .values({
          assessment_id: assessmentId,
          assessment_version_id: versionId,
          owner_id: authorId,
          title: `Load session ${s + 1}`,
          district,
          starts_at: new Date(now - 60_000),
          ends_at: new Date(now + (o.openForS ?? 12 * 3600) * 1000),
          capacity,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      sessions.push({ id: row.id, district });
    }
  }

  const lines: string[] = [LOAD_CSV_HEADER];
  const emit = (c: LoadCandidate): void => {
    lines.push(`${c.candidateId},${c.district},${c.sessionId},${c.bookingId},${c.accessCode}`);
    collect?.push(c);
  };
  const BATCH = 5000;
  for (let start = 0; start < o.candidates; start += BATCH) {
    const n = Math.min(BATCH, o.candidates - start);
    const names: string[] = [];
    const dists: string[] = [];
    const sessionIds: string[] = [];
    const codes: string[] = [];
    for (let i = 0; i < n; i++) {
      const idx = start + i;
      const session = sessions[idx % sessions.length]!;
      names.push(`Candidate ${idx + 1}`);
      dists.push(session.district);
      sessionIds.push(session.id);
      codes.push(newAccessCode());
    }
    const hashes = codes.map(hashAccessCode);
    if (bookingFirst) {
      const rows = await sql<{ user_id: string; ord: number }>`
        WITH input AS (
          SELECT * FROM unnest(${names}::text[], ${dists}::text[], ${hashes}::text[])
            WITH ORDINALITY AS t(name, district, code_hash, ord)
        ), new_users AS (
          INSERT INTO users (role, name, district)
          SELECT 'candidate', name, district FROM input ORDER BY ord
          RETURNING id, name
        ), codes AS (
          INSERT INTO access_codes (code_hash, user_id)
          SELECT i.code_hash, u.id FROM input i JOIN new_users u ON u.name = i.name
          RETURNING 1
        )
        SELECT u.id::text AS user_id, i.ord::int AS ord FROM input i JOIN new_users u ON u.name = i.name ORDER BY i.ord`.execute(k);
      for (const r of rows.rows) {
        const i = r.ord - 1;
        emit({ candidateId: r.user_id, district: dists[i]!, sessionId: '', bookingId: '', accessCode: codes[i]! });
      }
      continue;
    }
    await k.transaction().execute(async (tx) => {
      const rows = await sql<{ user_id: string; booking_id: string; session_id: string; ord: number }>`
        WITH input AS (
          SELECT * FROM unnest(${names}::text[], ${dists}::text[], ${sessionIds}::uuid[], ${hashes}::text[])
            WITH ORDINALITY AS t(name, district, session_id, code_hash, ord)
        ), new_users AS (
          INSERT INTO users (role, name, district)
          SELECT 'candidate', name, district FROM input ORDER BY ord
          RETURNING id, name
        ), paired AS (
          SELECT i.*, u.id AS user_id FROM input i JOIN new_users u ON u.name = i.name
        ), new_bookings AS (
          INSERT INTO bookings (session_id, assessment_id, candidate_id)
          SELECT session_id, ${assessmentId}::uuid, user_id FROM paired
          RETURNING id, candidate_id, session_id
        ), codes AS (
          INSERT INTO access_codes (code_hash, user_id, booking_id)
          SELECT p.code_hash, p.user_id, b.id FROM paired p JOIN new_bookings b ON b.candidate_id = p.user_id
          RETURNING 1
        )
        SELECT p.user_id::text, b.id::text AS booking_id, p.session_id::text, p.ord::int AS ord
        FROM paired p JOIN new_bookings b ON b.candidate_id = p.user_id
        ORDER BY p.ord`.execute(tx);
      await sql`
        UPDATE exam_sessions s SET booked = s.booked + c.n
        FROM (SELECT session_id, count(*)::int AS n FROM unnest(${sessionIds}::uuid[]) AS t(session_id) GROUP BY session_id) c
        WHERE s.id = c.session_id`.execute(tx);
      for (const r of rows.rows) {
        const i = r.ord - 1;
        emit({ candidateId: r.user_id, district: dists[i]!, sessionId: r.session_id, bookingId: r.booking_id, accessCode: codes[i]! });
      }
    });
  }
  if (o.outFile) await writeFile(o.outFile, `${lines.join('\n')}\n`);
  return {
    runTag,
    assessmentId,
    versionId,
    districts,
    sessions: sessions.length,
    candidates: o.candidates,
    bookingFirst,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    outFile: o.outFile ?? null,
  };
}

/** Candidates removed per statement: each is a short transaction of its own. */
const DROP_CHUNK = 2000;
/**
 * Deadlock detected, serialization failure: the statement was rolled back and
 * may run again. A deployment that is still grading or auto-submitting the
 * run's attempts locks the rows a cascading delete needs, in its own order.
 */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);
const DROP_TRIES = 5;

/** A load-test run tag as `seedLoad` makes it: what `dropLoad` accepts. */
export const isRunTag = (tag: string): boolean => /^[a-z0-9]{4,32}$/.test(tag);

/**
 * Remove a load-test data set made by `seedLoad` (its candidates with their
 * bookings, attempts and answers; its author with the assessment and sessions).
 * Safe beside a deployment that still works on those attempts: candidates go
 * `chunk` at a time, and a statement that lost a deadlock is run again.
 * Returns how many candidates were removed.
 */
export async function dropLoad(db: Kysely<Database>, runTag: string, chunk = DROP_CHUNK): Promise<number> {
  if (!isRunTag(runTag)) throw new Error(`not a load-test run tag: ${runTag}`);
  let removed = 0;
  for (;;) {
    const res = await againOnConflict(() =>
      db
        .deleteFrom('users')
        .where('id', 'in', (q) =>
          q.selectFrom('users').select('id').where('role', '=', 'candidate').where('district', 'like', `d%-${runTag}`).limit(chunk),
        )
        .executeTakeFirst(),
    );
    const n = Number(res.numDeletedRows);
    removed += n;
    if (n < chunk) break;
  }
  await againOnConflict(() => db.deleteFrom('users').where('email', '=', `loadtest-${runTag}@examday.local`).execute());
  return removed;
}

/** Run `statement`, again after a short random pause when it lost a deadlock (up to DROP_TRIES times). */
export async function againOnConflict<T>(statement: () => Promise<T>, tries = DROP_TRIES): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt >= tries || typeof code !== 'string' || !RETRYABLE_SQLSTATES.has(code)) throw err;
      await delay(Math.random() * 50 * 2 ** attempt);
    }
  }
}
