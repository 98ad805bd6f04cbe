// On credential hosts the response is scrubbed before the agent sees it: any real secret value
// an upstream echoes (an error quoting the key, an introspection call, S3's <AWSAccessKeyId>)
// becomes its surrogate, in headers and in the streamed body, across chunk boundaries (in the
// body padded or cut to the echoed value's length when Content-Length promised one). The
// hook asks for plaintext, so a compressed body is decoded first (the forwarder does that)
// and a secret cannot pass hidden inside gzip.

import type { Exchange } from '../../pipeline/exchange.ts';
import type { ResponseHook } from '../../pipeline/body.ts';
import type { StreamReplacer } from '../../credentials/stream-replace.ts';

export function responseScrubHook(ex: Exchange): ResponseHook {
  const store = ex.runtime.credentials;
  let replacer: StreamReplacer | undefined;
  return {
    name: 'credentials-scrub',
    needsPlaintext: true,
    reason: (text) => store.scrub(text),
    // Each WebSocket message from the server is a stream of its own (the relay re-frames it).
    message: () => store.responseScrubber(false),
    start(_status, headers) {
      for (const name in headers) {
        const value = headers[name];
        if (value === undefined || name === 'content-length') continue;
        headers[name] = Array.isArray(value) ? value.map((v) => store.scrub(v)) : store.scrub(value);
      }
      // A promised length stays true: replacements in such a body keep the echoed value's length.
      replacer = store.responseScrubber(headers['content-length'] !== undefined);
    },
    data: (chunk) => (replacer === undefined ? chunk : replacer.push(chunk)),
    end() {
      const rest = replacer?.end();
      return rest !== undefined && rest.length > 0 ? rest : undefined;
    },
  };
}
