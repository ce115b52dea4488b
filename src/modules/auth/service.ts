/**
 * Sign-in, refresh-token rotation and sign-out.
 * Staff: email + password (argon2id). Candidates: access code (SHA-256 lookup).
 */
import { randomUUID } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { sql, type Kysely } from 'kysely';
import type { Database, Role } from '../../platform/db/schema.ts';
import { AppError } from '../../http/errors.ts';
import { hashAccessCode, newRefreshToken, sha256, type Principal, type TokenService } from './tokens.ts';

export interface Session {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
  user: { id: string; role: Role; name: string; email: string | null; district: string | null };
  /** Set when a candidate signed in with a booking's code. */
  bookingId?: string | null;
}

// A real hash of a random password: verifying against it when the email is
// unknown keeps response time the same, so emails cannot be probed by timing.
let dummyHash: Promise<string> | undefined;

export const hashPassword = (password: string): Promise<string> => argonHash(password);

export function createAuthService(deps: { db: Kysely<Database>; tokens: TokenService; refreshTtlS: number }) {
  const { db, tokens, refreshTtlS } = deps;

  type SessionUser = { id: string; role: Role; name: string; email: string | null; district: string | null };

  /** The session for a user whose refresh token (in clear) has just been stored. */
  function sessionFor(user: SessionUser, refreshToken: string): Session {
    const principal: Principal = { id: user.id, role: user.role, district: user.district };
    return {
      accessToken: tokens.sign(principal),
      tokenType: 'Bearer',
      expiresIn: tokens.accessTtlS,
      refreshToken,
      user: { id: user.id, role: user.role, name: user.name, email: user.email, district: user.district },
    };
  }

  async function issue(user: SessionUser, familyId: string = randomUUID()): Promise<Session> {
    const refreshToken = newRefreshToken();
    await db
      .insertInto('refresh_tokens')
      .values({
        user_id: user.id,
        family_id: familyId,
        token_hash: sha256(refreshToken),
        expires_at: new Date(Date.now() + refreshTtlS * 1000),
      })
      .execute();
    return sessionFor(user, refreshToken);
  }

  const userColumns = ['id', 'role', 'name', 'email', 'district', 'password_hash', 'disabled_at'] as const;

  return {
    async loginWithPassword(email: string, password: string): Promise<Session> {
      const user = await db
        .selectFrom('users')
        .select(userColumns)
        .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
        .executeTakeFirst();
      dummyHash ??= argonHash(newRefreshToken());
      const ok = await argonVerify(user?.password_hash ?? (await dummyHash), password).catch(() => false);
      if (!user || !user.password_hash || !ok || user.disabled_at) {
        throw new AppError('invalid_credentials', 'the email or password is wrong, or the account is disabled');
      }
      return issue(user);
    },

    /**
     * One statement, one round trip: the code is looked up and, when it is
     * valid, the refresh token stored in the same statement. At 09:00 every
     * candidate signs in within a minute, and a second round trip per
     * sign-in was a third of its database time.
     */
    async loginWithAccessCode(code: string): Promise<Session> {
      const now = new Date();
      const refreshToken = newRefreshToken();
      const r = await sql<SessionUser & { disabled_at: Date | null; booking_id: string | null; expires_at: Date | null; revoked_at: Date | null; issued: boolean }>`
        WITH c AS (
          SELECT u.id, u.role, u.name, u.email, u.district, u.disabled_at, c.booking_id, c.expires_at, c.revoked_at
          FROM access_codes c JOIN users u ON u.id = c.user_id
          WHERE c.code_hash = ${hashAccessCode(code)}
        ), t AS (
          INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
          SELECT c.id, ${randomUUID()}::uuid, ${sha256(refreshToken)}, ${new Date(now.getTime() + refreshTtlS * 1000)}::timestamptz
          FROM c
          WHERE c.revoked_at IS NULL AND c.disabled_at IS NULL AND (c.expires_at IS NULL OR c.expires_at >= ${now}::timestamptz)
          RETURNING user_id
        )
        SELECT c.*, EXISTS (SELECT 1 FROM t) AS issued FROM c`.execute(db);
      const row = r.rows[0];
      if (!row || row.revoked_at || row.disabled_at || (row.expires_at && row.expires_at < now)) {
        throw new AppError('invalid_credentials', 'the access code is not valid; check it and try again');
      }
      if (!row.issued) throw new Error('a valid access code was found but no refresh token was stored');
      return { ...sessionFor(row, refreshToken), bookingId: row.booking_id };
    },

    /** Rotate: the presented token is used up and a new one issued in the same family. Reuse revokes the family. */
    async refresh(refreshToken: string): Promise<Session> {
      const tokenHash = sha256(refreshToken);
      const outcome = await db.transaction().execute(async (tx): Promise<Session | 'reused' | 'invalid'> => {
        const used = await tx
          .updateTable('refresh_tokens')
          .set({ used_at: new Date() })
          .where('token_hash', '=', tokenHash)
          .where('used_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', new Date())
          .returning(['user_id', 'family_id'])
          .executeTakeFirst();
        if (!used) {
          const known = await tx
            .selectFrom('refresh_tokens')
            .select(['family_id', 'used_at'])
            .where('token_hash', '=', tokenHash)
            .executeTakeFirst();
          if (known?.used_at) {
            // A used token presented again means it leaked: end every session of
            // that family. Returned, not thrown, so the revocation commits.
            await tx
              .updateTable('refresh_tokens')
              .set({ revoked_at: new Date() })
              .where('family_id', '=', known.family_id)
              .where('revoked_at', 'is', null)
              .execute();
            return 'reused';
          }
          return 'invalid';
        }
        const user = await tx
          .selectFrom('users')
          .select(userColumns)
          .where('id', '=', used.user_id)
          .where('disabled_at', 'is', null)
          .executeTakeFirst();
        if (!user) throw new AppError('token_invalid', 'the account no longer exists or is disabled');
        const refreshToken = newRefreshToken();
        await tx
          .insertInto('refresh_tokens')
          .values({
            user_id: user.id,
            family_id: used.family_id,
            token_hash: sha256(refreshToken),
            expires_at: new Date(Date.now() + refreshTtlS * 1000),
          })
          .execute();
        return {
          accessToken: tokens.sign({ id: user.id, role: user.role, district: user.district }),
          tokenType: 'Bearer' as const,
          expiresIn: tokens.accessTtlS,
          refreshToken,
          user: { id: user.id, role: user.role, name: user.name, email: user.email, district: user.district },
        };
      });
      if (typeof outcome === 'string') {
        throw new AppError('token_invalid', 'the refresh token is invalid, expired or already used; sign in again');
      }
      return outcome;
    },

    /** Revoke the family of the given refresh token (sign out on this device). */
    async logout(refreshToken: string): Promise<void> {
      const row = await db
        .selectFrom('refresh_tokens')
        .select('family_id')
        .where('token_hash', '=', sha256(refreshToken))
        .executeTakeFirst();
      if (!row) return;
      await db
        .updateTable('refresh_tokens')
        .set({ revoked_at: new Date() })
        .where('family_id', '=', row.family_id)
        .where('revoked_at', 'is', null)
        .execute();
    },

    /** Revoke every refresh token of a user (disable, password change). */
    async revokeAll(userId: string): Promise<void> {
      await db
        .updateTable('refresh_tokens')
        .set({ revoked_at: new Date() })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .execute();
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
