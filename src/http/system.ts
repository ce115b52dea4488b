/**
 * Operational routes: liveness, readiness, Prometheus metrics.
 */
import type { AppContext } from '../context.ts';
import type { App } from './types.ts';

export async function systemRoutes(app: App, ctx: AppContext): Promise<void> {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const checks = await ctx.readiness();
    const ok = Object.values(checks).every((c) => c === 'ok');
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'not_ready', checks });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
  // `/` is the web app's (src/http/static.ts).
}
