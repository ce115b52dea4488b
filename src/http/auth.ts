/**
 * Authentication hooks. A route declares who may call it with
 * `onRequest: app.requireRole('author', 'admin')`; ownership checks happen in
 * the services, which receive `request.principal`.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import type { Role } from '../platform/db/schema.ts';
import type { Principal, TokenService } from '../modules/auth/tokens.ts';
import { AppError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireRole`; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    requireRole(...roles: Role[]): (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;
  }
}

/** The principal of an authenticated route (set by requireRole). */
export function who(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError('unauthenticated', 'this route needs a bearer token');
  return req.principal;
}

export const authPlugin = fp<{ tokens: TokenService }>(
  (app, { tokens }, done) => {
    app.decorateRequest('principal', null);
    app.decorate('requireRole', (...roles: Role[]) => {
      const allowed = new Set<Role>(roles);
      // Callback-style, like every hook an exam-day request runs (app.ts): an
      // async hook costs a promise and a microtask turn on every request.
      return (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
        const header = req.headers.authorization;
        // The scheme is case-insensitive (RFC 9110 §11.1); the exact spelling is checked first, as nearly every client sends it.
        if (!header || !(header.startsWith('Bearer ') || /^bearer /i.test(header))) {
          done(new AppError('unauthenticated', 'send an access token as "Authorization: Bearer <token>"'));
          return;
        }
        let principal: Principal;
        try {
          principal = tokens.verify(header.slice(7).trim());
        } catch (err) {
          done(err as Error);
          return;
        }
        if (!allowed.has(principal.role)) {
          done(new AppError('forbidden', `this route is for ${roles.join(' or ')} accounts`));
          return;
        }
        req.principal = principal;
        done();
      };
    });
    done();
  },
  { name: 'examday-auth' },
);
