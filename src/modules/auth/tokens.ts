/**
 * Access tokens (short-lived JWT, HS256) and opaque secrets (refresh tokens,
 * candidate access codes). Verified tokens are cached, so the hot path pays
 * one HMAC per distinct token, not per request. The cache is keyed by the
 * whole token string (a Map lookup), not by a hash of it: hashing a token
 * costs as much as checking its HMAC, which made fast-jwt's own cache no
 * cheaper than no cache at all. A token this process signs goes into the
 * cache as it is made: a candidate's requests after sign-in arrive on the
 * same keep-alive connection, so in a sign-in storm the first authenticated
 * request (the dashboard) pays no HMAC either.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { Role } from '../../platform/db/schema.ts';
import { AppError } from '../../http/errors.ts';

export interface Principal {
  id: string;
  role: Role;
  district: string | null;
}

interface Claims {
  sub: string;
  role: Role;
  dst?: string | null;
}

export interface TokenService {
  sign(p: Principal): string;
  verify(token: string): Principal;
  readonly accessTtlS: number;
}

/** Verified tokens one process remembers (~0.5 KB each); the oldest go first. */
const VERIFIED_MAX = 100_000;

export function createTokenService(secret: string, accessTtlS: number): TokenService {
  // `iat` and `exp` are set here, not by the signer, so the cache entry of a
  // token signed in this process expires exactly when the token does.
  const signer = createSigner({ key: secret, algorithm: 'HS256', iss: 'examday' });
  const verifier = createVerifier({ key: secret, algorithms: ['HS256'], allowedIss: 'examday' });
  const verified = new Map<string, { principal: Principal; expMs: number }>();
  const remember = (token: string, principal: Principal, expMs: number): void => {
    if (verified.size >= VERIFIED_MAX) {
      // Maps iterate in insertion order: drop the oldest tenth in one go.
      let n = VERIFIED_MAX / 10;
      for (const k of verified.keys()) {
        verified.delete(k);
        if (--n <= 0) break;
      }
    }
    verified.set(token, { principal, expMs });
  };
  return {
    accessTtlS,
    sign(p) {
      const iat = Math.floor(Date.now() / 1000);
      const exp = iat + accessTtlS;
      const token = signer({ sub: p.id, role: p.role, dst: p.district, iat, exp } satisfies Claims & { iat: number; exp: number });
      remember(token, Object.freeze({ id: p.id, role: p.role, district: p.district }), exp * 1000);
      return token;
    },
    verify(token) {
      const hit = verified.get(token);
      if (hit && hit.expMs > Date.now()) return hit.principal;
      let c: Claims & { exp: number };
      try {
        c = verifier(token) as Claims & { exp: number };
      } catch {
        verified.delete(token);
        throw new AppError('token_invalid', 'the access token is invalid or expired; refresh it or sign in again');
      }
      const principal: Principal = Object.freeze({ id: c.sub, role: c.role, district: c.dst ?? null });
      remember(token, principal, c.exp * 1000);
      return principal;
    },
  };
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** 256-bit opaque refresh token. */
export const newRefreshToken = (): string => randomBytes(32).toString('base64url');

// Crockford base32 without I, L, O, U: easy to read aloud and type.
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 16 symbols × 5 bits = 80 bits, shown as XXXX-XXXX-XXXX-XXXX. */
export function newAccessCode(): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return s.match(/.{4}/g)!.join('-');
}

/** Normalise what a person typed (case, dashes, spaces, O→0, I/L→1) before hashing. */
export function normalizeAccessCode(input: string): string {
  return input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

export const hashAccessCode = (code: string): string => sha256(`examday-access:${normalizeAccessCode(code)}`);
