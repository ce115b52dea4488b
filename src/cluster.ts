/**
 * Several examday processes on one machine (node:cluster), for when one
 * process is not enough: more CPU for JSON and TLS-free HTTP work, and more
 * sockets than one process may hold open (each process has its own
 * open-file limit, so 40,000 keep-alive candidates need several).
 *
 * The primary process only supervises: it applies migrations once, forks K
 * API workers that share the listening port (the primary hands each new
 * connection to the next worker in turn), and — for `all` — exactly one job
 * worker process, so jobs run in one place whatever K is. API workers start
 * with the API's V8 flags (lib/v8-flags.ts). New connections are
 * handed out by the kernel (every API process accepts on the shared socket)
 * unless NODE_CLUSTER_SCHED_POLICY=rr asks for Node's round robin through the
 * primary, which in a 40,000-connection storm on two cores accepted half as
 * many connections per second and doubled p99 (BENCHMARKS.md). A worker that dies
 * is replaced (with a growing pause if it keeps dying at start). SIGTERM or
 * SIGINT is passed on to every worker, each of which drains its requests and
 * flushes its autosaves; the primary exits when they have.
 *
 * Processes share nothing in memory, so K > 1 needs the shared services:
 * PostgreSQL for data (PGlite lives inside one process) and Redis for queues,
 * rate limits and live-update fan-out.
 */
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { pino } from 'pino';
import type { Config } from './config.ts';
import { withApiV8Flags } from './lib/v8-flags.ts';
import { LOG_REDACT_PATHS } from './lib/log-redact.ts';

export type ClusterRole = 'serve' | 'all';
type ChildRole = 'serve' | 'worker';

/** `--processes` (or WEB_CONCURRENCY) as a count, `auto` being one per CPU; undefined when invalid. */
export function processCount(value: number | string): number | undefined {
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 99 ? n : undefined;
}

/** Why this config cannot run K processes, or undefined when it can. */
export function clusterProblem(config: Config, processes: number): string | undefined {
  if (processes <= 1) return undefined;
  const missing: string[] = [];
  if (!config.db.url) {
    missing.push('DATABASE_URL (the embedded database, PGlite, lives inside one process and cannot be shared)');
  }
  if (!config.redis.url) missing.push('REDIS_URL (queues, rate limits and live updates must be shared between processes)');
  if (missing.length === 0) return undefined;
  return `--processes ${processes} needs ${missing.join(' and ')}.\nSet ${missing.length > 1 ? 'them' : 'it'}, or run with --processes 1.`;
}

/** File descriptors kept back from client sockets: database and Redis connections, files, pipes. */
const FD_RESERVE = 1000;

/**
 * Client sockets one process should hold at most: its open-file limit less a
 * reserve, so that a crowd of candidates can never leave it unable to open a
 * database connection. Past it, new connections are closed at once (the
 * client retries; a balancer sends it to another process). Undefined where
 * the limit cannot be read (not Linux).
 */
export function clientSocketLimit(): number | undefined {
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return soft ? Math.max(100, Number(soft) - FD_RESERVE) : undefined;
  } catch {
    return undefined;
  }
}

/** Is this process an API or job worker forked by the primary? */
export const isClusterWorker = (): boolean => cluster.isWorker;

export interface ClusterOptions {
  config: Config;
  role: ClusterRole;
  processes: number;
  /** Runs once in the primary before forking (migrations, demo seed). */
  prepare(): Promise<void>;
}

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A worker that lived this long is healthy; its replacement starts without delay growth. */
const STABLE_MS = 10_000;
/** Workers drain for up to 20 s (close-with-grace); then they are killed. */
const STOP_TIMEOUT_MS = 25_000;

export async function runCluster(o: ClusterOptions): Promise<void> {
  const log = pino({ level: o.config.log.level, base: { pid: process.pid, role: 'primary' }, redact: LOG_REDACT_PATHS });
  await o.prepare();
  // Node's default is round robin; an explicit NODE_CLUSTER_SCHED_POLICY wins.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;

  const roles = new Map<number, { role: ChildRole; startedAt: number; listening: boolean }>();
  let stopping = false;
  let restartDelay = RESTART_MIN_MS;
  let announced = false;

  const fork = (role: ChildRole): Worker => {
    cluster.setupPrimary({ args: [role], execArgv: role === 'serve' ? withApiV8Flags(process.execArgv) : process.execArgv });
    const w = cluster.fork();
    roles.set(w.id, { role, startedAt: Date.now(), listening: false });
    return w;
  };

  cluster.on('listening', (w) => {
    const r = roles.get(w.id);
    if (r) r.listening = true;
    const api = [...roles.values()].filter((x) => x.role === 'serve');
    if (!announced && api.length === o.processes && api.every((x) => x.listening)) {
      announced = true;
      const shown = o.config.http.host === '0.0.0.0' || o.config.http.host === '::' ? 'localhost' : o.config.http.host;
      const base = o.config.http.publicUrl ?? `http://${shown}:${o.config.http.port}`;
      const jobs = o.role === 'all' ? ' + 1 job worker' : '';
      process.stdout.write(`examday (${o.role}: ${o.processes} API processes${jobs}) listening on ${base}  ·  API docs: ${base}/docs\n`);
    }
  });

  cluster.on('exit', (w, code, signal) => {
    const r = roles.get(w.id);
    roles.delete(w.id);
    if (!r || stopping) return;
    const lived = Date.now() - r.startedAt;
    restartDelay = lived > STABLE_MS ? RESTART_MIN_MS : Math.min(restartDelay * 2, RESTART_MAX_MS);
    log.warn({ worker: w.process.pid, workerRole: r.role, code, signal, restartInMs: restartDelay }, 'worker exited; replacing it');
    setTimeout(() => {
      if (!stopping) fork(r.role);
    }, lived > STABLE_MS ? 0 : restartDelay).unref();
  });

  for (let i = 0; i < o.processes; i++) fork('serve');
  if (o.role === 'all') fork('worker');

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal: do not wait any longer.
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    for (const w of workers) w.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    killer.unref();
    let failed = 0;
    Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', (code, sig) => {
              // A worker still starting has nothing to drain and simply ends on the signal.
              if (code !== 0 && sig !== 'SIGTERM' && sig !== 'SIGINT') failed++;
              resolve();
            });
          }),
      ),
    ).then(
      () => {
        log.info({ failed }, 'all workers stopped');
        process.exit(failed === 0 ? 0 : 1);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
