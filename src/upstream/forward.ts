// Sends an exchange upstream with undici and streams the response back chunk by chunk, with
// back-pressure both ways. Nothing is buffered whole. A response cut mid-body reaches the agent
// as a cut (the client connection or stream is destroyed), never as a complete response.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { Exchange } from '../pipeline/exchange.ts';
import { responseHeadersForClient } from '../http/forwarded-headers.ts';
import { upstreamFailure } from './failure.ts';
import type { SluiceError } from '../errors/codes.ts';

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface ForwardResult {
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** Milliseconds from dispatch to response headers. */
  ttfbMs: number | undefined;
  outcome: 'complete' | 'cut_off' | 'client_aborted';
  /** Set when sluice could not get a response (the agent got this refusal instead). */
  error: SluiceError | undefined;
}

export type ForwardObserver = (result: ForwardResult) => void;

function formatOrigin(ex: Exchange): string {
  const scheme = ex.conn.listener === 'tls' ? 'https' : 'http';
  const host = ex.host.includes(':') ? `[${ex.host}]` : ex.host;
  return `${scheme}://${host}:${ex.conn.upstreamPort}`;
}

export function forward(
  ex: Exchange,
  req: AnyRequest,
  res: AnyResponse,
  onRefusal: (error: SluiceError) => number,
  done: ForwardObserver,
): void {
  const agent = ex.runtime.upstream.agent(ex.rule?.private === true);
  const dispatchedAt = performance.now();
  let bytesIn = 0;
  let bytesOut = 0;
  let ttfbMs: number | undefined;
  let status = 0;
  let finished = false;
  let controller: Dispatcher.DispatchController | undefined;

  const finish = (outcome: ForwardResult['outcome'], error?: SluiceError): void => {
    if (finished) return;
    finished = true;
    res.removeListener('close', onClientClose);
    done({ status, bytesIn, bytesOut, ttfbMs, outcome, error });
  };

  // The agent went away: stop the upstream exchange too.
  const onClientClose = (): void => {
    if (finished) return;
    controller?.abort(new Error('client closed the connection'));
    finish('client_aborted');
  };
  res.on('close', onClientClose);

  if (ex.hasBody) {
    req.on('data', (chunk: Buffer) => {
      bytesIn += chunk.length;
    });
  }

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (finished) c.abort(new Error('client closed the connection'));
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      if (statusCode < 200) return; // 1xx: Node answers Expect itself; others are not relayed.
      status = statusCode;
      ttfbMs = performance.now() - dispatchedAt;
      ex.runtime.services.metrics.upstreamLatency.observe(ttfbMs / 1000);
      const out = responseHeadersForClient(headers);
      if (req.httpVersionMajor === 1 && statusMessage) (res as http.ServerResponse).writeHead(statusCode, statusMessage, out);
      else (res as http.ServerResponse).writeHead(statusCode, out);
      void c;
    },
    onResponseData(c, chunk) {
      bytesOut += chunk.length;
      if (!(res as http.ServerResponse).write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      res.end();
      finish('complete');
    },
    onResponseError(_c, err) {
      if (finished) return;
      if (status === 0 && !res.headersSent) {
        const refusal = upstreamFailure(err, ex.host);
        status = refusal.status;
        bytesOut = onRefusal(refusal);
        finish('complete', refusal);
        return;
      }
      // Mid-body: cut the agent's response so it cannot mistake it for a complete one.
      res.destroy(err);
      finish('cut_off', upstreamFailure(err, ex.host));
    },
  };

  agent.dispatch(
    {
      origin: formatOrigin(ex),
      path: ex.path,
      method: ex.method as Dispatcher.HttpMethod,
      headers: { ...ex.headers, host: ex.authority } as Record<string, string | string[]>,
      body: ex.hasBody ? (req as unknown as Readable) : null,
      // Redirects are passed to the agent, never followed (undici's default without interceptors).
    },
    handler,
  );
}
