/** The account shape the API shows, and helpers shared by the user service and the CSV import. */
import type { Kysely, Transaction } from 'kysely';
import type { Database, Role } from '../../platform/db/schema.ts';
import { hashAccessCode, newAccessCode } from '../auth/tokens.ts';

/** What the API shows of an account; never the password hash. */
export interface UserView {
  id: string;
  role: Role;
  email: string | null;
  name: string;
  district: string | null;
  createdAt: string;
  disabledAt: string | null;
}

export const userColumns = ['id', 'role', 'email', 'name', 'district', 'created_at', 'disabled_at'] as const;

export interface UserRow {
  id: string;
  role: Role;
  email: string | null;
  name: string;
  district: string | null;
  created_at: Date;
  disabled_at: Date | null;
}

export function toUserView(r: UserRow): UserView {
  return {
    id: r.id,
    role: r.role,
    email: r.email,
    name: r.name,
    district: r.district,
    createdAt: r.created_at.toISOString(),
    disabledAt: r.disabled_at ? r.disabled_at.toISOString() : null,
  };
}

/** Emails are stored trimmed and lower-cased; the unique index is on lower(email) anyway. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/** Insert a general (not booking-bound) sign-in code for a candidate and return it; only its hash is kept. */
export async function insertGeneralCode(db: Kysely<Database> | Transaction<Database>, userId: string): Promise<string> {
  const accessCode = newAccessCode();
  await db.insertInto('access_codes').values({ code_hash: hashAccessCode(accessCode), user_id: userId }).execute();
  return accessCode;
}
