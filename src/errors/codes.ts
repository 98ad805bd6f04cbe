// Every decision sluice takes that a user might see has a stable reason code. Tests, log lines
// and metrics match on these strings; the README lists them. Add here, never inline.

export const DENY_REASONS = {
  not_allowlisted: 'the host is not in the allowlist',
  no_sni: 'the TLS ClientHello carried no server name',
  host_sni_mismatch: 'the Host header differs from the TLS server name',
  method: 'the method is outside the allow rule',
  path: 'the path is outside the allow rule',
  private_address: 'the host resolves to a private or special-purpose address',
  surrogate_misuse: 'a surrogate credential was sent to a host it is not scoped to',
  foreign_credential: 'a credential other than the surrogate was sent to a credential host',
  bad_surrogate_signature: 'the request was not signed with the surrogate AWS secret',
  real_secret: 'the request carries a real secret value',
  token_invalid: 'a minted token is malformed, has a bad signature or cannot be checked (401)',
  token_expired: 'a minted token is outside its validity window (401)',
  token_caveat: 'a caveat of a minted token does not hold for this request',
  body_too_large: 'the body exceeds the buffering cap',
  bad_request: 'the request is malformed',
  headers_too_large: 'the request headers exceed the size or count limit',
  client_timeout: 'the client did not send its request headers in time',
  upstream_dns: 'the upstream name could not be resolved',
  upstream_tls: 'the upstream TLS handshake or certificate verification failed',
  upstream_refused: 'the upstream refused or reset the connection',
  upstream_timeout: 'the upstream did not answer in time',
  upstream_error: 'the upstream connection failed',
  port_not_captured: 'a TCP port that sluice does not proxy',
  tls_client_rejected: 'the client aborted the handshake (it does not trust sluice\'s CA)',
  tls_error: 'the TLS handshake with the client failed',
  shutting_down: 'sluice is shutting down',
  audit_log_unavailable: 'the LLM audit log cannot be written (log.on_failure = "block")',
  credential_over_plaintext: 'a credential would be sent over plain HTTP (set plaintext = true to allow)',
  over_capacity: 'a buffer cap or the global buffer budget is exhausted (503)',
  model_not_allowed: 'the LLM request names a model outside the allow rule',
  max_tokens_exceeded: 'the LLM request asks for more tokens than the allow rule permits',
  rate_limited: 'the requests-per-minute budget is spent (429, Retry-After)',
  budget_exhausted: 'the daily token or spend budget is spent (429, Retry-After)',
} as const;

export type DenyReason = keyof typeof DENY_REASONS;

/**
 * How a refusal reads to a client that expects its own API's error shape (an LLM SDK raises
 * the provider's JSON error), and headers it needs (Retry-After).
 */
export interface RefusalBody {
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

/** A refusal with its HTTP status and a one-line, secret-free message for the client. */
export class SluiceError extends Error {
  readonly reason: DenyReason;
  readonly status: number;
  /** Set where the client needs more than sluice's plain-text refusal. */
  readonly response: RefusalBody | undefined;
  constructor(reason: DenyReason, status: number, message: string, options?: { cause?: unknown; response?: RefusalBody }) {
    super(message, options);
    this.name = 'SluiceError';
    this.reason = reason;
    this.status = status;
    this.response = options?.response;
  }
}
