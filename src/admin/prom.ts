// prom-client's Registry, Counter and Gauge, loaded from their own files. Its entry point also
// loads its Pushgateway, cluster aggregation, Summary and Histogram, and its process CPU
// collector loads @opentelemetry/api (51 files) for exemplars sluice never records: together
// 71 modules, 0.4–1.0 MiB of RSS at ready (3 interleaved rounds, bench/startup-memory.ts).
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
export type Registry = PromClient.Registry;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;

/**
 * prom-client's default collectors (`collectDefaultMetrics.metricsList`) that sluice runs as
 * they are. Not here: `processCpuTotal` (processCpuCollector below exposes the same metrics
 * without loading OpenTelemetry) and `eventLoopLag` (loop-lag.ts).
 */
export const DEFAULT_COLLECTORS = [
  // prom-client's order, so /metrics lists them as before.
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
] as const;

/** Runs one of prom-client's default collectors on the registry, its names under `prefix`. */
export function runDefaultCollector(name: (typeof DEFAULT_COLLECTORS)[number], registry: Registry, prefix: string): void {
  const collector = require(`prom-client/lib/metrics/${name}`) as (registry: Registry, config: { prefix: string }) => void;
  collector(registry, { prefix });
}

/**
 * process_cpu_user_seconds_total, process_cpu_system_seconds_total and
 * process_cpu_seconds_total, as prom-client's collector exposes them: counters that each scrape
 * advances by the CPU time used since the previous one.
 */
export function processCpuCollector(registry: Registry, prefix: string): void {
  let last = process.cpuUsage();
  const user = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const now = process.cpuUsage();
      const userSeconds = (now.user - last.user) / 1e6;
      const systemSeconds = (now.system - last.system) / 1e6;
      last = now;
      user.inc(userSeconds);
      system.inc(systemSeconds);
      total.inc(userSeconds + systemSeconds);
    },
  });
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers: [registry] });
  const total = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers: [registry] });
}
