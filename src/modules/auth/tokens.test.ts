import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenService, type Principal } from './tokens.ts';

const SECRET = 'a-test-secret-of-reasonable-length-0123456789';
const alice: Principal = { id: '2b1f6a0e-8a5c-4c59-9d0b-3f1c1d2e3a4b', role: 'candidate', district: 'north' };

function claims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  assert.ok(part, 'a JWT has a payload part');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('access tokens', () => {
  it('verifies a token in the process that signed it and in any other with the same secret', () => {
    const here = createTokenService(SECRET, 900);
    const elsewhere = createTokenService(SECRET, 900);
    const token = here.sign(alice);
    assert.deepEqual({ ...here.verify(token) }, alice);
    assert.deepEqual({ ...elsewhere.verify(token) }, alice);
    const c = claims(token);
    assert.equal(c.sub, alice.id);
    assert.equal(c.iss, 'examday');
    assert.equal(typeof c.iat, 'number');
    assert.equal(c.exp, (c.iat as number) + 900);
  });

  it('keeps only the principal’s fields, whatever object it was signed from', () => {
    const tokens = createTokenService(SECRET, 900);
    const signedFrom = { ...alice, district: null, extra: 'not a claim' };
    const token = tokens.sign(signedFrom);
    assert.deepEqual({ ...tokens.verify(token) }, { id: alice.id, role: 'candidate', district: null });
    assert.equal(claims(token).extra, undefined);
  });

  it('refuses an expired token even though this process signed it', () => {
    const tokens = createTokenService(SECRET, -60);
    const token = tokens.sign(alice);
    assert.throws(() => tokens.verify(token), (e: Error & { code?: string }) => e.code === 'token_invalid');
  });

  it('refuses a token whose signature or payload was changed, or that another secret signed', () => {
    const tokens = createTokenService(SECRET, 900);
    const token = tokens.sign(alice);
    const [head, body, sig] = token.split('.') as [string, string, string];
    const forgedBody = Buffer.from(JSON.stringify({ ...claims(token), role: 'admin' })).toString('base64url');
    const flipped = sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA');
    for (const bad of [`${head}.${forgedBody}.${sig}`, `${head}.${body}.${flipped}`, createTokenService(`${SECRET}-other`, 900).sign(alice)]) {
      assert.throws(() => tokens.verify(bad), (e: Error & { code?: string }) => e.code === 'token_invalid');
    }
  });
});
