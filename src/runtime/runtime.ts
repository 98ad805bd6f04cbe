// Everything a request needs, built from one configuration. A reload builds a new Runtime and
// swaps it in; requests already under way keep the one they started with.
import type { Config } from '../config/types.ts';
import type { AccessLog } from '../audit/access-log.ts';
import type { OpsLog } from '../audit/ops-log.ts';
import type { Metrics } from '../admin/metrics.ts';
import type { LeafIssuer } from '../tls/leaf-cache.ts';
import type { Ledger } from '../budget/ledger.ts';
import type { LlmLog } from '../audit/llm/llm-log.ts';
import { createPolicy, type Policy } from '../steps/policy/policy.ts';
import { configureBufferBudget, configureH2WindowBudget } from '../pipeline/buffer-budget.ts';
import { createResolver, type CheckedResolver } from '../upstream/resolve.ts';
import { createUpstream, type Upstream } from '../upstream/agent.ts';
import { createSecretStore, type SecretStore } from '../credentials/secret-store.ts';
import { createWebSocketForwarder, type WebSocketForwarder } from '../upstream/websocket.ts';

/** Long-lived parts that survive reloads. */
export interface Services {
  readonly opsLog: OpsLog;
  readonly accessLog: AccessLog;
  readonly metrics: Metrics;
  readonly issuer: LeafIssuer;
  /** The agent's LLM spend today and its request rate (DESIGN §8); survives reloads. */
  readonly budget: Ledger;
  /** llm.ndjson, with the LLM exchanges still in flight (written as cut off on SIGTERM). */
  readonly llmLog: LlmLog;
}

export interface Runtime {
  readonly config: Config;
  readonly policy: Policy;
  readonly resolver: CheckedResolver;
  readonly upstream: Upstream;
  readonly websockets: WebSocketForwarder;
  readonly services: Services;
  /** The only holder of real secret values; re-read from their sources on every (re)load. */
  readonly credentials: SecretStore;
}

function sameUpstream(a: Config, b: Config): boolean {
  return a.proxy.extraUpstreamCa === b.proxy.extraUpstreamCa
    && a.dns.upstream === b.dns.upstream
    && JSON.stringify(a.upstream) === JSON.stringify(b.upstream);
}

export function buildRuntime(config: Config, services: Services, previous?: Runtime): Runtime {
  // First: a missing or empty secret refuses the (re)load before anything else is built.
  const credentials = createSecretStore(config);
  // Every buffer (SigV4 bodies, LLM captures, DNS replies) draws on one process-wide budget.
  configureBufferBudget(config.proxy.bufferBudgetBytes);
  configureH2WindowBudget(config.proxy.bufferBudgetBytes);
  const policy = createPolicy(config.allow);
  const reuse = previous !== undefined && sameUpstream(previous.config, config);
  const resolver = reuse ? previous.resolver : createResolver({ upstream: config.dns.upstream, publicCidrs: config.upstream.publicCidrs });
  const upstream = reuse
    ? previous.upstream
    : createUpstream({ settings: config.upstream, resolver, extraCaFile: config.proxy.extraUpstreamCa });
  const websockets = reuse ? previous.websockets : createWebSocketForwarder(resolver, upstream.trust, config.upstream.connectTimeoutMs);
  return Object.freeze({ config, policy, resolver, upstream, websockets, services, credentials });
}
