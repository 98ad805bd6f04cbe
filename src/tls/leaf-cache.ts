// Hands the TLS listener a SecureContext per server name: minted once, kept in a bounded LRU,
// re-minted shortly before it expires. Concurrent handshakes for one new name share one mint.
//
// A denied name (keep = false) still gets a leaf, so its 403 arrives over a completed handshake,
// but that leaf is not cached: an agent spraying random names must not be able to evict the
// leaves of allowed hosts, nor grow memory.

import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { LRUCache } from 'lru-cache';
import type { CertificateAuthority } from './ca.ts';
import { generateLeafKey, mintLeafCertificate } from './leaf.ts';
import type { LeafKeyType } from './leaf.ts';
import { normalizeHost } from '../names/host.ts';

/** A cached leaf is replaced once it is this close to its notAfter. */
export const RENEW_BEFORE_MS = 24 * 60 * 60 * 1000;

export interface MintEvent {
  name: string;
  keyType: LeafKeyType;
  /** Time to sign the leaf and build its SecureContext. */
  ms: number;
  /** Whether the leaf went into the cache (false for denied names). */
  kept: boolean;
}

export interface LeafIssuerOptions {
  keyType: LeafKeyType;
  /** Maximum number of cached names; 0 disables caching. */
  cacheSize: number;
  /** Called after every mint, for metrics. Must not throw (errors are ignored). */
  onMint?: (event: MintEvent) => void;
  /** Clock, for tests of renewal. */
  now?: () => Date;
}

export interface LeafIssuerStats {
  /** Leaves minted since start (cached or not). */
  minted: number;
  /** Names currently cached. */
  cached: number;
}

export interface LeafIssuer {
  readonly keyType: LeafKeyType;
  /**
   * The SecureContext for `name` (a DNS name, normalised as src/names/host.ts does). keep = true caches it;
   * keep = false (denied names) reuses a cached one if there is one, else mints without caching
   * and without evicting anything.
   */
  secureContextFor(name: string, keep: boolean): Promise<tls.SecureContext>;
  stats(): LeafIssuerStats;
}

interface Entry {
  context: tls.SecureContext;
  renewAt: number;
}

interface Pending {
  promise: Promise<Entry>;
  /** keep becomes true when any caller sharing this mint wants it kept. */
  wish: { keep: boolean };
}

export function createLeafIssuer(ca: CertificateAuthority, opts: LeafIssuerOptions): LeafIssuer {
  if (!Number.isSafeInteger(opts.cacheSize) || opts.cacheSize < 0) {
    throw new RangeError(`leaf cache size must be a whole number >= 0, got ${opts.cacheSize}`);
  }
  const clock = opts.now ?? (() => new Date());
  const keyType = opts.keyType;
  // Generated once per process; started now so the first handshake rarely waits for it.
  const leafKey = generateLeafKey(keyType);
  leafKey.catch(() => {}); // a failure surfaces to every caller of secureContextFor instead
  const cache = opts.cacheSize > 0 ? new LRUCache<string, Entry>({ max: opts.cacheSize }) : undefined;
  const pending = new Map<string, Pending>();
  let minted = 0;

  async function mint(name: string): Promise<{ entry: Entry; ms: number }> {
    const key = await leafKey;
    const started = performance.now();
    const now = clock();
    const leaf = await mintLeafCertificate(ca, key, name, now);
    // Leaf only, no CA in the chain: clients that trust the CA need nothing more, and clients
    // that do not will fail either way; it saves ~600 bytes per handshake.
    const context = tls.createSecureContext({ key: key.privateKeyPem, cert: leaf.certPem, minVersion: 'TLSv1.2' });
    minted++;
    const lifetime = leaf.notAfter.getTime() - now.getTime();
    const renewAt = leaf.notAfter.getTime() - Math.min(RENEW_BEFORE_MS, lifetime / 2);
    return { entry: { context, renewAt }, ms: performance.now() - started };
  }

  async function mintAndStore(name: string, wish: { keep: boolean }): Promise<Entry> {
    const { entry, ms } = await mint(name);
    // Read wish.keep only now: a caller that wanted the leaf kept may have joined meanwhile.
    const kept = wish.keep && cache !== undefined;
    if (kept) cache?.set(name, entry);
    try {
      opts.onMint?.({ name, keyType, ms, kept });
    } catch {
      // metrics must never break a handshake
    }
    return entry;
  }

  function start(name: string, keep: boolean): Pending {
    const wish = { keep };
    const job: Pending = { wish, promise: mintAndStore(name, wish).finally(() => pending.delete(name)) };
    pending.set(name, job);
    return job;
  }

  return {
    keyType,
    async secureContextFor(rawName: string, keep: boolean): Promise<tls.SecureContext> {
      // Normally already normal (the TLS listener passes the normalised SNI): then free. A name
      // that is not one goes to the mint as it is, which refuses it.
      const name = normalizeHost(rawName) ?? rawName;
      // peek for denied names: a denied name must not refresh an entry's place in the LRU.
      const cached = keep ? cache?.get(name) : cache?.peek(name);
      if (cached && clock().getTime() < cached.renewAt) return cached.context;
      let job = pending.get(name);
      if (job) job.wish.keep ||= keep;
      else job = start(name, keep);
      return (await job.promise).context;
    },
    stats: () => ({ minted, cached: cache?.size ?? 0 }),
  };
}
