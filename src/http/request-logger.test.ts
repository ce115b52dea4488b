import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RequestLogger } from './request-logger.ts';

describe('RequestLogger', () => {
  it('makes the pino child on first use, with its bindings, and logs through it', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    const parent = pino({ level: 'info', redact: ['*.password'] }, sink);
    let made = 0;
    const child = parent.child.bind(parent);
    parent.child = ((...args: Parameters<typeof child>) => {
      made++;
      return child(...args);
    }) as typeof parent.child;

    const log = new RequestLogger(parent, { reqId: 'req-1' }, {});
    assert.equal(log.level, 'info');
    log.debug('below the level');
    assert.equal(made, 1, 'the child is made when a method is called');
    log.warn({ user: { password: 'secret' } }, 'slow request');
    log.error(new Error('boom'));
    assert.equal(made, 1, 'and made once');
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.reqId, 'req-1');
    assert.equal(lines[0]!.msg, 'slow request');
    assert.deepEqual(lines[0]!.user, { password: '[Redacted]' });
    assert.equal((lines[1]!.err as { message: string }).message, 'boom');

    const untouched = new RequestLogger(parent, { reqId: 'req-2' }, {});
    assert.equal(untouched.level, 'info');
    assert.equal(made, 1, 'reading the level makes no child');
    untouched.level = 'error';
    assert.equal(untouched.level, 'error');
    assert.equal(parent.level, 'info', 'the parent keeps its level');
  });
});
