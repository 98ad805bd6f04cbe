// SigV4A (AWS4-ECDSA-P256-SHA256): the canonical request is SigV4's, the scope drops the
// region (the signed x-amz-region-set header names them), and the signature is ECDSA P-256
// over sha256(string to sign), DER, hex. The key pair is derived from the access key id and
// secret (NIST SP 800-108 counter-mode KDF with HMAC-SHA256, as AWS's SDKs do), so sluice can
// verify the agent's signature with the surrogate pair and sign with the real one.
// ECDSA signatures vary in length, so signed aws-chunked bodies under SigV4A are not supported.
import { createHmac, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const ECDSA_ALGORITHM = 'AWS4-ECDSA-P256-SHA256';

/** The order of P-256, less two: derived scalars above it are rejected and the counter moves on. */
const N_MINUS_2 = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254f');
/** SEC1 ECPrivateKey DER around a 32-byte scalar: version 1, key, [0] prime256v1. */
const SEC1_PREFIX = Buffer.from('30310201010420', 'hex');
const SEC1_SUFFIX = Buffer.from('a00a06082a8648ce3d030107', 'hex');

export interface SigV4aKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** The private scalar for (accessKeyId, secretAccessKey), 32 bytes big-endian. */
export function deriveSigV4aScalar(accessKeyId: string, secretAccessKey: string): Buffer {
  const inputKey = Buffer.from(`AWS4A${secretAccessKey}`, 'utf8');
  for (let counter = 1; counter < 255; counter++) {
    const fixed = Buffer.concat([
      Buffer.from([0, 0, 0, 1]), Buffer.from(ECDSA_ALGORITHM, 'utf8'), Buffer.from([0]),
      Buffer.from(accessKeyId, 'utf8'), Buffer.from([counter]), Buffer.from([0, 0, 1, 0]),
    ]);
    const k0 = createHmac('sha256', inputKey).update(fixed).digest();
    const c = BigInt(`0x${k0.toString('hex')}`);
    if (c > N_MINUS_2) continue;
    return Buffer.from((c + 1n).toString(16).padStart(64, '0'), 'hex');
  }
  throw new Error('SigV4A key derivation found no scalar within 254 rounds');
}

const cache = new Map<string, SigV4aKeys>();

/** The derived key pair; kept per key id and secret (a handful of credentials at most). */
export function sigV4aKeys(accessKeyId: string, secretAccessKey: string): SigV4aKeys {
  const id = createHmac('sha256', secretAccessKey).update(accessKeyId).digest('hex');
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const scalar = deriveSigV4aScalar(accessKeyId, secretAccessKey);
  const privateKey = createPrivateKey({ key: Buffer.concat([SEC1_PREFIX, scalar, SEC1_SUFFIX]), format: 'der', type: 'sec1' });
  scalar.fill(0);
  const keys = { privateKey, publicKey: createPublicKey(privateKey) };
  if (cache.size >= 64) cache.clear();
  cache.set(id, keys);
  return keys;
}

export function signSigV4a(keys: SigV4aKeys, stringToSign: string): string {
  return sign('sha256', Buffer.from(stringToSign, 'utf8'), { key: keys.privateKey, dsaEncoding: 'der' }).toString('hex');
}

export function verifySigV4a(keys: SigV4aKeys, stringToSign: string, signatureHex: string): boolean {
  if (!/^[0-9a-f]+$/.test(signatureHex) || signatureHex.length % 2 !== 0) return false;
  try {
    return verify('sha256', Buffer.from(stringToSign, 'utf8'), { key: keys.publicKey, dsaEncoding: 'der' }, Buffer.from(signatureHex, 'hex'));
  } catch {
    return false;
  }
}
