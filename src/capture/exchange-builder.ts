// Builds the Exchange for a request (or an upgrade) from what arrived, strictly.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { ConnectionInfo, Exchange } from '../pipeline/exchange.ts';
import type { Readable } from 'node:stream';
import { SluiceError } from '../errors/codes.ts';
import { readBodyCapped } from '../sigv4/buffered-body.ts';
import { readRequestTarget } from './request-target.ts';
import { requestHeadersForUpstream } from '../http/forwarded-headers.ts';
import type { Runtime } from '../runtime/runtime.ts';

export type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;

function hasRequestBody(req: AnyRequest): boolean {
  if (req.httpVersionMajor === 2) return !(req as http2.Http2ServerRequest).stream.endAfterHeaders;
  const headers = req.headers;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

export function buildExchange(req: AnyRequest, conn: ConnectionInfo, runtime: Runtime, startedAt: number): Exchange | SluiceError {
  const target = readRequestTarget(req, conn, runtime.config.client);
  if (!('host' in target)) return target;
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
    upgrade: req.httpVersionMajor === 1 && req.headers.upgrade !== undefined,
    rule: undefined,
    resolved: undefined,
    credential: undefined,
    trace: [],
    requestBody: [],
    response: [],
    bufferedBody: undefined,
    async bufferBody(maxBytes) {
      if (exchange.bufferedBody !== undefined) return exchange.bufferedBody;
      const declared = req.headers['content-length'];
      const body = await readBodyCapped(req as unknown as Readable, maxBytes, declared === undefined ? undefined : Number(declared));
      if (!(body instanceof SluiceError)) exchange.bufferedBody = body;
      return body;
    },
  };
  return exchange;
}
