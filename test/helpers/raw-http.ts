// Raw HTTP/1.1 over a TLS or TCP socket, for requests that a real client would normalise away
// (two Host headers, CL+TE, bad chunking, slowloris, half-close): the bytes sent are exactly
// the bytes written, and the response is parsed just enough to know when it is complete.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export class RawConnection {
  readonly socket: net.Socket;
  readonly openedAt = performance.now();
  /** performance.now() when the peer ended or the socket closed; undefined while open. */
  closedAt: number | undefined;
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    const closed = (): void => {
      this.closedAt ??= performance.now();
      this.wake();
    };
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', closed);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private changed(deadline: number): Promise<boolean> {
    const left = deadline - performance.now();
    if (left <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), left);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Bytes received and not yet consumed by response(). */
  get pending(): Buffer {
    return this.buffer;
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Half-close: FIN (after close_notify on TLS); the socket stays readable. */
  end(): void {
    this.socket.end();
  }

  /** The next complete response, or throws (with what arrived) if none completes in time. */
  async response(timeoutMs = 10_000): Promise<RawResponse> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const parsed = parseResponse(this.buffer, this.closed);
      if (parsed !== undefined) {
        this.buffer = this.buffer.subarray(parsed.used);
        return parsed.response;
      }
      if (this.closed) throw new Error(`connection closed before a complete response; received ${JSON.stringify(this.buffer.toString('latin1').slice(0, 300))}`);
      if (!(await this.changed(deadline))) throw new Error(`no complete response within ${timeoutMs} ms; received ${JSON.stringify(this.buffer.toString('latin1').slice(0, 300))}`);
    }
  }

  /** Waits until the peer closes; the ms from `since` (default: opening) or undefined if still open at the deadline. */
  async waitClosed(timeoutMs: number, since = this.openedAt): Promise<number | undefined> {
    const deadline = performance.now() + timeoutMs;
    while (!this.closed) {
      if (!(await this.changed(deadline))) break;
    }
    return this.closedAt === undefined ? undefined : this.closedAt - since;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Parses one response at the start of buf; undefined if it is not complete yet. */
function parseResponse(buf: Buffer, closed: boolean): { response: RawResponse; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const start = end + 4;
  if (status < 200 && status >= 100) {
    // Interim response (100 Continue): skip it.
    const rest = parseResponse(buf.subarray(start), closed);
    return rest === undefined ? undefined : { response: rest.response, used: start + rest.used };
  }
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const chunks: Buffer[] = [];
    let at = start;
    while (true) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        const trailerEnd = buf.indexOf('\r\n\r\n', lineEnd);
        if (trailerEnd < 0) return undefined;
        return { response: { status, headers, body: Buffer.concat(chunks) }, used: trailerEnd + 4 };
      }
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      chunks.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    if (buf.length < start + n) return undefined;
    return { response: { status, headers, body: buf.subarray(start, start + n) }, used: start + n };
  }
  // Neither: the body runs to the close.
  if (!closed) return undefined;
  return { response: { status, headers, body: buf.subarray(start) }, used: buf.length };
}

/** A TLS connection to sluice's TLS port with the given SNI, trusting only sluice's CA. */
export function openTls(port: number, servername: string, caFile: string, alpn: string[] = ['http/1.1']): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    // The TCP socket is made first so that it allows half-open (our FIN, their data).
    const tcp = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    tcp.once('error', reject);
    const socket = tls.connect({ socket: tcp, servername, ca: readFileSync(caFile), ALPNProtocols: alpn });
    socket.once('secureConnect', () => {
      socket.removeListener('error', reject);
      resolve(new RawConnection(socket));
    });
    socket.once('error', reject);
  });
}

/** A plain TCP connection (sluice's HTTP port, or its TLS port before any handshake). */
export function openTcp(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(new RawConnection(socket));
    });
    socket.once('error', reject);
  });
}

/** Joins header lines into a request head: `request('GET / HTTP/1.1', 'Host: a')`. */
export function head(...lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}
