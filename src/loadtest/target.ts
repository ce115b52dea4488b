/**
 * The harness generates load only against this machine: the target must be
 * a loopback address (127.0.0.0/8, ::1) or a name that resolves only to one.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export interface Target {
  url: URL;
  /** Numeric address to connect to. */
  address: string;
  family: 4 | 6;
  port: number;
  hostHeader: string;
  /** API prefix under the target URL, e.g. `/api/v1`. */
  basePath: string;
}

export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(a)) return a.split('.')[0] === '127';
  if (net.isIPv6(a)) return a === '::1' || a === '0:0:0:0:0:0:0:1';
  return false;
}

const REFUSAL =
  'examday loadtest only sends load to this machine: --target must be a loopback address (127.0.0.0/8 or [::1]) or localhost';

export async function resolveTarget(raw: string): Promise<Target> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetError(`--target "${raw}" is not a URL; give e.g. http://127.0.0.1:3000`);
  }
  if (url.protocol !== 'http:') throw new TargetError(`--target must be an http:// URL (got ${url.protocol}//)`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let address: string;
  let family: 4 | 6;
  if (net.isIP(host)) {
    address = host;
    family = net.isIPv6(host) ? 6 : 4;
    if (!isLoopback(address)) throw new TargetError(`${REFUSAL}; got ${host}`);
  } else {
    const found = await lookup(host, { all: true }).catch(() => []);
    if (!found.length) throw new TargetError(`--target host "${host}" does not resolve`);
    const outside = found.filter((f) => !isLoopback(f.address));
    if (outside.length) throw new TargetError(`${REFUSAL}; "${host}" resolves to ${outside.map((f) => f.address).join(', ')}`);
    // Prefer IPv4: several 127.x source addresses are available there.
    const pick = found.find((f) => f.family === 4) ?? found[0]!;
    address = pick.address;
    family = pick.family === 6 ? 6 : 4;
  }
  const port = url.port ? Number(url.port) : 80;
  return {
    url,
    address,
    family,
    port,
    hostHeader: url.host,
    basePath: `${url.pathname.replace(/\/+$/, '')}/api/v1`,
  };
}

/**
 * Source addresses for the candidates' connections. One address has about
 * 28,000 ephemeral ports (32768–60999) shared by every process on the
 * machine, and connections that time out leave ports in TIME_WAIT; when the
 * range runs full, every connect() searches it inside the kernel and the
 * generator stalls. Above 5,000 candidates connections are spread over
 * 127.0.0.2… (one address per 5,000), each connection from a port the
 * generator names (local-ports.ts). IPv6 loopback has one address only.
 */
export function sourceAddresses(target: Target, candidates: number, asked: number | undefined): string[] {
  if (target.family === 6) return [];
  const n = asked ?? (candidates > 5000 ? Math.ceil(candidates / 5000) : 0);
  return Array.from({ length: Math.min(n, 250) }, (_, i) => `127.0.0.${i + 2}`);
}
