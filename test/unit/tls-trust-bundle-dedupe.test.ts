// The trust bundle recognises sluice's CA in the system store by its DER, not its PEM layout.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCa } from '../../src/tls/ca.ts';
import { buildTrustBundle } from '../../src/tls/trust-bundle.ts';

let dir: string;
let caPem: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-bundle-'));
  caPem = (await loadOrCreateCa(join(dir, 'certs'))).ca.certPem;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The same certificate, re-wrapped at another line width with CRLF line ends. */
function rewrap(pem: string, width: number): string {
  const body = new X509Certificate(pem).raw.toString('base64');
  const lines = body.match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
  return `-----BEGIN CERTIFICATE-----\r\n${lines.join('\r\n')}\r\n-----END CERTIFICATE-----\r\n`;
}

describe('buildTrustBundle', () => {
  it('does not add the CA when the system store holds it in another PEM layout', async () => {
    const system = join(dir, 'system-rewrapped.pem');
    await writeFile(system, `${tls.rootCertificates[0]}\n${rewrap(caPem, 76)}`);
    const bundle = await buildTrustBundle(caPem, [system]);
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    expect(bundle).not.toContain('# sluice CA');
  });

  it('adds the CA when the system store holds only other certificates', async () => {
    const system = join(dir, 'system-other.pem');
    await writeFile(system, `${tls.rootCertificates[0]}\n${tls.rootCertificates[1]}\n`);
    const bundle = await buildTrustBundle(caPem, [system]);
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(3);
    expect(bundle).toContain('# sluice CA');
  });
});
