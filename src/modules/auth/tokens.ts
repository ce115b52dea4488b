/**
 * Access tokens (short-lived JWT, HS256) and opaque secrets (refresh tokens,
 * candidate access codes). Verification is cached by fast-jwt so the hot path
 * pays one HMAC per distinct token, not per request.
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

export function createTokenService(secret: string, accessTtlS: number): TokenService {
  const signer = createSigner({ key: secret, algorithm: 'HS256', expiresIn: accessTtlS * 1000, iss: 'examday' });
  const verifier = createVerifier({
    key: secret,
    algorithms: ['HS256'],
    allowedIss: 'examday',
    cache: 100_000,
    cacheTTL: accessTtlS * 1000,
  });
  return {
    accessTtlS,
    sign: (p) => signer({ sub: p.id, role: p.role, dst: p.district } satisfies Claims),
    verify(token) {
      try {
        const c = verifier(token) as Claims;
        return { id: c.sub, role: c.role, district: c.dst ?? null };
      } catch {
        throw new AppError('token_invalid', 'the access token is invalid or expired; refresh it or sign in again');
      }
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
