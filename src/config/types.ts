// The validated, frozen shape of sluice.toml. `load.ts` turns TOML into this; everything else
// in sluice reads only this. Paths are absolute (resolved against the config file's folder).

/** Where a secret value comes from. Exactly one of env/file. */
export type SecretSource =
  | { kind: 'env'; name: string; optional: boolean }
  | { kind: 'file'; path: string; optional: boolean };

export interface ProxySettings {
  /** Name written on every log line. */
  agent: string;
  /** The uid iptables exempts; sluice runs as it. */
  uid: number;
  /** Folder holding ca.crt (0644) and ca.key (0600). Absolute. */
  caDir: string;
  /** Folder holding access.ndjson and llm.ndjson. Absolute. */
  logDir: string;
  /** Tests only: one more CA (PEM file, absolute path) to trust for upstream TLS. */
  extraUpstreamCa: string | undefined;
  httpsPort: number;
  httpPort: number;
  denyPort: number;
  dnsPort: number;
  adminPort: number;
  /** Addresses the admin listener binds to (default loopback only). */
  adminBind: readonly string[];
  /** Key type of minted leaf certificates (one shared key pair for all leaves). */
  leafKey: 'ecdsa' | 'rsa';
  /** Bounded LRU of minted leaf certificates (names). */
  leafCacheSize: number;
  /** Seconds SIGTERM waits for in-flight requests before closing them. */
  drainSeconds: number;
  /** Bytes all buffers together may hold (pipeline/buffer-budget.ts); past it: 503 over_capacity. */
  bufferBudgetBytes: number;
  /** enforce: deny; learn: forward what would be denied; report: deny; both log would_deny. */
  mode: 'enforce' | 'learn' | 'report';
}

export interface UpstreamSettings {
  /** Port dialled for requests captured on the TLS listener (443 in production). */
  httpsPort: number;
  /** Port dialled for requests captured on the plain HTTP listener (80 in production). */
  httpPort: number;
  connectTimeoutMs: number;
  /** Time allowed for response headers (LLM calls are slow). */
  headersTimeoutMs: number;
  /** Cap for bodies that must be buffered (SigV4 without x-amz-content-sha256). */
  maxBufferedBodyBytes: number;
  /** Offer HTTP/2 to every upstream by ALPN; gRPC requests offer it regardless. */
  http2: boolean;
  /** CIDR blocks of special-purpose ranges that count as public (DESIGN §8). */
  publicCidrs: readonly string[];
}

export interface DnsSettings {
  /** Answer for names that are not allowlisted. */
  deny: 'sinkhole' | 'nxdomain';
  /** Resolver sluice itself uses ("host:port" or "host"); undefined = the system resolver. */
  upstream: string | undefined;
}

export interface ClientLimits {
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxHeaderCount: number;
}

export interface LogSettings {
  /** Largest request or response body kept per LLM exchange in llm.ndjson; beyond: truncated. */
  maxBodyBytes: number;
  /** Size at which llm.ndjson is rotated. */
  maxBytes: number;
  /** Rotated files kept. */
  keep: number;
  /** While llm.ndjson cannot be written: refuse LLM requests (503) or let them through unlogged. */
  onFailure: 'block' | 'continue';
}

export interface WebSocketSettings {
  maxFrameBytes: number;
  maxMessageBytes: number;
  /** No frame either way for this long: both sides are closed (1001). */
  idleTimeoutMs: number;
}

export type LlmProvider = 'anthropic' | 'openai' | 'gemini';

export interface AllowRule {
  /** Position in the file, 0-based, for naming the rule in denials ("allow[2]"). */
  index: number;
  /** Normalised host pattern: "api.example.com" or "*.example.com". */
  host: string;
  llm: LlmProvider | undefined;
  private: boolean;
  /** Upper-case methods, or undefined for any. */
  methods: readonly string[] | undefined;
  /** Path globs ("*" one segment, "**" many), or undefined for any. */
  paths: readonly string[] | undefined;
  /** Model globs an LLM request may name, or undefined for any. */
  models: readonly string[] | undefined;
  /** Largest output-token limit a request may ask for, or undefined for no ceiling. */
  maxTokens: number | undefined;
  /** Lower a larger request to maxTokens instead of refusing it. */
  clampMaxTokens: boolean;
}

export interface ModelBudget {
  /** Model glob ("claude-opus-*"). */
  pattern: string;
  tokensPerDay: number | undefined;
  usdPerDay: number | undefined;
}

export interface BudgetSettings {
  requestsPerMinute: number | undefined;
  tokensPerDay: number | undefined;
  usdPerDay: number | undefined;
  models: readonly ModelBudget[];
}

export interface ModelPrice {
  pattern: string;
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
}

export interface BearerCredential {
  type: 'bearer';
  name: string;
  hosts: readonly string[];
  surrogate: string;
  secret: SecretSource;
  /** Extra header names (lower case) in which the surrogate may appear. */
  headers: readonly string[];
  /** Query parameter names in which the surrogate may appear. */
  query: readonly string[];
  body: boolean;
  allowForeignCredentials: boolean;
  /** The real secret may be sent on requests that arrived over plain HTTP (default false). */
  plaintext: boolean;
}

export interface AwsCredential {
  type: 'aws';
  name: string;
  hosts: readonly string[];
  surrogateAccessKeyId: string;
  surrogateSecretAccessKey: string;
  accessKeyId: SecretSource;
  secretAccessKey: SecretSource;
  sessionToken: SecretSource | undefined;
  allowForeignCredentials: boolean;
  /** Requests that arrived over plain HTTP may be re-signed with the real key (default false). */
  plaintext: boolean;
}

export type Credential = BearerCredential | AwsCredential;

export interface Config {
  /** Absolute path of the file this came from. */
  file: string;
  proxy: ProxySettings;
  upstream: UpstreamSettings;
  dns: DnsSettings;
  client: ClientLimits;
  log: LogSettings;
  websocket: WebSocketSettings;
  budget: BudgetSettings;
  prices: readonly ModelPrice[];
  allow: readonly AllowRule[];
  credentials: readonly Credential[];
}
