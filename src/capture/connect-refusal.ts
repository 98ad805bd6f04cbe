// CONNECT. Node hands it to the server's 'connect' event, not 'request': over HTTP/1.1 with the
// socket (and, when nothing listens, drops the connection without a word or a log line), over
// h2 with the stream's request and response (and answers 405 itself, unlogged). sluice is not
// a forward proxy: the request is read like any other (request-target.ts refuses CONNECT with
// 405), and the refusal is sent and logged.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ConnectionInfo, Exchange } from '../pipeline/exchange.ts';
import { SluiceError } from '../errors/codes.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { runExchange } from './run-exchange.ts';
import { logRequest } from './request-log.ts';
import { sendRefusal, writeRawRefusal } from './deny-response.ts';

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;

export interface ConnectRefusalOptions {
  current: () => Runtime;
  connectionOf: (req: AnyRequest) => ConnectionInfo;
}

/** HTTP/1.1: (request, socket); h2: (request, response). */
export function createConnectRefusal(options: ConnectRefusalOptions): (req: AnyRequest, out: Duplex | http2.Http2ServerResponse) => void {
  return (req, out) => {
    const runtime = options.current();
    const conn = options.connectionOf(req);
    const request = { method: req.method, url: req.url, startedAt: performance.now() };
    const h2 = req.httpVersionMajor === 2;
    if (!h2) (out as Duplex).on('error', () => (out as Duplex).destroy());
    const refuse = (ex: Partial<Exchange>, error: SluiceError): void => {
      const bytesOut = h2 ? sendRefusal(out as http2.Http2ServerResponse, error) : writeRawRefusal(out as Duplex, error);
      logRequest(runtime, conn, request, ex, { status: error.status, bytesOut }, error, 'deny');
    };
    // request-target.ts refuses every CONNECT; should that ever change, this still refuses.
    runExchange(req, conn, runtime, request.startedAt, refuse, (ex) => refuse(ex, new SluiceError('bad_request', 405, 'CONNECT is not supported')));
  };
}
