/**
 * Operational routes: liveness, readiness, Prometheus metrics, landing page.
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

  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    const demo = ctx.demoAccounts;
    const rows = demo
      .map((a) => `<tr><td>${escapeHtml(a.role)}</td><td><code>${escapeHtml(a.login)}</code></td><td><code>${escapeHtml(a.secret)}</code></td></tr>`)
      .join('');
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>examday</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}a{color:#0645ad}</style>
</head><body><main>
<h1>examday</h1>
<p>A self-hostable assessment platform built for exam day. The API is documented at <a href="/docs">/docs</a>
(OpenAPI 3.1 at <a href="/openapi.json">/openapi.json</a>).</p>
${rows ? `<h2>Demo accounts</h2><table><thead><tr><th>role</th><th>sign in with</th><th>password / access code</th></tr></thead><tbody>${rows}</tbody></table>
<p>Staff: <code>POST /api/v1/auth/login</code> with email and password. Candidates: <code>POST /api/v1/auth/access-code</code> with the code.</p>` : ''}
<p>Health: <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a></p>
</main></body></html>`);
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
