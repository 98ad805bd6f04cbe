// The checked resolver: a name's A and AAAA addresses, every one classified. A name with any
// special-purpose address is refused (unless its rule allows private addresses), whichever
// family the agent would have used. The connector dials exactly an address from the returned
// object and never looks the name up again, so a rebinding answer between check and connect
// cannot slip through.
//
// Results are cached per name in a bounded LRU (TTL 30 s by default), failures briefly (2 s)
// so a broken name does not hammer the resolver, and concurrent lookups of one name share a
// single query.

import { promises as dnsPromises } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import { SluiceError } from '../errors/codes.ts';
import { splitHostPort } from '../names/host.ts';
import { classifyAddress } from './address-class.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface ResolvedHost {
  host: string;
  /** At least one; families interleaved in the order to try them (see pickAddress). */
  addresses: readonly ResolvedAddress[];
}

export interface CheckedResolver {
  /**
   * The addresses of a normalised host name or IP literal (brackets allowed), all checked.
   * Throws SluiceError 'upstream_dns' (502) when there is no address, 'private_address' (403)
   * when an address is special-purpose and `allowPrivate` is false. The result is frozen and
   * may be shared between callers.
   */
  resolve(host: string, allowPrivate: boolean): Promise<ResolvedHost>;
  /**
   * resolve()'s answer when the cache already holds it (the result, or the SluiceError resolve()
   * would throw), without a promise; undefined when a lookup is needed. Keep-alive traffic to a
   * known name takes this path (a promise per request was measurable, issue 14).
   */
  cached(host: string, allowPrivate: boolean): ResolvedHost | SluiceError | undefined;
  /** Forgets every cached answer (config reload). */
  clear(): void;
}

export interface ResolverOptions {
  /** "host", "host:port" or "[v6]:port" (an IP address); undefined = the system resolver. */
  upstream?: string;
  /** How long an answer is reused. Default 30 s. */
  ttlMs?: number;
  /** How long a failure is reused. Default 2 s. */
  failureTtlMs?: number;
  /** Names kept in the cache. Default 1024. */
  maxEntries?: number;
  /** Per-query timeout towards the configured upstream. Default 3 s (two tries). */
  timeoutMs?: number;
  /** CIDR blocks of special-purpose ranges to treat as public ([upstream] public_cidrs). */
  publicCidrs?: readonly string[];
}

/** A BlockList of the operator's "treat as public" ranges, or undefined when there are none. */
function publicRanges(cidrs: readonly string[] | undefined): BlockList | undefined {
  if (cidrs === undefined || cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const block of cidrs) {
    const [address, bits] = block.split('/');
    const type = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(address as string, Number(bits), type);
  }
  return list;
}

/** A cached answer: the frozen result and its first special-purpose address, if any. */
type Entry =
  | { ok: true; resolved: ResolvedHost; special: { address: string; range: string } | undefined; partial: boolean }
  | { ok: false; message: string };

/** The address to dial on the given 0-based attempt, or undefined once all were tried. */
export function pickAddress(resolved: ResolvedHost, attempt: number): ResolvedAddress | undefined {
  return resolved.addresses[attempt];
}

export function createResolver(opts: ResolverOptions = {}): CheckedResolver {
  const ttlMs = opts.ttlMs ?? 30_000;
  const failureTtlMs = Math.min(opts.failureTtlMs ?? 2_000, ttlMs);
  const lookup = opts.upstream === undefined
    ? lookupWithSystem
    : lookupWithServer(parseUpstream(opts.upstream), opts.timeoutMs ?? 3_000);
  const cache = new LRUCache<string, Entry>({ max: opts.maxEntries ?? 1024, ttl: ttlMs });
  const inFlight = new Map<string, Promise<Entry>>();
  const treatedPublic = publicRanges(opts.publicCidrs);
  /** The first address that is special-purpose after public_cidrs, if any. */
  const specialOf = (entry: Entry & { ok: true }): { address: string; range: string } | undefined => {
    if (entry.special === undefined || treatedPublic === undefined) return entry.special;
    for (const a of entry.resolved.addresses) {
      const range = classifyAddress(a.address);
      if (range !== undefined && !treatedPublic.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4')) return { address: a.address, range };
    }
    return undefined;
  };

  async function entryFor(host: string): Promise<Entry> {
    const cached = cache.get(host);
    if (cached !== undefined) return cached;
    let pending = inFlight.get(host);
    if (pending === undefined) {
      pending = lookup(host).catch((err: unknown): Entry => (
        { ok: false, message: `cannot resolve ${host}: ${dnsErrorText(err)}` }
      )).then((entry) => {
        // A failure, or an answer with one family missing for a reason other than "no such
        // record" (SERVFAIL, timeout), is kept only briefly.
        cache.set(host, entry, { ttl: entry.ok && !entry.partial ? ttlMs : failureTtlMs });
        return entry;
      }).finally(() => inFlight.delete(host));
      inFlight.set(host, pending);
    }
    return pending;
  }

  /** What an entry means for a caller that may or may not accept private addresses. */
  function answer(bare: string, entry: Entry, allowPrivate: boolean): ResolvedHost | SluiceError {
    if (!entry.ok) return new SluiceError('upstream_dns', 502, entry.message);
    const special = allowPrivate ? undefined : specialOf(entry);
    if (special !== undefined) {
      const { address, range } = special;
      const what = address === bare ? `${bare} is a special-purpose address` : `${bare} resolves to ${address}`;
      return new SluiceError('private_address', 403,
        `${what} (${range}); refused unless the host's allow rule says private = true`);
    }
    return entry.resolved;
  }

  const unbracket = (host: string): string => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);
  /** IP literals have a colon or only digits and dots; net.isIP's large regex runs only then. */
  const isLiteral = (bare: string): boolean => (bare.includes(':') || /^[\d.]+$/.test(bare)) && isIP(bare) !== 0;

  return {
    async resolve(host: string, allowPrivate: boolean): Promise<ResolvedHost> {
      const bare = unbracket(host);
      const entry = isLiteral(bare) ? literalEntry(bare) : await entryFor(bare);
      const result = answer(bare, entry, allowPrivate);
      if (result instanceof SluiceError) throw result;
      return result;
    },
    cached(host: string, allowPrivate: boolean): ResolvedHost | SluiceError | undefined {
      const bare = unbracket(host);
      const entry = isLiteral(bare) ? literalEntry(bare) : cache.get(bare);
      return entry === undefined ? undefined : answer(bare, entry, allowPrivate);
    },
    clear() {
      cache.clear();
    },
  };
}

function literalEntry(ip: string): Entry {
  const family = isIP(ip) === 6 ? 6 : 4;
  return finish(ip, [{ address: ip, family }], 4);
}

/** Orders, freezes and classifies one answer. `prefer` is the family tried first. */
function finish(host: string, addresses: ResolvedAddress[], prefer: 4 | 6, partial = false): Entry {
  if (addresses.length === 0) return { ok: false, message: `${host} has no A or AAAA address` };
  let special: { address: string; range: string } | undefined;
  for (const a of addresses) {
    const range = classifyAddress(a.address);
    if (range !== undefined) {
      special = { address: a.address, range };
      break;
    }
  }
  const ordered = interleave(addresses, prefer).map((a) => Object.freeze(a));
  const resolved: ResolvedHost = Object.freeze({ host, addresses: Object.freeze(ordered) });
  return { ok: true, resolved, special, partial };
}

/**
 * Alternates families, starting with `prefer`, keeping each family's own order: a dial that
 * fails on one family (IPv6 disabled in the container) moves to the other at once.
 */
function interleave(addresses: ResolvedAddress[], prefer: 4 | 6): ResolvedAddress[] {
  const first = addresses.filter((a) => a.family === prefer);
  const second = addresses.filter((a) => a.family !== prefer);
  if (first.length === 0 || second.length === 0) return addresses;
  const out: ResolvedAddress[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    const a = first[i];
    const b = second[i];
    if (a !== undefined) out.push(a);
    if (b !== undefined) out.push(b);
  }
  return out;
}

/** getaddrinfo via dns.lookup, as the host would resolve the name (hosts file included). */
async function lookupWithSystem(host: string): Promise<Entry> {
  let answers: { address: string; family: number }[];
  try {
    answers = await dnsPromises.lookup(host, { all: true, verbatim: true });
  } catch (err) {
    return { ok: false, message: `cannot resolve ${host}: ${dnsErrorText(err)}` };
  }
  const addresses: ResolvedAddress[] = answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  // The system's order already reflects address selection (RFC 6724); keep its first family.
  return finish(host, addresses, addresses[0]?.family ?? 4);
}

/** A and AAAA in parallel from one configured server. One family alone is a fine answer. */
function lookupWithServer(server: string, timeoutMs: number): (host: string) => Promise<Entry> {
  const resolver = new dnsPromises.Resolver({ timeout: timeoutMs, tries: 2 });
  resolver.setServers([server]);
  return async (host) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    if (v4.status === 'rejected' && v6.status === 'rejected') {
      // Report the more telling error: NXDOMAIN/SERVFAIL over "no data".
      const reason = isNoData(v4.reason) ? v6.reason : v4.reason;
      return { ok: false, message: `cannot resolve ${host}: ${dnsErrorText(reason)}` };
    }
    const addresses: ResolvedAddress[] = [];
    if (v4.status === 'fulfilled') for (const address of v4.value) addresses.push({ address, family: 4 });
    if (v6.status === 'fulfilled') for (const address of v6.value) addresses.push({ address, family: 6 });
    // One family failing for a reason other than "no such name or record" still yields an
    // answer: sluice dials only checked addresses, so a missing family cannot smuggle one in.
    const partial = (v4.status === 'rejected' && !isAbsent(v4.reason)) || (v6.status === 'rejected' && !isAbsent(v6.reason));
    // IPv4 first: containers often have no IPv6 route even when the name has AAAA records.
    return finish(host, addresses, 4, partial);
  };
}

/**
 * The server in the form Resolver.setServers takes: "1.2.3.4", "1.2.3.4:5353",
 * "[::1]:5353" (or a bare IPv6 address). Throws on a name: the resolver must not itself
 * depend on name resolution.
 */
export function parseUpstream(upstream: string): string {
  if (isIP(upstream) !== 0) return upstream;
  const parsed = splitHostPort(upstream);
  if (parsed === undefined || isIP(parsed.host) === 0) {
    throw new Error(`DNS upstream "${upstream}" must be an IP address with an optional port ("10.0.0.2:53", "[fd00::2]:53")`);
  }
  const port = parsed.port ?? 53;
  return isIP(parsed.host) === 6 ? `[${parsed.host}]:${port}` : `${parsed.host}:${port}`;
}

function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === dnsPromises.NODATA || code === dnsPromises.NOTFOUND;
}

function isNoData(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === dnsPromises.NODATA;
}

function dnsErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case dnsPromises.NOTFOUND: return 'no such name (NXDOMAIN)';
    case dnsPromises.NODATA: return 'no A or AAAA record';
    case dnsPromises.SERVFAIL: return 'the DNS server failed (SERVFAIL)';
    case dnsPromises.REFUSED: return 'the DNS server refused the query';
    case dnsPromises.TIMEOUT: return 'the DNS server did not answer in time';
    case dnsPromises.CONNREFUSED: return 'the DNS server could not be reached';
    default: return code ?? (err instanceof Error ? err.message : String(err));
  }
}
