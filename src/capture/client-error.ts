// Requests Node's parser refuses (CL+TE, differing Content-Lengths, bad chunking, oversized
// headers, header timeout) get a precise status and an access-log line; the connection closes.
import type net from 'node:net';
import type { Runtime } from '../runtime/runtime.ts';
import type { DenyReason } from '../errors/codes.ts';
import { writeRawRefusal } from './deny-response.ts';

function statusFor(code: string | undefined): { status: number; reason: DenyReason } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'headers_too_large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return { status: 408, reason: 'client_timeout' };
    default:
      return { status: 400, reason: 'bad_request' };
  }
}

export function handleClientError(err: NodeJS.ErrnoException, socket: net.Socket, runtime: Runtime, listener: 'tls' | 'http'): void {
  const code = err.code;
  if (code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { status, reason } = statusFor(code);
  const message = `malformed request: ${code ?? err.message}`;
  runtime.services.accessLog.write({ listener, src_port: socket.remotePort, status, decision: 'deny', reason, message });
  runtime.services.metrics.countRequest('deny', status, reason);
  // If a response is already being written on this socket, a cut is the only signal left.
  const busy = (socket as net.Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (busy) {
    socket.destroy();
    return;
  }
  writeRawRefusal(socket, { status, reason, message });
}
