/**
 * The server's clock as seen from this browser. The exam deadline is the
 * server's, so the countdown must not trust a wrong device clock: each API
 * answer that carries the server time gives an estimate of the offset, and the
 * estimate from the fastest round trip (least uncertain) is kept.
 */
export class ServerClock {
  #offsetMs = 0;
  #bestRttMs = Number.POSITIVE_INFINITY;

  /** A server timestamp seen in a response sent at `sentAt` and received at `receivedAt` (local ms). */
  observe(serverTime: string, sentAt: number, receivedAt: number): void {
    const server = Date.parse(serverTime);
    if (Number.isNaN(server)) return;
    const rtt = Math.max(0, receivedAt - sentAt);
    // Accept a sample a little slower than the best one too, so a clock
    // change on the device is picked up eventually.
    if (rtt > this.#bestRttMs + 250) return;
    this.#bestRttMs = Math.min(this.#bestRttMs, rtt);
    this.#offsetMs = server - (sentAt + receivedAt) / 2;
  }

  now(): number {
    return Date.now() + this.#offsetMs;
  }
}
