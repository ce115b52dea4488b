/**
 * The content check on an upload stream: a PDF starts with `%PDF-` within its
 * first 1024 bytes (the header may follow some junk, as readers allow). The
 * check runs as the bytes pass on to storage, holding back only that first
 * kilobyte, so a non-PDF fails the store before anything is kept.
 */
import { Transform, type TransformCallback } from 'node:stream';

export const MAGIC_WINDOW = 1024;
const MAGIC = Buffer.from('%PDF-', 'latin1');

export class NotPdfError extends Error {
  override name = 'NotPdfError';
  constructor() {
    super('the file is not a PDF (it does not start with %PDF-)');
  }
}

export function pdfMagicCheck(): Transform {
  let head: Buffer | null = Buffer.alloc(0);
  const check = (self: Transform, final: boolean, cb: TransformCallback): void => {
    if (head === null) return cb();
    if (head.subarray(0, MAGIC_WINDOW + MAGIC.length - 1).indexOf(MAGIC) !== -1) {
      const held = head;
      head = null;
      self.push(held);
      return cb();
    }
    if (final || head.length >= MAGIC_WINDOW + MAGIC.length - 1) return cb(new NotPdfError());
    cb();
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (head === null) return cb(null, chunk);
      head = Buffer.concat([head, chunk]);
      check(this, false, cb);
    },
    flush(cb) {
      check(this, true, cb);
    },
  });
}
