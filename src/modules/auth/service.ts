/**
 * Sign-in, refresh-token rotation and sign-out.
 * Staff: email + password (argon2id). Candidates: access code (SHA-256 lookup).
 */
import { randomUUID } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { sql, type Kysely } from 'kysely';
import type { Database, Role } from '../../platform/db/schema.ts';
import { AppError } from '../../http/errors.ts';
import { TurnBatcher } from '../../lib/turn-batcher.ts';
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

export function createAuthService(deps: {
  db: Kysely<Database>;
  tokens: TokenService;
  refreshTtlS: number;
  /** How long after its use a refresh token presented again is taken for a retry, not a theft (0 = never). */
  reuseGraceS: number;
}) {
  const { db, tokens, refreshTtlS, reuseGraceS } = deps;

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

  async function issue(user: SessionUser, familyId: string = randomUUID(), exec: Kysely<Database> = db): Promise<Session> {
    const refreshToken = newRefreshToken();
    await exec
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

  /** A new refresh token in the family, and an access token, for a user still enabled. */
  async function rotate(tx: Kysely<Database>, userId: string, familyId: string): Promise<Session> {
    const user = await tx
      .selectFrom('users')
      .select(userColumns)
      .where('id', '=', userId)
      .where('disabled_at', 'is', null)
      .executeTakeFirst();
    if (!user) throw new AppError('token_invalid', 'the account no longer exists or is disabled');
    return issue(user, familyId, tx);
  }

  const userColumns = ['id', 'role', 'name', 'email', 'district', 'password_hash', 'disabled_at'] as const;

  type CodeLogin = { codeHash: string; tokenHash: string; familyId: string };
  type CodeUser = SessionUser & { booking_id: string | null };

  /**
   * Looks the codes up and, for each valid one, stores its refresh token — one
   * statement for the batch. A code that is unknown, revoked, expired or whose
   * account is disabled stores nothing and answers undefined.
   */
  async function loginMany(logins: CodeLogin[]): Promise<(CodeUser | undefined)[]> {
    const now = new Date();
    const r = await sql<CodeUser & { ord: string }>`
      WITH input AS (
        SELECT * FROM unnest(${logins.map((l) => l.codeHash)}::text[], ${logins.map((l) => l.tokenHash)}::text[],
                             ${logins.map((l) => l.familyId)}::uuid[]) WITH ORDINALITY AS i(code_hash, token_hash, family_id, ord)
      ), valid AS (
        SELECT i.ord, i.token_hash, i.family_id, u.id, u.role, u.name, u.email, u.district, c.booking_id
        FROM input i
        JOIN access_codes c ON c.code_hash = i.code_hash
        JOIN users u ON u.id = c.user_id
        WHERE c.revoked_at IS NULL AND u.disabled_at IS NULL AND (c.expires_at IS NULL OR c.expires_at >= ${now}::timestamptz)
      ), stored AS (
        INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
        SELECT id, family_id, token_hash, ${new Date(now.getTime() + refreshTtlS * 1000)}::timestamptz FROM valid
        RETURNING token_hash
      )
      SELECT v.ord, v.id, v.role, v.name, v.email, v.district, v.booking_id
      FROM valid v JOIN stored s ON s.token_hash = v.token_hash`.execute(db);
    const byOrd = new Map(r.rows.map((row) => [Number(row.ord), row]));
    return logins.map((_l, i) => {
      const row = byOrd.get(i + 1);
      if (!row) return undefined;
      const { ord: _ord, ...user } = row;
      return user;
    });
  }
  const codeLogins = new TurnBatcher(loginMany);

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
     * One statement for every sign-in of the same turn of the event loop
     * (`codeLogins`): at 09:00 every candidate signs in within a minute.
     */
    async loginWithAccessCode(code: string): Promise<Session> {
      const refreshToken = newRefreshToken();
      const row = await codeLogins.run({ codeHash: hashAccessCode(code), tokenHash: sha256(refreshToken), familyId: randomUUID() });
      if (!row) throw new AppError('invalid_credentials', 'the access code is not valid; check it and try again');
      return { ...sessionFor(row, refreshToken), bookingId: row.booking_id };
    },

    /** Rotate: the presented token is used up and a new one issued in the same family. Reuse revokes the family. */
    async refresh(refreshToken: string): Promise<Session> {
      const tokenHash = sha256(refreshToken);
      const outcome = await db.transaction().execute(async (tx): Promise<Session | 'reused' | 'invalid'> => {
        const now = new Date();
        const used = await tx
          .updateTable('refresh_tokens')
          .set({ used_at: now })
          .where('token_hash', '=', tokenHash)
          .where('used_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', now)
          .returning(['user_id', 'family_id'])
          .executeTakeFirst();
        if (used) return rotate(tx, used.user_id, used.family_id);
        const known = await tx
          .selectFrom('refresh_tokens')
          .select(['user_id', 'family_id', 'used_at', 'revoked_at', 'expires_at'])
          .where('token_hash', '=', tokenHash)
          .executeTakeFirst();
        if (!known?.used_at) return 'invalid';
        const sinceUse = now.getTime() - known.used_at.getTime();
        if (!known.revoked_at && known.expires_at > now && sinceUse <= reuseGraceS * 1000) {
          // Used moments ago: a retry whose answer was lost on the way, or a
          // second tab refreshing at the same time — not a thief. Revoking here
          // would sign a candidate out in the middle of an exam.
          return rotate(tx, known.user_id, known.family_id);
        }
        // A used token presented again later means it leaked: end every session
        // of that family. Returned, not thrown, so the revocation commits.
        await tx
          .updateTable('refresh_tokens')
          .set({ revoked_at: now })
          .where('family_id', '=', known.family_id)
          .where('revoked_at', 'is', null)
          .execute();
        return 'reused';
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
