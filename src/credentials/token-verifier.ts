// Checks a minted token's signature with the mint key in ca_dir. `sluice mint` may create the
// key after sluice started, so a missing key is looked for again, at most every MINT_KEY_RETRY_MS
// (a request must not cost a file system call). Caveats are checked by the step (token-check.ts).

import { verifyTokenSignature, type ParsedToken } from './macaroon.ts';
import { readMintKey } from './mint-key.ts';

/** How often a missing mint key is looked for again. */
const MINT_KEY_RETRY_MS = 2_000;

/** True or false for the signature; 'no_key' while sluice has no mint key. */
export type TokenVerifier = (token: ParsedToken) => boolean | 'no_key';

export function createTokenVerifier(caDir: string, now: () => number = Date.now): TokenVerifier {
  let mintKey = readMintKey(caDir);
  let checkedAt = now();
  return (token) => {
    if (mintKey === undefined && now() - checkedAt >= MINT_KEY_RETRY_MS) {
      checkedAt = now();
      mintKey = readMintKey(caDir);
    }
    if (mintKey === undefined) return 'no_key';
    return verifyTokenSignature(mintKey, token);
  };
}
