/**
 * Bad input at the HTTP edge: every case gets a specific 4xx problem+json with
 * a stable code, never a 500, and nothing is half-written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSigner } from 'fast-jwt';
import { dbTargets } from '../testing/db.ts';
import { createTestApp, type Actor, type TestApp } from '../testing/app.ts';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';

for (const target of dbTargets()) {
  describe(`bad input (${target.name})`, () => {
    let t: TestApp;
    let author: Actor;

    before(async () => {
      t = await createTestApp(target, { JWT_SECRET: SECRET });
      author = await t.staff('author');
    });
    after(() => t.close());

    const problem = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const body = JSON.parse(res.body) as { code: string; status: number; detail: string; title: string };
      assert.equal(body.status, res.statusCode);
      assert.ok(body.detail.length > 0 && body.title.length > 0);
      return body;
    };

    it('malformed JSON → 400 bad_request', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/questions', headers: { ...author.headers, 'content-type': 'application/json' }, payload: '{"type": "true_false",' });
      assert.equal(res.statusCode, 400);
      assert.equal(problem(res).code, 'bad_request');
    });

    it('wrong types and unknown fields → 400 validation_failed naming the field; nothing stored', async () => {
      const before = await t.ctx.db.kysely.selectFrom('questions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      let res = await t.app.inject({ method: 'POST', url: '/api/v1/questions', headers: author.headers, payload: { type: 'true_false', stem: 'x', correct: 'yes' } });
      assert.equal(res.statusCode, 400);
      let body = problem(res);
      assert.equal(body.code, 'validation_failed');
      assert.match(body.detail, /correct/);
      res = await t.app.inject({ method: 'POST', url: '/api/v1/questions', headers: author.headers, payload: { type: 'true_false', stem: 'x', correct: true, secretField: 1 } });
      assert.equal(res.statusCode, 400);
      body = problem(res);
      assert.match(body.detail, /secretField/);
      const afterCount = await t.ctx.db.kysely.selectFrom('questions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      assert.equal(afterCount.n, before.n);
    });

    it('oversized body → 413 payload_too_large', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/questions',
        headers: { ...author.headers, 'content-type': 'application/json' },
        payload: JSON.stringify({ type: 'true_false', stem: 'x'.repeat(2 * 1024 * 1024), correct: true }),
      });
      assert.equal(res.statusCode, 413);
      assert.equal(problem(res).code, 'payload_too_large');
    });

    it('unsupported content type → 415', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/questions', headers: { ...author.headers, 'content-type': 'application/xml' }, payload: '<q/>' });
      assert.equal(res.statusCode, 415);
      assert.equal(problem(res).code, 'unsupported_media_type');
    });

    it('expired token → 401 token_invalid; forged signature → 401 token_invalid', async () => {
      const expired = createSigner({ key: SECRET, iss: 'examday', expiresIn: 1 })({ sub: author.id, role: 'author', dst: null });
      await new Promise((r) => setTimeout(r, 20));
      let res = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${expired}` } });
      assert.equal(res.statusCode, 401);
      assert.equal(problem(res).code, 'token_invalid');
      const forged = createSigner({ key: 'another-secret-another-secret-another-secret', iss: 'examday' })({ sub: author.id, role: 'admin', dst: null });
      res = await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: { authorization: `Bearer ${forged}` } });
      assert.equal(res.statusCode, 401);
      assert.equal(problem(res).code, 'token_invalid');
    });

    it('unknown route → 404 not_found; bad uuid → 4xx, never 500', async () => {
      let res = await t.app.inject({ method: 'GET', url: '/api/v1/nope' });
      assert.equal(res.statusCode, 404);
      assert.equal(problem(res).code, 'not_found');
      for (const url of ['/api/v1/questions/%00', '/api/v1/questions/1%27%20OR%201=1', '/api/v1/sessions/xyz', '/api/v1/assessments/..%2F..']) {
        res = await t.app.inject({ method: 'GET', url, headers: author.headers });
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url} → ${res.statusCode}`);
        problem(res);
      }
    });

    it('propagates and echoes a request id', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-123' } });
      assert.equal(res.headers['x-request-id'], 'trace-123');
      const generated = await t.app.inject({ method: 'GET', url: '/healthz' });
      assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    });
  });
}
