/**
 * Local ports for the generator's connections from 127.0.0.2…
 *
 * A connection from a chosen source address is bound before it connects, and
 * a bind to port 0 makes the kernel search the port range for a free port
 * under a lock, a search that grows with the connections already open. At
 * 10,000 candidates over two addresses that search took a third of the
 * machine's CPU during the sign-in storm (perf: inet_bhash2_conflict,
 * inet_bind2_bucket_find), CPU the server under test did not get. Naming the
 * port makes the bind a lookup of that one port.
 *
 * The ports come from below the kernel's ephemeral range, which the kernel
 * never hands out by itself, so other programs' outgoing connections do not
 * hold them. Each generator process takes its own residue class of the range
 * (port ≡ index mod count), and every new connection takes the next port of
 * its source address: a port just closed sits in TIME_WAIT for a while. A
 * port somebody else holds anyway (a listener on 0.0.0.0) fails the bind, and
 * the connection takes the next one (http.ts).
 */
import { readFileSync } from 'node:fs';

/** Lowest port handed out; below this are the well-known and commonly configured service ports. */
const LOW = 10_000;
/** Fewer ports than this under the ephemeral range: leave the choice to the kernel. */
const MIN_PORTS = 1_000;

export interface PortRange {
  low: number;
  high: number;
}

/** Ports below the kernel's ephemeral range, or undefined when there are too few (or this is not Linux). */
export function portsBelowEphemeral(read: () => string = () => readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1')): PortRange | undefined {
  let ephemeralLow: number;
  try {
    ephemeralLow = Number(read().trim().split(/\s+/)[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(ephemeralLow)) return undefined;
  const high = Math.min(ephemeralLow - 1, 65_535);
  return high - LOW + 1 >= MIN_PORTS ? { low: LOW, high } : undefined;
}

export class LocalPorts {
  readonly #next = new Map<string, number>();
  readonly #first: number;

  /** `index` of `count` generator processes. */
  constructor(
    private readonly range: PortRange,
    private readonly index: number,
    private readonly count: number,
  ) {
    if (count < 1 || index < 0 || index >= count) throw new RangeError(`process ${index} of ${count}`);
    if (range.high - range.low + 1 < count) throw new RangeError('fewer ports than generator processes');
    this.#first = range.low + index;
  }

  /** The next port for a connection from `address`; after the last port of the range it starts again at the first. */
  next(address: string): number {
    const port = this.#next.get(address) ?? this.#first;
    const following = port + this.count;
    this.#next.set(address, following > this.range.high ? this.#first : following);
    return port;
  }
}
