// On a host that has credentials: every credential place in the request either holds a
// credential's surrogate (swapped for the real secret in the same place and form), a minted
// token for one (checked, then swapped), or something else: the agent's own key, refused as
// foreign_credential unless every credential that uses the place allows foreign ones.
// SigV4 places are only recognised here (surrogate key id → ex.credential); the sigv4 step
// verifies and re-signs.

import { SluiceError } from '../../errors/codes.ts';
import type { BearerCredential, Credential } from '../../config/types.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import { TOKEN_PREFIX } from '../../credentials/macaroon.ts';
import { STANDARD_HEADERS, headerSlots, querySlots, type Slot } from './places.ts';
import { sigV4KeyIds } from './aws.ts';
import { checkToken } from './token-check.ts';

function isSurrogateOf(c: Credential, value: string): boolean {
  return c.type === 'bearer' ? c.surrogate === value : c.surrogateAccessKeyId === value || c.surrogateSecretAccessKey === value;
}

/** Bearer credentials that look for their surrogate in this place. */
function swappersOf(bearers: readonly BearerCredential[], place: Slot['place']): BearerCredential[] {
  if (place.kind === 'query') return bearers.filter((c) => c.query.includes(place.name));
  if (STANDARD_HEADERS.includes(place.name)) return [...bearers];
  return bearers.filter((c) => c.headers.includes(place.name));
}

/** Credentials that use this place, so a foreign credential in it is theirs to refuse. */
function guardsOf(scoped: readonly Credential[], bearers: readonly BearerCredential[], place: Slot['place']): Credential[] {
  // Authorization is where every credential type goes (SigV4 too).
  if (place.kind === 'header' && place.name === 'authorization') return [...scoped];
  return swappersOf(bearers, place);
}

function foreign(ex: Exchange, guards: readonly Credential[], where: string): SluiceError | undefined {
  const strict = guards.filter((c) => !c.allowForeignCredentials);
  if (strict.length === 0) return undefined;
  const names = strict.map((c) => `"${c.name}"`).join(', ');
  return new SluiceError('foreign_credential', 403, `a credential other than the surrogate of ${names} in ${where} sent to ${ex.host}`);
}

/** Settles every credential place; returns the names of the credentials in use, or the refusal. */
export function settleCredentials(ex: Exchange, scoped: readonly Credential[]): string[] | SluiceError {
  const store = ex.runtime.credentials;
  const bearers = scoped.filter((c): c is BearerCredential => c.type === 'bearer');
  const used: string[] = [];
  const headerNames = new Set<string>(STANDARD_HEADERS);
  const queryNames = new Set<string>();
  for (const c of bearers) {
    c.headers.forEach((h) => headerNames.add(h));
    c.query.forEach((q) => queryNames.add(q));
  }

  for (const slot of [...headerSlots(ex, headerNames), ...querySlots(ex, queryNames)]) {
    const swappers = swappersOf(bearers, slot.place);
    let recognised = false;
    for (const part of slot.parts) {
      const value = part.value;
      if (value === '') continue;
      if (value.startsWith(TOKEN_PREFIX)) {
        const credential = checkToken(ex, value, part.where, swappers);
        if (credential instanceof SluiceError) return credential;
        part.write(store.swap(value, credential.name, value));
        used.push(credential.name);
        ex.trace.push({ step: 'credentials', action: 'swapped_token', detail: `${credential.name} in ${part.where}` });
        recognised = true;
        continue;
      }
      const credential = swappers.find((c) => c.surrogate === value);
      if (credential !== undefined) {
        part.write(store.swap(value, credential.name, credential.surrogate));
        used.push(credential.name);
        ex.trace.push({ step: 'credentials', action: 'swapped_surrogate', detail: `${credential.name} in ${part.where}` });
        recognised = true;
      } else if (scoped.some((c) => isSurrogateOf(c, value))) {
        // Another credential's surrogate, in a place it does not use: not swapped, not foreign.
        recognised = true;
      }
    }
    if (!recognised && slot.parts.some((p) => p.value !== '')) {
      const where = slot.parts.length === 1 ? (slot.parts[0] as Slot['parts'][number]).where : `${slot.place.kind} ${slot.place.name}`;
      const refusal = foreign(ex, guardsOf(scoped, bearers, slot.place), where);
      if (refusal !== undefined) return refusal;
    }
  }

  const aws = scoped.filter((c) => c.type === 'aws');
  for (const { where, keyId } of sigV4KeyIds(ex)) {
    const credential = aws.find((c) => c.surrogateAccessKeyId === keyId);
    if (credential !== undefined) {
      used.push(credential.name);
      ex.trace.push({ step: 'credentials', action: 'left_for_sigv4', detail: `${credential.name} in ${where}` });
      continue;
    }
    const guards = where.startsWith('header') ? scoped : aws;
    const refusal = foreign(ex, guards, where);
    if (refusal !== undefined) return refusal;
  }
  return [...new Set(used)];
}
