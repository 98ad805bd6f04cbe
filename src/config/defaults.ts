// Every default of sluice.toml in one place. The schema (schema.ts) reads these for both
// validation and the generated README reference, so a default is changed here and nowhere else.

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const KIB = 1024;
const MIB = 1024 * KIB;

export const DEFAULTS = {
  proxy: {
    agent: 'my-agent', // name written on every log line
    uid: 1337, // the uid iptables exempts from capture; sluice runs as it
    caDir: 'certs', // folder of ca.crt / ca.key, relative to the config file's folder
    logDir: 'logs', // folder of access.ndjson / llm.ndjson, relative to the config file's folder
    extraUpstreamCa: undefined as string | undefined, // tests only: no extra upstream CA
    httpsPort: 15443, // captured TLS (443 and other TLS ports) arrives here
    httpPort: 15080, // captured plain HTTP (80) arrives here
    denyPort: 15001, // every other captured TCP port arrives here and is refused
    dnsPort: 15053, // captured DNS (UDP and TCP 53) arrives here
    adminPort: 15000, // health, readiness and metrics
    adminBind: ['127.0.0.1', '::1'] as readonly string[], // admin is loopback-only by default
    leafKey: 'rsa' as 'ecdsa' | 'rsa', // RSA-2048 leaves: ECDSA P-256 measured only ~1.5x cheaper per handshake (bench/tls-leaf.ts), below the 2x bar for switching
    leafCacheSize: 1000, // minted leaf certificates kept (LRU by name)
    drainSeconds: 10, // SIGTERM waits this long for in-flight requests
    mode: 'enforce' as 'enforce' | 'learn' | 'report', // the allowlist is enforced
    bufferBudgetBytes: 256 * MIB, // all buffers together (SigV4 bodies, LLM captures, DNS replies); past it: 503
  },
  upstream: {
    httpsPort: 443, // port dialled for requests captured on the TLS listener
    httpPort: 80, // port dialled for requests captured on the plain HTTP listener
    connectTimeoutMs: 10 * SECOND_MS, // TCP + TLS connect to the upstream
    headersTimeoutMs: 10 * MINUTE_MS, // LLM calls can think for minutes before the first byte
    maxBufferedBodyBytes: 10 * MIB, // cap for bodies that must be buffered (SigV4 re-signing)
    publicCidrs: [] as readonly string[], // special-purpose ranges treated as public: none
    http2: false, // h2 upstream only for gRPC: undici's h1 pool measured 2.2x the keep-alive rate of its h2 client
  },
  dns: {
    deny: 'sinkhole' as 'sinkhole' | 'nxdomain', // non-allowlisted names get a capturable address
    upstream: undefined as string | undefined, // the system resolver
  },
  client: {
    headersTimeoutMs: 30 * SECOND_MS, // time the agent has to send complete request headers
    keepAliveTimeoutMs: 60 * SECOND_MS, // idle agent connections are closed after this
    maxHeaderBytes: 32 * KIB, // total request header size accepted from the agent
    maxHeaderCount: 100, // request header lines accepted from the agent
  },
  websocket: {
    maxFrameBytes: 16 * MIB, // largest frame either side may send
    maxMessageBytes: 64 * MIB, // largest message, all fragments together
    idleTimeoutMs: 10 * MINUTE_MS, // no frame either way for this long: closed with 1001
  },
  log: {
    maxBodyBytes: 4 * MIB, // each logged LLM request or response body is cut here (truncated: true)
    maxBytes: 100 * MIB, // llm.ndjson is rotated when it reaches this size
    keep: 5, // rotated files kept (llm.ndjson.1 … .keep)
    onFailure: 'block' as 'block' | 'continue', // an audit trail with holes is not an audit trail
  },
  allow: {
    private: false, // private/special-purpose upstream addresses need an explicit opt-in
    clampMaxTokens: false, // a request over max_tokens is refused, not lowered
  },
  credentials: {
    type: 'bearer' as 'bearer' | 'aws', // a [credentials.NAME] without type is a bearer token
    body: false, // surrogates in request bodies are not swapped unless asked
    allowForeignCredentials: false, // a credential that is not the surrogate is refused (403)
    plaintext: false, // real credentials travel only over verified TLS; plain HTTP is refused (403)
  },
  secretSource: {
    optional: false, // a secret source must be present unless marked optional
  },
} as const;
