/**
 * Real examday processes for end-to-end tests: `examday serve | all | worker`
 * started through the CLI, as an operator would, on a random loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/free-port.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'bin/examday.mjs');

export interface ExamdayProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>/api/v1`; empty for a worker. */
  base: string;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGKILL unless it already exited. */
  kill(): Promise<void>;
}

/** Runs a one-shot command (`seed`, `migrate`) and returns its stdout; throws on a non-zero exit. */
export async function runExamday(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`examday ${args.join(' ')} exited ${code}: ${err || out}`);
  return out;
}

/**
 * Starts `examday <role>` and resolves once it serves (`serve`, `all`) or
 * its job workers run (`worker`, which needs LOG_LEVEL info or lower to say so).
 * The port is one that was free a moment ago; should another process take it
 * before the child listens, the child is started again on another.
 */
export async function startExamday(role: 'serve' | 'all' | 'worker', env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ExamdayProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(role, env, await freePort(), timeoutMs);
    } catch (err) {
      const lostPort = err instanceof Error && err.message.includes('EADDRINUSE');
      if (!lostPort || role === 'worker' || attempt >= 3) throw err;
    }
  }
}

async function startOnce(role: 'serve' | 'all' | 'worker', env: NodeJS.ProcessEnv, port: number, timeoutMs: number): Promise<ExamdayProcess> {
  const child = spawn(process.execPath, [CLI, role], {
    cwd: ROOT,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = role === 'worker' ? 'worker started' : 'listening on';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`examday ${role} did not start: ${log}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      log += d.toString();
      if (process.env.EXAMDAY_TEST_SERVER_LOG) process.stderr.write(d);
      if (log.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`examday ${role} exited ${code}: ${log}`));
    });
  });
  return {
    child,
    base: role === 'worker' ? '' : `http://127.0.0.1:${port}/api/v1`,
    output: () => log,
    exited,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** fetch, then the JSON body; throws with the status and body unless 2xx. */
export async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const body = await r.text();
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${r.status} ${body}`);
  return JSON.parse(body) as T;
}
