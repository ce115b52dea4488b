/**
 * Authentication hooks. A route declares who may call it with
 * `onRequest: app.requireRole('author', 'admin')`; ownership checks happen in
 * the services, which receive `request.principal`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
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
    requireRole(...roles: Role[]): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
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
      return async (req: FastifyRequest) => {
        const header = req.headers.authorization;
        if (!header?.startsWith('Bearer ')) {
          throw new AppError('unauthenticated', 'send an access token as "Authorization: Bearer <token>"');
        }
        const principal = tokens.verify(header.slice(7).trim());
        if (!allowed.has(principal.role)) {
          throw new AppError('forbidden', `this route is for ${roles.join(' or ')} accounts`);
        }
        req.principal = principal;
      };
    });
    done();
  },
  { name: 'examday-auth' },
);
