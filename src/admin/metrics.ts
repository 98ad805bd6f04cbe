// Prometheus metrics, on a registry of sluice's own. Labels are closed sets (decision, status,
// reason code, listener): never a host name or anything an agent controls without bound.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'decision' | 'status' | 'reason'>;
  readonly connections: Counter<'listener'>;
  readonly activeConnections: Gauge<'listener'>;
  readonly upstreamLatency: Histogram;
  readonly certsMinted: Counter;
  readonly dnsQueries: Counter<'decision'>;
  readonly reloads: Counter<'result'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  return {
    registry,
    requests: new Counter({ name: 'sluice_requests_total', help: 'HTTP requests by decision, status and reason', labelNames: ['decision', 'status', 'reason'], registers: [registry] }),
    connections: new Counter({ name: 'sluice_connections_total', help: 'Accepted client connections by listener', labelNames: ['listener'], registers: [registry] }),
    activeConnections: new Gauge({ name: 'sluice_active_connections', help: 'Open client connections by listener', labelNames: ['listener'], registers: [registry] }),
    upstreamLatency: new Histogram({
      name: 'sluice_upstream_response_seconds',
      help: 'Time from forwarding a request to the upstream response headers',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    certsMinted: new Counter({ name: 'sluice_certs_minted_total', help: 'Leaf certificates minted', registers: [registry] }),
    dnsQueries: new Counter({ name: 'sluice_dns_queries_total', help: 'DNS queries answered by decision', labelNames: ['decision'], registers: [registry] }),
    reloads: new Counter({ name: 'sluice_config_reloads_total', help: 'Configuration reloads by result', labelNames: ['result'], registers: [registry] }),
  };
}
