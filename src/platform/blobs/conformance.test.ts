/**
 * The BlobStore contract, run against every adapter: the disk store always
 * (in a temporary directory) and the S3 store when S3_ENDPOINT is set (CI
 * starts s3rver with scripts/services.sh). Each `open()` is a fresh, empty
 * namespace: a new directory on disk, a new key folder in the bucket, so runs
 * and tests never see each other's objects and `usage()` totals are exact.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDiskBlobStore } from './disk.ts';
import {
  BlobNotFoundError,
  BlobTooLargeError,
  InvalidBlobKeyError,
  contentDisposition,
  type BlobStore,
  type BlobListEntry,
} from './index.ts';
import { createS3BlobStore, type S3BlobStoreOptions } from './s3.ts';

const MiB = 1024 * 1024;
/** The S3 backend uses S3's smallest part size, so a 12 MiB body is a three-part multipart upload. */
const PART_SIZE = 5 * MiB;
/** Small list pages so listing a handful of keys needs several list requests. */
const LIST_PAGE_SIZE = 2;

interface Backend {
  name: string;
  /** A new store over a fresh, empty namespace. */
  open(): Promise<BlobStore>;
  teardown(): Promise<void>;
  /** Whether `head` reports the content type given to `put` (S3 keeps it; a plain file cannot). */
  keepsContentType: boolean;
  /**
   * s3rver writes objects in place, streaming into the final file, so two
   * concurrent puts to one key interleave their bytes; real S3 (and MinIO,
   * Ceph, R2) commit an object atomically. The test for it runs only where
   * the server keeps that S3 guarantee.
   */
  atomicConcurrentPuts: boolean;
}

function diskBackend(): Backend {
  let sandbox: string | undefined;
  const stores: BlobStore[] = [];
  return {
    name: 'disk',
    keepsContentType: false,
    atomicConcurrentPuts: true,
    async open() {
      sandbox ??= await mkdtemp(path.join(os.tmpdir(), 'examday-blobs-'));
      const store = createDiskBlobStore({ root: path.join(sandbox, `store-${stores.length}`) });
      stores.push(store);
      return store;
    },
    async teardown() {
      await Promise.all(stores.map((s) => s.close()));
      if (sandbox) await rm(sandbox, { recursive: true, force: true });
    },
  };
}

function s3Options(): Omit<S3BlobStoreOptions, 'prefix'> | undefined {
  const endpoint = process.env.S3_ENDPOINT;
  if (!endpoint) return undefined;
  return {
    endpoint,
    region: process.env.S3_REGION ?? 'us-east-1',
    bucket: process.env.S3_BUCKET ?? 'examday',
    ...(process.env.S3_ACCESS_KEY_ID ? { accessKeyId: process.env.S3_ACCESS_KEY_ID } : {}),
    ...(process.env.S3_SECRET_ACCESS_KEY ? { secretAccessKey: process.env.S3_SECRET_ACCESS_KEY } : {}),
    forcePathStyle: /^(1|true|yes)$/i.test(process.env.S3_FORCE_PATH_STYLE ?? ''),
  };
}

function s3Backend(base: Omit<S3BlobStoreOptions, 'prefix'>): Backend {
  const runFolder = `examday-test-${randomBytes(5).toString('hex')}`;
  const stores: BlobStore[] = [];
  // Failed multipart aborts land here. s3rver implements no AbortMultipartUpload, so
  // every cut-off multipart put reports one (its parts stay in s3rver's data dir).
  const abortFailures: unknown[] = [];
  // S3RVER/S3RVER are s3rver's fixed credentials, so they identify the test server.
  const isS3rver = base.accessKeyId === 'S3RVER';
  return {
    name: 's3',
    keepsContentType: true,
    atomicConcurrentPuts: !isS3rver,
    async open() {
      const store = createS3BlobStore({
        ...base,
        prefix: `${runFolder}/${stores.length}`,
        partSizeBytes: PART_SIZE,
        listPageSize: LIST_PAGE_SIZE,
        onError: (err) => abortFailures.push(err),
      });
      stores.push(store);
      return store;
    },
    async teardown() {
      try {
        for (const store of stores) {
          for await (const { key } of store.list('')) await store.delete(key);
        }
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    },
  };
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A byte stream over `bytes` in 64 KiB chunks, the way an HTTP upload arrives. */
function streamOf(bytes: Buffer, chunkSize = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
    })(),
    { objectMode: false },
  );
}

async function collect(entries: AsyncIterable<BlobListEntry>): Promise<BlobListEntry[]> {
  const out: BlobListEntry[] = [];
  for await (const entry of entries) out.push(entry);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const BAD_KEYS = [
  '../x',
  'a/../../x',
  '..',
  '.',
  'a/./b',
  '/abs',
  'a/',
  'a//b',
  '',
  'a\u0000b',
  'a\nb',
  'a b',
  'a\\b',
  'ü',
  'C:x',
  'x'.repeat(513),
  `${'x'.repeat(201)}/y`,
];

const s3 = s3Options();
if (!s3) process.stderr.write('# notice: S3_ENDPOINT not set — S3 variant skipped\n');
const backends: Backend[] = [diskBackend(), ...(s3 ? [s3Backend(s3)] : [])];

for (const backend of backends) {
  describe(`BlobStore conformance: ${backend.name}`, { timeout: 120_000 }, () => {
    after(() => backend.teardown());

    it('round-trips a Buffer: exact bytes, size, sha256, head', async () => {
      const store = await backend.open();
      const bytes = randomBytes(10_000);
      const put = await store.put('docs/a.bin', bytes, { contentType: 'application/pdf' });
      assert.deepEqual(put, { key: 'docs/a.bin', size: bytes.length, sha256: sha256(bytes) });
      assert.ok((await readAll(await store.get('docs/a.bin'))).equals(bytes));
      const head = await store.head('docs/a.bin');
      assert.equal(head?.size, bytes.length);
      if (backend.keepsContentType) assert.equal(head?.contentType, 'application/pdf');
    });

    it('round-trips a plain Uint8Array and an empty body', async () => {
      const store = await backend.open();
      const bytes = new Uint8Array([1, 2, 3, 250, 251]);
      const put = await store.put('u8', bytes);
      assert.equal(put.size, 5);
      assert.deepEqual([...(await readAll(await store.get('u8')))], [...bytes]);
      const empty = await store.put('empty', Buffer.alloc(0));
      assert.deepEqual(empty, { key: 'empty', size: 0, sha256: sha256(Buffer.alloc(0)) });
      assert.equal((await readAll(await store.get('empty'))).length, 0);
      assert.equal((await store.head('empty'))?.size, 0);
    });

    it('streams a 12 MiB upload (multipart on S3) and stores the exact bytes', async () => {
      const store = await backend.open();
      const bytes = randomBytes(12 * MiB + 12_345);
      const put = await store.put('big/stream.bin', streamOf(bytes), { contentType: 'application/octet-stream' });
      assert.equal(put.size, bytes.length);
      assert.equal(put.sha256, sha256(bytes));
      const back = await readAll(await store.get('big/stream.bin'));
      assert.equal(back.length, bytes.length);
      assert.equal(sha256(back), put.sha256);
      assert.equal((await store.head('big/stream.bin'))?.size, bytes.length);
    });

    it('streams a small upload (a single PutObject on S3) and stores the exact bytes', async () => {
      const store = await backend.open();
      const bytes = randomBytes(MiB + 7);
      const put = await store.put('small/stream.bin', streamOf(bytes, 16 * 1024));
      assert.equal(put.sha256, sha256(bytes));
      assert.equal(sha256(await readAll(await store.get('small/stream.bin'))), sha256(bytes));
    });

    it('overwrites an existing key', async () => {
      const store = await backend.open();
      await store.put('k', Buffer.from('first version, longer'));
      await store.put('k', Buffer.from('second'));
      assert.equal((await readAll(await store.get('k'))).toString(), 'second');
      assert.equal((await store.head('k'))?.size, 6);
    });

    it('reports missing objects: head → null, get → BlobNotFoundError', async () => {
      const store = await backend.open();
      assert.equal(await store.head('nope/missing'), null);
      await assert.rejects(store.get('nope/missing'), (err) => err instanceof BlobNotFoundError && err.key === 'nope/missing');
    });

    it('deletes idempotently', async () => {
      const store = await backend.open();
      await store.put('del/x', Buffer.from('x'));
      await store.delete('del/x');
      assert.equal(await store.head('del/x'), null);
      await assert.rejects(store.get('del/x'), BlobNotFoundError);
      await store.delete('del/x');
      await store.delete('never/existed');
      assert.deepEqual(await collect(store.list('')), []);
    });

    it('lists by prefix, across several pages', async () => {
      const store = await backend.open();
      const keys = ['l/a/1', 'l/a/2', 'l/a/sub/3', 'l/ab', 'l/abc/4', 'l/b/5', 'm/6'];
      await Promise.all(keys.map((k, i) => store.put(k, Buffer.alloc(i + 1))));
      const listed = async (prefix: string) => (await collect(store.list(prefix))).map((e) => e.key);
      assert.deepEqual(await listed('l/a/'), ['l/a/1', 'l/a/2', 'l/a/sub/3']);
      assert.deepEqual(await listed('l/a'), ['l/a/1', 'l/a/2', 'l/a/sub/3', 'l/ab', 'l/abc/4']);
      assert.deepEqual(await listed('l/ab'), ['l/ab', 'l/abc/4']);
      assert.deepEqual(await listed(''), [...keys].sort());
      assert.deepEqual(await listed('zzz/'), []);
      assert.deepEqual(await collect(store.list('l/b/')), [{ key: 'l/b/5', size: 6 }]);
      await assert.rejects(collect(store.list('../')), InvalidBlobKeyError);
      await assert.rejects(collect(store.list('/l')), InvalidBlobKeyError);
    });

    it('reports usage in objects and bytes, overall and by prefix', async () => {
      const store = await backend.open();
      assert.deepEqual(await store.usage(), { objects: 0, bytes: 0 });
      await store.put('u/1', Buffer.alloc(100));
      await store.put('u/2', Buffer.alloc(250));
      await store.put('v/3', Buffer.alloc(7));
      assert.deepEqual(await store.usage(), { objects: 3, bytes: 357 });
      assert.deepEqual(await store.usage('u/'), { objects: 2, bytes: 350 });
      await store.delete('u/1');
      assert.deepEqual(await store.usage('u/'), { objects: 1, bytes: 250 });
    });

    it('rejects a body over maxBytes with BlobTooLargeError and stores nothing', async () => {
      const store = await backend.open();
      await assert.rejects(store.put('lim/buf', randomBytes(1001), { maxBytes: 1000 }), (err) => {
        return err instanceof BlobTooLargeError && err.key === 'lim/buf' && err.maxBytes === 1000;
      });
      assert.equal(await store.head('lim/buf'), null);

      // Exactly at the limit is allowed.
      assert.equal((await store.put('lim/exact', randomBytes(1000), { maxBytes: 1000 })).size, 1000);

      // A stream long enough that S3 has already uploaded parts when the limit is crossed.
      const source = streamOf(randomBytes(12 * MiB));
      await assert.rejects(store.put('lim/stream', source, { maxBytes: 7 * MiB }), BlobTooLargeError);
      assert.equal(await store.head('lim/stream'), null);
      await assert.rejects(store.get('lim/stream'), BlobNotFoundError);
      assert.ok(source.destroyed, 'the oversized source stream is destroyed, not left half read');
      assert.deepEqual(
        (await collect(store.list('lim/'))).map((e) => e.key),
        ['lim/exact'],
      );
    });

    it('keeps the previous version when an overwrite is over maxBytes', async () => {
      const store = await backend.open();
      await store.put('keep', Buffer.from('v1'));
      await assert.rejects(store.put('keep', streamOf(randomBytes(4096), 512), { maxBytes: 1024 }), BlobTooLargeError);
      assert.equal((await readAll(await store.get('keep'))).toString(), 'v1');
    });

    it('rejects with the body stream\'s own error when it fails mid-way, and stores nothing', async () => {
      const store = await backend.open();
      const boom = new Error('client went away');
      const failing = Readable.from(
        (function* () {
          for (let i = 0; i < 8 * 16; i++) yield randomBytes(64 * 1024);
          throw boom;
        })(),
        { objectMode: false },
      );
      await assert.rejects(store.put('broken/upload', failing), (err) => err === boom);
      assert.equal(await store.head('broken/upload'), null);
      assert.deepEqual(await collect(store.list('broken/')), []);
    });

    it('never shows a put that is still streaming', async () => {
      const store = await backend.open();
      const body = new PassThrough();
      const pending = store.put('slow/obj', body);
      body.write(randomBytes(64 * 1024));
      await sleep(100);
      assert.equal(await store.head('slow/obj'), null);
      assert.deepEqual(await collect(store.list('slow/')), []);
      body.end(randomBytes(64 * 1024));
      assert.equal((await pending).size, 128 * 1024);
      assert.equal((await store.head('slow/obj'))?.size, 128 * 1024);
    });

    it(
      'ends concurrent puts to one key with one complete version',
      { skip: backend.atomicConcurrentPuts ? false : 's3rver writes objects in place (real S3 commits atomically)' },
      async () => {
        const store = await backend.open();
        const versions = Array.from({ length: 8 }, () => randomBytes(3 * MiB));
        const puts = await Promise.all(versions.map((v) => store.put('race/k', streamOf(v))));
        const back = await readAll(await store.get('race/k'));
        assert.ok(
          puts.some((p) => p.sha256 === sha256(back)),
          'the stored bytes are exactly one of the versions put',
        );
        assert.equal((await store.head('race/k'))?.size, 3 * MiB);
        assert.deepEqual((await collect(store.list('race/'))).map((e) => e.key), ['race/k']);
      },
    );

    it('rejects bad keys with InvalidBlobKeyError on every method', async () => {
      const store = await backend.open();
      for (const key of BAD_KEYS) {
        const bad = (err: unknown) => err instanceof InvalidBlobKeyError;
        await assert.rejects(store.put(key, Buffer.from('x')), bad, `put ${JSON.stringify(key)}`);
        await assert.rejects(store.get(key), bad, `get ${JSON.stringify(key)}`);
        await assert.rejects(store.head(key), bad, `head ${JSON.stringify(key)}`);
        await assert.rejects(store.delete(key), bad, `delete ${JSON.stringify(key)}`);
        await assert.rejects(store.downloadUrl(key, { ttlS: 60 }), bad, `downloadUrl ${JSON.stringify(key)}`);
      }
      assert.deepEqual(await collect(store.list('')), []);
      for (const good of ['a', 'A-b_c.d/e.f', '.hidden/..x', `z/${'k'.repeat(200)}/${'v'.repeat(200)}/${'w'.repeat(108)}`]) {
        assert.equal((await store.put(good, Buffer.from(good))).key, good);
        assert.equal((await readAll(await store.get(good))).toString(), good);
      }
    });

    it('validates downloadUrl options', async () => {
      const store = await backend.open();
      await assert.rejects(store.downloadUrl('a', { ttlS: 0 }), RangeError);
      await assert.rejects(store.downloadUrl('a', { ttlS: 8 * 24 * 3600 }), RangeError);
      await assert.rejects(store.downloadUrl('a', { ttlS: 1.5 }), RangeError);
    });

    it('rejects a bad maxBytes before storing anything', async () => {
      const store = await backend.open();
      await assert.rejects(store.put('m', Buffer.from('x'), { maxBytes: -1 }), RangeError);
      await assert.rejects(store.put('m', Buffer.from('x'), { maxBytes: 1.5 }), RangeError);
      assert.equal(await store.head('m'), null);
    });

    if (backend.name === 'disk') {
      it('downloadUrl is null: the app streams files itself', async () => {
        const store = await backend.open();
        await store.put('d/file.pdf', Buffer.from('%PDF'));
        assert.equal(await store.downloadUrl('d/file.pdf', { ttlS: 60, filename: 'x.pdf' }), null);
      });
    } else {
      it('downloadUrl is a pre-signed URL that plain fetch can read', async () => {
        const store = await backend.open();
        const bytes = randomBytes(200_000);
        await store.put('d/file.pdf', bytes, { contentType: 'application/pdf' });
        const url = await store.downloadUrl('d/file.pdf', { ttlS: 60 });
        assert.ok(url);
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));

        const filename = 'Résumé "final" (2).pdf';
        const named = await store.downloadUrl('d/file.pdf', { ttlS: 60, filename });
        assert.ok(named);
        const res2 = await fetch(named);
        assert.equal(res2.status, 200);
        assert.equal(res2.headers.get('content-disposition'), contentDisposition(filename));
        assert.ok(Buffer.from(await res2.arrayBuffer()).equals(bytes));

        const missing = await store.downloadUrl('d/missing', { ttlS: 60 });
        assert.ok(missing);
        const res3 = await fetch(missing);
        assert.equal(res3.status, 404);
        await res3.arrayBuffer();
      });
    }
  });
}

describe('disk adapter specifics', () => {
  let sandbox: string;
  const stores: BlobStore[] = [];
  const open = async (): Promise<{ store: BlobStore; root: string; outside: string }> => {
    sandbox ??= await mkdtemp(path.join(os.tmpdir(), 'examday-blobs-disk-'));
    const base = path.join(sandbox, `case-${stores.length}`);
    const root = path.join(base, 'root');
    const outside = path.join(base, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'secret'), 'do not read');
    const store = createDiskBlobStore({ root });
    stores.push(store);
    return { store, root, outside };
  };
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    if (sandbox) await rm(sandbox, { recursive: true, force: true });
  });

  it('never writes outside its root, even through a symbolic link inside it', async () => {
    const { store, root, outside } = await open();
    for (const key of ['../outside/x', '../../x', '/tmp/x', 'a/../../outside/y']) {
      await assert.rejects(store.put(key, Buffer.from('x')), InvalidBlobKeyError);
    }
    await store.put('ok/file', Buffer.from('inside'));
    await symlink(outside, path.join(root, 'link'));
    await assert.rejects(store.put('link/planted', Buffer.from('x')), InvalidBlobKeyError);
    await assert.rejects(store.get('link/secret'), InvalidBlobKeyError);
    await assert.rejects(store.head('link/secret'), InvalidBlobKeyError);
    await assert.rejects(store.delete('link/secret'), InvalidBlobKeyError);
    await assert.rejects(collect(store.list('link/')), InvalidBlobKeyError);
    assert.deepEqual((await collect(store.list(''))).map((e) => e.key), ['ok/file']);
    assert.deepEqual(await readdir(outside), ['secret']);
    assert.deepEqual((await readdir(path.dirname(root))).sort(), ['outside', 'root']);
  });

  it('creates the root lazily and prunes folders emptied by delete', async () => {
    const { store, root } = await open();
    assert.equal(await store.head('a/b/c'), null);
    assert.deepEqual(await collect(store.list('')), []);
    await assert.rejects(readdir(root), { code: 'ENOENT' });
    await store.put('a/b/c', Buffer.from('x'));
    await store.put('a/keep', Buffer.from('y'));
    await store.delete('a/b/c');
    assert.deepEqual(await readdir(path.join(root, 'a')), ['keep']);
    await assert.rejects(store.put('lim/new/dir', randomBytes(10), { maxBytes: 5 }), BlobTooLargeError);
    assert.deepEqual((await readdir(root)).sort(), ['a']);
  });

  it('keeps temporary files out of listings and rejects a key that is also a folder', async () => {
    const { store, root } = await open();
    await store.put('f/x', Buffer.from('x'));
    await writeFile(path.join(root, 'f', '~leftover.tmp'), 'crash debris');
    assert.deepEqual((await collect(store.list(''))).map((e) => e.key), ['f/x']);
    await assert.rejects(store.put('f', Buffer.from('x')), InvalidBlobKeyError);
    await assert.rejects(store.put('f/x/y', Buffer.from('x')), InvalidBlobKeyError);
    assert.equal(await store.head('f'), null);
    await assert.rejects(store.get('f'), BlobNotFoundError);
    await store.delete('f');
    assert.equal((await readAll(await store.get('f/x'))).toString(), 'x');
  });

  it('lets a reader finish the version it opened while the key is overwritten', async () => {
    const { store } = await open();
    const v1 = randomBytes(4 * MiB);
    await store.put('v', v1);
    const reader = await store.get('v');
    await store.put('v', Buffer.from('v2'));
    await store.delete('v');
    assert.ok((await readAll(reader)).equals(v1));
  });
});
