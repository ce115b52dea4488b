/**
 * A deliberately small HTTP/1.1 client: one keep-alive TCP connection per
 * simulated candidate (like a browser tab), one request at a time, optionally
 * bound to a given loopback source address so that more connections than one
 * address has ephemeral ports can be opened.
 *
 * Why not node:http: its per-request objects (ClientRequest, IncomingMessage,
 * header maps, Agent queues) cost several times the CPU of this parser, and
 * the generator shares the machine with the server it measures. Requests are
 * written as ready-made strings; responses are parsed only as far as needed
 * (status, Content-Length or chunked body, Connection, Retry-After).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface HttpResponse {
  status: number;
  body: Buffer;
  retryAfter: string | undefined;
}

/** No response: connection refused or reset, timeout, malformed response. */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    /** The server closed a keep-alive connection that had been idle; nothing was processed (safe to resend at once). */
    readonly stale: boolean,
  ) {
    super(`transport error: ${code}`);
    this.name = 'TransportError';
  }
}

export interface ConnectTarget {
  host: string;
  port: number;
  localAddress?: string | undefined;
  /** The local port of each new connection from `localAddress` (local-ports.ts); without it the kernel chooses. */
  localPort?: (() => number) | undefined;
}

/** A bind or connect that failed on the local port chosen: nothing was sent, another port is tried. */
const LOCAL_PORT_TAKEN = new Set(['EADDRINUSE', 'EADDRNOTAVAIL']);
const LOCAL_PORT_TRIES = 8;

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;
/** A request on a connection idle at least this long that dies without a byte of response is a keep-alive race, not a server failure. */
const STALE_IDLE_MS = 1000;

interface Pending {
  resolve: (r: HttpResponse) => void;
  reject: (e: TransportError) => void;
}

export class Connection {
  #sock: net.Socket | undefined;
  #pending: Pending | undefined;
  /** Responses completed on the current socket. */
  #served = 0;
  #lastUsedAt = 0;
  #idleBeforeSend = 0;
  /** performance.now() when the current request was written (for timeouts). */
  sentAt = 0;
  /** TCP connections opened over this object's life. */
  connects = 0;

  // Response parser state.
  #head: Buffer | undefined;
  #inBody = false;
  #gotBytes = false;
  #status = 0;
  #length = -1;
  #chunked = false;
  #closeAfter = false;
  #retryAfter: string | undefined;
  #parts: Buffer[] = [];
  #bodyBytes = 0;
  /** The request in flight, while its socket has not connected (resent on another local port). */
  #unsent: string | undefined;
  #portTries = 0;

  constructor(private readonly target: ConnectTarget) {}

  get busy(): boolean {
    return this.#pending !== undefined;
  }

  /** Write one complete request (head and body) and wait for its response. */
  send(request: string): Promise<HttpResponse> {
    if (this.#pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    const now = performance.now();
    this.#idleBeforeSend = this.#sock && this.#served > 0 ? now - this.#lastUsedAt : 0;
    if (!this.#sock) this.#open(request);
    this.#resetParser();
    this.sentAt = now;
    return new Promise<HttpResponse>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#sock!.write(request);
    });
  }

  /** Give up on the request in flight (timeout) and drop the connection. */
  abort(code: string): void {
    this.#fail(code, false);
  }

  close(): void {
    const s = this.#sock;
    this.#sock = undefined;
    s?.destroy();
    this.#fail('closed', false);
  }

  #open(request: string): void {
    const { host, port, localAddress, localPort } = this.target;
    const local = localAddress ? { localAddress, ...(localPort ? { localPort: localPort() } : {}) } : {};
    const s = net.connect({ host, port, noDelay: true, ...local });
    this.#sock = s;
    this.#served = 0;
    this.connects++;
    this.#unsent = 'localPort' in local ? request : undefined;
    if (this.#unsent !== undefined) {
      s.once('connect', () => {
        if (this.#sock !== s) return;
        this.#unsent = undefined;
        this.#portTries = 0;
      });
    }
    s.on('data', (chunk: Buffer) => {
      if (this.#sock === s) this.#onData(chunk);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#sock !== s) return;
      const unsent = this.#unsent;
      if (unsent !== undefined && this.#pending && LOCAL_PORT_TAKEN.has(err.code ?? '') && this.#portTries++ < LOCAL_PORT_TRIES) {
        // The chosen port is held elsewhere; the request never left: send it from the next port.
        s.destroy();
        this.#open(unsent);
        this.#sock.write(unsent);
        return;
      }
      this.#onSocketEnd(err.code ?? 'ERROR');
    });
    s.on('close', () => {
      if (this.#sock === s) this.#onSocketEnd('ECONNRESET');
    });
  }

  #onSocketEnd(code: string): void {
    const s = this.#sock;
    this.#sock = undefined;
    s?.destroy();
    // A body delimited by the end of the connection (no length, not chunked).
    if (this.#pending && this.#inBody && this.#length < 0 && !this.#chunked) {
      this.#complete(Buffer.concat(this.#parts));
      return;
    }
    const stale = this.#served > 0 && !this.#gotBytes && this.#idleBeforeSend >= STALE_IDLE_MS;
    this.#fail(code, stale);
  }

  #fail(code: string, stale: boolean): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    const s = this.#sock;
    this.#sock = undefined;
    s?.destroy();
    p.reject(new TransportError(code, stale));
  }

  #resetParser(): void {
    this.#head = undefined;
    this.#inBody = false;
    this.#gotBytes = false;
    this.#status = 0;
    this.#length = -1;
    this.#chunked = false;
    this.#closeAfter = false;
    this.#retryAfter = undefined;
    this.#parts = [];
    this.#bodyBytes = 0;
  }

  #onData(chunk: Buffer): void {
    if (!this.#pending) {
      // Bytes nobody asked for: the connection is out of step; start afresh.
      this.#onSocketEnd('unexpected_data');
      return;
    }
    this.#gotBytes = true;
    let data = chunk;
    if (!this.#inBody) {
      const buf = this.#head ? Buffer.concat([this.#head, chunk]) : chunk;
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        if (buf.length > MAX_HEAD) this.#fail('bad_response', false);
        else this.#head = buf;
        return;
      }
      this.#head = undefined;
      if (!this.#parseHead(buf.toString('latin1', 0, end))) {
        this.#fail('bad_response', false);
        return;
      }
      this.#inBody = true;
      data = buf.subarray(end + 4);
      if (!this.#chunked && this.#length === 0) {
        this.#complete(Buffer.alloc(0));
        return;
      }
    }
    if (data.length > 0) {
      this.#parts.push(data);
      this.#bodyBytes += data.length;
    }
    if (this.#chunked) {
      const body = decodeChunked(this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts));
      if (body) this.#complete(body);
    } else if (this.#length >= 0 && this.#bodyBytes >= this.#length) {
      const all = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#complete(all.length === this.#length ? all : all.subarray(0, this.#length));
    }
  }

  #parseHead(head: string): boolean {
    if (!head.startsWith('HTTP/1.')) return false;
    const status = Number(head.slice(9, 12));
    if (!Number.isInteger(status)) return false;
    this.#status = status;
    if (head.charCodeAt(7) === 0x30) this.#closeAfter = true; // HTTP/1.0 closes by default
    let pos = head.indexOf('\r\n');
    while (pos >= 0) {
      const next = head.indexOf('\r\n', pos + 2);
      const line = head.slice(pos + 2, next < 0 ? undefined : next);
      pos = next;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') this.#length = Number(value);
      else if (name === 'transfer-encoding') this.#chunked = value.toLowerCase().includes('chunked');
      else if (name === 'connection') this.#closeAfter = value.toLowerCase() === 'close';
      else if (name === 'retry-after') this.#retryAfter = value;
    }
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.#length = 0;
      this.#chunked = false;
    }
    return Number.isFinite(this.#length);
  }

  #complete(body: Buffer): void {
    const p = this.#pending!;
    this.#pending = undefined;
    this.#served++;
    this.#lastUsedAt = performance.now();
    if (this.#closeAfter) {
      const s = this.#sock;
      this.#sock = undefined;
      s?.destroy();
    }
    p.resolve({ status: this.#status, body, retryAfter: this.#retryAfter });
  }
}

/** The decoded body once the whole chunked stream is there, else undefined. */
export function decodeChunked(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) return undefined;
    const size = parseInt(raw.toString('latin1', pos, eol).split(';')[0]!, 16);
    if (!Number.isFinite(size)) return Buffer.alloc(0);
    if (size === 0) {
      // Optional trailers, then an empty line.
      const end = raw.indexOf('\r\n\r\n', eol, 'latin1');
      return end >= 0 ? Buffer.concat(parts) : undefined;
    }
    const start = eol + 2;
    if (raw.length < start + size + 2) return undefined;
    parts.push(raw.subarray(start, start + size));
    pos = start + size + 2;
  }
}

/** A request line and headers; `body` is a JSON string or absent. */
export function buildRequest(method: string, path: string, host: string, auth: string | undefined, body?: string): string {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  if (auth) head += `authorization: Bearer ${auth}\r\n`;
  if (body === undefined) return `${head}content-length: 0\r\n\r\n`;
  return `${head}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
