/**
 * Object storage port: uploaded PDFs, generated exports and other files too
 * big for the database. Two adapters: a directory on local disk (the embedded
 * default; `disk.ts`) and any S3-compatible store (`s3.ts`, when S3_* is set,
 * imported lazily so the AWS SDK is only loaded when chosen). One
 * conformance suite (`conformance.test.ts`) runs against both.
 *
 * Guarantees:
 * - Atomic puts: a reader sees either the previous object (or none) or the
 *   complete new one, never a partial write. Concurrent puts to one key end
 *   with exactly one of them stored whole (last writer wins).
 * - Durable: `put` resolves only after the store has the bytes (disk: the file
 *   and its directory entry are fsynced; S3: the store acknowledged the write).
 * - Streaming: bodies are never buffered whole. Size and SHA-256 are computed
 *   while the bytes pass through, so callers get a checksum without a second
 *   read. Memory per upload is bounded (disk: one chunk; S3: a few parts).
 * - `maxBytes`: a body that grows past it is cut off and `put` rejects with
 *   `BlobTooLargeError`; nothing is stored under the key (an earlier version,
 *   if any, is left as it was).
 * - `delete` is idempotent: deleting a missing key succeeds.
 * - Keys are validated by the same rules on every adapter (`validateBlobKey`),
 *   so a key that works in development works in production, and a key can
 *   never name a path outside the disk adapter's root.
 * - `list` and `usage` reflect completed puts; order of `list` is unspecified.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** What `put` accepts: a stream (e.g. an HTTP upload) or bytes already in memory. */
export type BlobBody = Readable | Buffer | Uint8Array;

export interface PutOptions {
  /** Stored with the object where the adapter keeps metadata (S3) and served on its download URLs. */
  contentType?: string;
  /** Reject bodies longer than this many bytes (and store nothing). */
  maxBytes?: number;
}

export interface PutResult {
  key: string;
  /** Bytes stored. */
  size: number;
  /** Lowercase hex SHA-256 of the bytes stored. */
  sha256: string;
}

export interface BlobInfo {
  size: number;
  /**
   * The content type given to `put`, where the adapter keeps it: S3 does, the
   * disk adapter does not (a plain file has nowhere atomic to keep it). Callers
   * that serve files keep the type in their own records.
   */
  contentType?: string;
}

export interface BlobListEntry {
  key: string;
  size: number;
}

export interface DownloadUrlOptions {
  /** How long the URL stays valid, in seconds (1 s to 7 days, SigV4's ceiling). */
  ttlS: number;
  /** Ask the browser to save the file under this name (Content-Disposition: attachment). */
  filename?: string;
}

export interface BlobStore {
  readonly kind: 'disk' | 's3';
  /** Store `body` under `key`, replacing any object there. See the module comment for the guarantees. */
  put(key: string, body: BlobBody, opts?: PutOptions): Promise<PutResult>;
  /** The object's bytes as a stream. Throws `BlobNotFoundError` when there is none. */
  get(key: string): Promise<Readable>;
  /** Size (and type where kept), or null when there is no such object. */
  head(key: string): Promise<BlobInfo | null>;
  /** Remove the object; succeeds when it is already gone. */
  delete(key: string): Promise<void>;
  /**
   * Every object whose key starts with `prefix` (a plain string prefix, not
   * only whole folders: `"a/b"` matches `a/b/c` and `a/bc`). Fetched page by
   * page as the caller iterates, so it is safe on large stores.
   */
  list(prefix: string): AsyncIterable<BlobListEntry>;
  /**
   * Number and total bytes of objects under `prefix` (all when omitted), for
   * the "storage in use" metric. It is a full listing on both adapters, so
   * sample it rarely (minutes), not per request.
   */
  usage(prefix?: string): Promise<{ objects: number; bytes: number }>;
  /**
   * A URL a browser can fetch the object from directly, or null when the
   * adapter has none and the app must stream `get()` itself. S3: a pre-signed
   * GET URL valid for `ttlS` (with a Content-Disposition override when
   * `filename` is given). Disk: always null. It does not check that the key
   * exists; fetching a missing key's URL answers 404.
   */
  downloadUrl(key: string, opts: DownloadUrlOptions): Promise<string | null>;
  /** Release connections. Puts still running may fail. */
  close(): Promise<void>;
}

/** Base of this port's errors, so callers can tell them from driver failures. */
export class BlobStoreError extends Error {
  override name = 'BlobStoreError';
}

export class InvalidBlobKeyError extends BlobStoreError {
  override name = 'InvalidBlobKeyError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid blob key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)}: ${reason}`);
  }
}

export class BlobNotFoundError extends BlobStoreError {
  override name = 'BlobNotFoundError';
  constructor(readonly key: string) {
    super(`no blob stored under ${JSON.stringify(key)}`);
  }
}

export class BlobTooLargeError extends BlobStoreError {
  override name = 'BlobTooLargeError';
  constructor(
    readonly key: string,
    readonly maxBytes: number,
  ) {
    super(`blob ${JSON.stringify(key)} is larger than the limit of ${maxBytes} bytes`);
  }
}

export const MAX_KEY_LENGTH = 512;
/**
 * File systems cap a name at 255 bytes, and stores that keep each object as
 * files add a suffix to the segment (s3rver appends 22 characters and crashes
 * on ENAMETOOLONG), so leave headroom. Keys are ASCII: bytes = chars.
 */
const MAX_SEGMENT_LENGTH = 200;
/** SigV4 pre-signed URLs cannot live longer than 7 days. */
export const MAX_DOWNLOAD_TTL_S = 7 * 24 * 3600;

function checkSegments(value: string, segments: string[], what: string): void {
  for (const segment of segments) {
    if (segment === '') throw new InvalidBlobKeyError(value, `${what} has an empty segment (leading, trailing or doubled "/")`);
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(value, `${what} has a "${segment}" segment`);
    if (segment.length > MAX_SEGMENT_LENGTH) throw new InvalidBlobKeyError(value, `a segment is longer than ${MAX_SEGMENT_LENGTH} characters`);
  }
}

function checkCharacters(value: string, what: string): void {
  if (value.length > MAX_KEY_LENGTH) throw new InvalidBlobKeyError(value, `${what} is longer than ${MAX_KEY_LENGTH} characters`);
  if (!/^[A-Za-z0-9/._-]*$/.test(value)) {
    throw new InvalidBlobKeyError(value, `${what} may only contain A-Z a-z 0-9 / . _ -`);
  }
}

/**
 * Keys are `/`-separated segments of `[A-Za-z0-9._-]`, at most 512 characters,
 * with no empty, `.` or `..` segment (so no leading or trailing `/`). The set
 * is the intersection of what S3 and every common file system store verbatim:
 * no escaping, no case or Unicode normalisation surprises, no path traversal.
 * Segments starting with `.` are allowed. On disk a key cannot also be the
 * folder of another key (`a/b` and `a/b/c`); S3 allows both, so do not rely on it.
 */
export function validateBlobKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new InvalidBlobKeyError(String(key), 'empty');
  checkCharacters(key, 'key');
  checkSegments(key, key.split('/'), 'key');
  return key;
}

/** A `list`/`usage` prefix: `""` (everything), or a key's beginning such as `"materials/"` or `"materials/ab"`. */
export function validateBlobPrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw new InvalidBlobKeyError(String(prefix), 'prefix must be a string');
  if (prefix === '') return prefix;
  checkCharacters(prefix, 'prefix');
  const segments = prefix.split('/');
  // A trailing "/" names a folder; only the segments before it must be non-empty.
  if (prefix.endsWith('/')) segments.pop();
  checkSegments(prefix, segments, 'prefix');
  return prefix;
}

export function validateDownloadOptions(opts: DownloadUrlOptions): void {
  if (!Number.isInteger(opts.ttlS) || opts.ttlS < 1 || opts.ttlS > MAX_DOWNLOAD_TTL_S) {
    throw new RangeError(`ttlS must be an integer in [1, ${MAX_DOWNLOAD_TTL_S}], got ${opts.ttlS}`);
  }
}

/**
 * `Content-Disposition: attachment` for a user-supplied file name, safe for
 * any input: a plain-ASCII `filename` for old clients and the exact name as
 * RFC 8187 `filename*` for the rest. Shared so the S3 URLs and the app's own
 * download route name files the same way.
 */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_').slice(0, 200) || 'download';
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  // A stream in string mode (setEncoding) still carries text; store it as UTF-8.
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError(`put body yielded a ${typeof chunk}, expected bytes`);
}

/**
 * Counts and hashes a body as the adapter consumes it, and stops it at
 * `maxBytes`. Shared so both adapters compute size and checksum, and enforce
 * the limit, identically.
 */
export class MeteredBody {
  readonly #hash = createHash('sha256');
  #size = 0;
  #failure: Error | undefined;

  constructor(
    readonly key: string,
    readonly maxBytes: number | undefined,
  ) {
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 0)) {
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    }
  }

  /**
   * Why reading the body stopped early, if it did: `BlobTooLargeError`, or the
   * source stream's own error (e.g. the client aborted its upload). It is the
   * real reason a put failed, even when a driver reports a later error from
   * its cleanup instead.
   */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * The body's bytes, chunk by chunk. Throws `BlobTooLargeError` on the first
   * chunk that crosses the limit, before yielding it; leaving the loop
   * destroys a stream source, so an HTTP upload stops being read.
   */
  async *chunks(body: BlobBody): AsyncGenerator<Buffer> {
    try {
      if (body instanceof Uint8Array) {
        yield this.#count(toBuffer(body));
        return;
      }
      for await (const chunk of body as AsyncIterable<unknown>) yield this.#count(toBuffer(chunk));
    } catch (err) {
      this.#failure ??= err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  #count(buffer: Buffer): Buffer {
    this.#size += buffer.byteLength;
    if (this.maxBytes !== undefined && this.#size > this.maxBytes) throw new BlobTooLargeError(this.key, this.maxBytes);
    this.#hash.update(buffer);
    return buffer;
  }

  /** Call once, after the body is fully consumed. */
  result(): PutResult {
    return { key: this.key, size: this.#size, sha256: this.#hash.digest('hex') };
  }
}
