// Prometheus metrics, on a registry of sluice's own. Labels are closed sets (decision, status,
// reason code, listener): never a host name or anything an agent controls without bound.
import { Counter, DEFAULT_COLLECTORS, Gauge, Registry, processCpuCollector, runDefaultCollector } from './prom.ts';
import { createLeanHistogram, type LeanHistogram } from './lean-histogram.ts';
import { createLoopLag, LOOP_IDLE_AFTER_MS, type LoopActivity } from './loop-lag.ts';

/**
 * prom-client's default process and Node metrics (sluice_process_*, sluice_nodejs_heap_*,
 * _gc_*, …), but for its event-loop lag: that one samples every 10 ms for the life of the
 * process, idle or not (loop-lag.ts samples only while there is work, and gives
 * sluice_event_loop_lag_* net of the interval).
 */
function collectProcessMetrics(registry: Registry): void {
  processCpuCollector(registry, 'sluice_');
  for (const name of DEFAULT_COLLECTORS) runDefaultCollector(name, registry, 'sluice_');
}

export interface Metrics {
  readonly registry: Registry;
  /** Counts one request; cheap on the hot path (the counter is filled in at scrape time). */
  countRequest(decision: 'allow' | 'deny' | 'would_deny', status: number, reason: string | undefined): void;
  readonly connections: Counter<'listener'>;
  readonly activeConnections: Gauge<'listener'>;
  readonly upstreamLatency: LeanHistogram;
  readonly certsMinted: Counter;
  readonly dnsQueries: Counter<'decision'>;
  readonly reloads: Counter<'result'>;
  /** Tells the event-loop lag sampling when there is work (loop-lag.ts). */
  readonly loopActivity: LoopActivity;
}

export function createMetrics(options: { loopIdleAfterMs?: number } = {}): Metrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  // prom-client hashes label sets on every inc(), which cost ~10 % of keep-alive throughput;
  // requests are counted in a plain Map and handed to the counter when it is scraped.
  const requestCounts = new Map<string, { labels: { decision: string; status: string; reason: string }; count: number }>();
  new Counter({
    name: 'sluice_requests_total',
    help: 'HTTP requests by decision, status and reason',
    labelNames: ['decision', 'status', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, count } of requestCounts.values()) this.inc(labels, count);
    },
  });
  // The lag beyond the 10 ms sampling interval, since the previous scrape. The max catches a
  // single stall that a p99 of ~6,000 samples a minute would not.
  const loopLag = createLoopLag(options.loopIdleAfterMs ?? LOOP_IDLE_AFTER_MS);
  let lagMax = 0;
  new Gauge({
    name: 'sluice_event_loop_lag_p99_seconds',
    help: 'p99 event-loop lag since the previous scrape (delay beyond the 10 ms sampling interval; sampled while sluice has work)',
    registers: [registry],
    collect() {
      const lag = loopLag.take();
      this.set(lag.p99);
      lagMax = lag.max;
    },
  });
  new Gauge({
    name: 'sluice_event_loop_lag_max_seconds',
    help: 'Longest event-loop lag since the previous scrape (beyond the 10 ms sampling interval)',
    registers: [registry],
    collect() {
      this.set(lagMax);
    },
  });
  return {
    registry,
    countRequest(decision, status, reason) {
      const key = `${decision} ${status} ${reason ?? ''}`;
      const entry = requestCounts.get(key);
      if (entry !== undefined) entry.count++;
      else requestCounts.set(key, { labels: { decision, status: String(status), reason: reason ?? '' }, count: 1 });
    },
    connections: new Counter({ name: 'sluice_connections_total', help: 'Accepted client connections by listener', labelNames: ['listener'], registers: [registry] }),
    activeConnections: new Gauge({ name: 'sluice_active_connections', help: 'Open client connections by listener', labelNames: ['listener'], registers: [registry] }),
    upstreamLatency: createLeanHistogram({
      name: 'sluice_upstream_response_seconds',
      help: 'Time from forwarding a request to the upstream response headers',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registry,
    }),
    certsMinted: new Counter({ name: 'sluice_certs_minted_total', help: 'Leaf certificates minted', registers: [registry] }),
    dnsQueries: new Counter({ name: 'sluice_dns_queries_total', help: 'DNS queries answered by decision', labelNames: ['decision'], registers: [registry] }),
    reloads: new Counter({ name: 'sluice_config_reloads_total', help: 'Configuration reloads by result', labelNames: ['result'], registers: [registry] }),
    loopActivity: loopLag,
  };
}
