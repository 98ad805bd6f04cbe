// Which key exchange group the agent's TLS leg uses (src/capture/tls-listener.ts,
// AGENT_KEY_EXCHANGE_GROUPS): a classical one where the agent offers it, the hybrid
// X25519MLKEM768 only for an agent that offers nothing else. Node 24 (OpenSSL 3.5) offers the
// hybrid first, so these clients are the agents that matter; curl and Python (OpenSSL 3.0 here)
// connect in tls-clients.test.ts and the e2e suites.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';

let t: TestSluice;

beforeAll(async () => {
  t = await startTestSluice(`
[[allow]]
host = "api.example.test"
`);
});

afterAll(async () => {
  await t?.stop();
});

interface Handshake {
  group?: string;
  version?: string | null;
  error?: string;
}

/** A handshake with sluice's TLS listener as `options` configure the client. */
function handshake(options: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: t.sluice.ports.https,
      servername: 'api.example.test',
      ca: readFileSync(t.caCert),
      ALPNProtocols: ['http/1.1'],
      ...options,
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
    socket.once('secureConnect', () => {
      // Node names ECDH and hybrid groups; finite-field ones only by type and size.
      const info = socket.getEphemeralKeyInfo() as { type?: string; name?: string; size?: number };
      resolve({ group: info.name ?? `${info.type}-${info.size}`, version: socket.getProtocol() });
      socket.destroy();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

describe('the agent-facing key exchange', () => {
  it('is X25519 for a client whose defaults put the hybrid X25519MLKEM768 first', async () => {
    // The premise: this Node's own default is the hybrid (a server with defaults picks it).
    expect(tls.DEFAULT_ECDH_CURVE).toBe('auto');
    expect(await handshake({})).toEqual({ group: 'X25519', version: 'TLSv1.3' });
  });

  it('is the hybrid for a client that offers nothing else', async () => {
    expect(await handshake({ ecdhCurve: 'X25519MLKEM768' })).toEqual({ group: 'X25519MLKEM768', version: 'TLSv1.3' });
  });

  it('follows a client that offers only NIST curves', async () => {
    expect(await handshake({ ecdhCurve: 'P-256' })).toEqual({ group: 'prime256v1', version: 'TLSv1.3' });
    expect(await handshake({ ecdhCurve: 'P-384' })).toEqual({ group: 'secp384r1', version: 'TLSv1.3' });
  });

  it('is X25519 over TLS 1.2 too', async () => {
    expect(await handshake({ maxVersion: 'TLSv1.2' })).toEqual({ group: 'X25519', version: 'TLSv1.2' });
  });

  it('still serves a client offering only X448', async () => {
    expect(await handshake({ ecdhCurve: 'X448' })).toEqual({ group: 'X448', version: 'TLSv1.3' });
  });

  it('still serves a client offering only finite-field groups', async () => {
    expect(await handshake({ ecdhCurve: 'ffdhe2048' })).toEqual({ group: 'DH-2048', version: 'TLSv1.3' });
  });
});
