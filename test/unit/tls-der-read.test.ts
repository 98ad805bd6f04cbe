// der-read.ts against two independent readers: @peculiar/x509 (what ca.ts used before) and
// openssl's own text output, on certificates made by sluice and by openssl.
import { execFile } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCa, x509Crypto } from '../../src/tls/ca.ts';
import { keyIdentifierOfSpki, readCertificateFields, readTlv } from '../../src/tls/der-read.ts';

const run = promisify(execFile);
const openssl = (...args: string[]) => run('openssl', args, { timeout: 10_000 });

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-der-read-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The SKI openssl prints, as lower-case hex without colons. */
async function opensslSki(certPath: string): Promise<string | undefined> {
  const text = (await openssl('x509', '-in', certPath, '-noout', '-ext', 'subjectKeyIdentifier')).stdout;
  const m = /Subject Key Identifier: ?\n +([0-9A-F:]+)/.exec(text);
  return m?.[1]?.replaceAll(':', '').toLowerCase();
}

async function makeCert(name: string, key: string, extra: string[]): Promise<string> {
  const path = join(root, `${name}.crt`);
  await openssl('req', '-x509', '-newkey', key, '-nodes', '-keyout', join(root, `${name}.key`), '-out', path,
    '-subj', `/O=Test Org/CN=${name} CA`, '-days', '30', ...extra);
  return path;
}

describe('readCertificateFields', () => {
  it('reads the subject, public key and SKI of the CA sluice generates, as @peculiar/x509 does', async () => {
    const { ca } = await loadOrCreateCa(join(root, 'generated'));
    const raw = new X509Certificate(ca.certPem).raw;
    const fields = readCertificateFields(raw);
    const parsed = new x509.X509Certificate(raw);
    expect(fields.subjectDer.equals(Buffer.from(parsed.subjectName.toArrayBuffer()))).toBe(true);
    expect(fields.spkiDer.equals(Buffer.from(parsed.publicKey.rawData))).toBe(true);
    expect(fields.subjectKeyIdHex).toBe(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    expect(ca.keyIdHex).toBe(fields.subjectKeyIdHex);
  });

  for (const [label, key] of [['RSA', 'rsa:2048'], ['P-384', 'ec -pkeyopt ec_paramgen_curve:P-384']] as const) {
    it(`reads an openssl-made ${label} CA as openssl does`, async () => {
      const path = await makeCert(label.toLowerCase(), key.split(' ')[0] ?? '', [...key.split(' ').slice(1), '-addext', 'basicConstraints=critical,CA:TRUE']);
      const cert = new X509Certificate(await readFile(path));
      const fields = readCertificateFields(cert.raw);
      expect(fields.subjectKeyIdHex).toBe(await opensslSki(path));
      expect(fields.spkiDer.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
      // The subject DER is what openssl prints back as the subject.
      const subject = (await openssl('x509', '-in', path, '-noout', '-subject', '-nameopt', 'RFC2253')).stdout.trim();
      expect(subject).toBe(`subject=CN=${label.toLowerCase()} CA,O=Test Org`);
      expect(new x509.Name(fields.subjectDer).toString()).toBe(`O=Test Org, CN=${label.toLowerCase()} CA`);
    });
  }

  it('reports no SKI for a certificate without one; the key identifier derived is what openssl would write', async () => {
    const path = await makeCert('noski', 'ec', ['-pkeyopt', 'ec_paramgen_curve:P-256', '-addext', 'subjectKeyIdentifier=none', '-addext', 'authorityKeyIdentifier=none']);
    expect(await opensslSki(path)).toBeUndefined();
    const cert = new X509Certificate(await readFile(path));
    const fields = readCertificateFields(cert.raw);
    expect(fields.subjectKeyIdHex).toBeUndefined();
    // openssl's default SKI ("hash") for the same key.
    const withSki = await makeCert('withski', 'ec', ['-key', join(root, 'noski.key')]);
    expect(keyIdentifierOfSpki(fields.spkiDer)).toBe(await opensslSki(withSki));
  });

  it('refuses what is not a certificate', () => {
    expect(() => readCertificateFields(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(RangeError);
    expect(() => readCertificateFields(Buffer.from([0x30, 0x82, 0x01]))).toThrow(RangeError);
    expect(() => readTlv(Buffer.from([0x04, 0x05, 0x00]), 0)).toThrow(/past the end/);
  });
});

describe('keyIdentifierOfSpki', () => {
  it('matches @peculiar/x509 for RSA and ECDSA keys', async () => {
    for (const pair of [generateKeyPairSync('rsa', { modulusLength: 2048 }), generateKeyPairSync('ec', { namedCurve: 'P-256' })]) {
      const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
      const expected = (await x509.SubjectKeyIdentifierExtension.create(spki, false, x509Crypto)).keyId;
      expect(keyIdentifierOfSpki(spki)).toBe(expected);
    }
  });
});
