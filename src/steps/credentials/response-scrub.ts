// On credential hosts the response is scrubbed before the agent sees it: any real secret value
// an upstream echoes (an error quoting the key, an introspection call, S3's <AWSAccessKeyId>, a
// TRACE repeating `Authorization: Basic …`) becomes its surrogate, in every form the store
// knows (literal, percent-encoded, JSON-escaped, base64 at any offset), in the HTTP/1 reason
// phrase, header values and trailers (a header whose name holds one is dropped), the streamed
// body across chunk boundaries, and each WebSocket message after a 101. A body whose length was promised (Content-Length) gets
// replacements of exactly the echo's length. The hook asks for plaintext, so a compressed body
// is decoded first (the forwarder does that) and a secret cannot pass hidden inside gzip. The
// body scrub holds back a fixed window (store.scrubWindow bytes) until more bytes or the end.

import type { Exchange } from '../../pipeline/exchange.ts';
import type { Credential } from '../../config/types.ts';
import type { ResponseHeaders, ResponseHook } from '../../pipeline/body.ts';
import type { StreamReplacer } from '../../credentials/stream-replace.ts';
import { isGrpcContentType } from '../../credentials/grpc-frames.ts';
import { envelopesFor, isEnveloped, type Envelopes } from './envelopes.ts';

/**
 * The hook, which can also release what the body scrub holds mid-stream: the forwarder may call
 * `flush` when the upstream's bytes stop coming for a while (an interactive stream waiting for
 * the agent); when to call it may depend on time, never on the bytes.
 */
export type FlushableResponseHook = ResponseHook & { flush(): Buffer | undefined };

const nonEmpty = (bytes: Buffer | undefined): Buffer | undefined => (bytes !== undefined && bytes.length > 0 ? bytes : undefined);

/** `scoped`: the credentials of the exchange's host (the credentials step has them). */
export function responseScrubHook(ex: Exchange, scoped: readonly Credential[]): FlushableResponseHook {
  const store = ex.runtime.credentials;
  let replacer: StreamReplacer | undefined;
  /** Enveloped messages (gRPC, Connect) inflated so the scrub reads plaintext (envelopes.ts). */
  let envelopes: Envelopes | undefined;
  /** The trailers the agent will get, kept so that a later failure can still set its status. */
  let trailersOut: ResponseHeaders | undefined;
  let traced = false;
  /** Notes a failure of the envelopes once: the reason in the log, the status in the trailers. */
  const noteFailure = (): void => {
    const failure = envelopes?.failure;
    if (failure === undefined || traced) return;
    traced = true;
    ex.trace.push({ step: 'credentials', action: 'cut_uninspectable_grpc', detail: failure });
    if (trailersOut !== undefined) envelopes?.mark(trailersOut);
  };
  const unwrap = (chunk: Buffer): Buffer => {
    if (envelopes === undefined) return chunk;
    const plain = envelopes.push(chunk);
    noteFailure();
    return plain;
  };
  const bodySwapHost = scoped.some((c) => c.type === 'bearer' && c.body);
  /** Header (or trailer) values scrubbed in place; a name that holds a secret (any case) goes. */
  const scrubHeaders = (headers: ResponseHeaders): void => {
    for (const name of Object.keys(headers)) {
      const value = headers[name];
      if (value === undefined || name === 'content-length') continue;
      if (store.findRealSecret(name, { ignoreCase: true }) !== undefined) {
        delete headers[name];
        continue;
      }
      headers[name] = Array.isArray(value) ? value.map((v) => store.scrub(v)) : store.scrub(value);
    }
  };
  return {
    name: 'credentials-scrub',
    needsPlaintext: true,
    reason: (text) => store.scrub(text),
    // Each WebSocket message from the server is a stream of its own (the relay re-frames it).
    message: () => store.responseScrubber(false),
    start(status, headers) {
      scrubHeaders(headers);
      // A promised length stays true: replacements in such a body keep the echoed value's length.
      // gRPC messages carry their own length prefix: a replacement must not change a length;
      // and they are released whole, so a bidi stream's reply is not held for the window.
      // Not where a credential is swapped into request bodies: there the agent chooses bytes
      // around a real value that an echo may send back, framing included, and a message end
      // it declared inside the value would release the value's first part before its rest came.
      const grpc = isGrpcContentType(headers['content-type']) && !bodySwapHost;
      replacer = store.responseScrubber(isEnveloped(headers) || headers['content-length'] !== undefined, { grpc });
      // No body, nothing to inflate or refuse (a HEAD, 204 or 304 may still name an encoding).
      const bodiless = ex.method === 'HEAD' || status === 204 || status === 304;
      envelopes = bodiless ? undefined : envelopesFor(headers, { bodySwapHost, owner: ex });
    },
    // gRPC's grpc-message and custom trailing metadata come back after the body. When the
    // envelopes stopped, the call ends with INTERNAL rather than the upstream's status (also if
    // the failure comes later: the trailers are written after every hook's end).
    trailers(trailers) {
      scrubHeaders(trailers);
      trailersOut = trailers;
      envelopes?.mark(trailers);
    },
    data: (chunk) => (replacer === undefined ? chunk : replacer.push(unwrap(chunk))),
    end() {
      const closing = envelopes?.end();
      noteFailure();
      // What the scrub still holds may be the start of a value whose rest was withheld.
      return nonEmpty(envelopes?.failure !== undefined ? closing : replacer?.end());
    },
    // No trailers to carry INTERNAL (an HTTP/1 upstream, a body mislabelled by its encoding):
    // the agent's response is cut rather than ended as if whole.
    cutReason() {
      const failure = envelopes?.failure;
      return failure === undefined || envelopes?.endsInBand === true || trailersOut !== undefined ? undefined : `${failure}; cut: no trailers to carry the error`;
    },
    flush() {
      return envelopes?.failure !== undefined ? undefined : nonEmpty(replacer?.flush());
    },
  };
}
