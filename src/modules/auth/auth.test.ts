import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dbTargets } from '../../testing/db.ts';
import { createTestApp, type TestApp } from '../../testing/app.ts';
import { hashPassword } from './service.ts';
import { newAccessCode, normalizeAccessCode } from './tokens.ts';

for (const target of dbTargets()) {
  describe(`auth (${target.name})`, () => {
    let t: TestApp;
    const password = 'a long enough passphrase';

    const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url: `/api/v1${url}`, payload });

    before(async () => {
      t = await createTestApp(target, { LOGIN_RATE_LIMIT_PER_MIN: '5' });
      await t.ctx.db.kysely
        .insertInto('users')
        .values([
          { role: 'author', email: 'Writer@Example.org', name: 'Writer', password_hash: await hashPassword(password) },
          { role: 'author', email: 'limited@example.org', name: 'Limited', password_hash: await hashPassword(password) },
          { role: 'author', email: 'neighbour@example.org', name: 'Neighbour', password_hash: await hashPassword(password) },
        ])
        .execute();
    });
    after(() => t.close());

    it('signs staff in with email (case-insensitive) and password, and refuses wrong ones alike', async () => {
      const ok = await post('/auth/login', { email: 'writer@example.ORG', password });
      assert.equal(ok.statusCode, 200);
      const body = ok.json() as { accessToken: string; refreshToken: string; user: { role: string } };
      assert.equal(body.user.role, 'author');
      const me = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${body.accessToken}` } });
      assert.equal(me.statusCode, 200);
      assert.equal((me.json() as { email: string }).email, 'Writer@Example.org');
      // The scheme's name is case-insensitive (RFC 9110).
      for (const scheme of ['bearer', 'BEARER']) {
        const other = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `${scheme} ${body.accessToken}` } });
        assert.equal(other.statusCode, 200, scheme);
      }

      const wrong = await post('/auth/login', { email: 'writer@example.org', password: 'nope' });
      const unknown = await post('/auth/login', { email: 'nobody@example.org', password: 'nope' });
      for (const r of [wrong, unknown]) {
        assert.equal(r.statusCode, 401);
        assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal((r.json() as { code: string }).code, 'invalid_credentials');
      }
    });

    it('rotates refresh tokens and revokes the family when a used one comes back', async () => {
      const login = (await post('/auth/login', { email: 'writer@example.org', password })).json() as { refreshToken: string };
      const r1 = await post('/auth/refresh', { refreshToken: login.refreshToken });
      assert.equal(r1.statusCode, 200);
      const next = (r1.json() as { refreshToken: string }).refreshToken;
      assert.notEqual(next, login.refreshToken);
      // Replaying the first token after the grace is theft: it fails and kills the newer one too.
      await t.ctx.db.kysely
        .updateTable('refresh_tokens')
        .set({ used_at: new Date(Date.now() - 31_000) })
        .where('used_at', 'is not', null)
        .execute();
      const replay = await post('/auth/refresh', { refreshToken: login.refreshToken });
      assert.equal(replay.statusCode, 401);
      assert.equal((replay.json() as { code: string }).code, 'token_invalid');
      const afterTheft = await post('/auth/refresh', { refreshToken: next });
      assert.equal(afterTheft.statusCode, 401);
    });

    it('a refresh token used moments ago is a retry, not a theft: two tabs at once, or an answer lost on the way', async () => {
      const login = (await post('/auth/login', { email: 'writer@example.org', password })).json() as { refreshToken: string };
      // Two tabs refresh with the same token at the same moment.
      const both = await Promise.all([post('/auth/refresh', { refreshToken: login.refreshToken }), post('/auth/refresh', { refreshToken: login.refreshToken })]);
      assert.deepEqual(both.map((r) => r.statusCode), [200, 200]);
      const [a, b] = both.map((r) => (r.json() as { refreshToken: string; accessToken: string }).refreshToken) as [string, string];
      assert.notEqual(a, b);
      // Each tab goes on with its own token; the sign-in was not revoked.
      for (const token of [a, b]) assert.equal((await post('/auth/refresh', { refreshToken: token })).statusCode, 200);
      // Only within the grace: the same replay 31 s after the use is theft.
      await t.ctx.db.kysely.updateTable('refresh_tokens').set({ used_at: new Date(Date.now() - 31_000) }).where('used_at', 'is not', null).execute();
      assert.equal((await post('/auth/refresh', { refreshToken: login.refreshToken })).statusCode, 401);
    });

    it('logout revokes the refresh token', async () => {
      const login = (await post('/auth/login', { email: 'writer@example.org', password })).json() as { refreshToken: string };
      const out = await post('/auth/logout', { refreshToken: login.refreshToken });
      assert.equal(out.statusCode, 204);
      assert.equal((await post('/auth/refresh', { refreshToken: login.refreshToken })).statusCode, 401);
    });

    it('stores only a hash of refresh tokens', async () => {
      const login = (await post('/auth/login', { email: 'writer@example.org', password })).json() as { refreshToken: string };
      const rows = await t.ctx.db.kysely.selectFrom('refresh_tokens').select('token_hash').execute();
      assert.ok(rows.length > 0);
      assert.ok(rows.every((r) => r.token_hash !== login.refreshToken && /^[0-9a-f]{64}$/.test(r.token_hash)));
    });

    it('signs candidates in with an access code, forgiving case, dashes and look-alike letters', async () => {
      const { accessCode, user } = await t.ctx.users.createCandidateWithCode({ name: 'Cand', email: null, district: 'north' });
      assert.match(accessCode, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
      const typed = accessCode.toLowerCase().replace(/-/g, ' ');
      const r = await post('/auth/access-code', { code: typed });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal((r.json() as { user: { id: string; role: string } }).user.id, user.id);
      const bad = await post('/auth/access-code', { code: newAccessCode() });
      assert.equal(bad.statusCode, 401);
      assert.equal(normalizeAccessCode('o0-Il'), '0011');
      const rows = await t.ctx.db.kysely.selectFrom('access_codes').select('code_hash').where('user_id', '=', user.id).execute();
      assert.ok(rows.every((x) => x.code_hash !== accessCode && /^[0-9a-f]{64}$/.test(x.code_hash)));
    });

    it('refuses expired, revoked and disabled access codes without storing a session; a valid one stores exactly one', async () => {
      const kysely = t.ctx.db.kysely;
      const make = () => t.ctx.users.createCandidateWithCode({ name: 'Cand', email: null, district: 'north' });
      const sessions = async (userId: string) =>
        (await kysely.selectFrom('refresh_tokens').select('id').where('user_id', '=', userId).execute()).length;
      const expired = await make();
      await kysely.updateTable('access_codes').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', expired.user.id).execute();
      const revoked = await make();
      await kysely.updateTable('access_codes').set({ revoked_at: new Date() }).where('user_id', '=', revoked.user.id).execute();
      const disabled = await make();
      await kysely.updateTable('users').set({ disabled_at: new Date() }).where('id', '=', disabled.user.id).execute();
      for (const c of [expired, revoked, disabled]) {
        const r = await post('/auth/access-code', { code: c.accessCode });
        assert.equal(r.statusCode, 401, r.body);
        assert.equal((r.json() as { code: string }).code, 'invalid_credentials');
        assert.equal(await sessions(c.user.id), 0);
      }

      const valid = await make();
      await kysely.updateTable('access_codes').set({ expires_at: new Date(Date.now() + 60_000) }).where('user_id', '=', valid.user.id).execute();
      const ok = await post('/auth/access-code', { code: valid.accessCode });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(await sessions(valid.user.id), 1);
      // The stored refresh token is the one handed out: it rotates.
      const refreshed = await post('/auth/refresh', { refreshToken: (ok.json() as { refreshToken: string }).refreshToken });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
    });

    it('signs in a burst of candidates arriving together, each with their own answer and session', async () => {
      const kysely = t.ctx.db.kysely;
      const make = () => t.ctx.users.createCandidateWithCode({ name: 'Burst', email: null, district: 'south' });
      const valid = await Promise.all(Array.from({ length: 6 }, make));
      const revoked = await make();
      await kysely.updateTable('access_codes').set({ revoked_at: new Date() }).where('user_id', '=', revoked.user.id).execute();
      // Interleaved in one turn, so they share one statement: valid, unknown, revoked, and one code twice.
      const codes = [...valid.map((v) => v.accessCode), newAccessCode(), revoked.accessCode, valid[0]!.accessCode];
      const answers = await Promise.all(codes.map((code) => post('/auth/access-code', { code })));
      const users = [...valid.map((v) => v.user.id), undefined, undefined, valid[0]!.user.id];
      const tokens = new Set<string>();
      answers.forEach((r, i) => {
        if (users[i] === undefined) {
          assert.equal(r.statusCode, 401, r.body);
          return;
        }
        assert.equal(r.statusCode, 200, r.body);
        const s = r.json() as { user: { id: string }; refreshToken: string };
        assert.equal(s.user.id, users[i], `answer ${i} belongs to its own candidate`);
        tokens.add(s.refreshToken);
      });
      assert.equal(tokens.size, 7, 'every sign-in has its own refresh token');
      const stored = await kysely.selectFrom('refresh_tokens').select('user_id').where('user_id', 'in', users.filter((u) => u !== undefined)).execute();
      assert.equal(stored.length, 7);
      assert.equal(stored.filter((s) => s.user_id === valid[0]!.user.id).length, 2);
      for (const token of tokens) {
        const refreshed = await post('/auth/refresh', { refreshToken: token });
        assert.equal(refreshed.statusCode, 200, refreshed.body);
      }
    });

    it('rate limits sign-in attempts per identity with Retry-After', async () => {
      let last = await post('/auth/login', { email: 'limited@example.org', password: 'wrong' });
      for (let i = 0; i < 6; i++) last = await post('/auth/login', { email: 'limited@example.org', password: 'wrong' });
      assert.equal(last.statusCode, 429);
      assert.equal((last.json() as { code: string }).code, 'rate_limited');
      assert.ok(Number(last.headers['retry-after']) > 0);
      // Another identity from the same address is not affected (a school behind one NAT).
      const other = await post('/auth/login', { email: 'neighbour@example.org', password });
      assert.equal(other.statusCode, 200);
    });

    it('rejects missing, malformed and forged bearer tokens with problem+json', async () => {
      const cases = [undefined, 'Basic abc', 'Bearer not.a.jwt', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJl'];
      for (const authorization of cases) {
        const r = await t.app.inject({ method: 'GET', url: '/api/v1/me', ...(authorization ? { headers: { authorization } } : {}) });
        assert.equal(r.statusCode, 401, String(authorization));
        assert.match((r.json() as { code: string }).code, /^(unauthenticated|token_invalid)$/);
      }
    });

    it('answers bad sign-in bodies with a 400 naming the field', async () => {
      const r = await post('/auth/login', { email: 'x@y.z' });
      assert.equal(r.statusCode, 400);
      const body = r.json() as { code: string; detail: string };
      assert.equal(body.code, 'validation_failed');
      assert.match(body.detail, /password/);
      const notJson = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: '{oops', headers: { 'content-type': 'application/json' } });
      assert.equal(notJson.statusCode, 400);
      assert.equal(notJson.headers['content-type'], 'application/problem+json; charset=utf-8');
    });
  });
}
