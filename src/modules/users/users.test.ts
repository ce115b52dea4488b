import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { dbTargets } from '../../testing/db.ts';

interface Problem {
  code: string;
  detail: string;
  errors?: { path: string; message: string }[];
}
interface ImportRowJson {
  line: number;
  status: 'created' | 'existing' | 'error';
  error?: string;
  userId?: string;
  accessCode?: string;
}
interface ImportJson {
  total: number;
  created: number;
  existing: number;
  errors: number;
  rows: ImportRowJson[];
}
interface UserJson {
  id: string;
  role: string;
  email: string | null;
  name: string;
  district: string | null;
  disabledAt: string | null;
}

let unique = 0;
const uniq = (prefix: string) => `${prefix}${++unique}-${process.pid}`;

for (const target of dbTargets()) {
  describe(`users (${target.name})`, () => {
    let t: TestApp;
    let admin: Actor;
    let author: Actor;

    before(async () => {
      t = await createTestApp(target);
      admin = await t.staff('admin');
      author = await t.staff('author');
    });
    after(() => t.close());

    const importCsv = (body: string, who: Actor = author, contentType = 'text/csv') =>
      t.app.inject({ method: 'POST', url: '/api/v1/candidates/import', headers: { ...who.headers, 'content-type': contentType }, payload: body });

    const signInWithCode = (code: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/access-code', payload: { code } });

    describe('staff accounts', () => {
      it('creates an author, rejects the same email in another case and short passwords', async () => {
        const email = `${uniq('Jo')}@School.test`;
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/users',
          headers: admin.headers,
          payload: { role: 'author', email, name: 'Jo Author', password: 'long enough password' },
        });
        assert.equal(res.statusCode, 201, res.body);
        const { user } = res.json<{ user: UserJson }>();
        assert.equal(user.role, 'author');
        assert.equal(user.email, email.toLowerCase());
        assert.ok(!('passwordHash' in user) && !('password_hash' in user));

        const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: 'long enough password' } });
        assert.equal(login.statusCode, 200, login.body);

        const dup = await t.app.inject({
          method: 'POST',
          url: '/api/v1/users',
          headers: admin.headers,
          payload: { role: 'admin', email: email.toUpperCase(), name: 'Other', password: 'another long password' },
        });
        assert.equal(dup.statusCode, 409);
        assert.equal(dup.json<Problem>().code, 'email_taken');

        const short = await t.app.inject({
          method: 'POST',
          url: '/api/v1/users',
          headers: admin.headers,
          payload: { role: 'author', email: `${uniq('s')}@x.test`, name: 'Short', password: 'short' },
        });
        assert.equal(short.statusCode, 400);
        assert.match(String(short.headers['content-type']), /application\/problem\+json/);
        const p = short.json<Problem>();
        assert.equal(p.code, 'validation_failed');
        assert.ok(p.errors?.some((e) => e.path === 'password'), short.body);
      });

      it('is for admins only', async () => {
        const res = await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: author.headers });
        assert.equal(res.statusCode, 403);
        assert.equal(res.json<Problem>().code, 'forbidden');
        const anon = await t.app.inject({ method: 'GET', url: '/api/v1/users' });
        assert.equal(anon.statusCode, 401);
      });

      it('rejects unknown fields and bad ids with validation_failed', async () => {
        const extra = await t.app.inject({
          method: 'POST',
          url: '/api/v1/users',
          headers: admin.headers,
          payload: { role: 'candidate', name: 'X', district: 'north', admin: true },
        });
        assert.equal(extra.statusCode, 400);
        assert.equal(extra.json<Problem>().code, 'validation_failed');
        const badId = await t.app.inject({ method: 'GET', url: '/api/v1/users/not-a-uuid', headers: admin.headers });
        assert.equal(badId.statusCode, 400);
        assert.equal(badId.json<Problem>().code, 'validation_failed');
        const missing = await t.app.inject({ method: 'GET', url: `/api/v1/users/${crypto.randomUUID()}`, headers: admin.headers });
        assert.equal(missing.statusCode, 404);
        const empty = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${author.id}`, headers: admin.headers, payload: {} });
        assert.equal(empty.statusCode, 400);
      });
    });

    describe('candidates and access codes', () => {
      it('creates a candidate whose code signs in', async () => {
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/users',
          headers: admin.headers,
          payload: { role: 'candidate', name: 'Cand One', district: 'north' },
        });
        assert.equal(res.statusCode, 201, res.body);
        const { user, accessCode } = res.json<{ user: UserJson; accessCode: string }>();
        assert.equal(user.role, 'candidate');
        assert.match(accessCode, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
        const login = await signInWithCode(accessCode.toLowerCase());
        assert.equal(login.statusCode, 200, login.body);
        assert.equal(login.json<{ user: { id: string } }>().user.id, user.id);
      });

      it('resets a code: the old one stops working, the new one works; authors may reset only candidates', async () => {
        const cand = await t.candidate('north');
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/users/${cand.id}/access-code`, headers: author.headers });
        assert.equal(res.statusCode, 200, res.body);
        const { accessCode } = res.json<{ accessCode: string }>();
        assert.equal((await signInWithCode(cand.accessCode)).statusCode, 401);
        assert.equal((await signInWithCode(accessCode)).statusCode, 200);

        const onStaff = await t.app.inject({ method: 'POST', url: `/api/v1/users/${admin.id}/access-code`, headers: author.headers });
        assert.equal(onStaff.statusCode, 404);
        const adminOnStaff = await t.app.inject({ method: 'POST', url: `/api/v1/users/${author.id}/access-code`, headers: admin.headers });
        assert.equal(adminOnStaff.statusCode, 409);
      });

      it('disabling ends sign-in and refresh; re-enabling restores sign-in', async () => {
        const { user, accessCode } = await t.ctx.users.createCandidateWithCode({ name: 'To Disable', email: null, district: 'north' });
        const login = await signInWithCode(accessCode);
        const { refreshToken } = login.json<{ refreshToken: string }>();
        const off = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${user.id}`, headers: admin.headers, payload: { disabled: true } });
        assert.equal(off.statusCode, 200, off.body);
        assert.ok(off.json<UserJson>().disabledAt);
        assert.equal((await signInWithCode(accessCode)).statusCode, 401);
        const refresh = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
        assert.equal(refresh.statusCode, 401);
        const on = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${user.id}`, headers: admin.headers, payload: { disabled: false } });
        assert.equal(on.json<UserJson>().disabledAt, null);
        assert.equal((await signInWithCode(accessCode)).statusCode, 200);
      });

      it('refuses role changes across candidate/staff and self-demotion', async () => {
        const cand = await t.candidate('north');
        const promote = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${cand.id}`, headers: admin.headers, payload: { role: 'admin' } });
        assert.equal(promote.statusCode, 409);
        const self = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${admin.id}`, headers: admin.headers, payload: { role: 'author' } });
        assert.equal(self.statusCode, 409);
        const other = await t.staff('author');
        const toAdmin = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${other.id}`, headers: admin.headers, payload: { role: 'admin', name: 'Promoted' } });
        assert.equal(toAdmin.statusCode, 200);
        assert.deepEqual([toAdmin.json<UserJson>().role, toAdmin.json<UserJson>().name], ['admin', 'Promoted']);
      });

      it('deletes an account that owns nothing, never your own', async () => {
        const cand = await t.candidate('north');
        const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${cand.id}`, headers: admin.headers });
        assert.equal(del.statusCode, 204);
        assert.equal((await t.app.inject({ method: 'GET', url: `/api/v1/users/${cand.id}`, headers: admin.headers })).statusCode, 404);
        const self = await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${admin.id}`, headers: admin.headers });
        assert.equal(self.statusCode, 409);
      });

      it('lists with filters and keyset pages that neither repeat nor skip', async () => {
        const district = uniq('listdist');
        const made = await t.ctx.users.importCandidates(
          ['name,district', ...Array.from({ length: 5 }, (_, i) => `Lister ${i},${district}`)].join('\n'),
        );
        assert.equal(made.created, 5);
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const qs: string = `role=candidate&district=${district}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
          const res = await t.app.inject({ method: 'GET', url: `/api/v1/users?${qs}`, headers: admin.headers });
          assert.equal(res.statusCode, 200, res.body);
          const body = res.json<{ items: UserJson[]; nextCursor: string | null }>();
          assert.ok(body.items.length <= 2);
          seen.push(...body.items.map((u) => u.id));
          cursor = body.nextCursor;
        } while (cursor);
        assert.equal(seen.length, 5);
        assert.equal(new Set(seen).size, 5);

        const q = await t.app.inject({ method: 'GET', url: `/api/v1/users?q=LISTER%203&district=${district}`, headers: admin.headers });
        assert.deepEqual(
          q.json<{ items: UserJson[] }>().items.map((u) => u.name),
          ['Lister 3'],
        );
        const bad = await t.app.inject({ method: 'GET', url: '/api/v1/users?cursor=garbage', headers: admin.headers });
        assert.equal(bad.statusCode, 400);
        assert.equal(bad.json<Problem>().code, 'validation_failed');
      });
    });

    describe('CSV import', () => {
      it('creates good rows, reports bad rows by line, and the created codes sign in', async () => {
        const d = uniq('d');
        const a = `${uniq('ada')}@example.test`;
        const csv = [
          '\uFEFFName, EMAIL ,District', // BOM, odd case and spaces in the header
          `Ada Lovelace,${a},${d}`,
          `Alan Turing,,${d}`,
          `,nobody@example.test,${d}`, // line 4: no name
          `Grace Hopper,not-an-email,${d}`, // line 5
          `Ada Again,${a.toUpperCase()},${d}`, // line 6: duplicate in the file
          '', // blank line is skipped
          `"Hopper, Grace",grace-${d}@example.test,${d}`, // line 8: quoted comma
          `Too,Many,Values,${d}`, // line 9
          `No District,,`, // line 10
        ].join('\r\n');
        const res = await importCsv(csv);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json<ImportJson>();
        assert.equal(body.total, 8);
        assert.equal(body.created, 3);
        assert.equal(body.errors, 5);
        assert.equal(body.existing, 0);
        const byLine = new Map(body.rows.map((r) => [r.line, r]));
        assert.deepEqual([...byLine.keys()], [2, 3, 4, 5, 6, 8, 9, 10]);
        assert.equal(byLine.get(2)?.status, 'created');
        assert.equal(byLine.get(3)?.status, 'created');
        assert.equal(byLine.get(8)?.status, 'created');
        assert.match(byLine.get(4)?.error ?? '', /name is required/);
        assert.match(byLine.get(5)?.error ?? '', /not-an-email.*not a valid email/);
        assert.match(byLine.get(6)?.error ?? '', /already appears on line 2/);
        assert.match(byLine.get(9)?.error ?? '', /expected 3 values, found 4/);
        assert.match(byLine.get(10)?.error ?? '', /district is required/);
        for (const r of body.rows.filter((x) => x.status === 'error')) assert.equal(r.accessCode, undefined);

        const grace = byLine.get(8)!;
        const user = await t.ctx.users.get(grace.userId!);
        assert.equal(user.name, 'Hopper, Grace');
        assert.equal(user.district, d);
        const login = await signInWithCode(grace.accessCode!);
        assert.equal(login.statusCode, 200, login.body);
        assert.equal(login.json<{ user: { id: string; role: string } }>().user.role, 'candidate');
      });

      it('reuses existing candidates on re-import and refuses staff emails', async () => {
        const d = uniq('d');
        const email = `${uniq('re')}@example.test`;
        const first = (await importCsv(`name,email,district\nRe Import,${email},${d}\n`)).json<ImportJson>();
        assert.equal(first.created, 1);
        const again = await importCsv(`name,email,district\nRe Import,${email.toUpperCase()},${d}\nNew Person,${uniq('new')}@nowhere.test,${d}\n`);
        const body = again.json<ImportJson>();
        assert.equal(body.existing, 1);
        assert.equal(body.created, 1);
        assert.equal(body.rows[0]!.userId, first.rows[0]!.userId);
        assert.equal(body.rows[0]!.accessCode, undefined);

        const staffEmail = (await t.ctx.users.get(author.id)).email!;
        const clash = (await importCsv(`name,email,district\nClash,${staffEmail},${d}\n`)).json<ImportJson>();
        assert.equal(clash.rows[0]!.status, 'error');
        assert.match(clash.rows[0]!.error!, /staff account/);
      });

      it('reports the starting line of records that span lines', async () => {
        const d = uniq('d');
        const res = await importCsv(`name,district\n"Two\nLines",${d}\nAfter,\n`);
        const body = res.json<ImportJson>();
        assert.deepEqual(
          body.rows.map((r) => [r.line, r.status]),
          [
            [2, 'error'],
            [4, 'error'],
          ],
        );
        assert.match(body.rows[0]!.error!, /one line/);
      });

      it('accepts JSON { csv } and the email column may be absent', async () => {
        const d = uniq('d');
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/candidates/import',
          headers: admin.headers,
          payload: { csv: `district,name\n${d},Json One\n${d},Json Two` },
        });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json<ImportJson>().created, 2);
      });

      it('rejects a wrong header with 400 naming the expected columns', async () => {
        for (const header of ['fullname,mail,district', 'name,e-mail,district', 'name,name,district', '']) {
          const res = await importCsv(`${header}\nA,a@x.test,north\n`);
          assert.equal(res.statusCode, 400, header);
          assert.match(String(res.headers['content-type']), /application\/problem\+json/);
          const p = res.json<Problem>();
          assert.equal(p.code, 'csv_invalid');
          assert.match(p.detail, /name,email,district/);
        }
        const missing = (await importCsv('email,district\n')).json<Problem>();
        assert.match(missing.detail, /missing column "name"/);
        const broken = await importCsv('name,district\n"unclosed,north\n');
        assert.equal(broken.statusCode, 400);
        assert.match(broken.json<Problem>().detail, /not valid CSV/);
        // PostgreSQL cannot store U+0000: the file is refused before any row is written.
        const before = await t.ctx.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
        const nul = await importCsv('name,district\nGood One,north\nBad\u0000Name,north\n');
        assert.equal(nul.statusCode, 400);
        assert.equal(nul.json<Problem>().code, 'csv_invalid');
        assert.match(nul.json<Problem>().detail, /line 3 .*U\+0000/);
        const afterImport = await t.ctx.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
        assert.equal(afterImport.n, before.n);
      });

      it('limits rows and size, and refuses other content types and candidates', async () => {
        const rows = Array.from({ length: 10_001 }, (_, i) => `C${i},north`);
        const tooMany = await importCsv(`name,district\n${rows.join('\n')}`);
        assert.equal(tooMany.statusCode, 400);
        assert.match(tooMany.json<Problem>().detail, /at most 10000 rows/);

        const big = await importCsv(`name,district\n${'x'.repeat(3 * 1024 * 1024)},north`);
        assert.equal(big.statusCode, 413);
        assert.equal(big.json<Problem>().code, 'payload_too_large');

        const binary = await importCsv('name,district\nA,north', author, 'application/octet-stream');
        assert.equal(binary.statusCode, 415);
        assert.equal(binary.json<Problem>().code, 'unsupported_media_type');

        const cand = await t.candidate('north');
        const byCandidate = await importCsv('name,district\nA,north', cand);
        assert.equal(byCandidate.statusCode, 403);
      });
    });
  });
}
