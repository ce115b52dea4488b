/** Request and response schemas of the users routes (zod → validation and OpenAPI). */
import { z } from 'zod';
import { DISTRICT_MAX, NAME_MAX } from './import.ts';
import { MIN_PASSWORD_LENGTH } from './service.ts';

export const roleSchema = z.enum(['admin', 'author', 'candidate']);
const name = z.string().trim().min(1, 'name is required').max(NAME_MAX);
const district = z.string().trim().min(1, 'district must not be empty').max(DISTRICT_MAX);
const email = z.email().max(254);

export const userSchema = z.object({
  id: z.string(),
  role: roleSchema,
  email: z.string().nullable(),
  name: z.string(),
  district: z.string().nullable(),
  createdAt: z.string().describe('ISO 8601'),
  disabledAt: z.string().nullable().describe('set while the account is disabled'),
});

export const idParams = z.object({ id: z.uuid() });

export const listQuery = z.object({
  role: roleSchema.optional(),
  district: district.optional(),
  q: z.string().trim().min(1).max(200).optional().describe('substring of name or email, case-insensitive'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional().describe('nextCursor of the previous page'),
});

export const userPage = z.object({ items: z.array(userSchema), nextCursor: z.string().nullable() });

export const createBody = z.discriminatedUnion('role', [
  z.strictObject({
    role: z.enum(['admin', 'author']),
    email,
    name,
    password: z.string().min(MIN_PASSWORD_LENGTH, `at least ${MIN_PASSWORD_LENGTH} characters`).max(1024),
    district: district.nullable().optional(),
  }),
  z.strictObject({
    role: z.literal('candidate'),
    name,
    district,
    email: email.nullable().optional(),
  }),
]);

export const createdUser = z.object({
  user: userSchema,
  accessCode: z.string().optional().describe('candidates only: their sign-in code, shown once'),
});

export const patchBody = z
  .strictObject({
    name: name.optional(),
    district: district.nullable().optional(),
    role: roleSchema.optional(),
    disabled: z.boolean().optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'send at least one of name, district, role, disabled');

export const accessCodeResponse = z.object({
  userId: z.string(),
  accessCode: z.string().describe('the new sign-in code, shown once; earlier general codes stop working'),
});

export const importBody = z
  .union([z.string(), z.strictObject({ csv: z.string() })])
  .describe('text/csv with header name,email,district — or JSON { "csv": "..." }');

export const importReport = z.object({
  total: z.number().int(),
  created: z.number().int(),
  existing: z.number().int(),
  errors: z.number().int(),
  rows: z.array(
    z.object({
      line: z.number().int(),
      status: z.enum(['created', 'existing', 'error']),
      error: z.string().optional(),
      userId: z.string().optional(),
      accessCode: z.string().optional(),
    }),
  ),
});
