// The world the request-boundary fuzzers run in: an in-process sluice with two allowlisted
// loopback names (fuzz.test, the SNI every fuzzed connection uses, and other.test, a second
// allowed name to front with) and one origin behind both that checks every request it receives
// against what sluice promises to forward (DESIGN.md §1 "Limits and edge rules"):
//   - exactly one Host, naming the SNI (no fronting, no smuggled second Host);
//   - no Proxy-*, Forwarded or X-Forwarded-* header;
//   - unambiguous framing: never Content-Length with Transfer-Encoding, never two Content-Lengths;
//   - bytes a strict HTTP/1.1 parser accepts (the origin's own parser refusing is a breach too).
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import { createTestPki } from '../helpers/pki.ts';
import { startDnsmasq } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { freePort } from '../helpers/ports.ts';
import { removeTempDir } from '../helpers/temp-dir.ts';
import { openTls, head } from '../helpers/raw-http.ts';

export const SNI = 'fuzz.test';
export const OTHER = 'other.test';

export interface CheckedOrigin {
  /** Requests that reached the origin so far. */
  seen(): number;
  /** Requests it answered (200) so far: each arrived whole. */
  answered(): number;
  /** Every broken promise, with the request line it came with. */
  readonly breaches: string[];
}

export interface BoundaryWorld {
  t: TestSluice;
  origin: CheckedOrigin;
  /** A well-formed GET over a fresh TLS connection: sluice must still answer it with 200. */
  control(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Not breaches: connection ends the origin sees when sluice cuts an upstream request short; and
 * a method Node's HTTP/1 parser does not know (h2 carries any token, e.g. `get`, and methods are
 * case-sensitive tokens, RFC 9110 §9.1), which sluice forwards and the origin then refuses.
 */
const NOT_BREACHES = new Set(['ECONNRESET', 'HPE_INVALID_EOF_STATE', 'EPIPE', 'HPE_INVALID_METHOD']);

export function breachesOf(req: http.IncomingMessage, sni: string): string[] {
  const names: string[] = [];
  const hosts: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    names.push(name);
    if (name === 'host') hosts.push(req.rawHeaders[i + 1] as string);
  }
  const found: string[] = [];
  if (hosts.length !== 1) found.push(`${hosts.length} Host headers`);
  else if ((hosts[0] as string).toLowerCase().replace(/:\d+$/, '') !== sni) found.push(`Host ${JSON.stringify(hosts[0])} is not the SNI ${sni}`);
  for (const name of names) {
    if (name.startsWith('proxy-') || name === 'forwarded' || name.startsWith('x-forwarded-')) found.push(`forwarded ${name}`);
  }
  if (names.includes('content-length') && names.includes('transfer-encoding')) found.push('Content-Length with Transfer-Encoding');
  if (names.filter((n) => n === 'content-length').length > 1) found.push('two Content-Lengths');
  return found;
}

export async function startBoundaryWorld(client: Record<string, number> = {}): Promise<BoundaryWorld> {
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
    stops.length = 0;
  };
  try {
    const pki = await createTestPki();
    stops.push(() => removeTempDir(pki.dir));
    const cert = await pki.issue([SNI, OTHER]);
    let seen = 0;
    let answered = 0;
    const paths = new Set<string>();
    const breaches: string[] = [];
    // Strict parser, and no Host requirement of its own: a missing Host must reach the check.
    const server = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key), requireHostHeader: false }, (req, res) => {
      seen++;
      paths.add(req.url ?? '');
      for (const b of breachesOf(req, SNI)) breaches.push(`${b} (${req.method} ${req.url})`);
      req.resume();
      req.on('end', () => {
        answered++;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
        res.end('ok\n');
      });
      req.on('error', () => {});
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      if (!NOT_BREACHES.has(err.code ?? '')) breaches.push(`the origin's parser refused what sluice sent: ${err.code ?? err.message}`);
      socket.destroy();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    stops.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const dns = await startDnsmasq({ [SNI]: ['127.0.0.1'], [OTHER]: ['127.0.0.1'] });
    stops.push(dns.stop);
    const limits = Object.entries(client).map(([k, v]) => `${k} = ${v}`).join('\n');
    const t = await startTestSluice(`
[proxy]
agent = "fuzz"
extra_upstream_ca = "${pki.caCert}"
drain_seconds = 1

[upstream]
https_port = ${port}

[client]
${limits}

[dns]
upstream = "${dns.address}"

[[allow]]
host = "${SNI}"
private = true

[[allow]]
host = "${OTHER}"
private = true
`);
    stops.push(() => removeTempDir(t.dir));
    let controls = 0;
    stops.push(() => t.stop());
    return {
      t,
      origin: { seen: () => seen, answered: () => answered, breaches },
      async control() {
        const path = `/control-${++controls}`;
        const conn = await openTls(t.sluice.ports.https, SNI, t.caCert);
        try {
          await conn.write(head(`GET ${path} HTTP/1.1`, `Host: ${SNI}`, 'Connection: close'));
          const r = await conn.response(5_000);
          if (r.status !== 200 || !paths.has(path)) throw new Error(`control request: status ${r.status}; the origin ${paths.has(path) ? 'saw' : 'did not see'} it`);
        } finally {
          conn.destroy();
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
