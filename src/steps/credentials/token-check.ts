// A minted token presented in a credential place: parse, check the signature with the mint key,
// then the caveats against this request. Bad or unverifiable → 401, expired or not yet valid →
// 401, a caveat that does not hold → 403; each with a one-line reason that names the
// credential and the place, never the token.

import { SluiceError } from '../../errors/codes.ts';
import type { Credential } from '../../config/types.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import { checkCaveats, parseToken } from '../../credentials/macaroon.ts';

/** The credential the token stands for (one of `usable`), or the refusal. */
export function checkToken(ex: Exchange, token: string, where: string, usable: readonly Credential[]): Credential | SluiceError {
  const parsed = parseToken(token);
  if (parsed === undefined) return new SluiceError('token_invalid', 401, `malformed minted token in ${where}`);
  const credential = usable.find((c) => c.name === parsed.credential);
  if (credential === undefined) {
    return new SluiceError('token_invalid', 401, `minted token for credential "${parsed.credential}" is not usable in ${where} on ${ex.host}`);
  }
  const verified = ex.runtime.credentials.verifyToken(parsed);
  if (verified === 'no_key') {
    return new SluiceError('token_invalid', 401, `minted token for credential "${credential.name}" in ${where}: sluice has no mint key (run \`sluice mint\` once)`);
  }
  if (!verified) return new SluiceError('token_invalid', 401, `minted token for credential "${credential.name}" in ${where} has a bad signature`);
  const q = ex.path.indexOf('?');
  const verdict = checkCaveats(parsed, { host: ex.host, method: ex.method, path: q < 0 ? ex.path : ex.path.slice(0, q) }, Date.now());
  if (!verdict.ok) {
    const reason = verdict.status === 401 ? 'token_expired' : 'token_caveat';
    return new SluiceError(reason, verdict.status, `minted token for credential "${credential.name}" in ${where} refused: ${verdict.why}`);
  }
  return credential;
}
