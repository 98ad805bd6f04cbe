// Maps what went wrong upstream to a reason code and status the agent and the log can name.
import { SluiceError } from '../errors/codes.ts';

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REVOKED', 'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_HANDSHAKE_TIMEOUT', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export function upstreamFailure(err: unknown, host: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = err as NodeJS.ErrnoException & { cause?: unknown };
  const code = String(e?.code ?? '');
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') {
    return new SluiceError('upstream_timeout', 504, `upstream ${host} did not accept the connection in time`, { cause: err });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new SluiceError('upstream_timeout', 504, `upstream ${host} did not answer in time`, { cause: err });
  }
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new SluiceError('upstream_refused', 502, `upstream ${host} refused or reset the connection (${code})`, { cause: err });
  }
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new SluiceError('upstream_tls', 502, `TLS with upstream ${host} failed: ${code}`, { cause: err });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new SluiceError('upstream_dns', 502, `upstream ${host} could not be resolved`, { cause: err });
  }
  return new SluiceError('upstream_error', 502, `upstream ${host} failed: ${code || (e?.message ?? 'unknown error')}`, { cause: err });
}
