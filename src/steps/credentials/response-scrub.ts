// On credential hosts the response is scrubbed before the agent sees it: any real secret value
// an upstream echoes (an error quoting the key, an introspection call, S3's <AWSAccessKeyId>)
// becomes its surrogate, in headers and in the streamed body, across chunk boundaries. The
// hook asks for plaintext, so a compressed body is decoded first (the forwarder does that)
// and a secret cannot pass hidden inside gzip.

import type { Exchange } from '../../pipeline/exchange.ts';
import type { ResponseHook } from '../../pipeline/body.ts';

export function responseScrubHook(ex: Exchange): ResponseHook {
  const store = ex.runtime.credentials;
  const replacer = store.responseScrubber();
  return {
    name: 'credentials-scrub',
    needsPlaintext: true,
    start(_status, headers) {
      for (const name in headers) {
        const value = headers[name];
        if (value === undefined) continue;
        headers[name] = Array.isArray(value) ? value.map((v) => store.scrub(v)) : store.scrub(value);
      }
      // A replacement may change the body's length; a HEAD response has no body to change.
      if (store.scrubChangesLength && ex.method !== 'HEAD') delete headers['content-length'];
    },
    data: (chunk) => replacer.push(chunk),
    end() {
      const rest = replacer.end();
      return rest.length > 0 ? rest : undefined;
    },
  };
}
