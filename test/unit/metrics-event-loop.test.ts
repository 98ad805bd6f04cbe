// The event-loop lag gauges: a stall of the loop while sluice has work shows up in the next
// scrape, net of the 10 ms sampling interval; with no work (no connection open, nothing for a
// while) sampling stops, so an idle sidecar is not woken 100 times a second. And the process
// metrics prom-client collects by default are all there but for its own always-on lag sampling.
import { describe, expect, it } from 'vitest';
import { collectDefaultMetrics } from 'prom-client';
import { createMetrics } from '../../src/admin/metrics.ts';
import { createLoopLag } from '../../src/admin/loop-lag.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} missing from:\n${text}`);
  return Number(line.slice(name.length + 1));
}

/** Holds the event loop for `ms`, as a long JSON.parse or a regex would. */
function stall(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(() => {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* busy */ }
    resolve();
  }, 20));
}

describe('event-loop lag metrics', () => {
  it('report a 60 ms stall during a connection in the scrape after it, and reset at each scrape', async () => {
    const { registry, loopActivity } = createMetrics();
    const closed = loopActivity.connectionOpened();
    await sleep(50);
    await registry.metrics(); // starts a fresh window
    await stall(60);
    await sleep(50);
    const after = await registry.metrics();
    expect(gauge(after, 'sluice_event_loop_lag_max_seconds')).toBeGreaterThanOrEqual(0.04);
    expect(gauge(after, 'sluice_event_loop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    await sleep(50);
    expect(gauge(await registry.metrics(), 'sluice_event_loop_lag_max_seconds')).toBeLessThan(0.04);
    closed();
  });

  it('keep sampling while a connection is open and for the idle time after, then stop', async () => {
    const lag = createLoopLag(100);
    expect(lag.sampling).toBe(false);
    const closed = lag.connectionOpened();
    await sleep(250);
    expect(lag.sampling).toBe(true); // open longer than the idle time: still sampling
    closed();
    await sleep(30);
    expect(lag.sampling).toBe(true);
    lag.take();
    await stall(40);
    await sleep(15); // the sample after the stall records it
    expect(lag.take().max).toBeGreaterThanOrEqual(0.02);
    await sleep(200);
    expect(lag.sampling).toBe(false);
    // Idle: a stall is not sampled, and nothing wakes the process for it.
    lag.take();
    await stall(40);
    await sleep(15);
    expect(lag.take()).toEqual({ p99: 0, max: 0 });
  });

  it('sample for the idle time after a DNS query (touch), and again at the next one', async () => {
    const lag = createLoopLag(80);
    lag.touch();
    expect(lag.sampling).toBe(true);
    await sleep(60);
    lag.touch();
    await sleep(60);
    expect(lag.sampling).toBe(true); // 120 ms after the first touch, 60 after the second
    await sleep(100);
    expect(lag.sampling).toBe(false);
  });

  it('a connection closed twice counts once', async () => {
    const lag = createLoopLag(50);
    const a = lag.connectionOpened();
    const b = lag.connectionOpened();
    a();
    a();
    await sleep(120);
    expect(lag.sampling).toBe(true); // b is still open
    b();
    await sleep(120);
    expect(lag.sampling).toBe(false);
  });
});

describe('process metrics', () => {
  it('has every default collector of prom-client but its event-loop lag', async () => {
    const text = await createMetrics().registry.metrics();
    for (const name of ['sluice_process_cpu_user_seconds_total', 'sluice_process_resident_memory_bytes', 'sluice_process_open_fds',
      'sluice_nodejs_heap_size_used_bytes', 'sluice_nodejs_heap_space_size_used_bytes', 'sluice_nodejs_version_info', 'sluice_nodejs_gc_duration_seconds',
      'sluice_process_start_time_seconds', 'sluice_nodejs_active_handles_total']) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(text).not.toContain('sluice_nodejs_eventloop_lag');
    expect(collectDefaultMetrics.metricsList).toContain('eventLoopLag');
  });
});
