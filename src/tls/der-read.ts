// The few fields sluice reads from an existing certificate (the CA's subject, key identifier and
// public key), with a minimal DER walker and node:crypto. Loading an existing CA is what every
// start does; @peculiar/x509 (with its ASN.1 schema, tsyringe and reflect-metadata) costs ~9 MiB
// of RSS and ~60 ms to load, so it is only imported when a CA must be generated (ca.ts).
import { createHash } from 'node:crypto';

interface Tlv {
  tag: number;
  /** Offset of the first byte of the element (its tag). */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the element. */
  end: number;
}

/** One DER element at `offset` (definite lengths only, as DER requires). */
export function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw new RangeError('DER: truncated element');
  // High tag numbers (0x1f) never occur in the certificate fields read here.
  if ((tag & 0x1f) === 0x1f) throw new RangeError('DER: multi-byte tags are not supported');
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new RangeError('DER: unsupported length');
    length = 0;
    for (let i = 0; i < count; i++) {
      const byte = der[offset + 2 + i];
      if (byte === undefined) throw new RangeError('DER: truncated length');
      length = length * 256 + byte;
    }
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new RangeError('DER: element runs past the end');
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside a constructed element. */
export function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end;) {
    const child = readTlv(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

/**
 * RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bits (without tag,
 * length and unused-bits byte), hex; what OpenSSL and @peculiar/x509 write as the key identifier.
 */
export function keyIdentifierOfSpki(spkiDer: Uint8Array): string {
  const spki = readTlv(spkiDer, 0);
  const bits = children(spkiDer, spki)[1];
  if (spki.tag !== 0x30 || bits?.tag !== 0x03) throw new RangeError('DER: not a SubjectPublicKeyInfo');
  return createHash('sha1').update(spkiDer.subarray(bits.contentStart + 1, bits.end)).digest('hex');
}

const SUBJECT_KEY_IDENTIFIER_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0e]); // 2.5.29.14

export interface CertificateFields {
  /** DER of the subject Name, byte for byte. */
  subjectDer: Buffer;
  /** DER SubjectPublicKeyInfo. */
  spkiDer: Buffer;
  /** The subjectKeyIdentifier extension's value (hex), if the certificate has one. */
  subjectKeyIdHex: string | undefined;
}

/** Reads the subject, public key and subject key identifier of a DER X.509 certificate. */
export function readCertificateFields(certDer: Uint8Array): CertificateFields {
  const cert = readTlv(certDer, 0);
  const tbs = children(certDer, cert)[0];
  if (cert.tag !== 0x30 || tbs?.tag !== 0x30) throw new RangeError('DER: not a certificate');
  const fields = children(certDer, tbs);
  // version is [0] EXPLICIT and optional (absent means v1).
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (subject?.tag !== 0x30 || spki?.tag !== 0x30) throw new RangeError('DER: not a certificate');
  let subjectKeyIdHex: string | undefined;
  const extensions = fields.slice(base + 6).find((f) => f.tag === 0xa3);
  if (extensions !== undefined) {
    const list = children(certDer, extensions)[0];
    for (const ext of list === undefined ? [] : children(certDer, list)) {
      const parts = children(certDer, ext);
      const oid = parts[0];
      const value = parts[parts.length - 1]; // [oid, critical?, extnValue]
      if (oid === undefined || value?.tag !== 0x04) continue;
      if (!Buffer.from(certDer.subarray(oid.start, oid.end)).equals(SUBJECT_KEY_IDENTIFIER_OID)) continue;
      const keyId = readTlv(certDer, value.contentStart); // SubjectKeyIdentifier ::= OCTET STRING
      if (keyId.tag === 0x04) subjectKeyIdHex = Buffer.from(certDer.subarray(keyId.contentStart, keyId.end)).toString('hex');
    }
  }
  return {
    subjectDer: Buffer.from(certDer.subarray(subject.start, subject.end)),
    spkiDer: Buffer.from(certDer.subarray(spki.start, spki.end)),
    subjectKeyIdHex,
  };
}
