/**
 * Object storage in a local directory (the embedded default). Each key is a
 * plain file at `<root>/<key>`, so operators can back it up, inspect it or
 * move it with ordinary tools.
 *
 * How the port's guarantees are kept:
 * - Atomic: a put writes a temporary file in the key's own directory, fsyncs
 *   it, then renames it over the key. rename(2) within one file system
 *   replaces the name in one step, so readers see the old file or the new one;
 *   a reader that already opened the old file keeps reading it whole.
 *   Concurrent puts each rename their own temporary file: the last rename wins.
 * - Durable: the file is fsynced before the rename and its directory after it
 *   (and the parents of directories the put created), so an acknowledged put
 *   survives a power cut.
 * - Temporary names contain `~`, which keys cannot, so they never collide with
 *   a key and `list` skips them. A crash mid-put leaves one behind; it holds
 *   no visible object and is safe to delete.
 * - Contained: keys are validated lexically (no `..`, no absolute paths), and
 *   every directory used is resolved with realpath and must lie inside the
 *   root, so a symbolic link planted inside the root cannot redirect reads or
 *   writes outside it; `list` does not follow symbolic links.
 * - Directories are created on first use and removed by `delete` once empty,
 *   so stores with per-record folders do not accumulate empty ones.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, opendir, realpath, rename, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  BlobNotFoundError,
  InvalidBlobKeyError,
  MeteredBody,
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

export interface DiskBlobStoreOptions {
  /** Directory the objects live in; created on the first put. */
  root: string;
}

/** Names `list` may report: key segments only, which excludes our `~` temporaries and foreign files. */
const KEY_SEGMENT = /^[A-Za-z0-9._-]+$/;
/** O_NOFOLLOW does not exist on Windows; there the realpath check alone keeps reads inside the root. */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;
/** A concurrent delete may prune the directory between our mkdir and open; retrying a few times always wins. */
const MAX_DIR_RACE_RETRIES = 5;

const errno = (err: unknown): string | undefined =>
  err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;

/** Errors that mean "nothing stored at this path", for a file or for a folder along the way. */
const isMissing = (err: unknown): boolean => {
  const code = errno(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/** Makes a rename or a new directory entry durable. Some platforms (Windows) cannot open directories; there it is skipped. */
async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = errno(err);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}

/** fs writes may be partial in principle; loop until the whole chunk is on its way to disk. */
async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

export function createDiskBlobStore(opts: DiskBlobStoreOptions): BlobStore {
  const root = path.resolve(opts.root);
  let realRoot: string | undefined;

  const pathOf = (key: string): string => {
    const file = path.join(root, ...validateBlobKey(key).split('/'));
    // Validation already rules out traversal; this keeps the guarantee even if the rules are ever loosened.
    if (!file.startsWith(root + path.sep)) throw new InvalidBlobKeyError(key, 'resolves outside the store root');
    return file;
  };

  /** Throws when `dir` (which must exist) resolves outside the root, e.g. through a symbolic link. */
  const assertInsideRoot = async (key: string, dir: string): Promise<void> => {
    realRoot ??= await realpath(root);
    const real = await realpath(dir);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
      throw new InvalidBlobKeyError(key, 'resolves outside the store root (through a symbolic link)');
    }
  };

  /** Creates `dir` and makes each new directory entry durable, so the file renamed into it survives a crash too. */
  const ensureDir = async (key: string, dir: string): Promise<void> => {
    let created: string | undefined;
    try {
      created = await mkdir(dir, { recursive: true });
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOTDIR' || code === 'EEXIST') throw folderConflict(key);
      throw err;
    }
    if (created !== undefined) {
      const stop = path.dirname(created);
      for (let d = path.dirname(dir); ; d = path.dirname(d)) {
        await fsyncDir(d);
        if (d === stop || d === path.dirname(d)) break;
      }
    }
    await assertInsideRoot(key, dir);
  };

  const folderConflict = (key: string): InvalidBlobKeyError =>
    new InvalidBlobKeyError(key, 'on disk a key cannot also be a folder of other keys (or sit under one that is a file)');

  /** Opens a fresh temporary file next to the key's final name. */
  const openTemp = async (key: string, dir: string): Promise<{ tmp: string; handle: FileHandle }> => {
    for (let attempt = 1; ; attempt++) {
      await ensureDir(key, dir);
      const tmp = path.join(dir, `~${randomBytes(8).toString('hex')}.tmp`);
      try {
        return { tmp, handle: await open(tmp, 'wx', 0o644) };
      } catch (err) {
        if (errno(err) !== 'ENOENT' || attempt >= MAX_DIR_RACE_RETRIES) throw err;
      }
    }
  };

  /** After a delete, removes now-empty directories up to (not including) the root. Losing a race with a put just stops early. */
  const pruneEmptyDirs = async (from: string): Promise<void> => {
    for (let dir = from; dir !== root && dir.startsWith(root + path.sep); dir = path.dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
    }
  };

  async function* walk(dir: string, keyPrefix: string, namePrefix: string): AsyncGenerator<BlobListEntry> {
    let entries;
    try {
      entries = await opendir(dir);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for await (const entry of entries) {
      if (!KEY_SEGMENT.test(entry.name) || !entry.name.startsWith(namePrefix)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        yield* walk(full, `${keyPrefix}${entry.name}/`, '');
      } else if (entry.isFile()) {
        try {
          yield { key: `${keyPrefix}${entry.name}`, size: (await lstat(full)).size };
        } catch (err) {
          // Deleted between readdir and stat: it is simply no longer listed.
          if (!isMissing(err)) throw err;
        }
      }
    }
  }

  const store: BlobStore = {
    kind: 'disk',

    async put(key: string, body: BlobBody, putOpts?: PutOptions): Promise<PutResult> {
      const file = pathOf(key);
      const meter = new MeteredBody(key, putOpts?.maxBytes);
      const dir = path.dirname(file);
      const { tmp, handle } = await openTemp(key, dir);
      let unclosed: FileHandle | undefined = handle;
      try {
        for await (const chunk of meter.chunks(body)) await writeAll(handle, chunk);
        await handle.sync();
        await handle.close();
        unclosed = undefined;
        try {
          await rename(tmp, file);
        } catch (err) {
          const code = errno(err);
          if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') throw folderConflict(key);
          throw err;
        }
        await fsyncDir(dir);
        return meter.result();
      } catch (err) {
        await unclosed?.close().catch(() => undefined);
        await rm(tmp, { force: true });
        // A refused put leaves no trace, not even the folders made for it.
        await pruneEmptyDirs(dir);
        throw err;
      }
    },

    async get(key: string): Promise<Readable> {
      const file = pathOf(key);
      let handle: FileHandle | undefined;
      try {
        await assertInsideRoot(key, path.dirname(file));
        handle = await open(file, constants.O_RDONLY | NO_FOLLOW);
        if (!(await handle.stat()).isFile()) throw new BlobNotFoundError(key);
      } catch (err) {
        await handle?.close();
        // ELOOP: the key's own name is a symbolic link, which the store never creates.
        if (isMissing(err) || errno(err) === 'ELOOP') throw new BlobNotFoundError(key);
        throw err;
      }
      // The open descriptor pins this version: a put or delete that lands while the caller reads does not cut the stream short.
      return handle.createReadStream();
    },

    async head(key: string): Promise<BlobInfo | null> {
      const file = pathOf(key);
      try {
        await assertInsideRoot(key, path.dirname(file));
        const stat = await lstat(file);
        return stat.isFile() ? { size: stat.size } : null;
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },

    async delete(key: string): Promise<void> {
      const file = pathOf(key);
      try {
        await assertInsideRoot(key, path.dirname(file));
        // A folder of other keys is not an object: nothing to delete under this key.
        if ((await lstat(file)).isDirectory()) return;
        await unlink(file);
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      await pruneEmptyDirs(path.dirname(file));
    },

    async *list(prefix: string): AsyncGenerator<BlobListEntry> {
      validateBlobPrefix(prefix);
      const cut = prefix.lastIndexOf('/') + 1;
      const folder = prefix.slice(0, cut);
      const start = path.join(root, ...folder.split('/').filter(Boolean));
      try {
        await assertInsideRoot(prefix, start);
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      yield* walk(start, folder, prefix.slice(cut));
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

    async downloadUrl(key: string, urlOpts: DownloadUrlOptions): Promise<string | null> {
      // Validated anyway, so a bad call fails the same way as on S3 instead of passing silently in development.
      validateBlobKey(key);
      validateDownloadOptions(urlOpts);
      return null;
    },

    async close(): Promise<void> {},
  };
  return store;
}
