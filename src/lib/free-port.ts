/**
 * A loopback port that was free a moment ago, for a child process or a test
 * server to listen on. Chosen below Linux's ephemeral range (32768–60999):
 * tens of thousands of load-test connections can use up every ephemeral port
 * of 127.0.0.1, and a listen on port 0 then fails.
 */
import { once } from 'node:events';
import net from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const srv = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(port, host, () => resolve(true));
    });
    if (ok) {
      srv.close();
      await once(srv, 'close');
      return port;
    }
    if (tries >= 50) throw new Error(`no free port found between 20000 and 32000 on ${host}`);
  }
}
