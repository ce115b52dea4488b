/** Admin operations: the live overview and reviving dead-lettered jobs. */
import type { AppContext } from '../../context.ts';
import type { App } from '../../http/types.ts';
import { operationsView, retried, retryParams } from './schema.ts';

const tags = ['operations'];
const security = [{ bearer: [] }];

export function operationsRoutes(app: App, ctx: AppContext): Promise<void> {
  const admin = app.requireRole('admin');

  app.get(
    '/admin/operations',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        summary: 'Queues, dead letters, AI budget and breaker, attempts in flight, HTTP latency',
        description: 'AI breaker and HTTP latency are of the process that answers; queues, budget and attempts are cluster-wide.',
        response: { 200: operationsView },
      },
    },
    () => ctx.operations.overview(),
  );

  app.post(
    '/admin/dead-letters/:queue/:id/retry',
    {
      onRequest: admin,
      schema: {
        tags,
        security,
        summary: 'Put a dead-lettered job back in its queue with a fresh attempt budget',
        params: retryParams,
        response: { 202: retried },
      },
    },
    async (req, reply) => {
      await ctx.operations.retryDeadLetter(req.params.queue, req.params.id);
      return reply.status(202).send({ retried: true });
    },
  );
  return Promise.resolve();
}
