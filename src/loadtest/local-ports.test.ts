/** The generator names its local ports: disjoint per process, fresh per connection, another one when a port is held. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { Connection, buildRequest } from './http.ts';
import { LocalPorts, portsBelowEphemeral } from './local-ports.ts';

async function listen(server: net.Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

describe('load generator local ports', () => {
  it('takes the range below the kernel ephemeral range, or leaves the choice to the kernel', () => {
    assert.deepEqual(portsBelowEphemeral(() => '32768\t60999\n'), { low: 10_000, high: 32_767 });
    assert.equal(portsBelowEphemeral(() => '1024 65535'), undefined, 'no room below the ephemeral range');
    assert.equal(portsBelowEphemeral(() => 'garbage'), undefined);
    assert.equal(
      portsBelowEphemeral(() => {
        throw new Error('not Linux');
      }),
      undefined,
    );
  });

  it('hands each process its own ports, a new one per connection, per address, and wraps around', () => {
    const range = { low: 10_000, high: 10_009 };
    const a = new LocalPorts(range, 0, 3);
    const b = new LocalPorts(range, 1, 3);
    const fromA = [a.next('127.0.0.2'), a.next('127.0.0.2'), a.next('127.0.0.2'), a.next('127.0.0.2'), a.next('127.0.0.2')];
    assert.deepEqual(fromA, [10_000, 10_003, 10_006, 10_009, 10_000]);
    assert.equal(a.next('127.0.0.3'), 10_000, 'every address has its own sequence');
    const fromB = [b.next('127.0.0.2'), b.next('127.0.0.2'), b.next('127.0.0.2'), b.next('127.0.0.2')];
    assert.deepEqual(fromB, [10_001, 10_004, 10_007, 10_001]);
    assert.throws(() => new LocalPorts(range, 3, 3), RangeError);
    assert.throws(() => new LocalPorts({ low: 10_000, high: 10_001 }, 0, 3), RangeError);
  });

  it('connects from the port it names, and from the next one when that port is held', async () => {
    const seen: number[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.socket.remotePort!);
      res.end('ok');
    });
    const port = await listen(server, '127.0.0.1');
    // A listener holds one port on the source address; a free one is found the same way.
    const holder = net.createServer();
    const held = await listen(holder, '127.0.0.2');
    const probe = net.createServer();
    const free = await listen(probe, '127.0.0.2');
    probe.close();
    await once(probe, 'close');
    try {
      const offered = [held, free];
      const conn = new Connection({ host: '127.0.0.1', port, localAddress: '127.0.0.2', localPort: () => offered.shift() ?? 0 });
      const res = await conn.send(buildRequest('GET', '/', '127.0.0.1', undefined));
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'ok');
      assert.deepEqual(seen, [free], 'the request went out once, from the free port');
      const again = await conn.send(buildRequest('GET', '/', '127.0.0.1', undefined));
      assert.equal(again.status, 200, 'the connection is kept alive');
      assert.deepEqual(seen, [free, free]);
      conn.close();
    } finally {
      holder.close();
      server.close();
      server.closeAllConnections();
    }
  });
});
