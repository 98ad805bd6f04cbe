import { afterEach, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createTestPki } from '../helpers/pki.ts';
import { unpoolAlpnCopies } from '../../src/capture/unpooled-alpn.ts';

describe('unpoolAlpnCopies', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  it('keeps the negotiation and gives each connection its own small ALPN copy', async () => {
    const pki = await createTestPki();
    const leaf = await pki.issue(['alpn.test']);
    const server = http2.createSecureServer({ allowHTTP1: true, cert: await readFile(leaf.cert), key: await readFile(leaf.key) }, (_req, res) => res.end('ok'));
    expect(unpoolAlpnCopies(server)).toBe(true);
    const seen: tls.TLSSocket[] = [];
    server.on('secureConnection', (s: tls.TLSSocket) => seen.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const negotiate = (protocols: string[]): Promise<string | false | null> => new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'alpn.test', rejectUnauthorized: false, ALPNProtocols: protocols }, () => {
        resolve(s.alpnProtocol);
        closers.push(() => s.destroy());
      });
      s.on('error', reject);
    });
    expect(await negotiate(['h2', 'http/1.1'])).toBe('h2');
    expect(await negotiate(['http/1.1'])).toBe('http/1.1');
    expect(await negotiate(['http/1.1', 'h2'])).toBe('h2'); // the server's preference, as before
    // The server side finishes its handshake just after the client's (TLS 1.3).
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen.length).toBe(3);
    // Node's private copy (TLSSocket._tlsOptions): no longer a slice of the 64 KiB Buffer pool.
    for (const s of seen) {
      const copy = (s as unknown as { _tlsOptions: { ALPNProtocols: Uint8Array } })._tlsOptions.ALPNProtocols;
      expect(Buffer.from(copy).toString('latin1')).toBe('\x02h2\x08http/1.1');
      expect(copy.buffer.byteLength).toBe(copy.byteLength);
    }
  });
});
