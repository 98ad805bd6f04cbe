// Minting one leaf certificate for one server name. All leaves of a process share one key pair
// (as mitmproxy does), so a new name costs one CA signature, never a key generation; the
// certificate is assembled from DER pieces (see der.ts for why not @peculiar/x509).
//
// Every field is chosen for the strictest verifiers we target: Go crypto/tls, OpenSSL 3 with
// X509_V_FLAG_X509_STRICT (also Python 3.13's default), Node, curl.
//   - SAN dNSName = the name: modern clients ignore the CN entirely.
//   - CN = the name only when it fits ub-common-name (64); otherwise the subject is empty and
//     the SAN is critical, as RFC 5280 §4.2.1.6 requires.
//   - basicConstraints CA:FALSE and keyUsage are critical; extKeyUsage serverAuth;
//     SKI present, and AKI = the CA's SKI (OpenSSL strict and Python 3.13 reject a leaf without
//     AKI). The issuer is the CA's subject byte for byte (Go compares raw names).
//   - serial: 16 random bytes, positive; validity backdated 1 h for clock skew, 30 days, never
//     beyond the CA's notAfter (and far below the 397-day ceiling some clients enforce).

import { generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { CLOCK_SKEW_MS, CaError, randomSerial } from './ca.ts';
import { keyIdentifierOfSpki } from './der-read.ts';
import type { CertificateAuthority } from './ca.ts';
import { isDnsName } from '../names/host.ts';
import {
  bitString, booleanTrue, contextTag, namedBitString, objectIdentifier, octetString, sequence, set, time, unsignedInteger,
  utf8String,
} from './der.ts';

export type LeafKeyType = 'ecdsa' | 'rsa';

export const LEAF_VALIDITY_MS = 30 * 24 * 60 * 60 * 1000;
const MAX_COMMON_NAME = 64;

/** The key pair every leaf of one issuer certifies. */
export interface LeafKey {
  type: LeafKeyType;
  /** PKCS#8 PEM, for tls.createSecureContext. */
  privateKeyPem: string;
  /** DER SubjectPublicKeyInfo, written into each leaf. */
  spki: Buffer;
  /** Subject key identifier (hex) of the key, the same in every leaf. */
  keyIdHex: string;
}

export interface MintedLeaf {
  name: string;
  certPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** ECDSA P-256, or RSA-2048 for clients that cannot do ECDSA. */
export async function generateLeafKey(type: LeafKeyType): Promise<LeafKey> {
  const pair = type === 'ecdsa'
    ? await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' })
    : await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  return {
    type,
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spki,
    keyIdHex: keyIdentifierOfSpki(spki),
  };
}

const OID = {
  commonName: objectIdentifier('2.5.4.3'),
  subjectKeyIdentifier: objectIdentifier('2.5.29.14'),
  keyUsage: objectIdentifier('2.5.29.15'),
  subjectAltName: objectIdentifier('2.5.29.17'),
  basicConstraints: objectIdentifier('2.5.29.19'),
  authorityKeyIdentifier: objectIdentifier('2.5.29.35'),
  extKeyUsage: objectIdentifier('2.5.29.37'),
  serverAuth: objectIdentifier('1.3.6.1.5.5.7.3.1'),
};
const KEY_USAGE_BIT = { digitalSignature: 0, keyEncipherment: 2 };
const VERSION_3 = contextTag(0, true, unsignedInteger(Buffer.from([2])));

function extension(oid: Buffer, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid, booleanTrue(), octetString(value)) : sequence(oid, octetString(value));
}

/** Extensions that are the same in every leaf of one CA and key, encoded once. */
const fixedExtensionsCache = new WeakMap<LeafKey, Map<string, Buffer>>();
function fixedExtensions(ca: CertificateAuthority, key: LeafKey): Buffer {
  let byCa = fixedExtensionsCache.get(key);
  if (!byCa) fixedExtensionsCache.set(key, (byCa = new Map()));
  let der = byCa.get(ca.keyIdHex);
  if (!der) {
    // RSA key exchange (TLS 1.2 RSA ciphers) needs keyEncipherment; ECDSA only ever signs.
    const usage = key.type === 'rsa' ? [KEY_USAGE_BIT.digitalSignature, KEY_USAGE_BIT.keyEncipherment] : [KEY_USAGE_BIT.digitalSignature];
    der = Buffer.concat([
      extension(OID.basicConstraints, true, sequence()), // cA defaults to FALSE: DER omits it
      extension(OID.keyUsage, true, namedBitString(usage)),
      extension(OID.extKeyUsage, false, sequence(OID.serverAuth)),
      extension(OID.subjectKeyIdentifier, false, octetString(Buffer.from(key.keyIdHex, 'hex'))),
      extension(OID.authorityKeyIdentifier, false, sequence(contextTag(0, false, Buffer.from(ca.keyIdHex, 'hex')))),
    ]);
    byCa.set(ca.keyIdHex, der);
  }
  return der;
}

/**
 * Mints a leaf for `name` signed by `ca`, valid from now − 1 h for 30 days (capped by the CA).
 * Async so that signing may move off the event loop later without changing callers.
 */
export async function mintLeafCertificate(ca: CertificateAuthority, key: LeafKey, name: string, now: Date = new Date()): Promise<MintedLeaf> {
  // A lower-case DNS name in normal form, never an IP literal (SNI never carries addresses,
  // RFC 6066 §3) nor a wildcard.
  if (!isDnsName(name)) throw new TypeError(`cannot mint a certificate for ${JSON.stringify(name)}: not a lower-case DNS name`);
  // Whole seconds: DER times carry no fractions, and the returned dates must match the cert's.
  const notBefore = wholeSeconds(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = wholeSeconds(Math.min(now.getTime() + LEAF_VALIDITY_MS, ca.notAfter.getTime()));
  if (notAfter.getTime() <= now.getTime()) {
    throw new CaError('ca_expired', `the CA in ${ca.certPath} expired on ${ca.notAfter.toISOString()}`);
  }
  const fitsCommonName = name.length <= MAX_COMMON_NAME;
  const subject = fitsCommonName ? sequence(set(sequence(OID.commonName, utf8String(name)))) : sequence();
  const san = extension(OID.subjectAltName, !fitsCommonName, sequence(contextTag(2, false, Buffer.from(name, 'ascii'))));
  const tbs = sequence(
    VERSION_3,
    unsignedInteger(randomSerial()),
    ca.signature.algorithmDer,
    ca.subjectDer,
    sequence(time(notBefore), time(notAfter)),
    subject,
    key.spki,
    contextTag(3, true, sequence(fixedExtensions(ca, key), san)),
  );
  // ECDSA signatures come out as DER Ecdsa-Sig-Value and RSA ones as PKCS#1 v1.5: both what
  // X.509 expects.
  const signature = sign(ca.signature.hash, tbs, ca.privateKey);
  const der = sequence(tbs, ca.signature.algorithmDer, bitString(signature));
  return { name, certPem: toPem(der), notBefore, notAfter };
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}
