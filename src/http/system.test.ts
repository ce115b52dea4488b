import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../config.ts';
import { dbTargets } from '../testing/db.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';

describe('config', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.http.port, 3000);
    assert.ok(c.dataDir.endsWith('/data'));
    assert.equal(c.db.url, undefined);
    assert.equal(c.seedDemo, true);
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', JWT_SECRET: 'short', LOG_LEVEL: 'loud', SEED_DEMO: 'maybe' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      for (const key of ['PORT', 'DATABASE_URL', 'JWT_SECRET', 'LOG_LEVEL', 'SEED_DEMO']) assert.match(text, new RegExp(key));
      assert.equal(err.problems.length, 5);
    }
  });

  it('documents every variable in the README', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    const { envSchema } = await import('../config.ts');
    const missing = Object.keys(envSchema.shape).filter((k) => !readme.includes(`\`${k}\``));
    assert.deepEqual(missing, []);
  });
});

for (const target of dbTargets()) {
  describe(`system routes (${target.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(target);
    });
    after(() => t.close());

    it('healthz and readyz', async () => {
      assert.equal((await t.app.inject('/healthz')).statusCode, 200);
      const ready = await t.app.inject('/readyz');
      assert.equal(ready.statusCode, 200, ready.body);
      const checks = (ready.json() as { checks: Record<string, string> }).checks;
      assert.equal(checks.database, 'ok');
      assert.equal(checks.queue, 'ok');
    });

    it('exposes Prometheus metrics: per-route counts and latency, event-loop lag, pool, queue depth', async () => {
      await t.app.inject('/healthz');
      const res = await t.app.inject('/metrics');
      assert.equal(res.statusCode, 200);
      for (const name of [
        'examday_http_requests_total{method="GET",route="/healthz",status="200"}',
        'examday_http_request_duration_seconds_bucket',
        'examday_event_loop_lag_p99_seconds',
        'examday_db_pool_connections{state="in_use"}',
        'examday_db_pool_connections{state="waiting"}',
        'examday_queue_jobs{queue="grading",state="waiting"}',
        'examday_db_slow_queries_total',
      ]) {
        assert.ok(res.body.includes(name), `missing ${name}`);
      }
      // Default metrics stay, except those that walk every open socket on each scrape.
      assert.ok(res.body.includes('process_cpu_seconds_total'));
      assert.ok(res.body.includes('nodejs_heap_size_used_bytes'));
      for (const name of ['nodejs_active_handles', 'nodejs_active_resources', 'process_open_fds']) {
        assert.ok(!res.body.includes(`${name} `) && !res.body.includes(`${name}{`), `${name} is not collected`);
      }
    });

    it('serves OpenAPI 3.1 generated from the route schemas, and Swagger UI', async () => {
      const spec = (await t.app.inject('/openapi.json')).json() as { openapi: string; paths: Record<string, unknown> };
      assert.equal(spec.openapi, '3.1.0');
      assert.ok(spec.paths['/api/v1/attempts/{id}/answers']);
      assert.ok(spec.paths['/api/v1/sessions/{id}/bookings']);
      const docs = await t.app.inject('/docs/');
      assert.equal(docs.statusCode, 200);
      assert.match(docs.body, /swagger/i);
    });

    it('landing page links the docs', async () => {
      const res = await t.app.inject('/');
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /href="\/docs"/);
    });
  });
}
