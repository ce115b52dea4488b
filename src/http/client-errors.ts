/**
 * Requests that Node's HTTP parser refuses before Fastify sees them — an
 * unknown method, a Content-Length given twice or next to Transfer-Encoding,
 * headers over the size limit, headers that took too long to arrive — get
 * problem+json like every other error, and then the connection is closed:
 * after a parse error nothing more on it can be trusted.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { problem, type ErrorCode } from './errors.ts';

interface ParserError extends Error {
  code?: string;
  /** llhttp's own words for what it refused. */
  reason?: string;
}

function describe(err: ParserError): { code: ErrorCode; detail: string } {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { code: 'request_timeout', detail: 'the request did not arrive in time; send it again' };
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return { code: 'headers_too_large', detail: 'the request headers are over the size limit (16 KB); send fewer or shorter headers' };
  }
  const what = err.reason ?? err.message;
  return { code: 'bad_request', detail: `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}: ${what}); nothing was processed` };
}

export function answerClientError(err: ParserError, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const { code, detail } = describe(err);
    const answer = problem(code, detail);
    const body = JSON.stringify(answer);
    const { status } = answer;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
