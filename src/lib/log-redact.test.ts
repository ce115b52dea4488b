import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LOG_REDACT_PATHS } from './log-redact.ts';

function lines(write: (log: pino.Logger) => void): Record<string, unknown>[] {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  write(pino({ redact: LOG_REDACT_PATHS }, sink));
  return out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('log redaction', () => {
  it("keeps an error's code and hides credentials and access codes", () => {
    const err = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const [failed, signIn, created] = lines((log) => {
      log.warn({ err }, 'database unreachable');
      log.info({ req: { headers: { authorization: 'Bearer secret-token' } }, body: { code: 'ABCD-EFGH' } }, 'sign-in');
      log.info({ user: { accessCode: 'WXYZ-1234', password: 'hunter2' }, session: { refreshToken: 'r' } }, 'created');
    });
    assert.equal((failed!.err as { code: string }).code, '57P01');
    const all = JSON.stringify([signIn, created]);
    for (const secret of ['secret-token', 'ABCD-EFGH', 'WXYZ-1234', 'hunter2', '"r"']) assert.ok(!all.includes(secret), `${secret} in ${all}`);
  });
});
