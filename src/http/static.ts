/**
 * The web app: the built single-page app under web/dist, served by the API
 * process itself.
 *
 * - `/assets/*` file names carry a content hash, so they are cached for a
 *   year as immutable; a new build gets new names.
 * - `index.html` (at `/` and at any client-side route) is `no-cache`: a
 *   browser always revalidates it and so always picks up a new build.
 * - Any other GET that asks for HTML (a deep link such as /exam/…) gets the
 *   app; API paths and non-HTML requests keep their problem+json 404.
 * - `/app-config.json` tells the sign-in page which demo accounts exist.
 *
 * Without a build (`npm run build`) `/` explains how to make one and lists
 * the demo accounts, so the API stays usable on its own.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import type { App } from './types.ts';

export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
/** Unhashed files beside index.html (favicon): cached briefly. */
const SHORT = 'public, max-age=3600';

export async function webRoutes(app: App, ctx: AppContext, dist: string = WEB_DIST): Promise<void> {
  app.get('/app-config.json', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('cache-control', 'no-store');
    return { demoAccounts: ctx.demoAccounts };
  });

  if (!existsSync(path.join(dist, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', REVALIDATE).send(fallbackPage(ctx)));
    return;
  }

  await app.register(fastifyStatic, {
    root: dist,
    prefix: '/',
    // One route per built file, so unknown paths fall through to the SPA or a 404.
    wildcard: false,
    index: false,
    cacheControl: false,
    etag: true,
    lastModified: true,
    setHeaders(res, filePath) {
      const rel = path.relative(dist, filePath).split(path.sep).join('/');
      res.setHeader('cache-control', rel.startsWith('assets/') ? IMMUTABLE : rel === 'index.html' ? REVALIDATE : SHORT);
    },
  });

  const sendApp = (reply: FastifyReply): FastifyReply => reply.sendFile('index.html');

  app.get('/', { schema: { hide: true } }, (_req, reply) => sendApp(reply));

  app.get('/*', { schema: { hide: true } }, (req: FastifyRequest, reply) => {
    const url = req.url.split('?')[0] ?? '';
    const wantsHtml = (req.headers.accept ?? '').includes('text/html');
    if (!wantsHtml || url.startsWith('/api/') || url === '/api' || url.startsWith('/assets/')) return reply.callNotFound();
    return sendApp(reply);
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `/` when the web app is not built: how to build it, the API docs, and the demo accounts. */
function fallbackPage(ctx: AppContext): string {
  const rows = ctx.demoAccounts
    .map((a) => `<tr><td>${escapeHtml(a.role)}</td><td><code>${escapeHtml(a.login)}</code></td><td><code>${escapeHtml(a.secret)}</code></td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>examday</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}a{color:#0645ad}</style>
</head><body><main>
<h1>examday</h1>
<p>The web app is not built yet: run <code>npm run build</code> (or <code>npm start</code>, which builds it when it is missing) and reload.</p>
<p>The API is documented at <a href="/docs">/docs</a> (OpenAPI 3.1 at <a href="/openapi.json">/openapi.json</a>).</p>
${rows ? `<h2>Demo accounts</h2><table><thead><tr><th>role</th><th>sign in with</th><th>password / access code</th></tr></thead><tbody>${rows}</tbody></table>` : ''}
<p>Health: <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a> · <a href="/metrics">/metrics</a></p>
</main></body></html>`;
}
