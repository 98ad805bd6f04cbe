// Request bodies, streamed: a watch for real secrets (any host) and for surrogates sent where
// they do not belong, then, on a credential's own hosts with `body = true`, the swap of its
// surrogate (OAuth token endpoints take client_secret in a form body). Both work across chunk
// boundaries and hold back a fixed window whatever the bytes (stream-replace.ts: what reaches
// the upstream must not tell a prefix of a secret from other bytes); the watch runs first, so
// it sees the agent's bytes, never the swapped secret, and knows every encoded form of a real
// value (an agent that holds one must not smuggle it out percent-encoded or as base64).

import { SluiceError } from '../../errors/codes.ts';
import type { BearerCredential, Credential } from '../../config/types.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import type { RequestBodyTransform } from '../../pipeline/body.ts';
import type { BodyFinding } from '../../credentials/secret-store.ts';
import { isGrpcContentType } from '../../credentials/grpc-frames.ts';

/**
 * A transform that can also release what it holds mid-stream. A body's transport may call
 * `flush` when the agent's bytes stop coming for a while (an interactive stream waiting for a
 * reply); when to call it may depend on time, never on the bytes.
 */
export type FlushableTransform = RequestBodyTransform & { flush(): Buffer | SluiceError };

/** Refuses the request when the body carries a real secret, or a surrogate of `misplaced`. */
export function bodyWatchTransform(ex: Exchange, misplaced: readonly Credential[]): FlushableTransform {
  const watch = ex.runtime.credentials.bodyWatch(misplaced, { grpc: isGrpcContentType(ex.headers['content-type']) });
  const verdict = (r: Buffer | BodyFinding): Buffer | SluiceError => {
    if (Buffer.isBuffer(r)) return r;
    return r.kind === 'real_secret'
      ? new SluiceError('real_secret', 403, `a real secret of credential "${r.credential}" in the request body sent to ${ex.host}`)
      : new SluiceError('surrogate_misuse', 403, `surrogate of credential "${r.credential}" in the request body sent to ${ex.host}`);
  };
  return {
    name: 'credentials-watch',
    changesLength: false,
    push: (chunk) => verdict(watch.push(chunk)),
    // The held-back window may hold a whole value: the last bytes are checked too.
    end: () => verdict(watch.end()),
    flush: () => verdict(watch.flush()),
  };
}

/** Swaps a bearer credential's surrogate for its secret in the body; names it in ex.credential once it did. */
export function bodySwapTransform(ex: Exchange, credential: BearerCredential): FlushableTransform {
  const { replacer, changesLength } = ex.runtime.credentials.bodySwapper(credential.name, { grpc: isGrpcContentType(ex.headers['content-type']) });
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
        ex.trace.push({ step: 'credentials', action: 'swapped_surrogate', detail: `${credential.name} in the request body` });
      }
      return rest;
    },
    flush: () => replacer.flush(),
  };
}
