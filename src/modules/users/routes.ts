/**
 * Account administration (admins), access-code resets (admins; authors for
 * candidates) and candidate CSV import (authors and admins).
 */
import type { AppContext } from '../../context.ts';
import { who } from '../../http/auth.ts';
import type { App } from '../../http/types.ts';
import { IMPORT_MAX_BYTES } from './import.ts';
import {
  accessCodeResponse,
  createBody,
  createdUser,
  idParams,
  importBody,
  importReport,
  listQuery,
  patchBody,
  userPage,
  userSchema,
} from './schema.ts';

const tags = ['users'];
const security = [{ bearer: [] }];

export async function userRoutes(api: App, ctx: AppContext): Promise<void> {
  // Own scope, so the text/csv parser below applies to these routes only.
  await api.register((scope, _opts, done) => {
    const app = scope as App;
    const { users } = ctx;

    app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: IMPORT_MAX_BYTES }, (_req, body, done) => {
      done(null, body);
    });

    app.get(
      '/users',
      {
        onRequest: app.requireRole('admin'),
        schema: { tags, summary: 'List accounts (newest first)', security, querystring: listQuery, response: { 200: userPage } },
      },
      (req) => users.list(req.query),
    );

    app.post(
      '/users',
      {
        onRequest: app.requireRole('admin'),
        schema: {
          tags,
          summary: 'Create an account (staff with a password, or a candidate with an access code)',
          security,
          body: createBody,
          response: { 201: createdUser },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const created =
          b.role === 'candidate'
            ? await users.createCandidateWithCode({ name: b.name, email: b.email ?? null, district: b.district })
            : { user: await users.createStaff({ role: b.role, email: b.email, name: b.name, password: b.password, district: b.district ?? null }) };
        return reply.status(201).send(created);
      },
    );

    app.get(
      '/users/:id',
      {
        onRequest: app.requireRole('admin'),
        schema: { tags, summary: 'Get an account', security, params: idParams, response: { 200: userSchema } },
      },
      (req) => users.get(req.params.id),
    );

    app.patch(
      '/users/:id',
      {
        onRequest: app.requireRole('admin'),
        schema: {
          tags,
          summary: 'Edit, disable or re-enable an account (disabling ends its sessions)',
          security,
          params: idParams,
          body: patchBody,
          response: { 200: userSchema },
        },
      },
      (req) => users.update(req.params.id, req.body, who(req)),
    );

    app.delete(
      '/users/:id',
      {
        onRequest: app.requireRole('admin'),
        schema: { tags, summary: 'Delete an account that owns nothing', security, params: idParams },
      },
      async (req, reply) => {
        await users.delete(req.params.id, who(req));
        return reply.status(204).send();
      },
    );

    app.post(
      '/users/:id/access-code',
      {
        onRequest: app.requireRole('admin', 'author'),
        schema: {
          tags,
          summary: "Issue a new sign-in code for a candidate (revokes the candidate's earlier general codes)",
          security,
          params: idParams,
          response: { 200: accessCodeResponse },
        },
      },
      (req) => users.resetAccessCode(req.params.id, who(req)),
    );

    app.post(
      '/candidates/import',
      {
        onRequest: app.requireRole('author', 'admin'),
        // JSON escaping makes the same CSV somewhat larger; the CSV text itself is held to IMPORT_MAX_BYTES.
        bodyLimit: IMPORT_MAX_BYTES + IMPORT_MAX_BYTES / 2,
        schema: {
          tags,
          summary: 'Import candidates from CSV (name,email,district); each created candidate gets an access code',
          description:
            'Send text/csv (text/plain also works), or JSON { "csv": "..." }. At most 10,000 rows and 2 MB. Every row is reported by line: ' +
            'created (with its access code, shown once), existing (same email, reused) or error (skipped). Valid rows are created in one transaction.',
          security,
          consumes: ['text/csv', 'text/plain', 'application/json'],
          body: importBody,
          response: { 200: importReport },
        },
      },
      (req) => users.importCandidates(typeof req.body === 'string' ? req.body : req.body.csv),
    );
    done();
  });
}
