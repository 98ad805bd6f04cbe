// Request bodies, streamed: a watch for real secrets (any host) and for surrogates sent where
// they do not belong, then, on a credential's own hosts with `body = true`, the swap of its
// surrogate (OAuth token endpoints take client_secret in a form body). Both work across chunk
// boundaries and hold back only what could be the start of a value; the watch runs first, so
// it sees the agent's bytes, never the swapped secret.

import { SluiceError } from '../../errors/codes.ts';
import type { BearerCredential, Credential } from '../../config/types.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import type { RequestBodyTransform } from '../../pipeline/body.ts';

/** Refuses the request when the body carries a real secret, or a surrogate of `misplaced`. */
export function bodyWatchTransform(ex: Exchange, misplaced: readonly Credential[]): RequestBodyTransform {
  const watch = ex.runtime.credentials.bodyWatch(misplaced);
  return {
    name: 'credentials-watch',
    changesLength: false,
    push(chunk) {
      const r = watch.push(chunk);
      if (Buffer.isBuffer(r)) return r;
      return r.kind === 'real_secret'
        ? new SluiceError('real_secret', 403, `a real secret of credential "${r.credential}" in the request body sent to ${ex.host}`)
        : new SluiceError('surrogate_misuse', 403, `surrogate of credential "${r.credential}" in the request body sent to ${ex.host}`);
    },
    end: () => watch.end(),
  };
}

/** Swaps a bearer credential's surrogate for its secret in the body; names it in ex.credential once it did. */
export function bodySwapTransform(ex: Exchange, credential: BearerCredential): RequestBodyTransform {
  const { replacer, changesLength } = ex.runtime.credentials.bodySwapper(credential.name);
  return {
    name: `credentials-swap:${credential.name}`,
    changesLength,
    push: (chunk) => replacer.push(chunk),
    end() {
      const rest = replacer.end();
      if (replacer.replaced > 0) {
        const names = new Set(ex.credential?.split(',') ?? []);
        names.add(credential.name);
        ex.credential = [...names].join(',');
        ex.trace.push(`credentials: surrogate of "${credential.name}" swapped in the request body`);
      }
      return rest;
    },
  };
}
