// Real clients against a real TLS server whose SNICallback asks the leaf issuer, for both leaf
// key types: OpenSSL 3 (strict), curl, Python's ssl (with Python 3.13's strict default flag),
// Node. Go is not installed here; its rules (SAN required, CN ignored, serial positive) are
// covered by what the strict OpenSSL run checks.

import { execFile } from 'node:child_process';
import type { ExecFileException } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCa } from '../../src/tls/ca.ts';
import type { CertificateAuthority } from '../../src/tls/ca.ts';
import { createLeafIssuer } from '../../src/tls/leaf-cache.ts';
import type { LeafIssuer } from '../../src/tls/leaf-cache.ts';
import type { LeafKeyType } from '../../src/tls/leaf.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('tls-clients', ['openssl', 'curl', 'python3']);

const NAME = 'api.example.com';
const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a client to completion (bounded), never throwing: tests assert on the exit code. */
function client(cmd: string, args: string[], input?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    // No proxy variables: the clients must go straight to the loopback server.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
    const child = execFile(cmd, args, { timeout: 15_000, env }, (err: ExecFileException | null, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

const PYTHON_CLIENT = `
import socket, ssl, sys
cafile, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT   # Python 3.13's default
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=name) as s:
        s.sendall(b"GET / HTTP/1.1\\r\\nHost: " + name.encode() + b"\\r\\n\\r\\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(s.version() + " " + data.decode().split("\\r\\n\\r\\n", 1)[1])
`;

interface Server {
  port: number;
  close(): Promise<void>;
}

/** A TLS server answering one HTTP response per connection; `fixedName` ignores the SNI. */
async function startServer(issuer: LeafIssuer, fixedName?: string): Promise<Server> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({
    ALPNProtocols: ['http/1.1'],
    SNICallback: (servername, cb) => {
      issuer.secureContextFor(fixedName ?? servername, true).then((ctx) => cb(null, ctx), (err: Error) => cb(err));
    },
  });
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', () => socket.end(RESPONSE));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

let root: string;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-tls-clients-'));
  ca = (await loadOrCreateCa(join(root, 'ca'))).ca;
  otherCa = (await loadOrCreateCa(join(root, 'other-ca'))).ca;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe.skipIf(skip).each(['ecdsa', 'rsa'] as const)('%s leaf', (keyType: LeafKeyType) => {
  let issuer: LeafIssuer;
  let server: Server;
  let wrongNameServer: Server;

  beforeAll(async () => {
    issuer = createLeafIssuer(ca, { keyType, cacheSize: 100 });
    server = await startServer(issuer);
    // Always presents the leaf for NAME, whatever the client asked for.
    wrongNameServer = await startServer(issuer, NAME);
  });
  afterAll(async () => {
    await server?.close();
    await wrongNameServer?.close();
  });

  function sClient(port: number, name: string, caFile: string, ...extra: string[]): Promise<Outcome> {
    return client('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', name, '-verify_hostname', name,
      '-x509_strict', '-verify_return_error', '-CAfile', caFile, ...extra], '');
  }

  it.each([['TLS 1.3', '-tls1_3'], ['TLS 1.2', '-tls1_2']])('openssl s_client -x509_strict verifies it over %s', async (_v, flag) => {
    const out = await sClient(server.port, NAME, ca.certPath, flag);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('Verify return code: 0 (ok)');
    expect(out.stdout).toMatch(keyType === 'ecdsa' ? /Peer signature type: ECDSA/ : /Peer signature type: RSA/);
    // leaf only on the wire: the client completes the chain from its trusted CA
    expect(out.stdout).toMatch(/Certificate chain\n 0 s:CN = api.example.com\n.*\n.*\n.*\n---/);
  });

  it('curl verifies it with --cacert', async () => {
    const out = await client('curl', ['-sS', '--fail', '--noproxy', '*', '--cacert', ca.certPath, '--resolve', `${NAME}:${server.port}:127.0.0.1`,
      `https://${NAME}:${server.port}/`]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe('ok\n');
  });

  it('Python ssl (default context + VERIFY_X509_STRICT) verifies it', async () => {
    const out = await client('python3', ['-c', PYTHON_CLIENT, ca.certPath, String(server.port), NAME]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe('TLSv1.3 ok\n');
  });

  it('Node tls.connect verifies it with ca and negotiates ALPN through the SNI context', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: NAME, ca: ca.certPem, ALPNProtocols: ['h2', 'http/1.1'] });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      expect(socket.authorized).toBe(true);
      expect(socket.alpnProtocol).toBe('http/1.1');
      const cert = socket.getPeerX509Certificate()!;
      expect(cert.subjectAltName).toBe(`DNS:${NAME}`);
      expect(cert.publicKey.asymmetricKeyType).toBe(keyType === 'ecdsa' ? 'ec' : 'rsa');
      expect(cert.checkIssued(new (await import('node:crypto')).X509Certificate(ca.certPem))).toBe(true);
    } finally {
      socket.destroy();
    }
  });

  describe('a leaf for the wrong name fails every client', () => {
    const asked = 'other.example.com';
    it('openssl', async () => {
      const out = await sClient(wrongNameServer.port, asked, ca.certPath);
      expect(out.code).not.toBe(0);
      expect(out.stdout + out.stderr).toMatch(/hostname mismatch/);
    });
    it('curl', async () => {
      const out = await client('curl', ['-sS', '--fail', '--noproxy', '*', '--cacert', ca.certPath, '--resolve', `${asked}:${wrongNameServer.port}:127.0.0.1`,
        `https://${asked}:${wrongNameServer.port}/`]);
      expect(out.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
      expect(out.stderr).toMatch(/does not match target host name|no alternative certificate subject name matches/);
    });
    it('python', async () => {
      const out = await client('python3', ['-c', PYTHON_CLIENT, ca.certPath, String(wrongNameServer.port), asked]);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toMatch(/CERTIFICATE_VERIFY_FAILED.*Hostname mismatch/);
    });
    it('node', async () => {
      const socket = tls.connect({ host: '127.0.0.1', port: wrongNameServer.port, servername: asked, ca: ca.certPem });
      const err = await new Promise<Error & { code?: string }>((resolve, reject) => {
        socket.once('secureConnect', () => reject(new Error('connected with a leaf for the wrong name')));
        socket.once('error', resolve);
      }).finally(() => socket.destroy());
      expect(err.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    });
  });

  describe("a client trusting another deployment's CA refuses it", () => {
    it('openssl', async () => {
      const out = await sClient(server.port, NAME, otherCa.certPath);
      expect(out.code).not.toBe(0);
      expect(out.stdout + out.stderr).toMatch(/unable to get local issuer certificate/);
    });
    it('curl with the system roots only', async () => {
      const out = await client('curl', ['-sS', '--fail', '--noproxy', '*', '--resolve', `${NAME}:${server.port}:127.0.0.1`, `https://${NAME}:${server.port}/`]);
      expect(out.code).toBe(60);
    });
    it('node', async () => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: NAME, ca: otherCa.certPem });
      const err = await new Promise<Error & { code?: string }>((resolve, reject) => {
        socket.once('secureConnect', () => reject(new Error('connected without trusting the CA')));
        socket.once('error', resolve);
      }).finally(() => socket.destroy());
      expect(err.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE'); // Node's code for an unknown issuer of a lone leaf
    });
  });

  it('minted each name once for all those handshakes', () => {
    // NAME and other.example.com (the wrong-name server maps every SNI to NAME): one mint.
    expect(issuer.stats()).toEqual({ minted: 1, cached: 1 });
  });
});
