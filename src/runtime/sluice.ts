// Starts and stops one sluice: the CA and leaf issuer, the logs and metrics, every listener
// (loopback only), reload without dropping connections, and a bounded drain on shutdown.
import net from 'node:net';
import type http2 from 'node:http2';
import type tls from 'node:tls';
import type http from 'node:http';
import { mkdirSync } from 'node:fs';
import type { Config } from '../config/types.ts';
import { createAccessLog } from '../audit/access-log.ts';
import { createOpsLog, type OpsLog } from '../audit/ops-log.ts';
import { createMetrics } from '../admin/metrics.ts';
import { createAdminServer } from '../admin/server.ts';
import { loadOrCreateCa, writeTrustBundleBesideCa } from '../tls/ca.ts';
import { createLeafIssuer } from '../tls/leaf-cache.ts';
import { buildRuntime, type Runtime, type Services } from './runtime.ts';
import { createBudgetService } from '../budget/service.ts';
import { registerBudgetMetrics } from '../budget/metrics.ts';
import { createTlsCapture } from '../capture/tls-listener.ts';
import { createHttpCapture } from '../capture/http-listener.ts';
import { createDenyCapture } from '../capture/deny-listener.ts';
import { handleClientError } from '../capture/client-error.ts';
import { answerInOrderThenLinger } from '../capture/lingering-close.ts';
import { startDnsListener } from '../capture/dns-listener.ts';
import type { DnsLogRecord } from '../capture/dns-answer.ts';
import { closeLlmLog, openLlmLog } from '../audit/llm/llm-log.ts';
import { createConnectionDrain } from './connection-drain.ts';

/** Proxy listeners bind to loopback only (DESIGN.md §1): REDIRECT in nat OUTPUT lands there. */
export const LOOPBACK = ['127.0.0.1', '::1'] as const;
/** How long the upstream pools get to close once every client connection is gone. */
const UPSTREAM_CLOSE_MS = 1_000;

export interface StartOptions {
  opsLog?: OpsLog;
}

export interface BoundPorts {
  https: number;
  http: number;
  deny: number;
  dns: number;
  admin: number;
}

export interface RunningSluice {
  readonly ports: BoundPorts;
  readonly caCertPath: string;
  readonly caCreated: boolean;
  /** Addresses that could not be bound (e.g. ::1 where IPv6 is disabled). */
  readonly skippedAddresses: string[];
  runtime(): Runtime;
  /** Swaps in a new configuration; connections and requests under way are not disturbed. */
  reload(config: Config): void;
  /**
   * Stops accepting, closes idle connections at once, lets requests in flight finish within
   * [proxy] drain_seconds and cuts what is left then, flushes the logs. Never rejects.
   */
  close(): Promise<void>;
}

interface Closable {
  close(callback?: (err?: Error) => void): unknown;
}

function isUnavailableAddress(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'EINVAL';
}

async function listen(server: net.Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

export async function startSluice(config: Config, options: StartOptions = {}): Promise<RunningSluice> {
  const opsLog = options.opsLog ?? createOpsLog();
  mkdirSync(config.proxy.logDir, { recursive: true });
  const accessLog = createAccessLog(config.proxy.logDir, config.proxy.agent);
  const llmLog = openLlmLog(config, {
    onProblem: (problem) => {
      if (problem !== undefined) opsLog.error({ problem }, 'llm.ndjson cannot be written');
      else opsLog.warn('llm.ndjson is writable again');
      accessLog.write({ decision: problem === undefined ? 'allow' : 'deny', reason: problem === undefined ? 'llm_log_recovered' : 'llm_log_unwritable', message: problem ?? 'llm.ndjson is writable again' });
    },
  });
  const metrics = createMetrics();
  const { ca, created, warnings } = await loadOrCreateCa(config.proxy.caDir);
  for (const warning of warnings) opsLog.warn({ ca: config.proxy.caDir }, warning);
  // The bundle (system roots + sluice's CA) for agents whose trust variables replace the store;
  // never into a read-only CA folder (a Kubernetes Secret volume).
  const bundle = await writeTrustBundleBesideCa(ca, config.proxy.caDir);
  if ('skipped' in bundle) opsLog.info({ ca: config.proxy.caDir }, bundle.skipped);
  const issuer = createLeafIssuer(ca, {
    keyType: config.proxy.leafKey,
    cacheSize: config.proxy.leafCacheSize,
    onMint: () => metrics.certsMinted.inc(),
  });
  const budget = createBudgetService(config, opsLog);
  registerBudgetMetrics(metrics.registry, budget, () => current().config.budget);
  const services: Services = { opsLog, accessLog, metrics, issuer, budget, llmLog };
  let runtime = buildRuntime(config, services);
  const current = (): Runtime => runtime;

  // Requests in flight, counted for the log line that says how many a drain had to cut.
  let inflightCount = 0;
  const inflight = {
    add: () => {
      inflightCount++;
    },
    done: () => {
      inflightCount--;
    },
  };
  // Every client connection with its requests in flight: what SIGTERM closes at once and what
  // it lets finish.
  // It also holds idle keep-alive HTTP/1 connections to their deadline.
  const connections = createConnectionDrain({ keepAliveMs: () => runtime.config.client.keepAliveTimeoutMs });

  const tlsCapture = createTlsCapture({ current, inflight, upstreamPort: config.upstream.httpsPort });
  const secureServer = tlsCapture.secureServer;
  secureServer.on('secureConnection', (socket: tls.TLSSocket) => connections.secured(socket));
  secureServer.on('session', (session: http2.ServerHttp2Session) => connections.session(session));
  secureServer.on('request', connections.request);
  secureServer.on('upgrade', connections.upgraded);
  secureServer.on('clientError', answerInOrderThenLinger((err, socket) => handleClientError(err, socket, runtime, 'tls')));
  const httpServer = createHttpCapture({ current, inflight, upstreamPort: config.upstream.httpPort });
  httpServer.on('connection', (socket: net.Socket) => connections.accepted(socket, 'http'));
  httpServer.on('request', connections.request);
  httpServer.on('upgrade', connections.upgraded);

  const servers: Closable[] = [];
  const skippedAddresses: string[] = [];
  const ports: BoundPorts = { https: config.proxy.httpsPort, http: config.proxy.httpPort, deny: config.proxy.denyPort, dns: config.proxy.dnsPort, admin: config.proxy.adminPort };

  const bindEverywhere = async (make: () => net.Server, key: keyof BoundPorts, hosts: readonly string[]): Promise<void> => {
    for (const [i, host] of hosts.entries()) {
      const server = make();
      try {
        ports[key] = await listen(server, host, ports[key]);
        servers.push(server);
      } catch (err) {
        // The first address must bind; further ones may be missing (Docker disables IPv6,
        // loopback included, on IPv4-only networks: DESIGN.md §5).
        if (i > 0 && isUnavailableAddress(err)) {
          skippedAddresses.push(`${host}:${ports[key]}`);
          opsLog.warn({ host, port: ports[key] }, `cannot bind ${host}; continuing without it`);
          continue;
        }
        for (const s of servers) s.close();
        throw err;
      }
    }
  };

  let draining = false;
  const readiness = {
    problems: (): string[] => {
      const problems: string[] = [];
      if (draining) problems.push('shutting down');
      if (!listening) problems.push('listeners not up');
      const llmProblem = llmLog.problem();
      if (llmProblem !== undefined) problems.push(llmProblem);
      return problems;
    },
  };
  let listening = false;

  await bindEverywhere(() => net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    connections.accepted(socket, 'tls');
    tlsCapture.onConnection(socket);
  }), 'https', LOOPBACK);
  let first = true;
  await bindEverywhere(() => {
    // One HTTP server handles connections from every bound address.
    if (first) {
      first = false;
      return httpServer;
    }
    const extra = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => httpServer.emit('connection', socket));
    return extra;
  }, 'http', LOOPBACK);
  await bindEverywhere(() => createDenyCapture(current, config.proxy.denyPort), 'deny', LOOPBACK);

  const dnsListeners: { close(): Promise<void> }[] = [];
  const dnsOptions = {
    isAllowed: (name: string) => runtime.policy.hostRules(name).length > 0,
    resolve: async (name: string) => {
      const rules = runtime.policy.hostRules(name);
      const resolved = await runtime.resolver.resolve(name, rules.some((r) => r.private));
      return [...resolved.addresses];
    },
    deny: config.dns.deny,
    log: (record: DnsLogRecord) => {
      metrics.dnsQueries.inc({ decision: record.decision });
      metrics.loopActivity.touch();
      accessLog.write({ listener: 'dns', host: runtime.credentials.redact(record.name), qtype: record.type, decision: record.decision, reason: record.reason });
    },
  };
  // One call for both addresses keeps UDP and TCP on one port (also when the port is 0);
  // without IPv6 on loopback, IPv4 alone.
  try {
    const dns = await startDnsListener({ ...dnsOptions, hosts: [...LOOPBACK], port: ports.dns });
    ports.dns = dns.port;
    dnsListeners.push(dns);
  } catch (err) {
    if (!isUnavailableAddress(err)) throw err;
    const dns = await startDnsListener({ ...dnsOptions, hosts: [LOOPBACK[0]], port: ports.dns });
    ports.dns = dns.port;
    skippedAddresses.push(`${LOOPBACK[1]}:${dns.port}`);
    dnsListeners.push(dns);
  }

  const adminServer = createAdminServer(metrics, readiness);
  const adminServers: http.Server[] = [];
  for (const [i, host] of config.proxy.adminBind.entries()) {
    const server = i === 0 ? adminServer : createAdminServer(metrics, readiness);
    try {
      ports.admin = await listen(server, host, ports.admin);
      adminServers.push(server);
    } catch (err) {
      if (i > 0 && isUnavailableAddress(err)) {
        skippedAddresses.push(`${host}:${ports.admin}`);
        continue;
      }
      throw err;
    }
  }
  listening = true;

  const retired: Runtime[] = [];
  return {
    ports,
    caCertPath: ca.certPath,
    caCreated: created,
    skippedAddresses,
    runtime: current,
    reload(next) {
      const previous = runtime;
      runtime = buildRuntime(next, services, previous);
      if (runtime.upstream !== previous.upstream) retired.push(previous);
      const fixed: (keyof Config['proxy'])[] = ['httpsPort', 'httpPort', 'denyPort', 'dnsPort', 'adminPort', 'caDir', 'logDir', 'leafKey', 'leafCacheSize', 'agent'];
      const changed = fixed.filter((k) => JSON.stringify(previous.config.proxy[k]) !== JSON.stringify(next.proxy[k]));
      if (changed.length > 0) opsLog.warn({ keys: changed.map((k) => `proxy.${k}`) }, 'these settings change only on restart');
      metrics.reloads.inc({ result: 'ok' });
    },
    async close() {
      draining = true;
      const closing = [...servers, ...adminServers].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      await Promise.all(dnsListeners.map((d) => d.close()));
      const requestsAtStart = inflightCount;
      const openAtStart = connections.size;
      const cut = await connections.drain(runtime.config.proxy.drainSeconds * 1000);
      if (cut > 0) opsLog.warn({ connections: cut, drain_seconds: runtime.config.proxy.drainSeconds }, 'drain time is up: cut the connections still busy');
      opsLog.info({ connections: openAtStart, requests: requestsAtStart, cut }, 'drained');
      // A cut request's log line is written as its response closes: let those run first.
      await new Promise((resolve) => setImmediate(resolve));
      // In-flight LLM exchanges are written as cut_off; waits for the disk (bounded), closes the file.
      await closeLlmLog(llmLog);
      for (const server of adminServers) server.closeAllConnections();
      await Promise.all(closing);
      for (const r of [runtime, ...retired]) r.websockets.close();
      // Every client connection is gone, so no upstream request is wanted any more; a pool that
      // still waits on one (a hung upstream) is not waited for.
      await Promise.race([
        Promise.all([runtime, ...retired].map((r) => r.upstream.close().catch(() => undefined))),
        new Promise((resolve) => setTimeout(resolve, UPSTREAM_CLOSE_MS).unref()),
      ]);
      await budget.flush();
      accessLog.close();
    },
  };
}
