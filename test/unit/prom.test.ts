// sluice's /metrics keeps prom-client's default process and Node metrics while loading only the
// parts of prom-client it uses (src/admin/prom.ts): its entry point and OpenTelemetry are 71
// modules that every sidecar would load for nothing.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_COLLECTORS, Registry, processCpuCollector } from '../../src/admin/prom.ts';

const METRICS = fileURLToPath(new URL('../../src/admin/metrics.ts', import.meta.url));

/** The value of an unlabelled sample in a Prometheus text exposition. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no sample ${name} in:\n${text}`);
  return Number(line.slice(name.length + 1));
}

describe('prom-client, part by part', () => {
  it('runs every default collector prom-client has, but the two it replaces', () => {
    // A prom-client upgrade that adds a collector fails here rather than losing a metric.
    expect([...DEFAULT_COLLECTORS, 'processCpuTotal', 'eventLoopLag'].sort()).toEqual([...collectDefaultMetrics.metricsList].sort());
  });

  it('counts CPU time as prom-client does: user, system and their sum, advancing with each scrape', async () => {
    const registry = new Registry();
    processCpuCollector(registry, 'x_');
    const first = await registry.metrics();
    for (const name of ['x_process_cpu_user_seconds_total', 'x_process_cpu_system_seconds_total', 'x_process_cpu_seconds_total']) {
      expect(first).toContain(`# TYPE ${name} counter`);
    }
    const busyUntil = performance.now() + 60;
    let spin = 0;
    while (performance.now() < busyUntil) spin++;
    expect(spin).toBeGreaterThan(0);
    const second = await registry.metrics();
    const user = sample(second, 'x_process_cpu_user_seconds_total');
    const system = sample(second, 'x_process_cpu_system_seconds_total');
    expect(user - sample(first, 'x_process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0.04);
    expect(sample(second, 'x_process_cpu_seconds_total')).toBeCloseTo(user + system, 6);
  });

  it('loads neither prom-client\'s entry point nor OpenTelemetry', () => {
    const script = `
      const { createMetrics } = await import(${JSON.stringify(METRICS)});
      await createMetrics().registry.metrics();
      const { createRequire } = await import('node:module');
      console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    expect(loaded.some((f) => f.includes('/prom-client/lib/registry.js'))).toBe(true);
    expect(loaded.filter((f) => f.includes('@opentelemetry') || f.endsWith('/prom-client/index.js'))).toEqual([]);
  });
});
