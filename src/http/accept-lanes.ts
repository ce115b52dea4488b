/**
 * Accept lanes: more than one new connection per event-loop turn.
 *
 * A Node 20 process accepts one connection each time its listening socket is
 * reported readable — once per event-loop turn (libuv ≥ 1.45). While the
 * process is busy serving the exam, its turns are long, and at 09:00 the
 * sign-ins queue in the kernel's accept queue for seconds while the requests
 * of candidates already connected are answered in milliseconds.
 *
 * A lane is another descriptor for the same listening socket, watched by its
 * own `net.Server`: each lane accepts one connection per turn too, so with L
 * lanes a turn takes up to L + 1 connections and hands them to the HTTP server
 * (`'connection'`, as Node documents for injecting sockets). Node can neither
 * duplicate a descriptor nor open several listeners on one port before
 * `reusePort` (Node 22.12), so the copies come from the kernel's descriptor
 * passing: a short-lived helper process is sent the listening handle once and
 * sends it back L times, each arriving as a fresh descriptor. The helper never
 * listens and exits when it is done.
 */
import { spawn } from 'node:child_process';
import type { Server as HttpServer } from 'node:http';
import net, { type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface AcceptLanes {
  /** Lanes opened (0 when the listener cannot be copied). */
  readonly count: number;
  /** Connections the lanes have taken so far (the rest came through the server's own listener). */
  accepted(): number;
  /** Stop accepting on every lane at once (the HTTP server's own listener is closed by its owner). */
  close(): Promise<void>;
  /**
   * After the HTTP server is closed: wait, up to `timeoutMs`, until the
   * connections the lanes took have finished their requests and closed. The
   * server's own close counts only the connections its listener accepted.
   * True when none is left.
   */
  drained(timeoutMs: number): Promise<boolean>;
}

/** The helper: send back the handle it is given, `copies` times, then wait to be let go. */
const HELPER = `process.on('message', (m, h) => { if (h) for (let i = 0; i < m.copies; i++) process.send({ lane: i }, h); });`;
const HELPER_TIMEOUT_MS = 10_000;

interface ListeningHandle {
  fd?: number;
}

/**
 * Open `lanes` extra accept lanes for a listening HTTP server. Connections
 * beyond `maxConnections` (all lanes and the server's own listener together)
 * are closed at once, as the server's own `maxConnections` does.
 */
export async function openAcceptLanes(
  server: HttpServer,
  opts: { lanes: number; backlog: number; maxConnections?: number; onRefused?: () => void },
): Promise<AcceptLanes> {
  // The listening socket's handle: a TCP handle when this process listens
  // itself (or shares a cluster socket); not one under cluster round robin.
  const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle;
  if (opts.lanes <= 0 || !handle || typeof handle.fd !== 'number' || handle.fd < 0) return { count: 0, accepted: () => 0, close: () => Promise.resolve(), drained: () => Promise.resolve(true) };

  const copies = await copyHandle(handle, opts.lanes);
  let open = 0;
  let accepted = 0;
  const limit = opts.maxConnections ?? Infinity;
  // Every connection, from a lane or the server's own listener, counts
  // against the limit (the server's own check sees only its own).
  server.on('connection', (socket: Socket) => {
    if (open >= limit) {
      socket.destroy();
      opts.onRefused?.();
      return;
    }
    open++;
    socket.once('close', () => open--);
  });
  let fromLanes = 0;
  const lanes = copies.map((h) => {
    const lane = net.createServer((socket) => {
      accepted++;
      fromLanes++;
      socket.once('close', () => fromLanes--);
      server.emit('connection', socket);
    });
    // listen() again on the same socket sets its backlog: keep the server's.
    lane.listen(h as unknown as net.ListenOptions, opts.backlog);
    return lane;
  });
  return {
    count: lanes.length,
    accepted: () => accepted,
    close() {
      // Stops listening at once; a lane's close callback would wait for every
      // connection it ever accepted, which `drained` handles instead.
      for (const l of lanes) l.close();
      return Promise.resolve();
    },
    async drained(timeoutMs: number) {
      const until = Date.now() + timeoutMs;
      while (fromLanes > 0 && Date.now() < until) {
        server.closeIdleConnections();
        await sleep(50);
      }
      return fromLanes === 0;
    },
  };
}

function copyHandle(handle: ListeningHandle, copies: number): Promise<ListeningHandle[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', HELPER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: {} });
    const got: ListeningHandle[] = [];
    const done = (err?: Error): void => {
      clearTimeout(timer);
      if (child.connected) child.disconnect();
      if (err) {
        child.kill();
        reject(err);
      } else resolve(got);
    };
    const timer = setTimeout(() => done(new Error(`accept lanes: the helper sent ${got.length} of ${copies} copies in time`)), HELPER_TIMEOUT_MS);
    child.on('error', done);
    child.on('exit', (code) => {
      if (got.length < copies) done(new Error(`accept lanes: the helper exited (${code}) after ${got.length} of ${copies} copies`));
    });
    child.on('message', (_m, h) => {
      if (!h) return;
      got.push(h as unknown as ListeningHandle);
      if (got.length === copies) done();
    });
    // A raw handle ('net.Native'): the helper receives a descriptor, not a listening server.
    child.send({ copies }, handle as unknown as net.Server);
  });
}
