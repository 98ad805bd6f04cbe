// The HTTP request path shared by the TLS (HTTP/1.1 and h2) and plain-HTTP listeners:
// read the target strictly, run the steps, then forward or refuse, and log the outcome.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { ConnectionInfo, Exchange } from '../pipeline/exchange.ts';
import { runSteps } from '../pipeline/step.ts';
import { SluiceError } from '../errors/codes.ts';
import { readRequestTarget } from './request-target.ts';
import { sendRefusal } from './deny-response.ts';
import { requestHeadersForUpstream } from '../http/forwarded-headers.ts';
import { forward, type ForwardResult } from '../upstream/forward.ts';
import type { Runtime } from '../runtime/runtime.ts';

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface RequestHandlerOptions {
  /** The runtime in force now (swapped on reload). */
  current: () => Runtime;
  /** Finds the connection a request arrived on. */
  connectionOf: (req: AnyRequest) => ConnectionInfo;
  /** Tracks in-flight requests for draining. */
  inflight: { add(): void; done(): void };
}

function hasRequestBody(req: AnyRequest): boolean {
  if (req.httpVersionMajor === 2) return !(req as http2.Http2ServerRequest).stream.endAfterHeaders;
  const headers = req.headers;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

export function createRequestHandler(options: RequestHandlerOptions): (req: AnyRequest, res: AnyResponse) => void {
  return (req, res) => {
    const runtime = options.current();
    const conn = options.connectionOf(req);
    const startedAt = performance.now();
    options.inflight.add();
    const { accessLog, metrics } = runtime.services;

    // decision: what the policy said ("deny": refused by sluice; "allow": forwarded, even if
    // the upstream then failed, which `reason` names).
    const log = (ex: Partial<Exchange>, result: Partial<ForwardResult>, error: SluiceError | undefined, decision: 'allow' | 'deny'): void => {
      options.inflight.done();
      const status = result.status ?? 0;
      const reason = error?.reason;
      metrics.requests.inc({ decision, status: String(status), reason: reason ?? '' });
      accessLog.write({
        conn: conn.id,
        listener: conn.listener,
        sni: conn.sni,
        host: ex.host,
        method: req.method,
        path: ex.path ?? req.url,
        status,
        decision,
        reason,
        rule: ex.rule === undefined ? undefined : `allow[${ex.rule.index}]`,
        credential: ex.credential,
        bytes_in: result.bytesIn ?? 0,
        bytes_out: result.bytesOut ?? 0,
        ms: Math.round((performance.now() - startedAt) * 100) / 100,
        ttfb_ms: result.ttfbMs === undefined ? undefined : Math.round(result.ttfbMs * 100) / 100,
        outcome: result.outcome,
        message: error?.message,
      });
    };

    const refuse = (ex: Partial<Exchange>, error: SluiceError): void => {
      // Drain what the client is sending so the connection stays usable for its next request.
      if (!req.readableEnded) req.resume();
      const bytesOut = sendRefusal(res, error);
      log(ex, { status: error.status, bytesOut }, error, 'deny');
    };

    const target = readRequestTarget(req, conn, runtime.config.client.maxHeaderCount);
    if (!('host' in target)) {
      refuse({ host: conn.host }, target);
      return;
    }
    const exchange: Exchange = {
      conn,
      runtime,
      startedAt,
      method: req.method ?? 'GET',
      path: target.path,
      host: target.host,
      authority: target.authority,
      headers: requestHeadersForUpstream(req.headers),
      hasBody: hasRequestBody(req),
      rule: undefined,
      resolved: undefined,
      credential: undefined,
      trace: [],
      requestBody: [],
      response: [],
    };
    runSteps(runtime.steps, exchange).then(
      (refusal) => {
        if (refusal !== undefined) {
          refuse(exchange, refusal);
          return;
        }
        forward(exchange, req, res, (error) => sendRefusal(res, error), (result) => log(exchange, result, result.error, 'allow'));
      },
      (err: unknown) => {
        runtime.services.opsLog.error({ err, conn: conn.id }, 'request pipeline failed');
        refuse(exchange, new SluiceError('upstream_error', 500, 'internal error in sluice'));
      },
    );
  };
}
