// Re-signs a verified request with the real credentials, changing as little as possible: the
// date, scope, payload hash and signed-header list stay as the client chose them; only the
// session token (the real one when configured, else none: the agent's own is never forwarded),
// the key id and the signature change, in Authorization or in the presigned query. SigV4A
// requests are re-signed with SigV4A (ECDSA, the key pair derived from the real credentials).
import type { HeaderMap } from '../http/header-map.ts';
import { scopeString, type SigV4Auth } from './parse.ts';
import { renderCanonicalRequest, type CanonicalParts } from './canonical.ts';
import { formatQuery, isParam, parseQuery, splitTarget, uriEncode, type QueryPair } from './query.ts';
import { signLike } from './verify.ts';

export interface RealAwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
}

/** The parts of the exchange that re-signing rewrites. */
export interface ResignTarget {
  headers: HeaderMap;
  /** Origin-form target, path and query. */
  path: string;
}

const TOKEN_HEADER = 'x-amz-security-token';

/** The signed-header list with the session token header removed, or inserted in sorted place. */
function withTokenHeader(headers: ReadonlyArray<readonly [string, string]>, token: string | undefined): Array<readonly [string, string]> {
  const out = headers.filter(([n]) => n !== TOKEN_HEADER);
  if (token === undefined) return out;
  const at = out.findIndex(([n]) => n > TOKEN_HEADER);
  out.splice(at < 0 ? out.length : at, 0, [TOKEN_HEADER, token]);
  return out;
}

/** Rewrites target for the real credentials; returns the new request signature (the new seed). */
export async function resignRequest(target: ResignTarget, auth: SigV4Auth, verified: CanonicalParts, real: RealAwsCredentials): Promise<string> {
  const scope = scopeString(auth.scope);
  if (auth.location === 'header') {
    delete target.headers[TOKEN_HEADER];
    if (real.sessionToken !== undefined) target.headers[TOKEN_HEADER] = real.sessionToken;
    const headers = withTokenHeader(verified.headers, real.sessionToken);
    const signature = await signLike(auth, renderCanonicalRequest({ ...verified, headers }), real);
    target.headers.authorization = `${auth.algorithm} Credential=${real.accessKeyId}/${scope}, SignedHeaders=${headers.map(([n]) => n).join(';')}, Signature=${signature}`;
    return signature;
  }

  // Presigned: the token travels in the query; a token header never goes upstream.
  delete target.headers[TOKEN_HEADER];
  const headers = withTokenHeader(verified.headers, undefined);
  const signedChanged = headers.length !== verified.headers.length;
  const { path, query } = splitTarget(target.path);
  const pairs: QueryPair[] = [];
  for (const p of parseQuery(query)) {
    if (isParam(p, 'X-Amz-Security-Token') || isParam(p, 'X-Amz-Signature')) continue;
    if (isParam(p, 'X-Amz-Credential')) pairs.push({ rawKey: p.rawKey, rawValue: uriEncode(`${real.accessKeyId}/${scope}`) });
    else if (signedChanged && isParam(p, 'X-Amz-SignedHeaders')) pairs.push({ rawKey: p.rawKey, rawValue: uriEncode(headers.map(([n]) => n).join(';')) });
    else pairs.push(p);
  }
  if (real.sessionToken !== undefined) pairs.push({ rawKey: 'X-Amz-Security-Token', rawValue: uriEncode(real.sessionToken) });
  const signature = await signLike(auth, renderCanonicalRequest({ ...verified, headers, queryPairs: pairs }), real);
  pairs.push({ rawKey: 'X-Amz-Signature', rawValue: signature });
  target.path = `${path}?${formatQuery(pairs)}`;
  return signature;
}
