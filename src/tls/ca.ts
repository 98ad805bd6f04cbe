// The certificate authority sluice mints its leaf certificates from. Each deployment generates
// its own on first start (never a shared, published CA), stored as ca.crt (0644, handed to the
// agent) and ca.key (0600, never leaves sluice).
//
// The generated CA key is ECDSA P-256: it can sign both leaf key types (a CA's key type does not
// constrain its leaves'), its signatures are cheap, and every client we target accepts it. An
// existing RSA (>= 2048 bits) or P-384 CA is loaded as well, for operators who bring their own.
// The CA certificate is assembled from DER pieces (der.ts) and signed with node:crypto, like the
// leaves (leaf.ts), and an existing one is read with der-read.ts: @peculiar/x509, which built and
// parsed it before, cost ~9 MiB of RSS and ~60 ms of CPU to load on every start (README,
// Benchmarks). Every CA is checked by `openssl verify -x509_strict` and @peculiar/x509 in tests.

import { X509Certificate as NodeX509Certificate, createPrivateKey, generateKeyPair, randomBytes, sign, webcrypto } from 'node:crypto';
import type { KeyObject, webcrypto as WebCrypto } from 'node:crypto';
import { constants } from 'node:fs';
import { access, link, lstat, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { readCertificateFields, keyIdentifierOfSpki, type CertificateFields } from './der-read.ts';
import {
  bitString, booleanTrue, contextTag, namedBitString, nullValue, objectIdentifier, octetString, sequence, set, time, unsignedInteger,
  utf8String,
} from './der.ts';
import { writeTrustBundle } from './trust-bundle.ts';
import { BUNDLE_FILE } from '../cli/env.ts';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

const CA_VALIDITY_YEARS = 10;
/** Backdating absorbs clock skew between sluice and the agent. */
export const CLOCK_SKEW_MS = 60 * 60 * 1000;

/** The WebCrypto implementation handed to @peculiar/x509 explicitly (no global provider): k8s/webhook-certs.ts. */
export const x509Crypto: WebCrypto.Crypto = webcrypto;

export type CaErrorCode = 'ca_missing' | 'ca_incomplete' | 'ca_unreadable' | 'ca_invalid' | 'ca_key_mismatch' | 'ca_expired';

/** A CA that cannot be loaded or created; `code` is stable for tests and callers. */
export class CaError extends Error {
  readonly code: CaErrorCode;
  constructor(code: CaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaError';
    this.code = code;
  }
}

export interface CertificateAuthority {
  /** The CA certificate, PEM, exactly as stored in ca.crt. */
  certPem: string;
  certPath: string;
  keyPath: string;
  keyType: 'ecdsa' | 'rsa';
  /** DER of the CA's subject: leaves copy it byte for byte as their issuer (Go compares bytes). */
  subjectDer: Buffer;
  /** The CA's subject key identifier (hex), repeated as each leaf's authority key identifier. */
  keyIdHex: string;
  subject: string;
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  /** Signs leaves. */
  privateKey: KeyObject;
  /** Digest for crypto.sign and the DER AlgorithmIdentifier leaves carry, matching the key. */
  signature: CaSignature;
}

export interface CaSignature {
  hash: 'sha256' | 'sha384';
  /** DER AlgorithmIdentifier: ecdsa-with-SHA256/384 or sha256WithRSAEncryption. */
  algorithmDer: Buffer;
}

export interface LoadedCa {
  ca: CertificateAuthority;
  /** Problems worth telling the operator about that do not stop sluice (e.g. key file mode). */
  warnings: string[];
}

/** Loads the CA in `dir`, creating it (and `dir`) if neither file exists. */
export async function loadOrCreateCa(dir: string): Promise<LoadedCa & { created: boolean }> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const [certExists, keyExists] = await Promise.all([exists(certPath), exists(keyPath)]);
  if (certExists || keyExists) return { ...(await loadCa(dir)), created: false };
  let won: boolean;
  try {
    // 0755: the key file protects itself (0600); the folder stays traversable so that an agent
    // container mounting it read-only can read ca.crt.
    await mkdir(dir, { recursive: true, mode: 0o755 });
    won = await writeNewCa(certPath, keyPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') throw err;
    // A read-only folder (a Kubernetes Secret volume, a :ro mount) is provisioned, not created.
    throw new CaError('ca_missing', `no CA in ${dir} and the folder is not writable (${code}): provide ${CA_CERT_FILE} and ${CA_KEY_FILE} there (Kubernetes: the Secret sluice-ca; \`sluice k8s bootstrap\` makes one), or make it writable so sluice creates them`, { cause: err });
  }
  // A concurrent first start that won the race may still be renaming its ca.crt into place.
  for (let i = 0; !won && i < 50 && !(await exists(certPath)); i++) await delay(100);
  return { ...(await loadCa(dir)), created: won };
}

/** Loads and checks an existing CA; never creates one. */
export async function loadCa(dir: string): Promise<LoadedCa> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const [certExists, keyExists] = await Promise.all([exists(certPath), exists(keyPath)]);
  if (!certExists && !keyExists) {
    throw new CaError('ca_missing', `no CA in ${dir} (expected ${CA_CERT_FILE} and ${CA_KEY_FILE}); run \`sluice ca init\``);
  }
  if (!certExists || !keyExists) {
    const [present, missing] = certExists ? [certPath, keyPath] : [keyPath, certPath];
    throw new CaError('ca_incomplete', `${present} exists but ${missing} is missing; restore it, or remove ${present} to generate a new CA (agents must then trust the new one)`);
  }
  const warnings: string[] = [];
  const keyMode = (await stat(keyPath)).mode & 0o777;
  // A Secret volume's files are root-owned, so sluice's uid reads ca.key only if others may;
  // the volume is mounted into sluice's container alone, which is what keeps the key private.
  if ((keyMode & 0o077) !== 0 && !(await isKubeletVolume(dir))) {
    warnings.push(`${keyPath} is readable by group or others (mode ${keyMode.toString(8).padStart(4, '0')}); run \`chmod 600 ${keyPath}\``);
  }
  const certPem = await readText(certPath);
  const keyPem = await readText(keyPath);
  const ca = await parseCa(certPem, keyPem, certPath, keyPath);
  if (ca.notAfter.getTime() <= Date.now()) {
    throw new CaError('ca_expired', `the CA in ${certPath} expired on ${ca.notAfter.toISOString()}; remove ${CA_CERT_FILE} and ${CA_KEY_FILE} to generate a new one, then redistribute ca.crt`);
  }
  return { ca, warnings };
}

async function parseCa(certPem: string, keyPem: string, certPath: string, keyPath: string): Promise<CertificateAuthority> {
  let nodeCert: NodeX509Certificate;
  let fields: CertificateFields;
  try {
    nodeCert = new NodeX509Certificate(certPem);
    fields = readCertificateFields(nodeCert.raw);
  } catch (cause) {
    throw new CaError('ca_invalid', `${certPath} is not a PEM certificate`, { cause });
  }
  // OpenSSL's CA check: basicConstraints CA:TRUE, and keyCertSign if there is a keyUsage.
  if (!nodeCert.ca) {
    throw new CaError('ca_invalid', `${certPath} is not a CA certificate (it needs basicConstraints CA:TRUE, and keyCertSign in its keyUsage)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (cause) {
    throw new CaError('ca_invalid', `${keyPath} is not a PEM private key`, { cause });
  }
  if (!nodeCert.checkPrivateKey(key)) {
    throw new CaError('ca_key_mismatch', `${keyPath} is not the private key of ${certPath}; restore the matching pair, or remove both to generate a new CA`);
  }
  const { keyType, signature } = signatureFor(key, keyPath);
  // Without an SKI extension, the key identifier is derived as OpenSSL would (RFC 5280 method 1).
  const keyIdHex = fields.subjectKeyIdHex ?? keyIdentifierOfSpki(fields.spkiDer);
  return {
    certPem, certPath, keyPath, keyType,
    subjectDer: fields.subjectDer,
    keyIdHex,
    subject: nodeCert.subject.replaceAll('\n', ', '),
    fingerprint256: nodeCert.fingerprint256,
    notBefore: nodeCert.validFromDate,
    notAfter: nodeCert.validToDate,
    privateKey: key,
    signature,
  };
}

function signatureFor(key: KeyObject, keyPath: string): { keyType: 'ecdsa' | 'rsa'; signature: CaSignature } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') {
    return { keyType: 'ecdsa', signature: { hash: 'sha256', algorithmDer: sequence(objectIdentifier('1.2.840.10045.4.3.2')) } };
  }
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'secp384r1') {
    return { keyType: 'ecdsa', signature: { hash: 'sha384', algorithmDer: sequence(objectIdentifier('1.2.840.10045.4.3.3')) } };
  }
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) {
    // PKCS#1 v1.5 (crypto.sign's default for RSA keys); parameters NULL, as RFC 4055 requires.
    return { keyType: 'rsa', signature: { hash: 'sha256', algorithmDer: sequence(objectIdentifier('1.2.840.113549.1.1.11'), nullValue()) } };
  }
  throw new CaError('ca_invalid', `${keyPath}: unsupported CA key (${key.asymmetricKeyType ?? 'unknown'} ${details.namedCurve ?? details.modulusLength ?? ''}); use ECDSA P-256/P-384 or RSA >= 2048`);
}

/**
 * Generates a fresh CA and stores it. Returns false if another process created ca.key first
 * (its CA is then used, ours discarded): the key is published with link(), which never
 * overwrites, so two concurrent first starts cannot end with a cert and key that differ.
 */
async function writeNewCa(certPath: string, keyPath: string): Promise<boolean> {
  const { certPem, keyPem } = await generateCa(new Date());
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const tmpKey = `${keyPath}.${tag}.tmp`;
  const tmpCert = `${certPath}.${tag}.tmp`;
  try {
    await writeWithMode(tmpKey, keyPem, 0o600);
    await writeWithMode(tmpCert, certPem, 0o644);
    try {
      await link(tmpKey, keyPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // Some bind mounts (Docker Desktop file sharing, some FUSE) refuse hard links:
      // an exclusive create still never overwrites, it is only not atomic.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err;
      try {
        await writeWithMode(keyPath, keyPem, 0o600);
      } catch (exclusive) {
        if ((exclusive as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw exclusive;
      }
    }
    await rename(tmpCert, certPath);
    return true;
  } finally {
    await unlink(tmpKey).catch(() => {});
    await unlink(tmpCert).catch(() => {});
  }
}

async function generateCa(now: Date): Promise<{ certPem: string; keyPem: string }> {
  const pair = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  // A random suffix makes every deployment's CA distinguishable in trust stores and logs.
  const name = sequence(
    set(sequence(objectIdentifier('2.5.4.10'), utf8String('sluice'))), // O
    set(sequence(objectIdentifier('2.5.4.3'), utf8String(`sluice CA ${randomBytes(4).toString('hex')}`))), // CN
  );
  const ecdsaWithSha256 = sequence(objectIdentifier('1.2.840.10045.4.3.2'));
  const extension = (oid: string, critical: boolean, value: Buffer): Buffer => critical
    ? sequence(objectIdentifier(oid), booleanTrue(), octetString(value))
    : sequence(objectIdentifier(oid), octetString(value));
  const tbs = sequence(
    contextTag(0, true, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(randomSerial()),
    ecdsaWithSha256,
    name, // issuer: self-signed
    sequence(time(new Date(now.getTime() - CLOCK_SKEW_MS)), time(notAfter)),
    name,
    spki,
    contextTag(3, true, sequence(
      extension('2.5.29.19', true, sequence(booleanTrue(), unsignedInteger(Buffer.from([0])))), // CA:TRUE, pathlen 0
      extension('2.5.29.15', true, namedBitString([5, 6])), // keyCertSign, cRLSign
      extension('2.5.29.14', false, octetString(Buffer.from(keyIdentifierOfSpki(spki), 'hex'))),
    )),
  );
  const der = sequence(tbs, ecdsaWithSha256, bitString(sign('sha256', tbs, pair.privateKey)));
  return {
    certPem: new NodeX509Certificate(der).toString(),
    keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

/** 16 random bytes, positive and minimally encoded (top byte 0x40..0x7f), as RFC 5280 wants. */
export function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes;
}

async function writeWithMode(path: string, text: string, mode: number): Promise<void> {
  const file = await open(path, 'wx', mode);
  try {
    await file.writeFile(text);
    await file.chmod(mode); // the umask may have narrowed or widened what open() applied
  } finally {
    await file.close();
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new CaError('ca_unreadable', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Writes the trust bundle (system roots + the CA) as ca-bundle.crt beside the CA, where agents
 * that share the folder find it. Skipped, with the reason, where sluice must write nothing: a
 * read-only folder, or one kubelet manages (a Secret volume; Kubernetes agents get the bundle
 * from the sluice-trust ConfigMap instead).
 */
export async function writeTrustBundleBesideCa(ca: CertificateAuthority, dir: string): Promise<{ path: string } | { skipped: string }> {
  if (await isKubeletVolume(dir)) return { skipped: `${dir} is a Kubernetes Secret or ConfigMap volume: no ${BUNDLE_FILE} written there (the app containers get it from the sluice-trust ConfigMap)` };
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') throw err;
    return { skipped: `${dir} is read-only (${code}): no ${BUNDLE_FILE} written there; make one for agents with \`sluice ca bundle -o FILE\`` };
  }
  const path = join(dir, BUNDLE_FILE);
  try {
    await writeTrustBundle(ca.certPem, path);
  } catch (err) {
    // access() says yes on a read-only bind mount for root; the write is the real test.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') throw err;
    return { skipped: `${dir} is read-only (${code}): no ${BUNDLE_FILE} written there; make one for agents with \`sluice ca bundle -o FILE\`` };
  }
  return { path };
}

/** kubelet's AtomicWriter layout: the files are symlinks into a `..data` symlink it swaps. */
async function isKubeletVolume(dir: string): Promise<boolean> {
  try {
    return (await lstat(join(dir, '..data'))).isSymbolicLink();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
