/**
 * Bad input at the HTTP edge: every case gets a specific 4xx problem+json with
 * a stable code, never a 500, and nothing is half-written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSigner } from 'fast-jwt';
import { connect, type AddressInfo } from 'node:net';
import { dbTargets } from '../testing/db.ts';
import { createTestApp, type Actor, type TestApp } from '../testing/app.ts';
import { valueFor, type PaperQuestion } from '../testing/exam.ts';
import { seedLoad, type LoadCandidate } from '../modules/demo/seed.ts';

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
      const body = JSON.parse(res.body) as { code: string; status: number; detail: string; title: string; errors?: { path: string; message: string }[] };
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

    it('a URL Fastify cannot route → problem+json: bad percent-encoding 400, an over-long id 414, %00 400', async () => {
      for (const url of ['/api/v1/questions/%ZZ', '/api/v1/questions/%ED%A0%80', '/api/v1/questions/%']) {
        const res = await t.app.inject({ method: 'GET', url, headers: author.headers });
        assert.equal(res.statusCode, 400, url);
        assert.equal(problem(res).code, 'bad_request');
        assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      }
      // A POST: a GET this long may fall through to the web app's catch-all route, which answers 404 problem+json.
      let res = await t.app.inject({ method: 'POST', url: `/api/v1/questions/${'a'.repeat(101)}/approve`, headers: author.headers });
      assert.equal(res.statusCode, 414);
      assert.match(problem(res).detail, /longer than 100 characters/);
      for (const url of ['/api/v1/questions?q=%00', '/api/v1/questions?tag=a%00b', '/api/v1/sessions?district=%00']) {
        res = await t.app.inject({ method: 'GET', url, headers: author.headers });
        assert.equal(res.statusCode, 400, url);
        assert.match(problem(res).detail, /%00/);
      }
    });

    it('text the database cannot store (U+0000, an unpaired surrogate) → 400 naming the field; nothing stored', async () => {
      const count = async () =>
        (await t.ctx.db.kysely.selectFrom('questions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n;
      const before = await count();
      for (const [stem, why] of [['a\u0000b', /U\+0000/], ['a\ud800b', /unpaired UTF-16 surrogate/], ['\udc00', /unpaired/]] as const) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/questions', headers: author.headers, payload: { type: 'true_false', stem, correct: true } });
        assert.equal(res.statusCode, 400, stem);
        const body = problem(res);
        assert.equal(body.code, 'validation_failed');
        assert.deepEqual(body.errors?.map((e) => e.path), ['stem']);
        assert.match(body.detail, why);
      }
      // A key counts too; a paired surrogate (an emoji) and an escaped backslash before "u0000" are text.
      let res = await t.app.inject({ method: 'POST', url: '/api/v1/questions', headers: author.headers, payload: { type: 'true_false', stem: 'x', correct: true, ['k\u0000']: 1 } });
      assert.equal(res.statusCode, 400);
      assert.match(problem(res).detail, /a key contains the character U\+0000/);
      res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/questions',
        headers: { ...author.headers, 'content-type': 'application/json' },
        payload: String.raw`{"type": "true_false", "stem": "Is \ud83d\ude00 a smile? C:\\u0000 is a path", "correct": true}`,
      });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(Number(await count()), Number(before) + 1);
      // Nested deeper than the call stack goes: still found, the path in the answer cut short.
      const depth = 100_000;
      res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/questions',
        headers: { ...author.headers, 'content-type': 'application/json' },
        payload: `{"type": "true_false", "stem": "x", "correct": true, "x": ${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}}`,
      });
      assert.equal(res.statusCode, 400);
      assert.match(problem(res).errors![0]!.path, /^x\.0\.0\..*…$/);
      assert.ok(res.body.length < 2000);
      assert.equal(Number(await count()), Number(before) + 1);
    });

    it('an answer with U+0000 fails its own save only, never the group commit it would have shared', async () => {
      const candidates: LoadCandidate[] = [];
      await seedLoad(t.ctx, { candidates: 2, districts: 1, sessionsPerDistrict: 1 }, candidates);
      const sitting = await Promise.all(
        candidates.map(async (c) => {
          const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/access-code', payload: { code: c.accessCode } });
          const headers = { authorization: `Bearer ${login.json<{ accessToken: string }>().accessToken}` };
          const start = await t.app.inject({ method: 'POST', url: `/api/v1/bookings/${c.bookingId}/attempt?include=paper`, headers });
          assert.equal(start.statusCode, 200, start.body);
          return { headers, attempt: start.json<{ id: string; paper: { questions: PaperQuestion[] } }>() };
        }),
      );
      const [bad, good] = sitting as [(typeof sitting)[0], (typeof sitting)[0]];
      const text = bad.attempt.paper.questions.find((q) => q.type === 'short_text')!;
      const q = good.attempt.paper.questions[0]!;
      const save = (s: typeof bad, questionId: string, value: unknown) =>
        t.app.inject({ method: 'PUT', url: `/api/v1/attempts/${s.attempt.id}/answers`, headers: s.headers, payload: { answers: [{ questionId, value, seq: 1 }] } });
      // Sent together, so that without the check both would land in one batch.
      const [refused, saved] = await Promise.all([save(bad, text.id, 'my answer\u0000'), save(good, q.id, valueFor(q, 1))]);
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(problem(refused).errors?.map((e) => e.path), ['answers.0.value']);
      assert.equal(saved.statusCode, 200, saved.body);
      const submit = await t.app.inject({
        method: 'POST',
        url: `/api/v1/attempts/${bad.attempt.id}/submit`,
        headers: bad.headers,
        payload: { answers: [{ questionId: text.id, value: '\ud83d', seq: 2 }] },
      });
      assert.equal(submit.statusCode, 400);
      const view = await t.app.inject({ method: 'GET', url: `/api/v1/attempts/${bad.attempt.id}`, headers: bad.headers });
      assert.equal(view.json<{ status: string; answers: unknown[] }>().status, 'in_progress');
      assert.deepEqual(view.json<{ answers: unknown[] }>().answers, []);
    });

    it('a request the HTTP parser refuses → problem+json, then the connection closes', async () => {
      const server = await createTestApp(target);
      try {
        await server.app.listen({ port: 0, host: '127.0.0.1' });
        const { port } = server.app.server.address() as AddressInfo;
        const send = (bytes: string) =>
          new Promise<string>((resolve, reject) => {
            const sock = connect(port, '127.0.0.1', () => sock.write(bytes));
            let got = '';
            sock.on('data', (d: Buffer) => (got += d.toString()));
            sock.on('close', () => resolve(got));
            sock.on('error', reject);
          });
        const cases: [string, number, string, RegExp][] = [
          ['FOO /api/v1/me HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request', /not valid HTTP\/1\.1 \(HPE_INVALID_METHOD/],
          ['POST /api/v1/questions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request', /not valid HTTP/],
          [`GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large', /size limit/],
        ];
        for (const [bytes, status, code, detail] of cases) {
          const answer = await send(bytes);
          const [head, body] = answer.split('\r\n\r\n') as [string, string];
          assert.match(head, new RegExp(`^HTTP/1.1 ${status} `), bytes.slice(0, 30));
          assert.match(head, /content-type: application\/problem\+json; charset=utf-8/i);
          const p = JSON.parse(body) as { status: number; code: string; detail: string };
          assert.deepEqual([p.status, p.code], [status, code]);
          assert.match(p.detail, detail);
        }
      } finally {
        await server.close();
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
