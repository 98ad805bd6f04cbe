// Real credentials travel only over verified TLS (DESIGN.md §1, issue 11 item 2). A request that
// arrived on the plain HTTP listener goes upstream in clear, so swapping a surrogate there (or
// re-signing SigV4 with the real key) would put the real secret on the wire for anyone on the
// path: refused with 403 credential_over_plaintext, unless the credential says
// `plaintext = true` (which `sluice check` warns about).
// Anything but the TLS listener counts as plain: a connection whose listener is unknown fails
// closed.

import { SluiceError } from '../../errors/codes.ts';
import type { BearerCredential, Credential } from '../../config/types.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import type { RequestBodyTransform } from '../../pipeline/body.ts';
import { bodyWatchTransform } from './body-transforms.ts';

/** True when the request reached sluice without TLS, so it would go upstream without TLS. */
export function arrivedInClear(ex: Exchange): boolean {
  return ex.conn.listener !== 'tls';
}

/** Credentials that must not be sent on this request because it arrived in clear. */
export function heldBackInClear<C extends Credential>(ex: Exchange, credentials: readonly C[]): C[] {
  return arrivedInClear(ex) ? credentials.filter((c) => !c.plaintext) : [];
}

export function overPlaintext(ex: Exchange, names: readonly string[], where = 'the request'): SluiceError {
  const list = names.map((n) => `"${n}"`).join(', ');
  return new SluiceError(
    'credential_over_plaintext',
    403,
    `${where} to ${ex.host} arrived over plain HTTP, so the real secret of credential ${list} would travel in clear; use https (or set plaintext = true on the credential)`,
  );
}

/**
 * For `body = true` credentials on a plain-HTTP request: instead of swapping, refuse once the
 * body is found to carry the surrogate (the credentials step's own body watch, whose
 * "surrogate where it does not belong" becomes credential_over_plaintext here).
 */
export function plaintextBodyGuard(ex: Exchange, credentials: readonly BearerCredential[]): RequestBodyTransform {
  const watch = bodyWatchTransform(ex, credentials);
  const names = credentials.map((c) => c.name);
  const translate = (r: Buffer | SluiceError): Buffer | SluiceError =>
    r instanceof SluiceError && r.reason === 'surrogate_misuse' ? overPlaintext(ex, names, 'the request body') : r;
  return {
    name: 'credentials-plaintext',
    changesLength: false,
    push: (chunk) => translate(watch.push(chunk)),
    end: () => translate(watch.end()),
  };
}
