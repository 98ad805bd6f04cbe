// On a credential host the response is scrubbed, so the agent gets it decoded anyway. Asking
// the upstream for no compression (HTTP's, gRPC's and Connect's) keeps compressed sizes, which
// tell how well a real value compressed beside the agent's guess (BREACH), from reaching the
// agent in a length, a chunk size or a refusal. The agent's own values are kept, for the sigv4
// step to verify a signature that covered them; its re-signature covers the new ones
// (asForwarded).
import type { Exchange } from '../../pipeline/exchange.ts';

type Headers = Exchange['headers'];

const NAMES = ['accept-encoding', 'grpc-accept-encoding', 'connect-accept-encoding'] as const;
const replaced = new WeakMap<Exchange, Headers>();

/** Sets every accept-encoding header the request has (HTTP's always) to identity. */
export function askForPlaintext(ex: Exchange): void {
  const agents: Headers = {};
  for (const name of NAMES) {
    const value = ex.headers[name];
    if (value === undefined && name !== 'accept-encoding') continue;
    if (value === 'identity') continue;
    agents[name] = value;
    ex.headers[name] = 'identity';
  }
  if (Object.keys(agents).length > 0) replaced.set(ex, agents);
}

/** The request's headers as the agent sent them, before askForPlaintext. */
export function headersAsSent(ex: Exchange, headers: Headers): Headers {
  const agents = replaced.get(ex);
  if (agents === undefined) return headers;
  const copy = { ...headers };
  for (const [name, value] of Object.entries(agents)) {
    if (value === undefined) delete copy[name];
    else copy[name] = value;
  }
  return copy;
}

/**
 * Signed header pairs as they go upstream: the values askForPlaintext replaced are the new
 * ones (for a re-signature that covers what is sent).
 */
export function asForwarded(ex: Exchange, pairs: ReadonlyArray<readonly [string, string]>): Array<readonly [string, string]> {
  const agents = replaced.get(ex);
  if (agents === undefined) return [...pairs];
  return pairs.map(([name, value]) => (Object.hasOwn(agents, name) ? [name, String(ex.headers[name])] as const : [name, value] as const));
}
