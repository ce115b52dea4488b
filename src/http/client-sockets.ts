/**
 * Counts the client sockets a process holds against the most it may hold
 * (`clientSocketLimit`: its open-file limit less a reserve), and makes a
 * refusal visible. Past the limit a new connection is closed at once — by
 * the server's own `maxConnections` (its `'drop'` event) or by an accept lane
 * — and the candidate sees a reset connection. On exam day every candidate
 * holds a keep-alive connection, so a process's open-file limit is a ceiling
 * on the candidates it can serve: on a machine whose limit is 20,000 files,
 * one process holds 19,000 candidates whatever its CPU. Each refusal is
 * counted (`examday_http_connections_refused_total`, which the load harness
 * reads) and logged at most once a second with the held-back count.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import { LogBudget } from '../lib/log-budget.ts';

export const SOCKETS_GAUGE = 'examday_http_client_sockets';
export const LIMIT_GAUGE = 'examday_http_client_socket_limit';
export const REFUSED_COUNTER = 'examday_http_connections_refused_total';

export interface ClientSockets {
  /** Sockets open now. */
  readonly open: () => number;
  /** Record a connection closed because the process is at its limit (for accept lanes). */
  readonly refused: () => void;
}

export function watchClientSockets(
  server: Server,
  o: { limit: number | undefined; registry: Registry; log: { warn(obj: object, msg: string): void } },
): ClientSockets {
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
  });
  new Gauge({
    name: SOCKETS_GAUGE,
    help: 'Client sockets this process holds',
    registers: [o.registry],
    collect() {
      this.set(open);
    },
  });
  if (o.limit !== undefined) {
    new Gauge({ name: LIMIT_GAUGE, help: 'Client sockets this process may hold (open-file limit less a reserve)', registers: [o.registry] }).set(o.limit);
  }
  const counter = new Counter({ name: REFUSED_COUNTER, help: 'Connections closed at once because this process held its limit of client sockets', registers: [o.registry] });
  const budget = new LogBudget(1);
  const refused = (): void => {
    counter.inc();
    const held = budget.take();
    if (held < 0) return;
    o.log.warn(
      { limit: o.limit, open, ...(held ? { heldBack: held } : {}) },
      'connection refused: this process holds as many client sockets as its open-file limit allows; raise the limit (ulimit -n) or run more API processes',
    );
  };
  server.on('drop', refused);
  return { open: () => open, refused };
}
