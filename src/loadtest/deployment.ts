/**
 * `--embedded`: the harness starts examday itself, as child processes on a
 * free loopback port, and stops it after the run.
 *
 * - PostgreSQL: `examday serve` with WEB_CONCURRENCY=K API processes (one
 *   process cannot hold more sockets than its open-file limit) plus one
 *   `examday worker` for grading and deadline jobs.
 * - PGlite: `examday all` in one process (the embedded database belongs to
 *   one process), with its data dir in a fresh temporary directory, no Redis
 *   and no S3: the embedded default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/free-port.ts';
import { withApiV8Flags } from '../lib/v8-flags.ts';
import type { DatabaseChoice } from './database.ts';

const EXAMDAY_BIN = fileURLToPath(new URL('../../bin/examday.mjs', import.meta.url));

export interface DeploymentOptions {
  db: DatabaseChoice;
  /** API processes (PostgreSQL only; PGlite always runs one). */
  processes: number;
  logLevel: string;
  /** Data dir for blobs and (PGlite) the database. */
  dataDir: string;
  /** Extra environment for the server, e.g. tuning knobs. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface Deployment {
  url: URL;
  /** Process ids of the processes started (cluster workers are their children). */
  pids(): number[];
  /** The last lines the server printed (for error messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Keeps the tail of a child's output. */
function tail(child: ChildProcess, name: string, lines: string[]): void {
  const take = (b: Buffer): void => {
    for (const l of b.toString().split('\n')) {
      if (!l.trim()) continue;
      lines.push(`[${name}] ${l}`);
      if (lines.length > 60) lines.shift();
    }
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
}

async function waitReady(url: URL, children: ChildProcess[], timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`examday exited while starting (${dead.signalCode ?? `code ${dead.exitCode}`}):\n${output()}`);
    try {
      const res = await fetch(new URL('/readyz', url), { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`examday was not ready within ${Math.round(timeoutMs / 1000)} s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stopChild(c: ChildProcess, graceMs: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function startDeployment(o: DeploymentOptions): Promise<Deployment> {
  const port = await freePort();
  const url = new URL(`http://127.0.0.1:${port}`);
  const overrides: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: o.logLevel,
    SEED_DEMO: 'false',
    EXAMDAY_DATA_DIR: o.dataDir,
    PUBLIC_URL: url.origin,
    // API processes (node:cluster in examday when more than one).
    WEB_CONCURRENCY: String(o.db.kind === 'postgres' ? o.processes : 1),
    ...(o.db.kind === 'postgres'
      ? { DATABASE_URL: o.db.url }
      : // The embedded default: nothing external, whatever the operator's shell has set.
        { DATABASE_URL: '', REDIS_URL: '', S3_ENDPOINT: '', S3_BUCKET: '', S3_ACCESS_KEY_ID: '', S3_SECRET_ACCESS_KEY: '' }),
    ...o.env,
  };
  // The server inherits the operator's environment (its REDIS_URL, S3_*,
  // tuning variables), with the settings above on top.
  const env = { ...process.env, ...overrides };
  const lines: string[] = [];
  const output = (): string => lines.join('\n');
  const children: ChildProcess[] = [];
  const launch = (name: string, args: string[]): void => {
    // As `npm start` runs it: with the API's V8 flags (the job worker needs none).
    const flags = name === 'worker' ? [] : withApiV8Flags([], env.NODE_OPTIONS ?? '');
    const c = spawn(process.execPath, [...flags, EXAMDAY_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    tail(c, name, lines);
    children.push(c);
  };
  if (o.db.kind === 'pglite') {
    launch('all', ['all']);
  } else {
    launch('serve', ['serve']);
    launch('worker', ['worker']);
  }
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c, 30_000)));
  };
  try {
    await waitReady(url, children, o.readyTimeoutMs ?? 120_000, output);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    pids: () => children.map((c) => c.pid).filter((p): p is number => p !== undefined),
    output,
    stop,
  };
}
