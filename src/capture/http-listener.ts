// :15080 — captured plain HTTP. The destination is the Host header; the same request path as TLS.
import type http from 'node:http';
import nodeHttp from '../runtime/node-http.ts';
import type http2 from 'node:http2';
import type net from 'node:net';
import type { ConnectionInfo } from '../pipeline/exchange.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { createRequestHandler, type RequestHandlerOptions } from './request-handler.ts';
import { createUpgradeHandler } from './upgrade-handler.ts';
import { createConnectRefusal } from './connect-refusal.ts';
import { nextConnectionId } from './connection-id.ts';
import { applyClientLimits } from './client-limits.ts';
import { guardFirstRequest, requestStarted } from './idle-guard.ts';
import { handleClientError } from './client-error.ts';
import { answerInOrderThenLinger } from './lingering-close.ts';
import { countConnection } from './connection-count.ts';
import { EMPTY_REQUEST_FAST_PATH } from './empty-request-fast-path.ts';

const kConnection = Symbol('sluice.connection');
type WithConnection = { [kConnection]?: ConnectionInfo };

export interface HttpCaptureOptions {
  current: () => Runtime;
  inflight: RequestHandlerOptions['inflight'];
  upstreamPort: number;
}

export function createHttpCapture(options: HttpCaptureOptions): http.Server {
  const limits = options.current().config.client;
  const server = nodeHttp.createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: 1_000,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: 0,
    // sluice checks Host itself (request-target.ts) so that the refusal is logged.
    requireHostHeader: false,
    ...EMPTY_REQUEST_FAST_PATH,
  });
  applyClientLimits(server, limits);
  server.on('connection', (socket: net.Socket) => {
    countConnection(socket, options.current().services.metrics, 'http');
    (socket as WithConnection)[kConnection] = {
      id: nextConnectionId(),
      listener: 'http',
      sni: undefined,
      host: undefined,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      upstreamPort: options.upstreamPort,
    };
    guardFirstRequest(socket, limits.headersTimeoutMs);
  });
  const connectionOf = (req: http.IncomingMessage | http2.Http2ServerRequest): ConnectionInfo => {
    const socket = (req as http.IncomingMessage).socket;
    const info = (socket as WithConnection)[kConnection];
    if (info === undefined) throw new Error('request on a connection sluice did not accept');
    requestStarted(socket);
    return info;
  };
  server.on('request', createRequestHandler({ current: options.current, inflight: options.inflight, connectionOf }));
  server.on('upgrade', createUpgradeHandler({ current: options.current, connectionOf }));
  server.on('connect', createConnectRefusal({ current: options.current, connectionOf }));
  server.on('clientError', answerInOrderThenLinger((err, socket) => handleClientError(err, socket, options.current(), 'http')));
  return server;
}
