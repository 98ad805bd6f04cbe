// A label-less Prometheus histogram whose observe() is a bucket search and two additions.
// prom-client's Histogram hashes the (empty) label set and walks an object per observation:
// ~1 % of sluice's CPU per keep-alive request (bench profile, issue 14). This one keeps plain
// counters and hands prom-client's registry the same exposition (`_bucket{le=…}` cumulative,
// `_sum`, `_count`) when it is scraped.
import type { Registry } from 'prom-client';

export interface LeanHistogram {
  observe(value: number): void;
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export function createLeanHistogram(options: { name: string; help: string; buckets: readonly number[]; registry: Registry }): LeanHistogram {
  const bounds = [...options.buckets].sort((a, b) => a - b);
  const counts = new Float64Array(bounds.length + 1); // the last slot: above every bound (+Inf only)
  let sum = 0;
  let count = 0;
  const metric = {
    name: options.name,
    help: options.help,
    type: 'histogram',
    aggregator: 'sum',
    get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
      const values: Sample[] = [];
      let cumulative = 0;
      bounds.forEach((le, i) => {
        cumulative += counts[i] as number;
        values.push({ metricName: `${options.name}_bucket`, labels: { le }, value: cumulative });
      });
      values.push({ metricName: `${options.name}_bucket`, labels: { le: '+Inf' }, value: count });
      values.push({ metricName: `${options.name}_sum`, labels: {}, value: sum });
      values.push({ metricName: `${options.name}_count`, labels: {}, value: count });
      return { name: options.name, help: options.help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  options.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  return {
    observe(value) {
      let i = 0;
      while (i < bounds.length && value > (bounds[i] as number)) i++;
      counts[i] = (counts[i] as number) + 1;
      sum += value;
      count++;
    },
  };
}
