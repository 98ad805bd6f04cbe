// The AWS places that do not need SigV4 itself: the access key id a request claims to be signed
// with (Authorization: AWS4-… Credential=KEYID/…, or the X-Amz-Credential query parameter of
// a presigned URL), and the agent's own X-Amz-Security-Token, which is never forwarded.
// Verifying the surrogate signature and re-signing is the sigv4 step's job (it runs after this
// one and finds the credential in ex.credential); what was dropped is kept for it here.

import type { Exchange } from '../../pipeline/exchange.ts';
import { headerText, isSigV4Authorization } from './places.ts';
import { decodePercent } from '../../http/percent-decode.ts';

export interface SigV4KeyId {
  where: string;
  keyId: string;
}

const CREDENTIAL_FIELD = /(?:^|[\s,])Credential=([^/,\s]*)/;

function queryPairs(path: string): { base: string; pairs: string[] } | undefined {
  const q = path.indexOf('?');
  return q < 0 ? undefined : { base: path.slice(0, q), pairs: path.slice(q + 1).split('&') };
}

function pairName(pair: string): string {
  const eq = pair.indexOf('=');
  return decodePercent(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
}

/** The access key ids a SigV4 request names (header and/or presigned query). */
export function sigV4KeyIds(ex: Exchange): SigV4KeyId[] {
  const found: SigV4KeyId[] = [];
  const auth = headerText(ex.headers.authorization);
  if (auth !== undefined && isSigV4Authorization(auth)) {
    found.push({ where: 'header authorization (SigV4 Credential)', keyId: CREDENTIAL_FIELD.exec(auth)?.[1] ?? '' });
  }
  const query = queryPairs(ex.path);
  for (const pair of query?.pairs ?? []) {
    if (pairName(pair) !== 'x-amz-credential') continue;
    const eq = pair.indexOf('=');
    const value = eq < 0 ? '' : decodePercent(pair.slice(eq + 1));
    found.push({ where: 'query parameter X-Amz-Credential', keyId: value.split('/')[0] ?? '' });
  }
  return found;
}

/** What the agent sent as its session token, kept for the sigv4 step (it may be in SignedHeaders). */
export interface DroppedSecurityToken {
  header: string | undefined;
  query: string | undefined;
}

const dropped = new WeakMap<Exchange, DroppedSecurityToken>();

/** The agent's X-Amz-Security-Token that credentials removed from this exchange, if any. */
export function droppedSecurityToken(ex: Exchange): DroppedSecurityToken | undefined {
  return dropped.get(ex);
}

/** Removes X-Amz-Security-Token (header and query) from the request; true if there was one. */
export function dropSecurityToken(ex: Exchange): boolean {
  const header = headerText(ex.headers['x-amz-security-token']);
  let query: string | undefined;
  const parsed = queryPairs(ex.path);
  if (parsed !== undefined) {
    const kept = parsed.pairs.filter((pair) => {
      if (pairName(pair) !== 'x-amz-security-token') return true;
      query = pair.slice(pair.indexOf('=') + 1);
      return false;
    });
    if (query !== undefined) ex.path = kept.length === 0 ? parsed.base : `${parsed.base}?${kept.join('&')}`;
  }
  if (header === undefined && query === undefined) return false;
  delete ex.headers['x-amz-security-token'];
  dropped.set(ex, { header, query });
  return true;
}
