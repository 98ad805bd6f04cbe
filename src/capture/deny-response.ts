// How a refusal reaches the agent: the status, a short plain-text body that says what was
// refused and why, and the reason code in a header that scripts can match.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { SluiceError } from '../errors/codes.ts';

type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

function refusalBody(error: Pick<SluiceError, 'message' | 'reason'>): string {
  return `sluice: ${error.message} (${error.reason})\n`;
}

export function sendRefusal(res: AnyResponse, error: SluiceError): number {
  if (res.headersSent) {
    // The response already started: the only honest signal left is a cut.
    res.destroy();
    return 0;
  }
  const body = refusalBody(error);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-sluice-reason': error.reason,
    'cache-control': 'no-store',
  };
  (res as http.ServerResponse).writeHead(error.status, headers);
  res.end(body);
  return Buffer.byteLength(body);
}

/** The same refusal written straight onto a socket (no HTTP response object), then closed. */
export function writeRawRefusal(socket: Duplex, error: Pick<SluiceError, 'message' | 'reason' | 'status'>): number {
  const body = refusalBody(error);
  const text = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n`
    + `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + `X-Sluice-Reason: ${error.reason}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`;
  socket.end(text);
  return Buffer.byteLength(body);
}
