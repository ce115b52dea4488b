/**
 * Accounts: staff (admin, author) with argon2id passwords, candidates with
 * high-entropy access codes stored only as SHA-256. Listing, editing,
 * disabling and deleting accounts; resetting a candidate's sign-in code;
 * importing candidates from CSV (`import.ts`).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Role } from '../../platform/db/schema.ts';
import { AppError, notFound } from '../../http/errors.ts';
import { hashPassword, type AuthService } from '../auth/service.ts';
import type { Principal } from '../auth/tokens.ts';
import { UNIQUE_VIOLATION, isDbError } from './db-errors.ts';
import { importCandidates, type ImportReport } from './import.ts';
import { insertGeneralCode, normalizeEmail, toUserView, userColumns as columns, type UserRow, type UserView } from './model.ts';
import { decodeCursor, microsUtc, page } from './keyset.ts';

export type { UserView } from './model.ts';

export type StaffRole = Exclude<Role, 'candidate'>;

export interface UserListQuery {
  role?: Role | undefined;
  district?: string | undefined;
  /** Case-insensitive substring of name or email. */
  q?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface UserPatch {
  name?: string | undefined;
  district?: string | null | undefined;
  role?: Role | undefined;
  disabled?: boolean | undefined;
}

export const MIN_PASSWORD_LENGTH = 10;

const emailTaken = (email: string) =>
  new AppError('email_taken', `an account with email ${email} already exists`);

export interface UserServiceDeps {
  db: Kysely<Database>;
  auth: AuthService;
  /** Deletes the files an account keeps outside the database (its uploaded PDFs); rows go by cascade. */
  purgeFiles?: (userId: string) => Promise<unknown>;
}

export function createUserService(deps: UserServiceDeps) {
  const { db, auth } = deps;

  async function find(id: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').select(columns).where('id', '=', id).executeTakeFirst();
  }

  return {
    /** Create an admin or author account with a password (argon2id). */
    async createStaff(input: { role: StaffRole; email: string; name: string; password: string; district?: string | null }): Promise<UserView> {
      if (input.password.length < MIN_PASSWORD_LENGTH) {
        throw new AppError('validation_failed', `the password must have at least ${MIN_PASSWORD_LENGTH} characters`, {
          errors: [{ path: 'password', message: `at least ${MIN_PASSWORD_LENGTH} characters` }],
        });
      }
      const email = normalizeEmail(input.email);
      try {
        const row = await db
          .insertInto('users')
          .values({
            role: input.role,
            email,
            name: input.name.trim(),
            district: input.district?.trim() || null,
            password_hash: await hashPassword(input.password),
          })
          .returning(columns)
          .executeTakeFirstOrThrow();
        return toUserView(row);
      } catch (err) {
        if (isDbError(err, UNIQUE_VIOLATION)) throw emailTaken(email);
        throw err;
      }
    },

    /**
     * Create a candidate and a general sign-in code for them. The code is
     * returned once and stored only as a hash, so this is the one chance to
     * hand it over.
     */
    async createCandidateWithCode(input: { name: string; email?: string | null; district: string }): Promise<{ user: UserView; accessCode: string }> {
      const email = input.email ? normalizeEmail(input.email) : null;
      try {
        return await db.transaction().execute(async (tx) => {
          const row = await tx
            .insertInto('users')
            .values({ role: 'candidate', email, name: input.name.trim(), district: input.district.trim() })
            .returning(columns)
            .executeTakeFirstOrThrow();
          return { user: toUserView(row), accessCode: await insertGeneralCode(tx, row.id) };
        });
      } catch (err) {
        if (email && isDbError(err, UNIQUE_VIOLATION)) throw emailTaken(email);
        throw err;
      }
    },

    /** Newest first, keyset-paginated. */
    async list(query: UserListQuery): Promise<{ items: UserView[]; nextCursor: string | null }> {
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      const pattern = query.q ? `%${query.q.replace(/[\\%_]/g, '\\$&')}%` : undefined;
      const rows = await db
        .selectFrom('users')
        .select([...columns, microsUtc('created_at').as('cursor_t')])
        .$if(query.role !== undefined, (qb) => qb.where('role', '=', query.role!))
        .$if(query.district !== undefined, (qb) => qb.where('district', '=', query.district!))
        .$if(pattern !== undefined, (qb) =>
          qb.where((eb) => eb.or([eb('name', 'ilike', pattern!), eb('email', 'ilike', pattern!)])),
        )
        .$if(cursor !== undefined, (qb) =>
          qb.where(sql<boolean>`(created_at, id) < (${cursor!.t}::timestamptz, ${cursor!.id}::uuid)`),
        )
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit + 1)
        .execute();
      const p = page(rows, query.limit);
      return { items: p.rows.map(toUserView), nextCursor: p.nextCursor };
    },

    async get(id: string): Promise<UserView> {
      const row = await find(id);
      if (!row) throw notFound('user');
      return toUserView(row);
    },

    /**
     * Edit an account. Roles move only between admin and author: a candidate
     * signs in with codes and staff with passwords, so crossing that line
     * would leave an account without a way in. `by` (the acting admin) may not
     * demote or disable themself, which also keeps at least one admin.
     */
    async update(id: string, patch: UserPatch, by?: Principal): Promise<UserView> {
      const current = await find(id);
      if (!current) throw notFound('user');
      const roleChange = patch.role !== undefined && patch.role !== current.role;
      if (roleChange && (current.role === 'candidate' || patch.role === 'candidate')) {
        throw new AppError('conflict', 'a candidate cannot become staff or staff a candidate; create a new account instead');
      }
      if (by?.id === id && (roleChange || patch.disabled === true)) {
        throw new AppError('conflict', 'you cannot change the role of, or disable, your own account');
      }
      if (current.role === 'candidate' && patch.district !== undefined && !patch.district?.trim()) {
        throw new AppError('validation_failed', 'a candidate needs a district', {
          errors: [{ path: 'district', message: 'required for candidates' }],
        });
      }
      const disabledAt =
        patch.disabled === true ? (current.disabled_at ?? new Date()) : patch.disabled === false ? null : undefined;
      const row = await db
        .updateTable('users')
        .set({
          ...(patch.name !== undefined ? { name: patch.name.trim() } : {}),
          ...(patch.district !== undefined ? { district: patch.district?.trim() || null } : {}),
          ...(patch.role !== undefined ? { role: patch.role } : {}),
          ...(disabledAt !== undefined ? { disabled_at: disabledAt } : {}),
        })
        .where('id', '=', id)
        .returning(columns)
        .executeTakeFirst();
      if (!row) throw notFound('user');
      // Access tokens are short-lived; revoking refresh tokens ends every session at its next refresh.
      if (patch.disabled === true) await auth.revokeAll(id);
      return toUserView(row);
    },

    /**
     * Delete an account. Refused when it would silently take other records
     * with it (foreign keys cascade): a candidate's exam attempts, or the
     * questions, assessments and sessions a staff member owns. Disabling is
     * the way to lock such an account.
     */
    async delete(id: string, by?: Principal): Promise<void> {
      if (by?.id === id) throw new AppError('conflict', 'you cannot delete your own account');
      // Checked once before the files go (so a refused delete keeps them),
      // and again under the row lock in case something was created meanwhile.
      await db.transaction().execute((tx) => refuseIfOwning(tx, id));
      await deps.purgeFiles?.(id);
      await db.transaction().execute(async (tx) => {
        await refuseIfOwning(tx, id);
        // Bookings cascade away with the user: give their seats back first.
        await sql`
          UPDATE exam_sessions s SET booked = s.booked - b.n
          FROM (SELECT session_id, count(*)::int AS n FROM bookings
                WHERE candidate_id = ${id} AND status = 'active' GROUP BY session_id) b
          WHERE s.id = b.session_id`.execute(tx);
        await tx.deleteFrom('users').where('id', '=', id).execute();
      });
    },

    /**
     * Issue a new general sign-in code for a candidate, revoking the old
     * general ones (booking codes stay valid). Authors may do this for
     * candidates only; other accounts look absent to them.
     */
    async resetAccessCode(userId: string, by?: Principal): Promise<{ userId: string; accessCode: string }> {
      return db.transaction().execute(async (tx) => {
        const user = await tx.selectFrom('users').select(['id', 'role']).where('id', '=', userId).forUpdate().executeTakeFirst();
        if (!user || (by?.role === 'author' && user.role !== 'candidate')) throw notFound('user');
        if (user.role !== 'candidate') {
          throw new AppError('conflict', 'only candidates sign in with access codes; staff accounts use a password');
        }
        await tx
          .updateTable('access_codes')
          .set({ revoked_at: new Date() })
          .where('user_id', '=', userId)
          .where('booking_id', 'is', null)
          .where('revoked_at', 'is', null)
          .execute();
        return { userId, accessCode: await insertGeneralCode(tx, userId) };
      });
    },

    /** Create candidates from CSV text; see `import.ts` for the format and the report. */
    importCandidates(csv: string): Promise<ImportReport> {
      return importCandidates(db, csv);
    },
  };
}

/**
 * Locks the account row and refuses when deleting it would silently take
 * other records with it (foreign keys cascade).
 */
async function refuseIfOwning(tx: Transaction<Database>, id: string): Promise<void> {
  const user = await tx.selectFrom('users').select(['id', 'role']).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!user) throw notFound('user');
  const owned = await sql<{ attempts: number; assessments: number; questions: number; sessions: number }>`
    SELECT
      (SELECT count(*)::int FROM attempts WHERE candidate_id = ${id}) AS attempts,
      (SELECT count(*)::int FROM assessments WHERE owner_id = ${id}) AS assessments,
      (SELECT count(*)::int FROM questions WHERE owner_id = ${id}) AS questions,
      (SELECT count(*)::int FROM exam_sessions WHERE owner_id = ${id}) AS sessions`.execute(tx);
  const held = Object.entries(owned.rows[0]!).filter(([, n]) => n > 0);
  if (held.length) {
    throw new AppError(
      'conflict',
      `the account still has ${held.map(([k, n]) => `${n} ${k}`).join(', ')}; deleting it would delete them too — disable the account instead`,
    );
  }
}

export type UserService = ReturnType<typeof createUserService>;
