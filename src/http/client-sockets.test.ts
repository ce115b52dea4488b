/** Client sockets against the process's limit: counted, and a refusal past it counted and logged. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { LIMIT_GAUGE, REFUSED_COUNTER, SOCKETS_GAUGE, watchClientSockets } from './client-sockets.ts';

const metric = async (registry: Registry, name: string): Promise<number | undefined> =>
  (await registry.getSingleMetric(name)?.get())?.values[0]?.value;

describe('client sockets', () => {
  it('counts the sockets held, and refuses, counts and logs a connection past the limit', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    server.maxConnections = 2;
    const registry = new Registry();
    const warnings: { obj: object; msg: string }[] = [];
    const sockets = watchClientSockets(server, { limit: 2, registry, log: { warn: (obj, msg) => warnings.push({ obj, msg }) } });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const connect = async (): Promise<net.Socket> => {
      const s = net.connect(port, '127.0.0.1');
      await once(s, 'connect');
      return s;
    };
    const held = [await connect(), await connect()];
    // A request on each makes sure the server has taken both.
    for (const s of held) {
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await once(s, 'data');
    }
    assert.equal(sockets.open(), 2);
    const third = await connect();
    await once(third, 'close');
    try {
      assert.equal(await metric(registry, REFUSED_COUNTER), 1);
      assert.equal(await metric(registry, SOCKETS_GAUGE), 2);
      assert.equal(await metric(registry, LIMIT_GAUGE), 2);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.msg, /open-file limit/);
      assert.deepEqual(warnings[0]!.obj, { limit: 2, open: 2 });

      // A refusal from an accept lane counts the same; the log line waits for the next second.
      sockets.refused();
      assert.equal(await metric(registry, REFUSED_COUNTER), 2);
      assert.equal(warnings.length, 1);
    } finally {
      for (const s of held) s.destroy();
      server.close();
      await once(server, 'close');
    }
    for (let i = 0; i < 100 && sockets.open() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sockets.open(), 0, 'closed sockets are no longer counted');
  });
});
