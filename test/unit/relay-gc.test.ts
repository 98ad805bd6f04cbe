// Relayed body bytes trigger a minor GC every RELAY_GC_BYTES, so the buffers they came in are
// freed while young instead of piling up to V8's external-memory limit (tens of MiB).
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { RELAY_GC_BYTES, noteRelayed } from '../../src/upstream/relay-gc.ts';

async function minorGcsDuring(fn: () => void): Promise<number> {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
  });
  observer.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return minor;
}

describe('noteRelayed', () => {
  it('collects the young generation once RELAY_GC_BYTES have been relayed', async () => {
    noteRelayed(RELAY_GC_BYTES); // start from a fresh count
    const gcs = await minorGcsDuring(() => {
      for (let i = 0; i < 4; i++) noteRelayed(RELAY_GC_BYTES / 4);
    });
    expect(gcs).toBeGreaterThanOrEqual(1);
  });
});
