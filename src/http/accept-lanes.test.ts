/** Accept lanes: copies of the listening socket that each accept one connection per event-loop turn. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { openAcceptLanes, type AcceptLanes } from './accept-lanes.ts';

const BACKLOG = 1024;

async function listening(): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: BACKLOG }, resolve));
  return server;
}

/** `n` connections made while this event loop is blocked, so all of them wait in the accept queue together. */
function connectWhileBlocked(port: number, n: number): net.Socket[] {
  const sockets = Array.from({ length: n }, () => net.connect(port, '127.0.0.1'));
  const until = Date.now() + 100;
  while (Date.now() < until) {
    // the handshakes complete in the kernel meanwhile
  }
  return sockets;
}

/** The status line each socket gets for one request, or 'closed'; the socket is closed after, unless `hold`. */
function ask(socket: net.Socket, hold = false): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) {
        resolve(data.slice(0, data.indexOf('\r\n')));
        if (!hold) socket.destroy();
      }
    });
    socket.on('error', () => resolve('closed'));
    socket.on('close', () => resolve('closed'));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}

describe('accept lanes', () => {
  const closing: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closing) await c();
  });
  const track = (server: http.Server, lanes: AcceptLanes) =>
    closing.push(async () => {
      await lanes.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

  it('takes several queued connections per turn through the lanes, and the HTTP server answers them all', async () => {
    const server = await listening();
    const lanes = await openAcceptLanes(server, { lanes: 3, backlog: BACKLOG });
    track(server, lanes);
    assert.equal(lanes.count, 3);
    const sockets = connectWhileBlocked((server.address() as AddressInfo).port, 40);
    const answers = await Promise.all(sockets.map((s) => ask(s)));
    assert.deepEqual(new Set(answers), new Set(['HTTP/1.1 200 OK']));
    assert.ok(lanes.accepted() > 0, 'some connections came through a lane');
    assert.ok(lanes.accepted() < 40, 'and some through the server itself');
  });

  it('keeps every connection, from any lane, under the limit', async () => {
    const server = await listening();
    const lanes = await openAcceptLanes(server, { lanes: 3, backlog: BACKLOG, maxConnections: 5 });
    track(server, lanes);
    // Held open, so no slot frees up during the test.
    const sockets = connectWhileBlocked((server.address() as AddressInfo).port, 20);
    const answers = await Promise.all(sockets.map((s) => ask(s, true)));
    for (const s of sockets) s.destroy();
    assert.equal(answers.filter((a) => a === 'HTTP/1.1 200 OK').length, 5, answers.join(', '));
    assert.equal(answers.filter((a) => a === 'closed').length, 15);
  });

  it('opens no lanes when asked for none, and closing stops only the lanes', async () => {
    const server = await listening();
    const none = await openAcceptLanes(server, { lanes: 0, backlog: BACKLOG });
    assert.equal(none.count, 0);
    const lanes = await openAcceptLanes(server, { lanes: 2, backlog: BACKLOG });
    await lanes.close();
    track(server, none);
    // The server's own listener still accepts.
    const answers = await Promise.all(connectWhileBlocked((server.address() as AddressInfo).port, 5).map((s) => ask(s)));
    assert.deepEqual(new Set(answers), new Set(['HTTP/1.1 200 OK']));
    assert.equal(lanes.accepted(), 0);
  });

  it('drains: after the server closes, waits for the requests in flight on lane connections, then closes them', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const server = http.createServer((req, res) => {
      if (req.url === '/slow') void held.then(() => res.end('late'));
      else res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: BACKLOG }, resolve));
    const lanes = await openAcceptLanes(server, { lanes: 3, backlog: BACKLOG });
    const sockets = connectWhileBlocked((server.address() as AddressInfo).port, 20);
    await Promise.all(sockets.map((s) => ask(s, true)));
    assert.ok(lanes.accepted() > 0);
    // Every connection starts a slow request; then everything closes.
    const late = sockets.map((socket) => {
      const got = { data: '' };
      socket.on('data', (d: Buffer) => (got.data += d.toString('latin1')));
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      return got;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await lanes.close();
    server.close();
    assert.equal(await lanes.drained(100), false, 'the slow requests on lane connections are still running');
    release();
    assert.equal(await lanes.drained(5_000), true);
    assert.ok(late.every((g) => g.data.endsWith('late')));
    for (const s of sockets) s.destroy();
  });
});
