/**
 * Builds the web app (web/ → web/dist) with Vite.
 *
 *   node --import tsx scripts/build-web.ts             always build
 *   node --import tsx scripts/build-web.ts --if-stale  only when web/dist is missing or older than the sources
 *
 * The build goes to a temporary folder that then replaces web/dist in one
 * rename, under a lock, so a server or a test reading web/dist never sees a
 * half-written build and two builds started together do not collide.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WEB = path.join(ROOT, 'web');
const DIST = path.join(WEB, 'dist');
const LOCK = path.join(WEB, '.build-lock');
const VITE = path.join(ROOT, 'node_modules/vite/bin/vite.js');
const LOCK_STALE_MS = 5 * 60_000;

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, e)));
  return newest;
}

/** Sources are newer than the build (or there is no build). */
export function webBuildIsStale(): boolean {
  const index = path.join(DIST, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  const sources = ['index.html', 'src', 'public', 'vite.config.ts'].map((f) => path.join(WEB, f)).filter((f) => existsSync(f));
  return sources.some((f) => newestMtime(f) > built);
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withLock<T>(fn: () => T): T {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Released meanwhile: try again.
      }
      sleep(200);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export interface BuildResult {
  built: boolean;
  ms: number;
  reason: string;
}

/** Build web/dist; with `ifStale`, only when it is missing or out of date. Throws when Vite fails. */
export function buildWeb(opts: { ifStale?: boolean; quiet?: boolean } = {}): BuildResult {
  const t0 = Date.now();
  if (opts.ifStale && !webBuildIsStale()) return { built: false, ms: 0, reason: 'up to date' };
  if (!existsSync(VITE)) {
    if (existsSync(path.join(DIST, 'index.html'))) return { built: false, ms: 0, reason: 'vite is not installed; keeping the existing build' };
    throw new Error('cannot build the web app: vite is not installed (run npm install, with dev dependencies)');
  }
  return withLock(() => {
    // Another process may have built it while we waited for the lock.
    if (opts.ifStale && !webBuildIsStale()) return { built: false, ms: Date.now() - t0, reason: 'built by another process' };
    const tmp = path.join(WEB, `.dist-tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    const r = spawnSync(process.execPath, [VITE, 'build', '--config', path.join(WEB, 'vite.config.ts'), '--outDir', tmp, '--emptyOutDir', '--logLevel', opts.quiet ? 'warn' : 'info'], {
      cwd: ROOT,
      stdio: opts.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`vite build failed (exit ${r.status}): ${r.stderr ?? ''}${r.stdout ?? ''}`);
    }
    const old = path.join(WEB, `.dist-old-${process.pid}`);
    if (existsSync(DIST)) renameSync(DIST, old);
    renameSync(tmp, DIST);
    rmSync(old, { recursive: true, force: true });
    return { built: true, ms: Date.now() - t0, reason: 'built' };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  try {
    if (ifStale && webBuildIsStale()) process.stdout.write('building the web app (web/dist)…\n');
    const r = buildWeb({ ifStale });
    if (r.built) process.stdout.write(`web app built in ${(r.ms / 1000).toFixed(1)} s\n`);
    else if (!ifStale || r.reason !== 'up to date') process.stdout.write(`web app: ${r.reason}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    // npm start still serves the API (and a page saying how to build) without the app.
    process.exit(ifStale ? 0 : 1);
  }
}
