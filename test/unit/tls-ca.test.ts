import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaError, loadCa, loadOrCreateCa } from '../../src/tls/ca.ts';
import { buildTrustBundle, readSystemRoots, writeTrustBundle } from '../../src/tls/trust-bundle.ts';

const run = promisify(execFile);
const openssl = (...args: string[]) => run('openssl', args, { timeout: 10_000 });

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-ca-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function caError(promise: Promise<unknown>): Promise<CaError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CaError);
  return err as CaError;
}

describe('creating the CA', () => {
  it('creates a missing folder with ca.crt 0644 and ca.key 0600, whatever the umask', async () => {
    const dir = join(root, 'new', 'nested', 'certs');
    const previous = process.umask(0o077);
    let created: boolean;
    try {
      ({ created } = await loadOrCreateCa(dir));
    } finally {
      process.umask(previous);
    }
    expect(created).toBe(true);
    expect((await stat(join(dir, 'ca.crt'))).mode & 0o777).toBe(0o644);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'ca.key']); // no temp files left
  });

  it('is a strict-valid ECDSA P-256 root: CA:TRUE pathlen 0 and keyCertSign, both critical, with SKI', async () => {
    const dir = join(root, 'strict');
    const { ca } = await loadOrCreateCa(dir);
    const certPath = join(dir, 'ca.crt');
    // A self-signed cert verifies against itself only if it is a well-formed trust anchor.
    await expect(openssl('verify', '-x509_strict', '-CAfile', certPath, certPath)).resolves.toMatchObject({ stdout: `${certPath}: OK\n` });
    const text = (await openssl('x509', '-in', certPath, '-noout', '-text')).stdout;
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Subject Key Identifier/);
    expect(text).toMatch(/NIST CURVE: P-256/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(ca.keyType).toBe('ecdsa');
    expect(ca.subject).toMatch(/^O=sluice, CN=sluice CA [0-9a-f]{8}$/);
    const years = (ca.notAfter.getTime() - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
    expect(ca.notBefore.getTime()).toBeLessThan(Date.now() - 55 * 60_000);
    const parsed = new x509.X509Certificate(ca.certPem);
    expect(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(ca.keyIdHex);
    const serial = Buffer.from(parsed.serialNumber, 'hex');
    expect(serial.length).toBe(16);
    expect(serial[0]! & 0x80).toBe(0);
  });

  it('gives each deployment its own CA', async () => {
    const a = (await loadOrCreateCa(join(root, 'dep-a'))).ca;
    const b = (await loadOrCreateCa(join(root, 'dep-b'))).ca;
    expect(a.subject).not.toBe(b.subject);
    expect(a.fingerprint256).not.toBe(b.fingerprint256);
    expect(new X509Certificate(a.certPem).publicKey.equals(new X509Certificate(b.certPem).publicKey)).toBe(false);
  });

  it('concurrent first starts end with one CA that every caller uses', async () => {
    const dir = join(root, 'race');
    const results = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateCa(dir)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.ca.fingerprint256)).size).toBe(1);
    expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'ca.key']);
  });
});

describe('loading the CA', () => {
  it('reloads an existing CA unchanged, without rewriting it', async () => {
    const dir = join(root, 'reload');
    const first = await loadOrCreateCa(dir);
    const before = await readFile(join(dir, 'ca.key'), 'utf8');
    const again = await loadOrCreateCa(dir);
    const shown = await loadCa(dir);
    expect(again.created).toBe(false);
    expect(again.ca.certPem).toBe(first.ca.certPem);
    expect(shown.ca.certPem).toBe(first.ca.certPem);
    expect(await readFile(join(dir, 'ca.key'), 'utf8')).toBe(before);
    expect(again.warnings).toEqual([]);
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const dir = join(root, 'mismatch');
    const other = join(root, 'mismatch-other');
    await loadOrCreateCa(dir);
    await loadOrCreateCa(other);
    await copyFile(join(other, 'ca.key'), join(dir, 'ca.key'));
    expect((await caError(loadOrCreateCa(dir))).code).toBe('ca_key_mismatch');
    expect((await caError(loadCa(dir))).message).toMatch(/is not the private key of .*ca\.crt/);
  });

  it('refuses half a CA instead of generating a new key over it', async () => {
    const dir = join(root, 'half');
    await loadOrCreateCa(dir);
    await rm(join(dir, 'ca.crt'));
    const err = await caError(loadOrCreateCa(dir));
    expect(err.code).toBe('ca_incomplete');
    expect(err.message).toContain('ca.crt is missing');
    expect(await readdir(dir)).toEqual(['ca.key']);
  });

  it('loadCa never creates: a missing CA says to run `sluice ca init`', async () => {
    const dir = join(root, 'absent');
    const err = await caError(loadCa(dir));
    expect(err.code).toBe('ca_missing');
    expect(err.message).toContain('sluice ca init');
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('warns when ca.key is readable by others', async () => {
    const dir = join(root, 'loose');
    await loadOrCreateCa(dir);
    await chmod(join(dir, 'ca.key'), 0o644);
    const { warnings } = await loadCa(dir);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/readable by group or others .*chmod 600/);
  });

  it('refuses a certificate that is not a CA', async () => {
    const dir = join(root, 'notca');
    await mkdir(dir);
    await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'),
      '-out', join(dir, 'ca.crt'), '-subj', '/CN=server', '-days', '30', '-addext', 'basicConstraints=critical,CA:FALSE');
    expect((await caError(loadCa(dir))).code).toBe('ca_invalid');
  });

  it('refuses a CA whose key usage forbids signing certificates', async () => {
    const dir = join(root, 'nosign');
    await mkdir(dir);
    await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'),
      '-out', join(dir, 'ca.crt'), '-subj', '/CN=crl only', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,cRLSign');
    const err = await caError(loadCa(dir));
    expect(err.code).toBe('ca_invalid');
    expect(err.message).toContain('is not a CA certificate');
  });

  it('refuses garbage in ca.crt with a clear error', async () => {
    const dir = join(root, 'garbage');
    await loadOrCreateCa(dir);
    await writeFile(join(dir, 'ca.crt'), 'not a certificate\n');
    const err = await caError(loadCa(dir));
    expect(err.code).toBe('ca_invalid');
    expect(err.message).toContain('is not a PEM certificate');
  });

  it('loads an operator-supplied RSA CA', async () => {
    const dir = join(root, 'rsa-ca');
    await mkdir(dir);
    await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'),
      '-subj', '/CN=Operator CA', '-days', '365', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const { ca } = await loadCa(dir);
    expect(ca.keyType).toBe('rsa');
    expect(ca.subject).toBe('CN=Operator CA');
  });
});

describe('trust bundle', () => {
  let caPem: string;
  let leafDir: string;
  beforeAll(async () => {
    leafDir = join(root, 'bundle');
    caPem = (await loadOrCreateCa(leafDir)).ca.certPem;
  });

  it('holds every system root plus the sluice CA', async () => {
    const roots = await readSystemRoots();
    expect(roots.count).toBeGreaterThan(50);
    const bundle = await buildTrustBundle(caPem);
    const blocks = bundle.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(blocks).toHaveLength(roots.count + 1);
    expect(bundle.startsWith(roots.pem)).toBe(true);
    expect(bundle).toContain(new X509Certificate(caPem).toString().trim());
    expect(bundle).toMatch(/# sluice CA: O=sluice, CN=sluice CA [0-9a-f]{8} \(SHA-256 /);
  });

  it('is written atomically with mode 0644 and openssl trusts the CA through it', async () => {
    const out = join(leafDir, 'bundle.crt');
    const previous = process.umask(0o077);
    try {
      await writeTrustBundle(caPem, out);
    } finally {
      process.umask(previous);
    }
    expect((await stat(out)).mode & 0o777).toBe(0o644);
    const caPath = join(leafDir, 'ca.crt');
    await expect(openssl('verify', '-x509_strict', '-CAfile', out, caPath)).resolves.toMatchObject({ stdout: `${caPath}: OK\n` });
    // and it still holds a public root: verify a system root against the bundle
    const someRoot = join(leafDir, 'root.pem');
    await writeFile(someRoot, tls.rootCertificates[0]!);
    await expect(openssl('verify', '-CAfile', out, someRoot)).resolves.toMatchObject({ stdout: `${someRoot}: OK\n` });
    expect((await readdir(leafDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('does not add the CA twice when the system bundle already has it', async () => {
    const system = join(leafDir, 'system-with-ca.pem');
    await writeFile(system, `${tls.rootCertificates[0]}\n${caPem}`);
    const bundle = await buildTrustBundle(caPem, [system]);
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
  });

  it("falls back to Node's bundled roots when no system bundle exists", async () => {
    const roots = await readSystemRoots([join(leafDir, 'nope.crt')]);
    expect(roots.source).toBe('node:tls');
    expect(roots.count).toBe(tls.rootCertificates.length);
    const bundle = await buildTrustBundle(caPem, [join(leafDir, 'nope.crt')]);
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(tls.rootCertificates.length + 1);
  });
});
