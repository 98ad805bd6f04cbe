// How a refusal reaches the agent: the status, a short plain-text body that says what was
// refused and why, and the reason code in a header that scripts can match.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import nodeHttp from '../runtime/node-http.ts';
import type { SluiceError } from '../errors/codes.ts';

const { STATUS_CODES } = nodeHttp;

type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

function refusalBody(error: Pick<SluiceError, 'message' | 'reason'>): string {
  return `sluice: ${error.message} (${error.reason})\n`;
}

/**
 * gRPC status for a refusal (the HTTP→gRPC mapping of the gRPC spec, with the cases sluice can
 * tell apart): a gRPC client reads grpc-status, not the HTTP status.
 */
function grpcStatus(status: number): number {
  switch (status) {
    case 401: return 16; // UNAUTHENTICATED
    case 403: return 7; // PERMISSION_DENIED
    case 413: case 429: case 431: return 8; // RESOURCE_EXHAUSTED
    case 504: return 4; // DEADLINE_EXCEEDED
    case 502: case 503: return 14; // UNAVAILABLE
    default: return 13; // INTERNAL
  }
}

/** grpc-message is percent-encoded: every byte outside printable ASCII, and '%' itself. */
function grpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function isGrpc(res: AnyResponse): boolean {
  const type = (res as http2.Http2ServerResponse).req?.headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

export function sendRefusal(res: AnyResponse, error: SluiceError): number {
  if (res.headersSent) {
    // The response already started: the only honest signal left is a cut.
    res.destroy();
    return 0;
  }
  const h2 = res as http2.Http2ServerResponse;
  if (h2.stream !== undefined && isGrpc(res)) {
    // The client may have cancelled the call already (a reset stream cannot be answered).
    if (h2.stream.destroyed || h2.stream.closed) return 0;
    // A trailers-only response (one HEADERS frame with END_STREAM): what gRPC clients expect
    // for a call that fails before any message.
    h2.stream.respond({
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(grpcStatus(error.status)),
      'grpc-message': grpcMessage(`sluice: ${error.message} (${error.reason})`),
      'x-sluice-reason': error.reason,
    }, { endStream: true });
    return 0;
  }
  const body = error.response?.body ?? refusalBody(error);
  const headers: http.OutgoingHttpHeaders = {
    ...error.response?.headers,
    'content-type': error.response?.contentType ?? 'text/plain; charset=utf-8',
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
