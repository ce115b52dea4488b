/**
 * A loopback TCP proxy that a test can cut and restore: a database (or any
 * server) going away and coming back, without stopping the shared server
 * that other test files use. Cut closes every proxied connection (the client
 * sees its connection end under it) and stops listening (new connections are
 * refused), as a restart or a failover looks from the application's side.
 */
import net from 'node:net';
import { freePort } from '../lib/free-port.ts';

export interface TcpProxy {
  readonly port: number;
  /** Connections proxied so far. */
  readonly connections: number;
  /** End every proxied connection and refuse new ones. */
  cut(): Promise<void>;
  /** Accept connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(target);
    open.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const s of [client, upstream]) s.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await freePort();
  await listen(server, port);
  let listening = true;

  const cut = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of open) s.destroy();
    open.clear();
    await closed;
  };
  return {
    port,
    get connections() {
      return connections;
    },
    cut,
    async restore() {
      if (listening) return;
      await listen(server, port);
      listening = true;
    },
    close: cut,
  };
}

/** `url` with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}
