// Signs a rebuilt canonical request and checks the client's signature against it: SigV4 with
// @smithy/signature-v4 (HMAC, compared in constant time), SigV4A with the derived ECDSA key
// (sigv4a.ts). Verifying with the SURROGATE secret proves two things at once: the agent holds
// the surrogate, and sluice rebuilt exactly what it signed (so a re-signed request will verify
// upstream too).
import { SluiceError } from '../errors/codes.ts';
import { smithySigner } from './smithy.ts';
import { Sha256, sameSignature, sha256Hex } from './crypto.ts';
import { HMAC_ALGORITHM, scopeString, type CredentialScope, type SigV4Algorithm, type SigV4Auth } from './parse.ts';
import { renderCanonicalRequest, type CanonicalParts } from './canonical.ts';
import { sigV4aKeys, signSigV4a, verifySigV4a } from './sigv4a.ts';

export function stringToSign(amzDate: string, scope: CredentialScope, canonicalRequest: string, algorithm: SigV4Algorithm = HMAC_ALGORITHM): string {
  return `${algorithm}\n${amzDate}\n${scopeString(scope)}\n${sha256Hex(canonicalRequest)}`;
}

/** The scope's day as a Date, which is all the signer takes from it (for the signing key). */
export function scopeDay(scope: CredentialScope): Date {
  const d = scope.date;
  return new Date(Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8))));
}

/** The SigV4 (HMAC) signature of a canonical request under `secretAccessKey`, for the scope and date given. */
export async function requestSignature(canonicalRequest: string, amzDate: string, scope: CredentialScope, secretAccessKey: string): Promise<string> {
  const { SignatureV4 } = await smithySigner();
  const signer = new SignatureV4({
    service: scope.service,
    region: scope.region ?? '',
    // The key id is not part of a SigV4 signature; the signer only insists on one.
    credentials: { accessKeyId: 'sluice', secretAccessKey },
    sha256: Sha256,
  });
  return signer.sign(stringToSign(amzDate, scope, canonicalRequest), { signingDate: scopeDay(scope) });
}

/** Signs a canonical request the way `auth` was signed (SigV4 or SigV4A), with another key pair. */
export async function signLike(auth: SigV4Auth, canonicalRequest: string, keys: { accessKeyId: string; secretAccessKey: string }): Promise<string> {
  if (auth.algorithm === HMAC_ALGORITHM) return requestSignature(canonicalRequest, auth.amzDate, auth.scope, keys.secretAccessKey);
  return signSigV4a(sigV4aKeys(keys.accessKeyId, keys.secretAccessKey), stringToSign(auth.amzDate, auth.scope, canonicalRequest, auth.algorithm));
}

/** Whether `auth.signature` signs this canonical request under the key pair (SigV4A needs the key id). */
export async function signatureMatches(auth: SigV4Auth, canonicalRequest: string, keys: { accessKeyId: string; secretAccessKey: string }): Promise<boolean> {
  if (auth.algorithm === HMAC_ALGORITHM) {
    return sameSignature(await requestSignature(canonicalRequest, auth.amzDate, auth.scope, keys.secretAccessKey), auth.signature);
  }
  return verifySigV4a(sigV4aKeys(keys.accessKeyId, keys.secretAccessKey), stringToSign(auth.amzDate, auth.scope, canonicalRequest, auth.algorithm), auth.signature);
}

/**
 * The candidate the client signed with the surrogate pair, or a 403 bad_surrogate_signature.
 * Every candidate costs one signature check; there are at most a handful.
 */
export async function verifySurrogateSignature(
  candidates: readonly CanonicalParts[],
  auth: SigV4Auth,
  surrogate: { accessKeyId: string; secretAccessKey: string },
  credentialName: string,
): Promise<CanonicalParts | SluiceError> {
  for (const candidate of candidates) {
    if (await signatureMatches(auth, renderCanonicalRequest(candidate), surrogate)) return candidate;
  }
  const where = auth.location === 'header' ? 'Authorization header' : 'presigned URL';
  return new SluiceError(
    'bad_surrogate_signature', 403,
    `the ${auth.algorithm === HMAC_ALGORITHM ? 'SigV4' : 'SigV4A'} signature in the ${where} does not verify with the surrogate secret of credential "${credentialName}"`,
  );
}
