// The HTTP request path shared by the TLS (HTTP/1.1 and h2) and plain-HTTP listeners:
// read the target strictly, run the steps, then forward or refuse, and log the outcome.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { ConnectionInfo, Exchange } from '../pipeline/exchange.ts';
import type { SluiceError } from '../errors/codes.ts';
import { sendRefusal } from './deny-response.ts';
import { forward, type ForwardResult } from '../upstream/forward.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { AnyRequest } from './exchange-builder.ts';
import { runExchange } from './run-exchange.ts';
import { logRequest } from './request-log.ts';
import { holdH2ReceiveWindow } from './h2-receive-window.ts';
import { clientGone } from '../http/client-gone.ts';

type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface RequestHandlerOptions {
  /** The runtime in force now (swapped on reload). */
  current: () => Runtime;
  /** Finds the connection a request arrived on. */
  connectionOf: (req: AnyRequest) => ConnectionInfo;
  /** Tracks in-flight requests for draining. */
  inflight: { add(): void; done(): void };
}

export function createRequestHandler(options: RequestHandlerOptions): (req: AnyRequest, res: AnyResponse) => void {
  return (req, res) => {
    const runtime = options.current();
    const conn = options.connectionOf(req);
    const startedAt = performance.now();
    options.inflight.add();
    const request = { method: req.method, url: req.url, startedAt };

    const log = (ex: Partial<Exchange>, result: Partial<ForwardResult>, error: SluiceError | undefined, decision: 'allow' | 'deny'): void => {
      options.inflight.done();
      logRequest(runtime, conn, request, ex, result, error, decision);
    };

    const refuse = (ex: Partial<Exchange>, error: SluiceError): void => {
      // Drain what the client is sending so the connection stays usable for its next request.
      if (!req.readableEnded) req.resume();
      const bytesOut = sendRefusal(res, error);
      log(ex, { status: error.status, bytesOut }, error, 'deny');
    };

    // An h2 request with a body may buffer up to a stream window in sluice: that memory comes
    // out of the shared buffer budget for the stream's life, or the request is refused.
    const overCapacity = holdH2ReceiveWindow(req, res);
    if (overCapacity !== undefined) {
      refuse({ host: conn.host }, overCapacity);
      return;
    }

    runExchange(req, conn, runtime, startedAt, refuse, (exchange) => {
      // A client that reset its stream while the steps ran (an h2 rapid-reset flood) gets no
      // upstream connection dialled on its behalf: that handshake is the expensive part.
      if (clientGone(res)) {
        log(exchange, { status: 0, outcome: 'client_aborted' }, undefined, 'allow');
        return;
      }
      forward(exchange, req, res, (error) => sendRefusal(res, error), (result) => log(exchange, result, result.error, 'allow'));
    });
  };
}
