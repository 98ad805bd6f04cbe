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
import type { ResponseHeaders, ResponseHook } from '../../pipeline/body.ts';
import type { StreamReplacer } from '../../credentials/stream-replace.ts';
import { isGrpcContentType } from '../../credentials/grpc-frames.ts';
import { createGrpcInflater, uninspectable, type GrpcInflater } from '../../upstream/grpc-inflate.ts';

/**
 * The hook, which can also release what the body scrub holds mid-stream: the forwarder may call
 * `flush` when the upstream's bytes stop coming for a while (an interactive stream waiting for
 * the agent); when to call it may depend on time, never on the bytes.
 */
export type FlushableResponseHook = ResponseHook & { flush(): Buffer | undefined };

export function responseScrubHook(ex: Exchange): FlushableResponseHook {
  const store = ex.runtime.credentials;
  let replacer: StreamReplacer | undefined;
  /** gRPC's per-message compression undone, so the scrub reads plaintext (grpc-inflate.ts). */
  let inflater: GrpcInflater | undefined;
  let traced = false;
  /** What passes on once the inflater has stopped: nothing, and the reason in the log. */
  const inflate = (chunk: Buffer): Buffer => {
    if (inflater === undefined) return chunk;
    const plain = inflater.push(chunk);
    if (inflater.failure !== undefined && !traced) {
      traced = true;
      ex.trace.push({ step: 'credentials', action: 'cut_uninspectable_grpc', detail: inflater.failure });
    }
    return plain;
  };
  const bodySwapHost = store.scopedTo(ex.host).some((c) => c.type === 'bearer' && c.body);
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
    start(_status, headers) {
      scrubHeaders(headers);
      // A promised length stays true: replacements in such a body keep the echoed value's length.
      // gRPC messages carry their own length prefix: a replacement must not change a length;
      // and they are released whole, so a bidi stream's reply is not held for the window.
      // Not where a credential is swapped into request bodies: there the agent chooses bytes
      // around a real value that an echo may send back, framing included, and a message end
      // it declared inside the value would release the value's first part before its rest came.
      const type = String(headers['content-type'] ?? '').toLowerCase();
      const framed = type.startsWith('application/grpc');
      const grpc = isGrpcContentType(headers['content-type']) && !bodySwapHost;
      replacer = store.responseScrubber(framed || headers['content-length'] !== undefined, { grpc });
      if (framed) {
        const encoding = headers['grpc-encoding'] === undefined ? undefined : String(headers['grpc-encoding']);
        // gRPC-Web's text form is base64 around the frames: a compressed one is not read (it
        // passes nothing on); an uncompressed one is scrubbed as text.
        const text = type.startsWith('application/grpc-web-text');
        const compressed = encoding !== undefined && encoding.trim().toLowerCase() !== 'identity';
        if (text && compressed) inflater = uninspectable(`a gRPC-Web text response with grpc-encoding ${encoding}, which sluice cannot inflate to scrub`);
        else if (!text) inflater = createGrpcInflater(encoding, { grpcWeb: type.startsWith('application/grpc-web'), owner: ex });
      }
    },
    // gRPC's grpc-message and custom trailing metadata come back after the body.
    // When the inflater stopped, the call ends with INTERNAL rather than the upstream's status.
    trailers(trailers) {
      scrubHeaders(trailers);
      if (inflater?.failure === undefined) return;
      trailers['grpc-status'] = '13';
      trailers['grpc-message'] = encodeURIComponent(`sluice: ${inflater.failure}`);
    },
    data: (chunk) => (replacer === undefined ? chunk : replacer.push(inflate(chunk))),
    end() {
      if (inflater !== undefined) inflate(inflater.end());
      // What the scrub still holds may be the start of a value whose rest the inflater withheld.
      if (inflater?.failure !== undefined) return undefined;
      const rest = replacer?.end();
      return rest !== undefined && rest.length > 0 ? rest : undefined;
    },
    flush() {
      const rest = replacer?.flush();
      return rest !== undefined && rest.length > 0 ? rest : undefined;
    },
  };
}
