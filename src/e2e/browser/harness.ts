/**
 * What the browser tests (and the screenshot script) need: a real
 * `examday all` process on a fresh embedded database, the built web app,
 * Debian's Chromium driven by playwright-core, and axe-core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildWeb } from '../../../scripts/build-web.ts';
import { freePort } from '../../lib/free-port.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(ROOT, 'bin/examday.mjs');

/** Debian's chromium (installed by .ci/run); override with EXAMDAY_CHROMIUM. */
export const CHROMIUM = process.env.EXAMDAY_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

export const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export interface Server {
  base: string;
  child: ChildProcess;
  dataDir: string;
  log: () => string;
  stop(): Promise<void>;
}

/** Build web/dist if it is missing or older than its sources. */
export function ensureWebBuild(): void {
  buildWeb({ ifStale: true, quiet: true });
}

/**
 * `examday all` (API + workers) on a free port with a fresh PGlite directory
 * and the demo data. Other processes on this machine pick ports too: if the
 * port is taken between choosing and listening, it starts again on another.
 */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(env);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !err.message.includes('EADDRINUSE')) throw err;
    }
  }
}

async function startServerOnce(env: Record<string, string>): Promise<Server> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'examday-browser-'));
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    EXAMDAY_DATA_DIR: dataDir,
    JWT_SECRET: 'browser-test-secret-browser-test-secret-0123',
    LOG_LEVEL: 'warn',
    SEED_DEMO: 'true',
    LOGIN_RATE_LIMIT_PER_MIN: '1000',
    PDF_WORKERS: '1',
    ...env,
  };
  const child = spawn(process.execPath, [CLI, 'all'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const onData = (d: Buffer): void => {
    log += d.toString();
    if (process.env.EXAMDAY_TEST_SERVER_LOG) process.stderr.write(d);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 90 s:\n${log}`)), 90_000);
    const check = (): void => {
      if (log.includes('listening on')) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      void rm(dataDir, { recursive: true, force: true });
      reject(new Error(`server exited ${code}:\n${log}`));
    });
  });
  return {
    base: `http://127.0.0.1:${port}`,
    child,
    dataDir,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await new Promise((r) => child.once('exit', r));
        clearTimeout(killer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** axe-core on the current page; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // These functions run in the page, where `axe` is a global once its script is added.
  type AxeGlobal = { axe?: { run: (ctx: unknown, opts: object) => Promise<{ violations: AxeViolation[] }> }; document: unknown };
  const loaded = await page.evaluate(() => (globalThis as unknown as AxeGlobal).axe !== undefined);
  if (!loaded) await page.addScriptTag({ path: AXE_PATH });
  const violations = await page.evaluate(async () => {
    const g = globalThis as unknown as AxeGlobal;
    const r = await g.axe!.run(g.document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export function describeViolations(vs: AxeViolation[]): string {
  return vs.map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(' ')} — ${n.failureSummary ?? ''}`).join('\n')}`).join('\n');
}

/** A JSON call to the API, for setup and for checking what the server stored. */
export async function apiCall<T>(base: string, method: string, urlPath: string, token?: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/api/v1${urlPath}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath} → ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
