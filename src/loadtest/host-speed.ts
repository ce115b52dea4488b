/**
 * How fast this machine is right now, as a number a run can carry: a bare
 * `node:http` hello-world server in its own process, driven closed-loop (each
 * connection sends its next request when the answer arrives) by the harness's
 * own HTTP client. On a shared host the same command can run a third slower
 * from one hour to the next; a run's figures are only comparable with another
 * run's when their hello-world rates are close.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Connection, TransportError, buildRequest } from './http.ts';

const HELLO_SERVER = `
const http = require('node:http');
const body = Buffer.from('hello world');
const srv = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
srv.keepAliveTimeout = 72000;
srv.listen(0, '127.0.0.1', () => process.send(srv.address().port));
`;

/** A bare node:http hello world on 127.0.0.1 in a child process; kill the child when done. */
export async function startHello(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', HELLO_SERVER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [port] = (await once(child, 'message')) as [number];
  return { port, child };
}

/** Closed loop against 127.0.0.1:port: answers per second after `warmS`, over `seconds`. */
export async function closedLoop(port: number, o: { connections: number; seconds: number; warmS: number }): Promise<{ rps: number; errors: number }> {
  const request = buildRequest('GET', '/', `127.0.0.1:${port}`, undefined);
  const warmUntil = performance.now() + o.warmS * 1000;
  const endAt = warmUntil + o.seconds * 1000;
  let done = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      const c = new Connection({ host: '127.0.0.1', port });
      while (performance.now() < endAt) {
        try {
          const r = await c.send(request);
          const at = performance.now();
          if (at > warmUntil && at <= endAt) {
            if (r.status === 200) done++;
            else errors++;
          }
        } catch (err) {
          if (!(err instanceof TransportError)) throw err;
          errors++;
        }
      }
      c.close();
    }),
  );
  return { rps: Math.round(done / o.seconds), errors };
}

/**
 * What one system call costs on this machine now, in ns: the fastest of five
 * rounds of 20,000 `getuid()` calls (which glibc does not cache). Exam day is
 * mostly system calls — a read and a write per request on each side of every
 * loopback connection, with the kernel's TCP behind them — and machines,
 * virtual ones especially, differ in this by an order of magnitude where a
 * hello world's rate differs by a third. Undefined where there is no getuid.
 */
export function measureSyscallNs(): number | undefined {
  const getuid = process.getuid?.bind(process);
  if (!getuid) return undefined;
  const CALLS = 20_000;
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) getuid();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / CALLS);
  }
  return Math.round(best);
}

/** Hello-world requests per second on this machine now (about `warmS + seconds` long). */
export async function measureHostSpeed(o: { connections?: number; seconds?: number; warmS?: number } = {}): Promise<number> {
  const hello = await startHello();
  try {
    const r = await closedLoop(hello.port, { connections: o.connections ?? 50, seconds: o.seconds ?? 2, warmS: o.warmS ?? 1 });
    return r.rps;
  } finally {
    hello.child.kill();
  }
}
