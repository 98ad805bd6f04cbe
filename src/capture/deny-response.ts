// How a refusal reaches the agent: the status, a short plain-text body that says what was
// refused and why, and the reason code in a header that scripts can match.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { SluiceError } from '../errors/codes.ts';

type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export function sendRefusal(res: AnyResponse, error: SluiceError): number {
  const body = `sluice: ${error.message} (${error.reason})\n`;
  if (res.headersSent) {
    // The response already started: the only honest signal left is a cut.
    res.destroy();
    return 0;
  }
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
