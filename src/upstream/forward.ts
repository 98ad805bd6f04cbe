// Sends an exchange upstream with undici and streams the response back chunk by chunk, with
// back-pressure both ways. Nothing is buffered whole. A response cut mid-body reaches the agent
// as a cut (the client connection or stream is destroyed), never as a complete response.
// Steps may register body transforms and response hooks (pipeline/body.ts); without any, the
// bytes pass through untouched.
import type http from 'node:http';
import type http2 from 'node:http2';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Exchange } from '../pipeline/exchange.ts';
import type { ResponseHook } from '../pipeline/body.ts';
import { responseHeadersForClient } from '../http/forwarded-headers.ts';
import { upstreamFailure } from './failure.ts';
import { SluiceError } from '../errors/codes.ts';
import { transformRequestBody } from './request-body.ts';
import { createResponseDecoder } from './response-decoder.ts';
import { noteRelayed } from './relay-gc.ts';

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

/**
 * The trailers as received. undici's HTTP/2 client hands its legacy layer Node's trailer object
 * where a raw [name, value, …] list is expected, and the conversion to the dispatcher API then
 * yields {} (undici 7.30): read the raw form the controller keeps whenever it is an object.
 */
function upstreamTrailers(c: Dispatcher.DispatchController, parsed: Record<string, string | string[] | undefined> | undefined): Record<string, string | string[] | undefined> {
  const raw = (c as { rawTrailers?: unknown }).rawTrailers;
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const out: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (name.startsWith(':')) continue;
      out[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
    }
    return out;
  }
  return parsed ?? {};
}

export function forward(
  ex: Exchange,
  req: AnyRequest,
  res: AnyResponse,
  onRefusal: (error: SluiceError) => number,
  done: ForwardObserver,
): void {
  // HTTP/2 upstream where the protocol needs it (gRPC), or everywhere with [upstream] http2.
  const grpc = String(ex.headers['content-type'] ?? '').toLowerCase().startsWith('application/grpc');
  const agent = ex.runtime.upstream.agent(ex.rule?.private === true, grpc || ex.runtime.config.upstream.http2);
  const hooks = ex.response;
  const dispatchedAt = performance.now();
  let bytesIn = 0;
  let bytesOut = 0;
  let ttfbMs: number | undefined;
  let status = 0;
  let finished = false;
  let controller: Dispatcher.DispatchController | undefined;
  let decoder: ReturnType<typeof createResponseDecoder> | undefined;
  /** The upstream's trailers (gRPC's grpc-status lives there), relayed after the body. */
  let trailers: Record<string, string | string[]> | undefined;
  /** The response was relayed as a single HEADERS frame that ended the stream (gRPC). */
  let trailersOnly = false;
  const out = res as http.ServerResponse;
  /** Set at the first interim (1xx) response: the final one must follow within the headers timeout. */
  let interimDeadline: NodeJS.Timeout | undefined;

  const finish = (outcome: ForwardResult['outcome'], error?: SluiceError): void => {
    if (finished) return;
    finished = true;
    clearTimeout(interimDeadline);
    res.removeListener('close', onClientClose);
    for (const hook of hooks) hook.done?.(error !== undefined && status === 0 ? 'error' : outcome, status);
    done({ status, bytesIn, bytesOut, ttfbMs, outcome, error });
  };

  // The agent went away: stop the upstream exchange too. Finished first: undici reports the
  // abort through onResponseError synchronously, which would otherwise log the exchange as an
  // upstream failure and write a 502 to the closed connection.
  const onClientClose = (): void => {
    if (finished) return;
    finish('client_aborted');
    controller?.abort(new Error('client closed the connection'));
    decoder?.destroy();
  };
  res.on('close', onClientClose);

  let body: Readable | null = null;
  if (ex.hasBody) {
    // A body a step buffered (sigv4: a signature over sha256(body)) is sent as it was read.
    const source = ex.bufferedBody !== undefined ? Readable.from([ex.bufferedBody]) : req as unknown as Readable;
    // A body that stops arriving before any answer is given up after [client] headers_timeout_ms
    // (request-body.ts). Not gRPC's: a client stream may send a message a minute by design.
    body = transformRequestBody(source, ex.requestBody, (n) => {
      bytesIn += n;
    }, grpc ? undefined : { stallMs: ex.runtime.config.client.headersTimeoutMs, answered: () => status !== 0 });
    if (ex.requestBody.some((t) => t.changesLength)) delete ex.headers['content-length'];
  }

  /** Passes response bytes through the hooks, then to the agent, pausing `pause` on back-pressure. */
  const deliver = (chunk: Buffer, pause: () => void, resume: () => void): void => {
    let data = chunk;
    for (const hook of hooks) if (hook.data !== undefined) data = hook.data(data);
    if (data.length === 0) return;
    bytesOut += data.length;
    if (!out.write(data)) {
      pause();
      res.once('drain', resume);
    }
  };
  const complete = (): void => {
    if (trailersOnly) {
      finish('complete');
      return;
    }
    // What a hook still held back passes through the hooks after it, like any other bytes.
    for (let i = 0; i < hooks.length; i++) {
      let rest = (hooks[i] as ResponseHook).end?.();
      if (rest === undefined || rest.length === 0) continue;
      for (let k = i + 1; k < hooks.length; k++) {
        const later = hooks[k] as ResponseHook;
        if (later.data !== undefined) rest = later.data(rest);
      }
      if (rest.length > 0) {
        bytesOut += rest.length;
        out.write(rest);
      }
    }
    // A hook that withheld bytes and has no trailers to say so in: cut, never a clean end.
    for (const hook of hooks) {
      const reason = hook.cutReason?.();
      if (reason === undefined) continue;
      res.destroy();
      finish('cut_off', new SluiceError('upstream_error', 502, reason));
      return;
    }
    if (trailers !== undefined) out.addTrailers(trailers);
    res.end();
    finish('complete');
  };

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (finished) c.abort(new Error('client closed the connection'));
    },
    onResponseStart(c, statusCode, headers, statusMessage) {
      if (statusCode < 200) {
        // 1xx: Node answers Expect itself; others are not relayed. undici restarts its headers
        // timeout at each one, so an upstream sending 102 Processing every few seconds never got
        // its 504 (an attacker's review): from the first, the final answer has this long.
        interimDeadline ??= setTimeout(() => {
          c.abort(new SluiceError('upstream_timeout', 504, `upstream ${ex.host} sent only interim (1xx) responses for ${ex.runtime.config.upstream.headersTimeoutMs / 1000} s`));
        }, ex.runtime.config.upstream.headersTimeoutMs);
        return;
      }
      clearTimeout(interimDeadline);
      status = statusCode;
      ttfbMs = performance.now() - dispatchedAt;
      ex.runtime.services.metrics.upstreamLatency.observe(ttfbMs / 1000);
      const headersOut = responseHeadersForClient(headers);
      if (hooks.length > 0) {
        if (hooks.some((h) => h.needsPlaintext)) {
          const encoding = headersOut['content-encoding'];
          if (encoding !== undefined && req.method === 'HEAD') {
            // The length of a body the agent would get decoded, and that would tell how well a
            // real value compressed beside its guess (BREACH): neither is passed on.
            delete headersOut['content-encoding'];
            delete headersOut['content-length'];
          } else if (encoding !== undefined) {
            decoder = createResponseDecoder(String(encoding));
            if (decoder === undefined) {
              const refusal = new SluiceError('upstream_error', 502, `cannot inspect a response with content-encoding ${String(encoding)}`);
              c.abort(refusal);
              return;
            }
            delete headersOut['content-encoding'];
            delete headersOut['content-length'];
            decoder.on('data', (d: Buffer) => deliver(d, () => decoder?.pause(), () => decoder?.resume()));
            decoder.once('end', complete);
            decoder.once('error', (err: Error) => {
              res.destroy(err);
              finish('cut_off', new SluiceError('upstream_error', 502, `the response body could not be decoded: ${err.message}`));
            });
          }
        }
        for (const hook of hooks) hook.start?.(statusCode, headersOut);
      }
      let reason = statusMessage;
      if (reason) for (const hook of hooks) if (hook.reason !== undefined) reason = hook.reason(reason);
      const stream = (res as http2.Http2ServerResponse).stream as http2.ServerHttp2Stream | undefined;
      if (stream !== undefined && headersOut['grpc-status'] !== undefined) {
        // gRPC's trailers-only response (a call that fails before any message) is one HEADERS
        // frame with END_STREAM; headers followed by an empty body read as "no status".
        trailersOnly = true;
        stream.respond({ ...headersOut, ':status': statusCode }, { endStream: true });
        // Complete now: ending the stream may close `res` before undici's onResponseEnd, which
        // would otherwise log a finished call as client_aborted (a review).
        finish('complete');
        return;
      }
      if (req.httpVersionMajor === 1 && reason) out.writeHead(statusCode, reason, headersOut as http.OutgoingHttpHeaders);
      else out.writeHead(statusCode, headersOut as http.OutgoingHttpHeaders);
    },
    onResponseData(c, chunk) {
      noteRelayed(chunk.length);
      if (decoder !== undefined) {
        if (!decoder.write(chunk)) {
          c.pause();
          decoder.once('drain', () => c.resume());
        }
        return;
      }
      if (hooks.length === 0) {
        bytesOut += chunk.length;
        if (!out.write(chunk)) {
          c.pause();
          res.once('drain', () => c.resume());
        }
        return;
      }
      deliver(chunk, () => c.pause(), () => c.resume());
    },
    onResponseEnd(c, received) {
      const relayed = responseHeadersForClient(upstreamTrailers(c, received));
      if (Object.keys(relayed).length > 0) {
        for (const hook of hooks) hook.trailers?.(relayed);
        trailers = relayed;
      }
      if (decoder !== undefined) decoder.end();
      else complete();
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
      decoder?.destroy();
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
      body,
      // Redirects are passed to the agent, never followed (undici's default without interceptors).
    },
    handler,
  );
}
