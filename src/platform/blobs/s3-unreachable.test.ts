/**
 * An S3 endpoint that cannot be reached (a store restarting, a network
 * blip): every operation fails, after the SDK's own retries, as
 * DependencyUnavailable('file storage'), which the HTTP layer answers 503
 * `unavailable`, not 500. Runs everywhere: the endpoint is a closed port.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { freePort } from '../../lib/free-port.ts';
import { DependencyUnavailable } from '../unavailable.ts';
import { createS3BlobStore } from './s3.ts';

describe('S3 blob store, unreachable', () => {
  it('fails every operation as DependencyUnavailable(file storage)', async () => {
    const store = createS3BlobStore({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      bucket: 'examday',
      region: 'us-east-1',
      accessKeyId: 'x',
      secretAccessKey: 'y',
      forcePathStyle: true,
      onError: () => undefined,
    });
    try {
      const attempts: [string, () => Promise<unknown>][] = [
        ['put', () => store.put('a/b.pdf', Buffer.from('%PDF-1.4 x'))],
        ['put (stream)', () => store.put('a/c.pdf', Readable.from([Buffer.from('%PDF-1.4 y')]))],
        ['get', () => store.get('a/b.pdf')],
        ['head', () => store.head('a/b.pdf')],
        ['delete', () => store.delete('a/b.pdf')],
        ['usage', () => store.usage('a/')],
      ];
      for (const [what, run] of attempts) {
        const err = await run().then(
          () => assert.fail(`${what} succeeded against a closed port`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof DependencyUnavailable, `${what}: ${String(err)}`);
        assert.equal(err.dependency, 'file storage');
        assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
      }
    } finally {
      await store.close();
    }
  });
});
