/**
 * Content pipeline against a provider's rate limit: one `examday serve` and
 * two `examday worker` processes on PostgreSQL + Redis (BullMQ, shared
 * budget) generate questions through the local fake OpenAI-compatible
 * provider, which enforces R chat requests per sliding minute and records
 * every request over it. Authors keep more work queued than R allows.
 *
 * Pass: completions over the measured whole minutes reach ≥ 95 % of R per
 * minute, the provider saw no request over its limit (so never answered 429
 * for that), and no author's material failed or upload was refused.
 *
 *   bash scripts/services.sh && set -a && . /tmp/examday-services/env && set +a
 *   npm run bench -- pipeline
 *
 * Env: PIPELINE_BENCH_RPM (R, default 120), PIPELINE_BENCH_MINUTES (measured
 * minutes, default 3), PIPELINE_BENCH_LATENCY_MS (provider latency, default 400).
 */
import { randomBytes } from 'node:crypto';
import { createTestPostgresDatabase } from '../src/testing/db.ts';
import { startFakeOpenAI } from '../src/testing/fake-openai.ts';
import { makePdf } from '../src/testing/pdf-fixtures.ts';
import { fetchJson, startExamday, type ExamdayProcess } from '../src/testing/processes.ts';
import type { MaterialView } from '../src/modules/materials/model.ts';

const ADMIN = { email: 'admin@examday.local', password: 'examday-demo-2026' };
const PAGES_PER_DOC = 12;
const DOCS_PER_AUTHOR = 10;

export async function run(): Promise<object> {
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!databaseUrl || !redisUrl) {
    throw new Error('bench/pipeline needs DATABASE_URL and REDIS_URL (two worker processes share them): run scripts/services.sh and source its env file');
  }
  const rpm = Number(process.env.PIPELINE_BENCH_RPM ?? 120);
  const minutes = Number(process.env.PIPELINE_BENCH_MINUTES ?? 3);
  const latencyMs = Number(process.env.PIPELINE_BENCH_LATENCY_MS ?? 400);

  const fake = await startFakeOpenAI({ rateLimit: { requests: rpm, windowMs: 60_000 }, latencyMs, keepBodies: false });
  const db = await createTestPostgresDatabase(databaseUrl);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
    AI_BASE_URL: fake.url,
    AI_API_KEY: 'bench-key',
    AI_MODEL: 'fake-model',
    AI_BUDGET_RPM: String(rpm),
    AI_BUDGET_TPM: '100000000',
    AI_BUDGET_TPD: '1000000000',
    LOG_LEVEL: 'info',
    SEED_DEMO: 'true',
  };
  for (const k of Object.keys(env)) if (k.startsWith('S3_')) delete env[k];

  const processes: ExamdayProcess[] = [];
  try {
    const api = await startExamday('serve', env);
    processes.push(api);
    for (let i = 0; i < 2; i++) processes.push(await startExamday('worker', { ...env, SEED_DEMO: 'false' }));

    // Enough documents that the queue never runs dry: about 1.5 × R × minutes chunks.
    const admin = await signIn(api.base, ADMIN.email, ADMIN.password);
    const chunksPerDoc = Math.max(1, Math.round((PAGES_PER_DOC * 3000) / 6000));
    const docsNeeded = Math.ceil((1.5 * rpm * (minutes + 1)) / chunksPerDoc);
    const authors = Math.ceil(docsNeeded / DOCS_PER_AUTHOR);

    const refusals: string[] = [];
    const materials: { headers: Record<string, string>; id: string }[] = [];
    await Promise.all(
      Array.from({ length: authors }, async (_, a) => {
        const email = `bench-author-${a}@examday.local`;
        const password = 'bench-password-123';
        await fetchJson(`${api.base}/users`, {
          method: 'POST',
          headers: { ...admin, 'content-type': 'application/json' },
          body: JSON.stringify({ role: 'author', email, name: `Bench author ${a}`, password }),
        });
        const headers = await signIn(api.base, email, password);
        for (let d = 0; d < DOCS_PER_AUTHOR; d++) {
          const form = new FormData();
          form.append('count', '3');
          form.append('file', new Blob([makePdf(pages(`a${a}`, d), { title: `doc ${a}-${d}` })], { type: 'application/pdf' }), `doc-${a}-${d}.pdf`);
          const res = await fetch(`${api.base}/materials`, { method: 'POST', headers, body: form });
          const body = await res.text();
          if (!res.ok) refusals.push(`${res.status} ${body}`);
          else materials.push({ headers, id: (JSON.parse(body) as MaterialView).id });
        }
      }),
    );

    // Measure whole minutes from the first chat request.
    const started = await waitUntil(() => fake.stats().requests > 0, 120_000);
    if (!started) throw new Error('no provider request within 2 minutes of the uploads');
    const first = fake.requests().find((r) => r.path === '/v1/chat/completions')!.at;
    const end = first + minutes * 60_000;
    const progress = setInterval(() => {
      const s = fake.stats();
      process.stderr.write(`pipeline bench: ${Math.round((Date.now() - first) / 1000)} s, ${s.completions} completions, ${s.rateLimitViolations} over the limit\n`);
    }, 10_000);
    await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
    clearInterval(progress);

    const chats = fake.requests().filter((r) => r.path === '/v1/chat/completions' && r.at >= first && r.at < end);
    const completed = chats.filter((r) => r.status === 200).length;
    const perMinute = Array.from({ length: minutes }, (_, m) => chats.filter((r) => r.status === 200 && r.at >= first + m * 60_000 && r.at < first + (m + 1) * 60_000).length);
    const stats = fake.stats();

    const states = await Promise.all(materials.map((m) => fetchJson<MaterialView>(`${api.base}/materials/${m.id}`, { headers: m.headers })));
    const failed = states.filter((m) => m.status === 'failed');
    const ready = states.filter((m) => m.status === 'ready').length;
    const peakInAnyMinute = stats.peakInWindow;
    const perMinuteRate = completed / minutes;
    const result = {
      providerLimitPerMinute: rpm,
      providerLatencyMs: latencyMs,
      workerProcesses: 2,
      measuredMinutes: minutes,
      completionsPerMinute: perMinute,
      averagePerMinute: round(perMinuteRate),
      shareOfLimit: round(perMinuteRate / rpm),
      peakRequestsInAnySlidingMinute: peakInAnyMinute,
      requestsOverLimit: stats.rateLimitViolations,
      providerErrors: chats.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.outcome}`),
      materials: { uploaded: materials.length, ready, failed: failed.length, stillProcessing: states.length - ready - failed.length },
      uploadRefusals: refusals.length,
      failures: [...failed.map((m) => `${m.filename}: ${m.error?.code}`), ...refusals].slice(0, 10),
      pass: perMinuteRate >= 0.95 * rpm && stats.rateLimitViolations === 0 && failed.length === 0 && refusals.length === 0,
    };
    return result;
  } finally {
    await Promise.all(processes.map((p) => p.kill()));
    await fake.close();
    await db.drop().catch(() => {});
  }
}

function pages(tag: string, doc: number): string[][] {
  return Array.from({ length: PAGES_PER_DOC }, (_, p) =>
    Array.from({ length: 30 }, (_, l) => `Field note ${tag}-${doc}-${p}-${l}: the glacier Vell${doc}x${p}x${l} retreated ${10 + l} metres past the cairn of Orm${p}.`),
  );
}

async function signIn(base: string, email: string, password: string): Promise<Record<string, string>> {
  const { accessToken } = await fetchJson<{ accessToken: string }>(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  return { authorization: `Bearer ${accessToken}` };
}

async function waitUntil(ok: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;
