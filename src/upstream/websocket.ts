// WebSocket upgrades (e.g. realtime LLM APIs). sluice performs the upstream handshake itself
// rather than piping raw bytes (http-proxy-3 did, until a review found that an upstream could
// echo a swapped key back through the 101's headers, a refusal's body or the frames after it):
// every byte from the upstream passes the exchange's response hooks, the same ones a plain
// response passes. The connection dials only an address that passed the private-address check
// (the agents' lookup is sluice's checked resolver) and verifies the upstream certificate.
import type http from 'node:http';
import nodeHttp from '../runtime/node-http.ts';
import https from 'node:https';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { LookupFunction } from 'node:net';
import type { Config } from '../config/types.ts';
import type { HeaderMap } from '../http/header-map.ts';
import type { PayloadFilter, ResponseHeaders, ResponseHook } from '../pipeline/body.ts';
import type { CheckedResolver } from './resolve.ts';
import { createResponseDecoder } from './response-decoder.ts';
import { createFrameRewriter } from './websocket-rewrite.ts';
import { createFrameGuard } from './websocket-limits.ts';
import { encodeFrame, FrameError, OPCODE } from './websocket-frames.ts';
import { randomBytes } from 'node:crypto';
import { SluiceError } from '../errors/codes.ts';

export interface UpgradeResult {
  /** 101 when the upstream switched protocols, its status when it refused, 0 on failure. */
  status: number;
  error: Error | undefined;
}

/**
 * What the forwarder reads of an exchange (an Exchange is one). Spelled out here because the
 * runtime holds the forwarder: naming the pipeline's Exchange would make runtime and pipeline
 * import each other.
 */
export interface WebSocketRequest {
  readonly conn: { readonly listener: 'tls' | 'http'; readonly upstreamPort: number };
  readonly host: string;
  readonly authority: string;
  readonly path: string;
  readonly headers: HeaderMap;
  readonly rule: { readonly private?: boolean } | undefined;
  readonly response: readonly ResponseHook[];
  readonly runtime: { readonly config: Pick<Config, 'websocket'> };
}

export interface WebSocketForwarder {
  forward(ex: WebSocketRequest, req: http.IncomingMessage, socket: Duplex, head: Buffer, done: (result: UpgradeResult) => void): void;
  close(): void;
}

function checkedLookup(resolver: CheckedResolver, allowPrivate: boolean): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolver.resolve(hostname, allowPrivate).then(
      (resolved) => {
        const list = resolved.addresses.map((a) => ({ address: a.address, family: a.family }));
        if (options.all === true) callback(null, list);
        else callback(null, list[0]?.address, list[0]?.family);
      },
      (err: Error) => callback(err),
    );
  }) as LookupFunction;
}

/** Hop-by-hop and framing headers that sluice sets itself on the relayed answer. */
const OWN_HEADERS = new Set(['connection', 'upgrade', 'transfer-encoding', 'content-length', 'keep-alive']);

function headBlock(statusLine: string, headers: ResponseHeaders, extra: string[]): string {
  const lines = [statusLine];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || OWN_HEADERS.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v.replace(/[\r\n]/g, ' ')}`);
  }
  lines.push(...extra);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Several rewriting hooks chain like the response hooks: each one's output feeds the next. */
function chainFilters(hooks: readonly ResponseHook[]): PayloadFilter {
  const filters = hooks.map((h) => (h.message as NonNullable<ResponseHook['message']>)());
  const through = (data: Buffer, from: number): Buffer => filters.slice(from).reduce((d, f) => f.push(d), data);
  return {
    push: (chunk) => through(chunk, 0),
    end: () => Buffer.concat(filters.map((f, i) => through(f.end(), i + 1))),
  };
}

/** A close frame's payload: the code, then a UTF-8 reason (at most 123 bytes). */
function closePayload(code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const out = Buffer.alloc(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}

function copyHeaders(headers: http.IncomingHttpHeaders): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const [k, v] of Object.entries(headers)) out[k] = v;
  return out;
}

const CRLF = Buffer.from('\r\n');

/** A refusal from the upstream (any status but 101): scrubbed head and body, then close. */
function relayRefusal(res: http.IncomingMessage, socket: Duplex, hooks: readonly ResponseHook[]): void {
  const status = res.statusCode ?? 502;
  const headers = copyHeaders(res.headers);
  let body: NodeJS.ReadableStream = res;
  if (hooks.some((h) => h.needsPlaintext) && headers['content-encoding'] !== undefined) {
    const decoder = createResponseDecoder(String(headers['content-encoding']));
    if (decoder === undefined) {
      res.destroy();
      socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    delete headers['content-encoding'];
    decoder.on('error', () => socket.destroy());
    body = res.pipe(decoder);
  }
  // The body's length may change under the scrub: it is sent chunked, so that a body cut short
  // (by the upstream, or by a hook that withheld bytes) lacks its last chunk and reads as cut.
  delete headers['content-length'];
  for (const hook of hooks) hook.start?.(status, headers);
  let reason = res.statusMessage ?? '';
  for (const hook of hooks) if (hook.reason !== undefined) reason = hook.reason(reason);
  // 204 and 304 have no body, so no chunks either.
  const bodiless = status === 204 || status === 304;
  socket.write(headBlock(`HTTP/1.1 ${status} ${reason.replace(/[\r\n]/g, ' ')}`.trimEnd(), headers, bodiless ? ['connection: close'] : ['connection: close', 'transfer-encoding: chunked']));
  if (bodiless) {
    res.resume();
    socket.end();
    return;
  }
  const pass = (chunk: Buffer): Buffer => {
    let data = chunk;
    for (const hook of hooks) if (hook.data !== undefined) data = hook.data(data);
    return data;
  };
  const writeChunk = (data: Buffer): boolean => socket.write(Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, CRLF]));
  body.on('data', (chunk: Buffer) => {
    const data = pass(chunk);
    if (data.length > 0 && !writeChunk(data)) {
      res.pause();
      socket.once('drain', () => res.resume());
    }
  });
  body.on('end', () => {
    for (let i = 0; i < hooks.length; i++) {
      let rest = (hooks[i] as ResponseHook).end?.();
      for (let k = i + 1; k < hooks.length && rest !== undefined; k++) {
        const later = hooks[k] as ResponseHook;
        if (later.data !== undefined) rest = later.data(rest);
      }
      if (rest !== undefined && rest.length > 0) writeChunk(rest);
    }
    // A hook that withheld bytes (forward.ts does the same): cut, without the last chunk.
    if (hooks.some((h) => h.cutReason?.() !== undefined)) socket.destroy();
    else socket.end('0\r\n\r\n');
  });
  res.on('error', () => socket.destroy());
}

export function createWebSocketForwarder(resolver: CheckedResolver, trust: tls.SecureContext, connectTimeoutMs: number): WebSocketForwarder {
  const agents = new Map<string, http.Agent>();
  const open = new Set<Duplex>();
  const agentFor = (secure: boolean, allowPrivate: boolean): http.Agent => {
    const key = `${secure}:${allowPrivate}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      const lookup = checkedLookup(resolver, allowPrivate);
      agent = secure
        ? new https.Agent({ keepAlive: false, lookup, secureContext: trust, timeout: connectTimeoutMs })
        : new nodeHttp.Agent({ keepAlive: false, lookup, timeout: connectTimeoutMs });
      agents.set(key, agent);
    }
    return agent;
  };

  return {
    forward(ex, req, socket, head, done) {
      const secure = ex.conn.listener === 'tls';
      const hooks = ex.response;
      const rewrite = hooks.filter((h) => h.message !== undefined);
      // What the steps decided is what goes upstream: their headers, plus the upgrade itself.
      const headers: http.OutgoingHttpHeaders = { ...ex.headers, host: ex.authority, connection: 'Upgrade', upgrade: String(req.headers.upgrade ?? 'websocket') };
      // Frames that must be rewritten cannot be compressed: offer no extension upstream.
      if (rewrite.length > 0) delete headers['sec-websocket-extensions'];
      let reported = false;
      const report = (status: number, error: Error | undefined): void => {
        if (reported) return;
        reported = true;
        done({ status, error });
      };
      const upstreamReq = (secure ? https : nodeHttp).request({
        host: ex.host,
        port: ex.conn.upstreamPort,
        servername: secure ? ex.host : undefined,
        method: req.method,
        path: ex.path,
        headers,
        agent: agentFor(secure, ex.rule?.private === true),
        timeout: connectTimeoutMs,
      });
      socket.once('close', () => {
        upstreamReq.destroy();
        report(0, new Error('the client closed before the upstream answered'));
      });
      upstreamReq.once('timeout', () => upstreamReq.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
      upstreamReq.once('error', (err) => report(0, err));
      upstreamReq.once('response', (res) => {
        report(res.statusCode ?? 0, undefined);
        relayRefusal(res, socket, hooks);
      });
      upstreamReq.once('upgrade', (res, upstream: Duplex, upstreamHead: Buffer) => {
        upstreamReq.setTimeout(0);
        const answer = copyHeaders(res.headers);
        if (rewrite.length > 0 && answer['sec-websocket-extensions'] !== undefined) {
          // The server chose an extension that was not offered: its frames cannot be read.
          upstream.destroy();
          socket.destroy();
          report(0, new SluiceError('upstream_error', 502, 'the upstream negotiated a WebSocket extension that was not offered'));
          return;
        }
        for (const hook of hooks) hook.start?.(101, answer);
        socket.write(headBlock('HTTP/1.1 101 Switching Protocols', answer, ['connection: Upgrade', `upgrade: ${String(res.headers.upgrade ?? 'websocket')}`]));
        report(101, undefined);
        open.add(socket);
        socket.once('close', () => {
          open.delete(socket);
          upstream.destroy();
        });
        upstream.once('close', () => socket.destroy());
        upstream.on('error', () => socket.destroy());

        // Both directions pass a guard (frame and message limits); any frame resets the idle timer.
        const settings = ex.runtime.config.websocket;
        const idle = setTimeout(() => closeBoth(1001, 'sluice: idle timeout'), settings.idleTimeoutMs);
        idle.unref();
        const touch = (): void => {
          idle.refresh();
        };
        const fromClient = createFrameGuard(settings, touch);
        const fromUpstream = createFrameGuard(settings, touch);
        const rewriter = rewrite.length === 0 ? undefined : createFrameRewriter(() => chainFilters(rewrite));
        let closing = false;
        /** Ends both sides with a close frame where the stream is at a frame boundary, else a cut. */
        const closeBoth = (code: number, reason: string): void => {
          if (closing) return;
          closing = true;
          clearTimeout(idle);
          const payload = closePayload(code, reason);
          socket.unpipe();
          upstream.unpipe();
          // To the agent as a server would send it; upstream as a client must (masked).
          if (fromUpstream.atFrameBoundary) (rewriter ?? socket).end(encodeFrame(true, OPCODE.close, payload));
          else socket.destroy();
          if (fromClient.atFrameBoundary) upstream.end(encodeFrame(true, OPCODE.close, payload, randomBytes(4)));
          else upstream.destroy();
          setTimeout(() => {
            socket.destroy();
            upstream.destroy();
          }, 1_000).unref();
        };
        const onLimit = (err: Error): void => closeBoth(err instanceof FrameError ? err.closeCode : 1002, `sluice: ${err.message}`.slice(0, 120));
        fromClient.on('error', onLimit);
        fromUpstream.on('error', onLimit);
        socket.once('close', () => clearTimeout(idle));

        if (head.length > 0) fromClient.write(head);
        socket.pipe(fromClient).pipe(upstream);
        if (rewriter === undefined) {
          if (upstreamHead.length > 0) fromUpstream.write(upstreamHead);
          upstream.pipe(fromUpstream).pipe(socket);
          return;
        }
        rewriter.on('error', () => {
          upstream.destroy();
          socket.destroy();
        });
        if (upstreamHead.length > 0) fromUpstream.write(upstreamHead);
        upstream.pipe(fromUpstream).pipe(rewriter).pipe(socket);
      });
      upstreamReq.end();
    },
    close() {
      for (const s of open) s.destroy();
      for (const agent of agents.values()) agent.destroy();
    },
  };
}
