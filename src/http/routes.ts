/** Every route plugin, in one place: system routes at the root, the API under /api/v1. */
import type { AppContext } from '../context.ts';
import { systemRoutes } from './system.ts';
import { webRoutes } from './static.ts';
import type { App } from './types.ts';
import { authRoutes } from '../modules/auth/routes.ts';
import { userRoutes } from '../modules/users/routes.ts';
import { questionRoutes } from '../modules/questions/routes.ts';
import { assessmentRoutes } from '../modules/assessments/routes.ts';
import { sessionRoutes } from '../modules/sessions/routes.ts';
import { attemptRoutes } from '../modules/attempts/routes.ts';
import { materialRoutes } from '../modules/materials/routes.ts';
import { reportRoutes } from '../modules/reports/routes.ts';
import { operationsRoutes } from '../modules/operations/routes.ts';

export async function registerRoutes(app: App, ctx: AppContext): Promise<void> {
  await systemRoutes(app, ctx);
  await webRoutes(app, ctx);
  await app.register(
    async (api) => {
      const scoped = api as App;
      await authRoutes(scoped, ctx);
      await userRoutes(scoped, ctx);
      await questionRoutes(scoped, ctx);
      await assessmentRoutes(scoped, ctx);
      await sessionRoutes(scoped, ctx);
      await attemptRoutes(scoped, ctx);
      await materialRoutes(scoped, ctx);
      await reportRoutes(scoped, ctx);
      await operationsRoutes(scoped, ctx);
    },
    { prefix: '/api/v1' },
  );
}
