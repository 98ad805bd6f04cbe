// The event-loop lag gauges: a stall of the loop must show up in the next scrape, net of the
// 10 ms sampling interval that prom-client's own nodejs_eventloop_lag_* figures include.
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} missing from:\n${text}`);
  return Number(line.slice(name.length + 1));
}

describe('event-loop lag metrics', () => {
  it('report a 60 ms stall in the scrape after it, and reset at each scrape', async () => {
    const { registry } = createMetrics();
    await sleep(50);
    await registry.metrics(); // starts a fresh window
    await new Promise<void>((resolve) => setTimeout(() => {
      const end = performance.now() + 60;
      while (performance.now() < end) {
        // a synchronous stall, as a long JSON.parse or a regex would cause
      }
      resolve();
    }, 20));
    await sleep(50);
    const after = await registry.metrics();
    expect(gauge(after, 'sluice_event_loop_lag_max_seconds')).toBeGreaterThanOrEqual(0.04);
    expect(gauge(after, 'sluice_event_loop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    await sleep(50);
    expect(gauge(await registry.metrics(), 'sluice_event_loop_lag_max_seconds')).toBeLessThan(0.04);
  });
});
