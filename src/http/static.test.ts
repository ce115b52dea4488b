/**
 * Serving the web app: hashed assets cached for a year, index.html always
 * revalidated, the app at deep links that ask for HTML, problem+json 404s
 * for everything else, and a useful page at `/` when there is no build.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { buildWeb } from '../../scripts/build-web.ts';
import { createTestApp, type TestApp } from '../testing/app.ts';
import { dbTargets } from '../testing/db.ts';
import type { AppContext } from '../context.ts';
import { WEB_DIST, webRoutes } from './static.ts';

const [target] = dbTargets();

describe('web app serving', () => {
  let t: TestApp;
  before(async () => {
    buildWeb({ ifStale: true, quiet: true });
    t = await createTestApp(target!);
  });
  after(() => t.close());

  it('serves index.html at / with no-cache, hashed assets as immutable for a year', async () => {
    const index = await t.app.inject({ url: '/', headers: { accept: 'text/html' } });
    assert.equal(index.statusCode, 200);
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(String(index.headers['content-type']), /text\/html/);
    const html = await readFile(path.join(WEB_DIST, 'index.html'), 'utf8');
    assert.equal(index.body, html);
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length >= 2, 'a script and a stylesheet');
    for (const a of assets) {
      const res = await t.app.inject(a);
      assert.equal(res.statusCode, 200, a);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', a);
      assert.ok(res.headers.etag, 'assets carry an ETag');
    }
  });

  it('serves the app at client-side routes that ask for HTML', async () => {
    for (const url of ['/exam/123', '/author/materials/abc?x=1', '/signin']) {
      const res = await t.app.inject({ url, headers: { accept: 'text/html,application/xhtml+xml' } });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.match(res.body, /<div id="root">/);
    }
  });

  it('keeps problem+json 404s for the API, missing assets and non-HTML requests', async () => {
    for (const [url, accept] of [
      ['/api/v1/no-such-route', 'text/html'],
      ['/assets/missing-123.js', 'text/html'],
      ['/exam/123', 'application/json'],
      ['/nothing-here', '*/*'],
    ] as const) {
      const res = await t.app.inject({ url, headers: { accept } });
      assert.equal(res.statusCode, 404, url);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/, url);
    }
  });

  it('tells the sign-in page about demo accounts', async () => {
    const res = await t.app.inject('/app-config.json');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(res.json(), { demoAccounts: [] });
  });
});

describe('without a web build', () => {
  it('/ says how to build the app, links the API docs and lists the demo accounts', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'examday-no-web-'));
    const app = Fastify().withTypeProvider<ZodTypeProvider>();
    const ctx = { demoAccounts: [{ role: 'admin', login: 'admin@examday.local', secret: 'pw<&>' }] } as unknown as AppContext;
    await webRoutes(app, ctx, empty);
    const res = await app.inject('/');
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /npm run build/);
    assert.match(res.body, /href="\/docs"/);
    assert.match(res.body, /admin@examday\.local/);
    assert.match(res.body, /pw&#60;&#38;&#62;/);
    await app.close();
    await rm(empty, { recursive: true, force: true });
  });
});
