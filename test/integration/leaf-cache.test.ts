// DESIGN.md §1 "Limits and edge rules": the leaf cache is a bounded LRU ([proxy]
// leaf_cache_size); a denied name still gets a leaf (its 403 arrives over a completed
// handshake) but that leaf is not kept, and so cannot evict an allowed name's leaf.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.ts';
import { curl } from '../helpers/clients.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('leaf-cache', ['openssl', 'nginx', 'dnsmasq', 'curl']);

const NAMES = ['a.test', 'b.test', 'c.test', 'd.test'];

let f: EdgeFixture;

beforeAll(async () => {
  f = await startEdgeFixture({ proxy: { leaf_cache_size: 2 }, nginxNames: NAMES });
});

afterAll(async () => {
  await f?.stop();
});

const stats = () => f.t.sluice.runtime().services.issuer.stats();

async function get(host: string): Promise<number> {
  const r = await curl(host, '/', f.opts());
  expect(r.stderr, `curl ${host}`).toBe('');
  return r.status;
}

describe.skipIf(skip)('leaf cache', () => {
  it('mints a leaf for a denied name (403 over a completed handshake) without caching it', async () => {
    const before = stats();
    expect(await get('denied-1.test')).toBe(403);
    const after = stats();
    expect(after.minted).toBe(before.minted + 1);
    expect(after.cached).toBe(before.cached);
  });

  it('holds at most leaf_cache_size leaves after handshakes for 4 allowlisted names', async () => {
    const before = stats();
    for (const name of NAMES) expect(await get(name)).toBe(200);
    const after = stats();
    console.log(`[leaf cache] after 4 names: minted ${after.minted - before.minted}, cached ${after.cached} (size 2)`);
    expect(after.minted - before.minted).toBe(4);
    expect(after.cached).toBeLessThanOrEqual(2);
    expect(after.cached).toBe(2);
  });

  it('serves the most recent names from the cache (no new mint)', async () => {
    const before = stats();
    expect(await get('d.test')).toBe(200);
    expect(await get('c.test')).toBe(200);
    expect(stats().minted).toBe(before.minted);
  });

  it('re-mints a denied name on every handshake and never evicts an allowed leaf for it', async () => {
    const before = stats();
    expect(await get('denied-2.test')).toBe(403);
    expect(await get('denied-2.test')).toBe(403);
    expect(await get('denied-3.test')).toBe(403);
    const afterDenied = stats();
    expect(afterDenied.minted).toBe(before.minted + 3);
    expect(afterDenied.cached).toBe(2);
    // c.test and d.test are still cached: no mint for them.
    expect(await get('c.test')).toBe(200);
    expect(await get('d.test')).toBe(200);
    expect(stats().minted).toBe(afterDenied.minted);
  });
});
