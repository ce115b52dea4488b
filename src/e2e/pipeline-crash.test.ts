/**
 * "No lost stage, no duplicate question": the process running the content
 * pipeline is SIGKILLed while a material is half-way through generation,
 * then started again. The material must complete, every chunk counted once,
 * with exactly the questions an uninterrupted run produces.
 *
 * On PGlite the jobs run inside `examday all`, so that process is killed; on
 * PostgreSQL + Redis (BullMQ) a separate `examday worker` is killed while
 * `examday serve` keeps answering the author.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { openPglite } from '../platform/db/pglite.ts';
import { openPostgres } from '../platform/db/postgres.ts';
import type { Db } from '../platform/db/index.ts';
import { createTestPostgresDatabase } from '../testing/db.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../testing/fake-openai.ts';
import { makePdf } from '../testing/pdf-fixtures.ts';
import { fetchJson, startExamday, type ExamdayProcess } from '../testing/processes.ts';
import type { MaterialView } from '../modules/materials/model.ts';

const PAGES = 16;
const AUTHOR = { login: 'author@examday.local', password: 'examday-demo-2026' };

/** About 3,000 characters a page, every sentence its own, so chunks hash differently and no cache answers early. */
function documentPages(tag: string): string[][] {
  return Array.from({ length: PAGES }, (_, p) =>
    Array.from(
      { length: 30 },
      (_, l) => `In survey ${tag}-${p}-${l} the river Alder${p}x${l} carried ${100 + p * 30 + l} tonnes of silt to the estuary of Brenn${l}.`,
    ),
  );
}

async function signIn(base: string): Promise<Record<string, string>> {
  const { accessToken } = await fetchJson<{ accessToken: string }>(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: AUTHOR.login, password: AUTHOR.password }),
  });
  return { authorization: `Bearer ${accessToken}` };
}

async function uploadPdf(base: string, headers: Record<string, string>, pdf: Buffer, name: string): Promise<MaterialView> {
  const form = new FormData();
  form.append('count', '3');
  form.append('file', new Blob([pdf], { type: 'application/pdf' }), name);
  return fetchJson<MaterialView>(`${base}/materials`, { method: 'POST', headers, body: form });
}

async function poll(base: string, headers: Record<string, string>, id: string, until: (m: MaterialView) => boolean, timeoutMs: number): Promise<MaterialView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await fetchJson<MaterialView>(`${base}/materials/${id}`, { headers });
    if (until(m)) return m;
    if (Date.now() > deadline) throw new Error(`material ${id} stuck: ${JSON.stringify(m)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Outcome {
  material: MaterialView;
  stems: string[];
  chunkRows: number;
}

async function outcome(db: Db, material: MaterialView): Promise<Outcome> {
  const rows = await db.kysely.selectFrom('questions').select(['stem']).where('material_id', '=', material.id).execute();
  const chunks = await db.kysely.selectFrom('material_chunks').select((eb) => eb.fn.countAll<number>().as('n')).where('material_id', '=', material.id).executeTakeFirstOrThrow();
  return { material, stems: rows.map((r) => r.stem).sort(), chunkRows: Number(chunks.n) };
}

interface Deployment {
  /** The processes the author talks to; restarted by `restartJobs` only on PGlite. */
  api(): ExamdayProcess;
  /** SIGKILL whatever runs the pipeline jobs, and start it again. */
  killJobs(): Promise<void>;
  restartJobs(): Promise<void>;
  /** Opens the database once every process has stopped (PGlite) or alongside them (PostgreSQL). */
  openDb(): Promise<Db>;
  stop(): Promise<void>;
}

async function crashMidPipeline(deploy: Deployment, fake: FakeOpenAI): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const pdf = makePdf(documentPages(tag), { title: `crash ${tag}` });

  let headers = await signIn(deploy.api().base);
  const uploaded = await uploadPdf(deploy.api().base, headers, pdf, 'survey.pdf');
  const mid = await poll(deploy.api().base, headers, uploaded.id, (m) => m.chunks.done >= 2 || m.status === 'ready' || m.status === 'failed', 60_000);
  assert.equal(mid.status, 'generating', `the material must still be generating when the worker dies: ${JSON.stringify(mid)}`);
  assert.ok(mid.chunks.total >= 6, `want several chunks, got ${mid.chunks.total}`);
  await deploy.killJobs();
  const callsAtKill = fake.stats().completions;
  await deploy.restartJobs();

  headers = await signIn(deploy.api().base);
  const done = await poll(deploy.api().base, headers, uploaded.id, (m) => m.status === 'ready' || m.status === 'failed', 120_000);
  assert.equal(done.status, 'ready', JSON.stringify(done.error));
  assert.equal(done.chunks.done, done.chunks.total);
  assert.ok(fake.stats().completions > callsAtKill, 'the restarted worker carried on generating');

  // The same document, uninterrupted, by a fresh upload under another name: the reference.
  const again = makePdf(documentPages(tag), { title: `crash ${tag}`, compress: false });
  const reference = await uploadPdf(deploy.api().base, headers, again, 'survey-again.pdf');
  const refDone = await poll(deploy.api().base, headers, reference.id, (m) => m.status === 'ready' || m.status === 'failed', 120_000);
  assert.equal(refDone.status, 'ready');

  await deploy.stop();
  const db = await deploy.openDb();
  try {
    const crashed = await outcome(db, done);
    const clean = await outcome(db, refDone);
    assert.equal(crashed.chunkRows, done.chunks.total, 'every chunk counted exactly once');
    assert.equal(crashed.stems.length, done.questions.created, 'the question count shown to the author matches the bank');
    assert.equal(new Set(crashed.stems).size, crashed.stems.length, 'no duplicate questions');
    assert.deepEqual(crashed.stems, clean.stems, 'the crashed run made exactly the questions of an uninterrupted run');
  } finally {
    await db.close();
  }
}

const childEnv = (extra: Record<string, string>, fake: FakeOpenAI): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'info',
    SEED_DEMO: 'true',
    AI_BASE_URL: fake.url,
    AI_API_KEY: 'test-key',
    AI_MODEL: 'fake-model',
    WORKER_CONCURRENCY: '1',
    JOB_LEASE_MS: '2000',
    ...extra,
  };
  // The child picks its adapters from these; each case sets its own (blobs stay on disk).
  for (const k of Object.keys(env)) if ((k === 'REDIS_URL' || k === 'DATABASE_URL' || k.startsWith('S3_')) && !(k in extra)) delete env[k];
  return env;
};

describe('SIGKILL the pipeline worker mid-material', () => {
  const cleanups: (() => Promise<void>)[] = [];
  let fake: FakeOpenAI;
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('on PGlite (examday all)', async () => {
    fake = await startFakeOpenAI({ latencyMs: 400, keepBodies: false });
    cleanups.push(() => fake.close());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'examday-pipecrash-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const env = childEnv({ EXAMDAY_DATA_DIR: dir }, fake);
    let all = await startExamday('all', env);
    cleanups.push(() => all.kill());
    await crashMidPipeline(
      {
        api: () => all,
        killJobs: () => all.kill(),
        restartJobs: async () => {
          all = await startExamday('all', env);
        },
        openDb: () => openPglite({ slowQueryMs: 60_000, dataDir: path.join(dir, 'pgdata') }),
        stop: () => all.kill(),
      },
      fake,
    );
  });

  const pgUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  it('on PostgreSQL + BullMQ (examday worker beside examday serve)', { skip: !pgUrl || !redisUrl ? 'DATABASE_URL and REDIS_URL not set' : false }, async () => {
    fake = await startFakeOpenAI({ latencyMs: 400, keepBodies: false });
    cleanups.push(() => fake.close());
    const created = await createTestPostgresDatabase(pgUrl!);
    cleanups.push(() => created.drop());
    const env = childEnv({ DATABASE_URL: created.url, REDIS_URL: redisUrl!, REDIS_PREFIX: `crash-${randomBytes(4).toString('hex')}` }, fake);
    const serve = await startExamday('serve', env);
    cleanups.push(() => serve.kill());
    let worker = await startExamday('worker', { ...env, SEED_DEMO: 'false' });
    cleanups.push(() => worker.kill());
    await crashMidPipeline(
      {
        api: () => serve,
        killJobs: () => worker.kill(),
        restartJobs: async () => {
          worker = await startExamday('worker', { ...env, SEED_DEMO: 'false' });
        },
        openDb: () => openPostgres({ url: created.url, poolMax: 2, statementTimeoutMs: 30_000, slowQueryMs: 60_000 }),
        stop: async () => {
          await worker.kill();
          await serve.kill();
        },
      },
      fake,
    );
  });
});
