// Which roots verify upstream servers (src/tls/upstream-roots.ts): the system's bundle file
// where OpenSSL's locations are the defaults, Node's reading of the system store (each root
// once) where an operator set SSL_CERT_FILE or SSL_CERT_DIR or there is no bundle file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { upstreamRoots } from '../../src/tls/upstream-roots.ts';
import { SYSTEM_BUNDLE_PATHS, readSystemBundleFile } from '../../src/tls/trust-bundle.ts';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

const NO_OPENSSL_VARS: NodeJS.ProcessEnv = {};
const squash = (pem: string): string => pem.replace(/\s+/g, '');
const blocks = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

let trusted: TestPki;
let other: TestPki;
let dir: string;
let bundle: string;

beforeAll(async () => {
  [trusted, other] = await Promise.all([createTestPki(), createTestPki()]);
  dir = makeTempDir('roots');
  bundle = join(dir, 'bundle.crt');
  writeFileSync(bundle, readFileSync(trusted.caCert, 'utf8'));
});

/** Whether a client trusting exactly `pems` completes a handshake with a server of `pki`. */
async function verifies(pems: string[], pki: TestPki): Promise<boolean> {
  const leaf = await pki.issue(['upstream.test']);
  const server = https.createServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key) }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const secureContext = tls.createSecureContext({ ca: pems });
    return await new Promise<boolean>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'upstream.test', secureContext });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  } finally {
    server.close();
  }
}

describe('upstream roots', () => {
  it('are the bundle file where OpenSSL\'s locations are the defaults: its CA verifies, another does not', async () => {
    const roots = upstreamRoots(NO_OPENSSL_VARS, [join(dir, 'missing.crt'), bundle]);
    expect(roots.source).toBe(bundle);
    expect(await verifies(roots.pems, trusted)).toBe(true);
    expect(await verifies(roots.pems, other)).toBe(false);
  });

  it('keep every good certificate of a file with a damaged one before it (one entry per certificate)', async () => {
    const damaged = join(dir, 'damaged.crt');
    const good = readFileSync(trusted.caCert, 'utf8');
    // Base64, but not a certificate: OpenSSL fails on it where it would stop reading a whole string.
    writeFileSync(damaged, `-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n${good}`);
    const roots = upstreamRoots(NO_OPENSSL_VARS, [damaged]);
    expect(roots.pems).toHaveLength(2);
    expect(await verifies(roots.pems, trusted)).toBe(true);
  });

  it('skip a certificate whose BEGIN line is commented out, as OpenSSL does', async () => {
    const commented = join(dir, 'commented.crt');
    const [first, ...rest] = readFileSync(trusted.caCert, 'utf8').split('\n');
    writeFileSync(commented, `${readFileSync(other.caCert, 'utf8')}# ${first}\n${rest.join('\n')}`);
    const roots = upstreamRoots(NO_OPENSSL_VARS, [commented]);
    expect(roots.pems).toHaveLength(1);
    expect(await verifies(roots.pems, other)).toBe(true);
    expect(await verifies(roots.pems, trusted)).toBe(false);
  });

  it('pass over a readable file without a certificate, and CRLF files read the same', () => {
    const empty = join(dir, 'empty.crt');
    const crlf = join(dir, 'crlf.crt');
    writeFileSync(empty, '# no certificates here\n');
    writeFileSync(crlf, readFileSync(trusted.caCert, 'utf8').replaceAll('\n', '\r\n'));
    expect(upstreamRoots(NO_OPENSSL_VARS, [empty, crlf]).source).toBe(crlf);
    expect(upstreamRoots(NO_OPENSSL_VARS, [empty, crlf]).pems).toHaveLength(1);
  });

  it('are Node\'s reading of the system store, each root once, when SSL_CERT_FILE or SSL_CERT_DIR is set', () => {
    const system = tls.getCACertificates('system');
    for (const env of [{ SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt' }, { SSL_CERT_DIR: '/etc/ssl/certs' }]) {
      const roots = upstreamRoots(env, [bundle]);
      expect(roots.source).toBe('system store');
      expect(new Set(roots.pems).size).toBe(roots.pems.length);
      expect(new Set(roots.pems)).toEqual(new Set(system));
    }
  });

  it('fall back to the system store without a bundle file', () => {
    const roots = upstreamRoots(NO_OPENSSL_VARS, [join(dir, 'missing.crt')]);
    expect(['system store', 'node:tls']).toContain(roots.source);
    expect(roots.pems.length).toBeGreaterThan(0);
    expect(new Set(roots.pems).size).toBe(roots.pems.length);
  });

  it('on this machine, the bundle file holds the same roots as the system store Node reads', () => {
    const file = readSystemBundleFile(SYSTEM_BUNDLE_PATHS);
    // CI and the image are Debian with ca-certificates: the premise of reading the file.
    expect(file, 'no system bundle file: install ca-certificates').toBeDefined();
    const fromFile = new Set(blocks(file?.pem ?? '').map(squash));
    const fromNode = new Set(tls.getCACertificates('system').map(squash));
    expect(fromFile.size).toBeGreaterThan(100);
    expect(fromFile).toEqual(fromNode);
    expect(upstreamRoots(NO_OPENSSL_VARS).source).toBe(file?.source);
  });
});
