// sluice.toml → Config. Validation collects every problem before failing (a user fixes them all
// in one pass), each with file, line and key; the result is frozen so no part of sluice can
// change the policy another part is reading.

import { resolverAddress } from './values.ts';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from './errors.ts';
import type { ConfigIssue } from './errors.ts';
import { indexKeyLines, joinIndex, joinKey } from './locate.ts';
import { loadBudget, loadPrices, checkLlmPolicy } from './load-llm-policy.ts';
import { checkCredentialHostsAllowed, loadCredentials } from './load-credentials.ts';
import { createReporter, isTable, readTable, describeType } from './read-table.ts';
import type { KeySpecs, RawIssue, Reporter, TableResult } from './read-table.ts';
import { ALLOW_KEYS, CLIENT_KEYS, DNS_KEYS, LOG_KEYS, PROXY_KEYS, UPSTREAM_KEYS, WEBSOCKET_KEYS } from './schema.ts';
import type {
  AllowRule,
  ClientLimits,
  Config,
  DnsSettings,
  LogSettings,
  WebSocketSettings,
  ProxySettings,
  UpstreamSettings,
} from './types.ts';

/** Reads, validates and freezes a config file. Throws ConfigError listing every problem. */
export async function loadConfig(file: string): Promise<Config> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError([{ file, line: 0, key: '', message: `cannot read the config file (${reason})` }], {
      cause: error,
    });
  }
  return parseConfig(source, file);
}

/** Validates TOML source as if read from `file` (named in errors; relative paths resolve beside it). */
export function parseConfig(source: string, file: string): Config {
  const absolute = resolve(file);
  let raw: Record<string, unknown>;
  try {
    raw = parse(source, { unsafeKeyBehaviour: 'throw' });
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const what = (error.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
    throw new ConfigError([{ file, line: error.line, key: '', message: `invalid TOML: ${what} (column ${error.column})` }], {
      cause: error,
    });
  }

  const issues: RawIssue[] = [];
  const root = createReporter('', dirname(absolute), issues);
  const config = buildConfig(raw, root, absolute);
  if (issues.length > 0) {
    const index = indexKeyLines(source);
    const located: ConfigIssue[] = issues.map((issue) => ({ file, line: index.lineOf(issue.key), ...issue }));
    located.sort((a, b) => a.line - b.line);
    throw new ConfigError(located);
  }
  return deepFreeze(config);
}

/** Top-level tables and how each becomes its part of Config. Add a table here. */
const TABLE_LOADERS = {
  proxy: (value: unknown, at: Reporter) => loadProxy(value, at),
  upstream: (value: unknown, at: Reporter) => loadUpstream(value, at),
  dns: (value: unknown, at: Reporter) => loadDns(value, at),
  client: (value: unknown, at: Reporter) => loadClient(value, at),
  log: (value: unknown, at: Reporter) => loadLog(value, at),
  websocket: (value: unknown, at: Reporter) => loadWebSocket(value, at),
  budget: (value: unknown, at: Reporter) => loadBudget(value, at),
  prices: (value: unknown, at: Reporter) => loadPrices(value, at),
  allow: (value: unknown, at: Reporter) => loadAllow(value, at),
  credentials: (value: unknown, at: Reporter) => loadCredentials(value, at),
} satisfies Record<string, (value: unknown, at: Reporter) => unknown>;

const SECTION_NAMES = '[proxy], [upstream], [dns], [client], [log], [websocket], [budget], [prices."GLOB"], [[allow]], [credentials.NAME]';

function buildConfig(raw: Record<string, unknown>, root: Reporter, file: string): Config {
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(TABLE_LOADERS, name)) {
      root.report(`unknown table or key; valid at the top level: ${SECTION_NAMES}`, joinKey('', name));
    }
  }
  const allow = TABLE_LOADERS.allow(raw.allow, root.at('allow'));
  const credentials = TABLE_LOADERS.credentials(raw.credentials, root.at('credentials'));
  // A rejected allow host would make credential hosts look unallowed: skip until it is fixed.
  if (allow.hostsComplete) checkCredentialHostsAllowed(credentials, allow.rules, root);
  const budget = TABLE_LOADERS.budget(raw.budget, root.at('budget'));
  const prices = TABLE_LOADERS.prices(raw.prices, root.at('prices'));
  checkLlmPolicy(budget, prices, allow.rules, root);
  return {
    file,
    proxy: TABLE_LOADERS.proxy(raw.proxy, root.at('proxy')),
    upstream: TABLE_LOADERS.upstream(raw.upstream, root.at('upstream')),
    dns: TABLE_LOADERS.dns(raw.dns, root.at('dns')),
    client: TABLE_LOADERS.client(raw.client, root.at('client')),
    log: TABLE_LOADERS.log(raw.log, root.at('log')),
    websocket: TABLE_LOADERS.websocket(raw.websocket, root.at('websocket')),
    budget,
    prices,
    allow: allow.rules,
    credentials: credentials.list,
  };
}

/** A plain [table]; absent means all defaults. */
function readSection<S extends KeySpecs>(value: unknown, keys: S, at: Reporter, label: string): TableResult<S> {
  if (value !== undefined && !isTable(value)) {
    at.report(`expected a table ${label}, got ${describeType(value)}`);
  }
  return readTable(isTable(value) ? value : {}, keys, at, { label });
}

function loadProxy(value: unknown, at: Reporter): ProxySettings {
  const { values: v, failed } = readSection(value, PROXY_KEYS, at, '[proxy]');
  // Defaults are relative too ("certs", "logs"): resolve them beside the config file.
  const proxy: ProxySettings = {
    agent: v.agent,
    uid: v.uid,
    caDir: resolve(at.baseDir, v.ca_dir),
    logDir: resolve(at.baseDir, v.log_dir),
    extraUpstreamCa: v.extra_upstream_ca,
    httpsPort: v.https_port,
    httpPort: v.http_port,
    denyPort: v.deny_port,
    dnsPort: v.dns_port,
    adminPort: v.admin_port,
    adminBind: v.admin_bind,
    leafKey: v.leaf_key,
    leafCacheSize: v.leaf_cache_size,
    drainSeconds: v.drain_seconds,
    bufferBudgetBytes: v.buffer_budget_bytes,
    mode: v.mode,
  };
  // Each listener tells sluice which captured port a connection came from: they cannot share.
  // Defaults go first so a clash is reported on the key the user wrote.
  const written = (name: string): boolean => isTable(value) && Object.hasOwn(value, name);
  const listeners = (['https_port', 'http_port', 'deny_port', 'dns_port', 'admin_port'] as const)
    .filter((name) => !failed.has(name))
    .sort((a, b) => Number(written(a)) - Number(written(b)));
  const seen = new Map<number, string>();
  for (const name of listeners) {
    const port = v[name];
    const other = seen.get(port);
    if (other === undefined) {
      seen.set(port, name);
    } else {
      const which = written(other) ? `proxy.${other}` : `the default of proxy.${other}`;
      at.report(`${port} is also ${which}; each listener needs its own port`, joinKey(at.key, name));
    }
  }
  return proxy;
}

function loadUpstream(value: unknown, at: Reporter): UpstreamSettings {
  const { values: v } = readSection(value, UPSTREAM_KEYS, at, '[upstream]');
  return {
    httpsPort: v.https_port,
    httpPort: v.http_port,
    connectTimeoutMs: v.connect_timeout_ms,
    headersTimeoutMs: v.headers_timeout_ms,
    maxBufferedBodyBytes: v.max_buffered_body_bytes,
    http2: v.http2,
    publicCidrs: v.public_cidrs,
  };
}

/** The environment's resolver for sluice, when the file names none (containers: see docker/). */
export const DNS_UPSTREAM_ENV = 'SLUICE_DNS_UPSTREAM';

function loadDns(value: unknown, at: Reporter): DnsSettings {
  const { values: v } = readSection(value, DNS_KEYS, at, '[dns]');
  let upstream = v.upstream;
  const fromEnv = process.env[DNS_UPSTREAM_ENV];
  // A resolver from the environment is out of the agent's reach, unlike a resolv.conf it shares.
  if (upstream === undefined && fromEnv !== undefined && fromEnv !== '' && fromEnv !== 'system') {
    const parsed = resolverAddress(fromEnv, at.at(`dns.upstream (from ${DNS_UPSTREAM_ENV})`));
    if (typeof parsed === 'string') upstream = parsed;
  }
  return { deny: v.deny, upstream };
}

function loadClient(value: unknown, at: Reporter): ClientLimits {
  const { values: v } = readSection(value, CLIENT_KEYS, at, '[client]');
  return {
    headersTimeoutMs: v.headers_timeout_ms,
    keepAliveTimeoutMs: v.keepalive_timeout_ms,
    maxHeaderBytes: v.max_header_bytes,
    maxHeaderCount: v.max_header_count,
  };
}

function loadWebSocket(value: unknown, at: Reporter): WebSocketSettings {
  const { values: v } = readSection(value, WEBSOCKET_KEYS, at, '[websocket]');
  return { maxFrameBytes: v.max_frame_bytes, maxMessageBytes: v.max_message_bytes, idleTimeoutMs: v.idle_timeout_ms };
}

function loadLog(value: unknown, at: Reporter): LogSettings {
  const { values: v } = readSection(value, LOG_KEYS, at, '[log]');
  return { maxBodyBytes: v.max_body_bytes, maxBytes: v.max_bytes, keep: v.keep, onFailure: v.on_failure };
}

interface LoadedAllow {
  rules: AllowRule[];
  /** False when some rule's host was rejected: cross-checks against hosts would mislead. */
  hostsComplete: boolean;
}

function loadAllow(value: unknown, at: Reporter): LoadedAllow {
  if (value === undefined) return { rules: [], hostsComplete: true };
  if (!Array.isArray(value)) {
    at.report(`expected [[allow]] entries (an array of tables), got ${describeType(value)}`);
    return { rules: [], hostsComplete: false };
  }
  const rules: AllowRule[] = [];
  let hostsComplete = true;
  value.forEach((entry: unknown, index) => {
    const here = at.at(joinIndex(at.key, index));
    if (!isTable(entry)) {
      here.report(`expected a table ([[allow]] entry), got ${describeType(entry)}`);
      hostsComplete = false;
      return;
    }
    const { values: v, failed } = readTable(entry, ALLOW_KEYS, here, { label: '[[allow]]' });
    if (failed.has('host') || v.host === undefined) hostsComplete = false;
    rules.push({
      index, host: v.host, llm: v.llm, private: v.private, methods: v.methods, paths: v.paths,
      models: v.models, maxTokens: v.max_tokens, clampMaxTokens: v.clamp_max_tokens,
    });
  });
  return { rules, hostsComplete };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
