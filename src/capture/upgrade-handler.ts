// HTTP/1.1 upgrades (WebSocket): the same strict target reading and the same steps as any
// request, then the upgrade is forwarded and the bytes piped both ways. Other upgrades
// (h2c, …) are refused: sluice cannot inspect what would follow.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionInfo, Exchange } from '../pipeline/exchange.ts';
import { SluiceError } from '../errors/codes.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { runExchange } from './run-exchange.ts';
import { logRequest } from './request-log.ts';
import { writeRawRefusal } from './deny-response.ts';
import { upstreamFailure } from '../upstream/failure.ts';

export interface UpgradeHandlerOptions {
  current: () => Runtime;
  connectionOf: (req: http.IncomingMessage) => ConnectionInfo;
}

export function createUpgradeHandler(options: UpgradeHandlerOptions): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const runtime = options.current();
    const conn = options.connectionOf(req);
    const startedAt = performance.now();
    const request = { method: req.method, url: req.url, startedAt };
    socket.on('error', () => socket.destroy());

    const refuse = (ex: Partial<Exchange>, error: SluiceError): void => {
      const bytesOut = writeRawRefusal(socket, error);
      logRequest(runtime, conn, request, ex, { status: error.status, bytesOut }, error, 'deny');
    };

    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      refuse({ host: conn.host }, new SluiceError('bad_request', 400, `upgrade to ${String(req.headers.upgrade)} is not supported (only websocket)`));
      return;
    }
    runExchange(req, conn, runtime, startedAt, refuse, (exchange) => {
      const bytesBefore = { in: (socket as { bytesRead?: number }).bytesRead ?? 0, out: (socket as { bytesWritten?: number }).bytesWritten ?? 0 };
      runtime.websockets.forward(exchange, req, socket, head, ({ status, error }) => {
        const failure = error === undefined ? undefined : upstreamFailure(error, exchange.host);
        if (failure !== undefined && status === 0 && socket.writable) writeRawRefusal(socket, failure);
        logRequest(runtime, conn, request, exchange, {
          status: status === 0 && failure !== undefined ? failure.status : status,
          bytesIn: ((socket as { bytesRead?: number }).bytesRead ?? 0) - bytesBefore.in,
          bytesOut: ((socket as { bytesWritten?: number }).bytesWritten ?? 0) - bytesBefore.out,
        }, failure, 'allow');
      });
    });
  };
}
