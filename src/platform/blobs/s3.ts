/**
 * Object storage on any S3-compatible service (AWS S3, MinIO, Ceph RGW,
 * Cloudflare R2, Backblaze B2, s3rver in tests). Only the composition root
 * imports this file, and only when S3 is configured, so the AWS SDK is not
 * loaded in the embedded mode.
 *
 * How the port's guarantees are kept:
 * - Atomic and durable: S3 makes an object visible only once a PutObject or
 *   CompleteMultipartUpload succeeds, and acknowledges only stored bytes.
 *   Bodies up to `partSizeBytes` go up as one PutObject; longer ones as a
 *   multipart upload (lib-storage `Upload`), at most `partConcurrency` parts
 *   of `partSizeBytes` in memory at once.
 * - `maxBytes`: the body is metered while lib-storage reads it; crossing the
 *   limit fails the read, so the object is never completed, and lib-storage
 *   aborts the multipart upload so its parts are not billed. A body stream
 *   that fails (client gone) is handled the same way. If the abort itself
 *   fails, the caller still gets the body's error, the abort failure goes to
 *   `onError`, and the parts linger: configure the bucket's lifecycle rule
 *   "AbortIncompleteMultipartUpload" (1 day) as the backstop. (s3rver does not
 *   implement AbortMultipartUpload at all, so there every abort fails.)
 * - Checksums are only sent when an operation requires them. The SDK's
 *   default streams uploads as `aws-chunked` with a trailing CRC32, which many
 *   S3-compatible servers reject; plain requests work everywhere.
 * - `delete` maps to DeleteObject, which S3 already treats as idempotent.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import {
  BlobNotFoundError,
  MeteredBody,
  contentDisposition,
  validateBlobKey,
  validateBlobPrefix,
  validateDownloadOptions,
  type BlobBody,
  type BlobInfo,
  type BlobListEntry,
  type BlobStore,
  type DownloadUrlOptions,
  type PutOptions,
  type PutResult,
} from './index.ts';
import { DependencyUnavailable, isConnectionFailure } from '../unavailable.ts';

export interface S3BlobStoreOptions {
  /** Service URL for S3-compatible stores (e.g. http://127.0.0.1:9000); omit for AWS. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Static credentials; omit both to use the SDK's default chain (environment, instance role, …). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `https://host/bucket/key` instead of `https://bucket.host/key`; most self-hosted stores need it. */
  forcePathStyle?: boolean;
  /** Folder inside the bucket for all keys (e.g. `examday` → `examday/<key>`), so one bucket can serve several installs. */
  prefix?: string;
  /**
   * Endpoint written into pre-signed URLs when browsers reach the store by
   * another address than this server does (e.g. `http://minio:9000` inside a
   * compose network, `https://files.example.org` outside). Signing is local,
   * so this never receives requests from the server.
   */
  publicEndpoint?: string;
  /** Keys per list request (default and S3's maximum: 1000). */
  listPageSize?: number;
  /** Multipart part size (default 8 MiB; S3 requires at least 5 MiB). Also the largest body sent as a single PutObject. */
  partSizeBytes?: number;
  /** Parts of one put uploaded at once (default 2); memory per put ≈ (this + 1) × partSizeBytes. */
  partConcurrency?: number;
  /** Failures with no caller to report to: a multipart upload that could not be aborted (default: console.error). */
  onError?: (err: unknown) => void;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

function isNotFound(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404)
  );
}

function positiveInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

export function createS3BlobStore(opts: S3BlobStoreOptions): BlobStore {
  if ((opts.accessKeyId === undefined) !== (opts.secretAccessKey === undefined)) {
    throw new RangeError('give both accessKeyId and secretAccessKey, or neither');
  }
  const bucket = opts.bucket;
  const folder = opts.prefix ? validateBlobPrefix(opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`) : '';
  const listPageSize = positiveInt('listPageSize', opts.listPageSize ?? 1000, 1, 1000);
  const partSize = positiveInt('partSizeBytes', opts.partSizeBytes ?? DEFAULT_PART_SIZE, MIN_PART_SIZE, 5 * 1024 ** 3);
  const partConcurrency = positiveInt('partConcurrency', opts.partConcurrency ?? 2, 1, 16);
  const onError = opts.onError ?? ((err: unknown) => console.error('[examday blobs]', err));

  const config = (endpoint: string | undefined): S3ClientConfig => ({
    region: opts.region,
    ...(endpoint !== undefined ? { endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.accessKeyId !== undefined && opts.secretAccessKey !== undefined
      ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } }
      : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Fail fast when the store is unreachable, and drop a transfer that stalls
    // completely, rather than letting a request hang forever.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
  });
  const client = new S3Client(config(opts.endpoint));
  // After the SDK's own retries: a store that cannot be reached is said to be so, for a 503 rather than a 500.
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        throw isConnectionFailure(err) ? new DependencyUnavailable('file storage', { cause: err }) : err;
      }
    },
    { step: 'initialize', name: 'examdayUnreachable' },
  );
  const signer = opts.publicEndpoint !== undefined ? new S3Client(config(opts.publicEndpoint)) : client;

  const objectKey = (key: string): string => folder + validateBlobKey(key);

  const store: BlobStore = {
    kind: 's3',

    async put(key: string, body: BlobBody, putOpts?: PutOptions): Promise<PutResult> {
      const target = objectKey(key);
      const meter = new MeteredBody(key, putOpts?.maxBytes);
      // Through the meter even for in-memory bodies, so size, checksum and limit are computed one way.
      const source = Readable.from(meter.chunks(body));
      const upload = new Upload({
        client,
        params: {
          Bucket: bucket,
          Key: target,
          Body: source,
          ...(putOpts?.contentType !== undefined ? { ContentType: putOpts.contentType } : {}),
        },
        partSize,
        queueSize: partConcurrency,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (err) {
        // A failed upload may leave the body half read; destroying it releases the caller's stream (e.g. an HTTP request).
        source.destroy();
        if (meter.failure === undefined) throw err;
        // The body failed (too large, or the client went away) and lib-storage then aborted the multipart
        // upload. When that cleanup fails too, lib-storage rejects with the cleanup's error, hiding the
        // reason the caller needs; the cleanup failure only means parts may linger, so it goes to onError.
        if (err !== meter.failure) {
          onError(new Error(`cleaning up the failed multipart upload of ${JSON.stringify(target)} failed; its parts may linger`, { cause: err }));
        }
        throw meter.failure;
      }
      return meter.result();
    },

    async get(key: string): Promise<Readable> {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        if (!(out.Body instanceof Readable)) throw new TypeError('S3 GetObject returned no Node.js stream');
        return out.Body;
      } catch (err) {
        if (isNotFound(err)) throw new BlobNotFoundError(key);
        throw err;
      }
    },

    async head(key: string): Promise<BlobInfo | null> {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return { size: out.ContentLength ?? 0, ...(out.ContentType !== undefined ? { contentType: out.ContentType } : {}) };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async delete(key: string): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    },

    async *list(prefix: string): AsyncGenerator<BlobListEntry> {
      const full = folder + validateBlobPrefix(prefix);
      // ListObjects (v1) paged by Marker = the last key seen, rather than v2's
      // continuation tokens: every S3-compatible server implements it the same
      // way, and s3rver cannot mint v2 tokens on Node ≥ 17 (it encrypts them
      // with DES, which OpenSSL 3 dropped), failing every truncated v2 page.
      let marker: string | undefined;
      for (;;) {
        const page = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: full, MaxKeys: listPageSize, Marker: marker }));
        const contents = page.Contents ?? [];
        for (const object of contents) {
          if (object.Key === undefined) continue;
          yield { key: object.Key.slice(folder.length), size: object.Size ?? 0 };
        }
        const last = contents.at(-1)?.Key;
        if (!page.IsTruncated || last === undefined) return;
        marker = last;
      }
    },

    async usage(prefix = ''): Promise<{ objects: number; bytes: number }> {
      let objects = 0;
      let bytes = 0;
      for await (const entry of store.list(prefix)) {
        objects += 1;
        bytes += entry.size;
      }
      return { objects, bytes };
    },

    async downloadUrl(key: string, urlOpts: DownloadUrlOptions): Promise<string> {
      validateDownloadOptions(urlOpts);
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: objectKey(key),
        ...(urlOpts.filename !== undefined ? { ResponseContentDisposition: contentDisposition(urlOpts.filename) } : {}),
      });
      return getSignedUrl(signer, command, { expiresIn: urlOpts.ttlS });
    },

    async close(): Promise<void> {
      client.destroy();
      if (signer !== client) signer.destroy();
    },
  };
  return store;
}
