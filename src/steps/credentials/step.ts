// Surrogate credentials (DESIGN.md §2). In this order, for every request:
//   1. a real secret value anywhere (host, URL, any header; the body while it streams)
//      → 403 real_secret, whatever the host: the agent should never hold one;
//   2. a surrogate (or a minted token) on a host outside its credential's hosts, anywhere in
//      the URL or headers (the body too for `body = true` credentials) → 403 surrogate_misuse;
//   3. on a credential host: the agent's X-Amz-Security-Token is dropped (AWS), every
//      credential place is settled (settle.ts: swap, token check, or foreign_credential), the
//      body swap is added for `body = true`, and the response is scrubbed of real values;
//   4. on a request that arrived over plain HTTP, a credential that would be swapped (in the
//      head, or in the body for `body = true`) without `plaintext = true` → 403
//      credential_over_plaintext (plaintext.ts); the request is left as the agent sent it.
// AWS requests signed with the surrogate key id are only marked (ex.credential): the sigv4
// step after this one verifies the surrogate signature and re-signs.

import { SluiceError } from '../../errors/codes.ts';
import type { BearerCredential } from '../../config/types.ts';
import type { Step } from '../../pipeline/step.ts';
import { requestTexts } from './request-texts.ts';
import { dropSecurityToken } from './aws.ts';
import { settleCredentials } from './settle.ts';
import { bodySwapTransform, bodyWatchTransform } from './body-transforms.ts';
import { responseScrubHook } from './response-scrub.ts';
import { heldBackInClear, overPlaintext, plaintextBodyGuard } from './plaintext.ts';
import { askForPlaintext } from './plain-encoding.ts';

export const credentialStep: Step = {
  name: 'credentials',
  onRequest(ex) {
    const store = ex.runtime.credentials;
    if (store.credentials.length === 0) return undefined;
    // The host is the first text: once it is clean, messages may name it.
    const texts = requestTexts(ex);
    for (const t of texts) {
      const credential = store.findRealSecret(t.text, { ignoreCase: t.ignoreCase });
      if (credential === undefined) continue;
      const to = t.where === 'the host name' ? '' : ` sent to ${ex.host}`;
      return new SluiceError('real_secret', 403, `a real secret of credential "${credential.name}" in ${t.where}${to}`);
    }
    const scoped = store.scopedTo(ex.host);
    for (const t of texts) {
      const credential = store.findSurrogate(t.text, { ignoreCase: t.ignoreCase });
      if (credential === undefined || scoped.includes(credential)) continue;
      const to = t.where === 'the host name' ? '' : ` sent to ${ex.host}`;
      return new SluiceError('surrogate_misuse', 403, `surrogate of credential "${credential.name}" in ${t.where}${to}`);
    }
    if (ex.hasBody) {
      const misplaced = store.credentials.filter((c) => c.type === 'bearer' && c.body && !scoped.includes(c));
      ex.requestBody.push(bodyWatchTransform(ex, misplaced));
    }
    if (scoped.length === 0) return undefined;

    const held = heldBackInClear(ex, scoped);
    // Settling writes real secrets into the request; a refusal puts the agent's request back.
    const asSent = held.length > 0 ? { path: ex.path, headers: { ...ex.headers }, trace: ex.trace.length } : undefined;
    if (scoped.some((c) => c.type === 'aws') && dropSecurityToken(ex)) {
      ex.trace.push({ step: 'credentials', action: 'dropped_header', detail: 'x-amz-security-token' });
    }
    askForPlaintext(ex);
    const used = settleCredentials(ex, scoped);
    if (used instanceof SluiceError) return used;
    const inClear = used.filter((name) => held.some((c) => c.name === name));
    if (asSent !== undefined && inClear.length > 0) {
      ex.path = asSent.path;
      ex.headers = asSent.headers;
      ex.trace.length = asSent.trace;
      ex.credential = inClear.join(',');
      return overPlaintext(ex, inClear);
    }
    if (used.length > 0) ex.credential = used.join(',');
    if (ex.hasBody) {
      const bodySwaps = scoped.filter((c): c is BearerCredential => c.type === 'bearer' && c.body);
      const guarded = heldBackInClear(ex, bodySwaps);
      if (guarded.length > 0) ex.requestBody.push(plaintextBodyGuard(ex, guarded));
      for (const c of bodySwaps) if (!guarded.includes(c)) ex.requestBody.push(bodySwapTransform(ex, c));
    }
    ex.response.push(responseScrubHook(ex, scoped));
    return undefined;
  },
};
