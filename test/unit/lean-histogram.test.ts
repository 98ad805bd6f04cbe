// sluice's lean histogram must expose exactly what prom-client's Histogram would for the same
// observations: scrapers and dashboards see no difference.
import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { createLeanHistogram } from '../../src/admin/lean-histogram.ts';

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

describe('lean histogram', () => {
  it('scrapes byte for byte like prom-client, bounds inclusive, +Inf for the rest', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: 'x_seconds', help: 'time', buckets: BUCKETS, registers: [theirs] });
    const lean = createLeanHistogram({ name: 'x_seconds', help: 'time', buckets: BUCKETS, registry: ours });
    expect(await ours.metrics()).toBe(await theirs.metrics()); // nothing observed yet
    for (const v of [0, 0.0004, 0.001, 0.0010001, 0.3, 0.5, 2.5, 299, 300, 301, 1e6, 0.02, 0.02]) {
      reference.observe(v);
      lean.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="0.001"} 3');
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="+Inf"} 13');
  });
});
