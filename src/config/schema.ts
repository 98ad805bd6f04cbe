// Every table and key of sluice.toml, declared once: type, default, one documentation line and
// the parser that validates it. load.ts validates with these; reference.ts turns them into the
// README's configuration reference. Adding a table = a key list here, a section in SECTIONS,
// a loader in load.ts and a field in types.ts.

import { DEFAULTS } from './defaults.ts';
import { INVALID, isTable, readTable, describeType } from './read-table.ts';
import type { KeySpec, KeySpecs, Reporter, Invalid } from './read-table.ts';
import type { SecretSource } from './types.ts';
import {
  awsKeyIdSurrogate,
  boolean,
  envVarName,
  headerName,
  hostPattern,
  httpMethod,
  integerIn,
  ipAddress,
  list,
  modelGlob,
  cidr,
  nonNegativeNumber,
  nonEmptyString,
  oneOf,
  optionalPath,
  path,
  pathGlob,
  port,
  queryName,
  resolverAddress,
  tokenSurrogate,
} from './values.ts';

/** Largest delay Node timers accept (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;
const MIB = 1024 * 1024;

const d = DEFAULTS;

export const PROXY_KEYS = {
  agent: { type: 'string', default: d.proxy.agent, doc: 'Name written on every log line.', parse: nonEmptyString },
  uid: {
    type: 'integer',
    default: d.proxy.uid,
    doc: 'The uid iptables exempts from capture; sluice runs as it.',
    parse: integerIn(0, 4_294_967_294),
  },
  ca_dir: {
    type: 'path',
    default: d.proxy.caDir,
    doc: 'Folder of ca.crt (0644) and ca.key (0600); created on first run.',
    parse: path,
  },
  log_dir: { type: 'path', default: d.proxy.logDir, doc: 'Folder of access.ndjson and llm.ndjson.', parse: path },
  extra_upstream_ca: {
    type: 'path',
    default: d.proxy.extraUpstreamCa,
    shownDefault: '`""` (none)',
    doc: 'Tests only: one more CA (PEM file) to trust for upstream TLS; "" for none.',
    parse: optionalPath,
  },
  https_port: { type: 'port', default: d.proxy.httpsPort, doc: 'Listener for captured TLS connections.', parse: port },
  http_port: { type: 'port', default: d.proxy.httpPort, doc: 'Listener for captured plain HTTP connections.', parse: port },
  deny_port: {
    type: 'port',
    default: d.proxy.denyPort,
    doc: 'Listener for every other captured TCP port (refused and logged).',
    parse: port,
  },
  dns_port: { type: 'port', default: d.proxy.dnsPort, doc: 'Listener for captured DNS (UDP and TCP).', parse: port },
  admin_port: {
    type: 'port',
    default: d.proxy.adminPort,
    doc: 'Listener for /healthz, /readyz and /metrics.',
    parse: port,
  },
  admin_bind: {
    type: 'array of IP addresses',
    default: d.proxy.adminBind,
    doc: 'Addresses the admin listener binds to.',
    parse: list(ipAddress, { allowEmpty: false, emptyHint: 'list at least one address, e.g. "127.0.0.1"' }),
  },
  leaf_key: {
    type: 'string',
    default: d.proxy.leafKey,
    doc: 'Key type of minted leaf certificates: "ecdsa" (P-256) or "rsa".',
    parse: oneOf(['ecdsa', 'rsa']),
  },
  leaf_cache_size: {
    type: 'integer',
    default: d.proxy.leafCacheSize,
    doc: 'Minted leaf certificates kept in memory (least recently used are dropped).',
    parse: integerIn(1, 1_000_000),
  },
  drain_seconds: {
    type: 'integer',
    default: d.proxy.drainSeconds,
    doc: 'On SIGTERM, seconds to wait for in-flight requests before closing them.',
    parse: integerIn(0, 3600),
  },
  mode: {
    type: 'string',
    default: d.proxy.mode,
    doc: '"enforce" denies what the allowlist does not allow; "learn" forwards it and logs decision "would_deny" (never a private address, never a credential outside its scope); "report" denies and logs "would_deny". `sluice suggest` turns the log into [[allow]] entries.',
    parse: oneOf(['enforce', 'learn', 'report']),
  },
  buffer_budget_bytes: {
    type: 'integer',
    default: d.proxy.bufferBudgetBytes,
    doc: 'Memory all of sluice\'s buffers may hold together (SigV4 bodies being hashed, LLM log captures, DNS replies waiting to be read); past it, requests that need a buffer get 503 over_capacity instead of sluice running out of memory. Each buffer also has its own cap (e.g. [upstream] max_buffered_body_bytes). Open HTTP/2 request bodies (1 MiB receive window each) are bounded by a second budget of the same size.',
    parse: integerIn(MIB, 64 * 1024 * MIB),
  },
} satisfies KeySpecs;

export const UPSTREAM_KEYS = {
  https_port: {
    type: 'port',
    default: d.upstream.httpsPort,
    doc: 'Port dialled for requests captured on the TLS listener.',
    parse: port,
  },
  http_port: {
    type: 'port',
    default: d.upstream.httpPort,
    doc: 'Port dialled for requests captured on the plain HTTP listener.',
    parse: port,
  },
  connect_timeout_ms: {
    type: 'integer',
    default: d.upstream.connectTimeoutMs,
    doc: 'Time allowed to connect (TCP and TLS) to an upstream, per address. A name\'s checked addresses are tried IPv4 and IPv6 interleaved (the one that last connected first), the next one as soon as an attempt fails, or when none has its TCP connection 250 ms after the last one started (RFC 8305; at most 4 attempts at once); the first to connect is used and the others are closed, so a dead address among live ones costs ~250 ms.',
    parse: integerIn(1, MAX_TIMER_MS),
  },
  headers_timeout_ms: {
    type: 'integer',
    default: d.upstream.headersTimeoutMs,
    doc: 'Time allowed for an upstream\'s response headers (LLM calls are slow); interim `1xx` responses do not extend it past twice this.',
    parse: integerIn(1, MAX_TIMER_MS),
  },
  max_buffered_body_bytes: {
    type: 'integer',
    default: d.upstream.maxBufferedBodyBytes,
    doc: 'Largest request body sluice buffers when it must (SigV4 re-signing without x-amz-content-sha256).',
    parse: integerIn(1, 1024 * MIB),
  },
  public_cidrs: {
    type: 'array of CIDR blocks',
    default: d.upstream.publicCidrs,
    shownDefault: '`[]`',
    doc: 'Special-purpose ranges to treat as public (a lab, a corporate 10/8 service network); `sluice check` warns for each.',
    parse: list(cidr, { allowEmpty: true }),
  },
  http2: {
    type: 'boolean',
    default: d.upstream.http2,
    doc: 'Offer HTTP/2 by ALPN to every upstream. gRPC requests always offer it (they need it); others use HTTP/1.1 by default, measured 2.2× faster through undici (bench peer sluice-h2up).',
    parse: boolean,
  },
} satisfies KeySpecs;

export const DNS_KEYS = {
  deny: {
    type: 'string',
    default: d.dns.deny,
    doc: 'Answer for names that are not allowlisted: "sinkhole" (198.18.255.254 / 100::1) or "nxdomain".',
    parse: oneOf(['sinkhole', 'nxdomain']),
  },
  upstream: {
    type: 'string',
    default: d.dns.upstream,
    shownDefault: '$SLUICE_DNS_UPSTREAM, else the system resolver',
    doc: 'Resolver sluice itself uses: "IP" or "IP:port" ("[IPv6]:port"). In a container give it one (or SLUICE_DNS_UPSTREAM): a resolv.conf shared with the agent is not out of its reach.',
    parse: resolverAddress,
  },
} satisfies KeySpecs;

export const CLIENT_KEYS = {
  headers_timeout_ms: {
    type: 'integer',
    default: d.client.headersTimeoutMs,
    doc: 'Time the agent has to send complete request headers; until the upstream answers, a request body (not gRPC) must also bring at least 1 KiB or its end in every such period, else 408.',
    parse: integerIn(1, MAX_TIMER_MS),
  },
  keepalive_timeout_ms: {
    type: 'integer',
    default: d.client.keepAliveTimeoutMs,
    doc: 'Idle agent connections are closed after this.',
    parse: integerIn(1, MAX_TIMER_MS),
  },
  max_header_bytes: {
    type: 'integer',
    default: d.client.maxHeaderBytes,
    doc: 'Largest total size of an agent\'s request headers.',
    parse: integerIn(1024, 16 * MIB),
  },
  max_header_count: {
    type: 'integer',
    default: d.client.maxHeaderCount,
    doc: 'Most header lines in an agent\'s request.',
    parse: integerIn(1, 10_000),
  },
} satisfies KeySpecs;

export const WEBSOCKET_KEYS = {
  max_frame_bytes: {
    type: 'integer',
    default: d.websocket.maxFrameBytes,
    doc: 'Largest WebSocket frame either side may send; larger: both sides closed with 1009.',
    parse: integerIn(125, 1024 * MIB),
  },
  max_message_bytes: {
    type: 'integer',
    default: d.websocket.maxMessageBytes,
    doc: 'Largest WebSocket message (all its fragments); larger: both sides closed with 1009.',
    parse: integerIn(125, 1024 * MIB),
  },
  idle_timeout_ms: {
    type: 'integer',
    default: d.websocket.idleTimeoutMs,
    doc: 'A WebSocket with no frame either way for this long is closed (1001); pings count.',
    parse: integerIn(1, MAX_TIMER_MS),
  },
} satisfies KeySpecs;

export const LOG_KEYS = {
  max_body_bytes: {
    type: 'integer',
    default: d.log.maxBodyBytes,
    doc: 'Largest request or response body kept per LLM exchange in llm.ndjson; longer ones are cut there (truncated: true). The agent always gets the whole body.',
    parse: integerIn(1024, 1024 * MIB),
  },
  max_bytes: {
    type: 'integer',
    default: d.log.maxBytes,
    doc: 'llm.ndjson is rotated to llm.ndjson.1 when it reaches this size.',
    parse: integerIn(64 * 1024, 1024 * 1024 * MIB),
  },
  keep: {
    type: 'integer',
    default: d.log.keep,
    doc: 'Rotated files kept (llm.ndjson.1 … llm.ndjson.N); the oldest is deleted.',
    parse: integerIn(1, 1000),
  },
  on_failure: {
    type: 'string',
    default: d.log.onFailure,
    doc: 'While llm.ndjson cannot be written (full disk, unwritable folder): "block" refuses LLM requests with 503, "continue" forwards them unlogged. Either way /readyz reports it.',
    parse: oneOf(['block', 'continue']),
  },
} satisfies KeySpecs;

export const LLM_PROVIDERS = ['anthropic', 'openai', 'gemini'] as const;

export const ALLOW_KEYS = {
  host: {
    type: 'string',
    required: true,
    example: 'host = "api.example.com"',
    doc: 'Exact host name or IP address, or "*.example.com" for one or more labels under example.com.',
    parse: hostPattern,
  },
  llm: {
    type: 'string',
    default: undefined,
    shownDefault: 'none',
    doc: 'Log request and response bodies for this LLM API: "anthropic", "openai" or "gemini".',
    parse: oneOf(LLM_PROVIDERS),
  },
  private: {
    type: 'boolean',
    default: d.allow.private,
    doc: 'Allow the host to resolve to private or special-purpose addresses (10/8, 192.168/16, …).',
    parse: boolean,
  },
  methods: {
    type: 'array of strings',
    default: undefined,
    shownDefault: 'any',
    doc: 'HTTP methods allowed, e.g. ["GET", "HEAD"].',
    parse: list(httpMethod, { allowEmpty: false, emptyHint: 'omit methods to allow any method' }),
  },
  paths: {
    type: 'array of strings',
    default: undefined,
    shownDefault: 'any',
    doc: 'Path globs allowed: a "*" segment matches one segment, "**" any number, "*" inside a segment any characters but "/"; e.g. ["/org/**"].',
    parse: list(pathGlob, { allowEmpty: false, emptyHint: 'omit paths to allow any path' }),
  },
  models: {
    type: 'array of strings',
    default: undefined,
    shownDefault: 'any',
    doc: 'LLM models allowed (needs llm), globs with "*", e.g. ["claude-sonnet-4-*"]; another model gets 403 model_not_allowed before anything leaves.',
    parse: list(modelGlob, { allowEmpty: false, emptyHint: 'omit models to allow any model' }),
  },
  max_tokens: {
    type: 'integer',
    default: undefined,
    shownDefault: 'none',
    doc: 'Largest output-token limit an LLM request may ask for (needs llm); larger: 403 max_tokens_exceeded.',
    parse: integerIn(1, 100_000_000),
  },
  clamp_max_tokens: {
    type: 'boolean',
    default: d.allow.clampMaxTokens,
    doc: 'Lower a larger max_tokens to the ceiling instead of refusing (logged).',
    parse: boolean,
  },
} satisfies KeySpecs;

export const BUDGET_KEYS = {
  requests_per_minute: {
    type: 'integer',
    default: undefined,
    shownDefault: 'none',
    doc: 'LLM requests per minute (token bucket); over: 429 rate_limited with Retry-After.',
    parse: integerIn(1, 10_000_000),
  },
  tokens_per_day: {
    type: 'integer',
    default: undefined,
    shownDefault: 'none',
    doc: 'Input + output tokens per UTC day, from the responses\' usage; spent: 429 budget_exhausted until the day turns.',
    parse: integerIn(1, Number.MAX_SAFE_INTEGER),
  },
  usd_per_day: {
    type: 'number',
    default: undefined,
    shownDefault: 'none',
    doc: 'Spend per UTC day in USD, priced by [prices]; spent: 429 budget_exhausted.',
    parse: nonNegativeNumber,
  },
} satisfies KeySpecs;

/** [budget.models."GLOB"]: the same day budgets for the models a glob matches. */
export const BUDGET_MODEL_KEYS = {
  tokens_per_day: BUDGET_KEYS.tokens_per_day,
  usd_per_day: BUDGET_KEYS.usd_per_day,
} satisfies KeySpecs;

/** [prices."GLOB"]: USD per million tokens; the first glob (in file order) that matches a model prices it. */
export const PRICE_KEYS = {
  input: { type: 'number', required: true, example: 'input = 3.0', doc: 'USD per million input tokens.', parse: nonNegativeNumber },
  output: { type: 'number', required: true, example: 'output = 15.0', doc: 'USD per million output tokens.', parse: nonNegativeNumber },
} satisfies KeySpecs;

export const SECRET_SOURCE_KEYS = {
  env: { type: 'string', default: undefined, doc: 'Read the secret from this environment variable.', parse: envVarName },
  file: {
    type: 'path',
    default: undefined,
    doc: 'Read the secret from this file (surrounding whitespace is ignored).',
    parse: path,
  },
  optional: {
    type: 'boolean',
    default: d.secretSource.optional,
    doc: 'An absent variable or file is not an error (e.g. AWS_SESSION_TOKEN).',
    parse: boolean,
  },
} satisfies KeySpecs;

const SECRET_SOURCE_SHAPE = '{ env = "NAME" } or { file = "path" }';

/** A secret source: an inline table with exactly one of env / file. */
export function secretSource(value: unknown, at: Reporter): SecretSource | Invalid {
  if (!isTable(value)) {
    at.report(`expected an inline table ${SECRET_SOURCE_SHAPE}, got ${describeType(value)}`);
    return INVALID;
  }
  const { values, failed } = readTable(value, SECRET_SOURCE_KEYS, at, { label: 'a secret source' });
  if (failed.size > 0) return INVALID;
  const { env, file, optional } = values;
  if ((env === undefined) === (file === undefined)) {
    at.report(`${env === undefined ? 'neither' : 'both'} env and file given; valid: exactly one, ${SECRET_SOURCE_SHAPE}`);
    return INVALID;
  }
  return env !== undefined ? { kind: 'env', name: env, optional } : { kind: 'file', path: file ?? '', optional };
}

const secretSpec = (doc: string, example: string) =>
  ({
    type: 'secret source',
    required: true,
    example,
    doc,
    parse: secretSource,
  }) satisfies KeySpec<SecretSource>;

const CREDENTIAL_TYPE = {
  type: 'string',
  default: d.credentials.type,
  doc: '"bearer" (a token swapped wherever a client puts one) or "aws" (SigV4 re-signing).',
  parse: oneOf(['bearer', 'aws']),
} satisfies KeySpec<'bearer' | 'aws'>;

const CREDENTIAL_HOSTS = {
  type: 'array of strings',
  required: true,
  example: 'hosts = ["api.example.com"]',
  doc: 'Hosts the real secret is sent to; each must be allowed by an [[allow]] rule.',
  parse: list(hostPattern, { allowEmpty: false, emptyHint: 'list the hosts this credential is for' }),
} satisfies KeySpec<readonly string[]>;

const ALLOW_FOREIGN = {
  type: 'boolean',
  default: d.credentials.allowForeignCredentials,
  doc: 'Forward requests to these hosts that carry some other credential instead of refusing them.',
  parse: boolean,
} satisfies KeySpec<boolean>;

const PLAINTEXT = {
  type: 'boolean',
  default: d.credentials.plaintext,
  doc: 'Also send the real secret on requests that arrive over plain HTTP (captured port 80), where anyone on the path can read it. Default: refused with 403 credential_over_plaintext. sluice check warns about every credential that sets it.',
  parse: boolean,
} satisfies KeySpec<boolean>;

export const BEARER_KEYS = {
  type: CREDENTIAL_TYPE,
  hosts: CREDENTIAL_HOSTS,
  surrogate: {
    type: 'string',
    required: true,
    example: 'surrogate = "sk-sluice-surrogate-0123456789"',
    doc: 'What the agent holds instead of the secret (16+ printable characters, unique).',
    parse: tokenSurrogate,
  },
  secret: secretSpec('Where the real secret comes from.', 'secret = { env = "API_KEY" }'),
  headers: {
    type: 'array of strings',
    default: [] as readonly string[],
    doc: 'More header names in which the surrogate may appear (besides Authorization, x-api-key, x-goog-api-key).',
    parse: list(headerName, { allowEmpty: true }),
  },
  query: {
    type: 'array of strings',
    default: [] as readonly string[],
    doc: 'Query parameter names in which the surrogate may appear, e.g. ["key"].',
    parse: list(queryName, { allowEmpty: true }),
  },
  body: {
    type: 'boolean',
    default: d.credentials.body,
    doc: 'Also swap the surrogate in request bodies. The real secret then sits in bodies the host may store and serve back, and gRPC replies from the host are held by the scrub window; sluice check warns about every credential that sets it.',
    parse: boolean,
  },
  allow_foreign_credentials: ALLOW_FOREIGN,
  plaintext: PLAINTEXT,
} satisfies KeySpecs;

export const AWS_KEYS = {
  type: CREDENTIAL_TYPE,
  hosts: CREDENTIAL_HOSTS,
  surrogate_access_key_id: {
    type: 'string',
    required: true,
    example: 'surrogate_access_key_id = "AKIASLUICEEXAMPLE000"',
    doc: 'Access key id the agent holds (16+ upper-case letters and digits, unique).',
    parse: awsKeyIdSurrogate,
  },
  surrogate_secret_access_key: {
    type: 'string',
    required: true,
    example: 'surrogate_secret_access_key = "sluice-example-surrogate-secret"',
    doc: 'Secret access key the agent signs with; sluice verifies the signature with it.',
    parse: tokenSurrogate,
  },
  access_key_id: secretSpec('Where the real access key id comes from.', 'access_key_id = { env = "AWS_ACCESS_KEY_ID" }'),
  secret_access_key: secretSpec(
    'Where the real secret access key comes from.',
    'secret_access_key = { env = "AWS_SECRET_ACCESS_KEY" }',
  ),
  session_token: {
    type: 'secret source',
    default: undefined,
    shownDefault: 'none',
    doc: 'Where the real session token comes from, if any (usually with optional = true).',
    parse: secretSource,
  },
  allow_foreign_credentials: ALLOW_FOREIGN,
  plaintext: PLAINTEXT,
} satisfies KeySpecs;

/** A documented section of the file, in reference order. */
export interface SectionSpec {
  /** As written in TOML: "[proxy]", "[[allow]]", "[credentials.NAME]". */
  heading: string;
  doc: string;
  keys: KeySpecs;
}

export const SECTIONS: readonly SectionSpec[] = [
  { heading: '[proxy]', doc: 'The proxy process: identity, files and listeners.', keys: PROXY_KEYS },
  { heading: '[upstream]', doc: 'Connections from sluice to the real servers.', keys: UPSTREAM_KEYS },
  { heading: '[dns]', doc: 'The DNS listener that answers the agent\'s lookups.', keys: DNS_KEYS },
  { heading: '[client]', doc: 'Limits on the agent\'s side of each connection.', keys: CLIENT_KEYS },
  { heading: '[log]', doc: 'The LLM audit log, llm.ndjson in proxy.log_dir.', keys: LOG_KEYS },
  { heading: '[budget]', doc: 'Limits on this agent\'s LLM use (one sluice = one agent); [budget.models."GLOB"] takes tokens_per_day and usd_per_day for the models a glob matches.', keys: BUDGET_KEYS },
  { heading: '[prices."GLOB"]', doc: 'Prices for usd_per_day budgets, per model glob.', keys: PRICE_KEYS },
  { heading: '[websocket]', doc: 'Limits on relayed WebSocket connections (after the upgrade).', keys: WEBSOCKET_KEYS },
  {
    heading: '[[allow]]',
    doc: 'One rule per entry; a request is allowed when some rule matches its host, method and path. Anything else is denied.',
    keys: ALLOW_KEYS,
  },
  {
    heading: '[credentials.NAME]',
    doc: 'A bearer credential (type = "bearer", the default): the surrogate is swapped for the secret on the credential\'s hosts only.',
    keys: BEARER_KEYS,
  },
  {
    heading: '[credentials.NAME] type = "aws"',
    doc: 'An AWS credential: requests signed with the surrogate key are verified, then re-signed with the real key.',
    keys: AWS_KEYS,
  },
  {
    heading: 'Secret sources',
    doc: `Inline tables naming where a secret comes from: ${SECRET_SOURCE_SHAPE}, with optional = true where absence is fine. sluice check reports sources it cannot read.`,
    keys: SECRET_SOURCE_KEYS,
  },
];
