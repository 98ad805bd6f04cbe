// Requests Node's parser refuses (CL+TE, differing Content-Lengths, bad chunking, oversized
// headers, header timeout) get a precise status and an access-log line; the connection closes.
import type net from 'node:net';
import type { Runtime } from '../runtime/runtime.ts';

function statusFor(code: string | undefined): { status: number; reason: string; text: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'headers_too_large', text: 'Request Header Fields Too Large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return { status: 408, reason: 'bad_request', text: 'Request Timeout' };
    default:
      return { status: 400, reason: 'bad_request', text: 'Bad Request' };
  }
}

export function handleClientError(err: NodeJS.ErrnoException, socket: net.Socket, runtime: Runtime, listener: 'tls' | 'http'): void {
  const code = err.code;
  if (code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { status, reason, text } = statusFor(code);
  const body = `sluice: malformed request (${code ?? err.message}) (${reason})\n`;
  runtime.services.accessLog.write({
    listener,
    src_port: socket.remotePort,
    status,
    decision: 'deny',
    reason,
    message: `malformed request: ${code ?? err.message}`,
  });
  runtime.services.metrics.requests.inc({ decision: 'deny', status: String(status), reason });
  // If a response is already being written on this socket, a cut is the only signal left.
  const busy = (socket as net.Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (busy) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Sluice-Reason: ${reason}\r\nConnection: close\r\n\r\n${body}`);
}
