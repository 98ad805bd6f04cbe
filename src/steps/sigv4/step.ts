// AWS SigV4 re-signing (DESIGN.md §2, issue 7). For a request signed with the surrogate key id
// of a `type = "aws"` credential on one of its hosts, in this order:
//   1. parse the claim (Authorization header or presigned query);
//   2. rebuild the canonical request from what arrived (canonical.ts);
//   3. verify the agent's signature with the SURROGATE secret, constant-time; a mismatch is
//      403 bad_surrogate_signature and nothing is forwarded;
//   4. re-sign with the real credentials (resign.ts), keeping date, scope and signed headers;
//      the agent's session token never goes upstream (credentials dropped it; it is read back
//      here only to verify what the agent signed);
//   5. signed aws-chunked bodies: a stream transform re-signs every chunk (chunked.ts).
// A request that arrived over plain HTTP is refused (403 credential_over_plaintext) before any
// of this, body unread, unless the credential says plaintext = true: the re-signed request
// would go upstream in clear, carrying the real key id and session token.
// Requests whose key id is not a surrogate are left to the credentials step (foreign_credential).
import type { AwsCredential } from '../../config/types.ts';
import { hostPatternsOverlap } from '../../names/host.ts';
import { SluiceError } from '../../errors/codes.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import type { HeaderMap } from '../../http/header-map.ts';
import type { Step } from '../../pipeline/step.ts';
import { droppedSecurityToken } from '../credentials/aws.ts';
import { asForwarded, headersAsSent } from '../credentials/plain-encoding.ts';
import { heldBackInClear, overPlaintext } from '../credentials/plaintext.ts';
import { EMPTY_SHA256, Sha256, sha256Hex } from '../../sigv4/crypto.ts';
import { clockSkewSeconds, findSigV4, scopeString, type SigV4Auth } from '../../sigv4/parse.ts';
import { canonicalCandidates } from '../../sigv4/canonical.ts';
import { parseQuery, queryParam, splitTarget } from '../../sigv4/query.ts';
import { verifySurrogateSignature } from '../../sigv4/verify.ts';
import { smithySigner } from '../../sigv4/smithy.ts';
import { resignRequest } from '../../sigv4/resign.ts';
import { STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, createChunkResigner } from '../../sigv4/chunked.ts';
import { releaseBufferedBody, type BodyBuffering } from '../../sigv4/buffered-body.ts';
import { fromSecretStore, type RealCredentialsOf } from './real-credentials.ts';

/** AWS allows 15 minutes; beyond 5 the agent's clock is worth a warning before AWS refuses. */
const SKEW_WARNING_SECONDS = 5 * 60;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/**
 * A header-signed request more than 5 minutes off sluice's clock (AWS refuses beyond 15), or a
 * presigned URL signed in the future or already expired, is worth a line in the ops log.
 */
function warnAboutTime(ex: Exchange, auth: SigV4Auth, credential: string, now: number): void {
  const skew = clockSkewSeconds(auth.amzDate, now);
  const fields = { conn: ex.conn.id, host: ex.host, credential, skew_seconds: skew };
  const log = ex.runtime.services.opsLog;
  if (auth.location === 'header' && Math.abs(skew) > SKEW_WARNING_SECONDS) {
    log.warn(fields, `SigV4 request time differs from sluice's clock by ${skew} s; AWS refuses beyond 900 s`);
  } else if (auth.location === 'query' && skew > SKEW_WARNING_SECONDS) {
    log.warn(fields, `presigned URL is signed ${skew} s in the future by sluice's clock`);
  } else if (auth.location === 'query' && auth.expires !== undefined && -skew > auth.expires) {
    log.warn(fields, `presigned URL expired ${-skew - auth.expires} s ago; AWS will refuse it`);
  }
}

export interface Sigv4StepOptions {
  realCredentials?: RealCredentialsOf;
  now?: () => number;
}

function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request as the agent signed it: with the session token credentials removed, if any, and its own accept-encoding values. */
function asSigned(ex: Exchange): { headers: HeaderMap; target: string } {
  const dropped = droppedSecurityToken(ex);
  let headers = headersAsSent(ex, ex.headers);
  let target = ex.path;
  if (dropped?.header !== undefined) headers = { ...headers, 'x-amz-security-token': dropped.header };
  if (dropped?.query !== undefined) target = `${target}${target.includes('?') ? '&' : '?'}X-Amz-Security-Token=${dropped.query}`;
  return { headers, target };
}

function awsCredentialsOn(ex: Exchange): AwsCredential[] {
  return ex.runtime.config.credentials.filter(
    (c): c is AwsCredential => c.type === 'aws' && c.hosts.some((pattern) => hostPatternsOverlap(pattern, ex.host)),
  );
}

/**
 * A buffered body holds its share of the buffer budget until the exchange ends, however it
 * ends (forward calls every response hook's done exactly once); a refusal by this step gives it
 * back at once (see onRequest).
 */
function releaseWhenDone(ex: Exchange, body: Buffer): void {
  ex.response.push({ name: 'sigv4-buffered-body', needsPlaintext: false, done: () => releaseBufferedBody(body) });
}

/** The payload hashes to try, reading (capped) the body only where the signature covers it. */
async function payloadHashes(ex: Exchange, auth: SigV4Auth, headers: HeaderMap, target: string, buffered: (body: Buffer) => void): Promise<string[] | SluiceError> {
  if (auth.location === 'query') {
    const declared = queryParam(parseQuery(splitTarget(target).query), 'X-Amz-Content-Sha256');
    return declared !== undefined ? [declared] : [UNSIGNED_PAYLOAD, EMPTY_SHA256];
  }
  const declared = headerValue(headers, 'x-amz-content-sha256');
  if (declared !== undefined) return [declared.trim()];
  if (!ex.hasBody) return [EMPTY_SHA256];
  const buffering = ex as Exchange & Partial<BodyBuffering>;
  if (typeof buffering.bufferBody !== 'function') {
    return new SluiceError('upstream_error', 500, 'this sluice cannot yet buffer a SigV4 request body without x-amz-content-sha256');
  }
  const body = await buffering.bufferBody(ex.runtime.config.upstream.maxBufferedBodyBytes);
  if (body instanceof SluiceError) return body;
  buffered(body);
  return [sha256Hex(body)];
}

export function createSigv4Step(options: Sigv4StepOptions = {}): Step {
  const realCredentials = options.realCredentials ?? fromSecretStore;
  const now = options.now ?? Date.now;
  return {
    name: 'sigv4',
    // Hosts with no AWS credential scoped to them answer synchronously (no promise per request).
    onRequest(ex) {
      return awsCredentialsOn(ex).length === 0 ? undefined : checkSigned(ex);
    },
  };

  async function checkSigned(ex: Exchange): Promise<SluiceError | undefined> {
    let body: Buffer | undefined;
    let result: SluiceError | undefined;
    try {
      result = await verifyAndResign(ex, (b) => (body = b));
    } catch (err) {
      if (body !== undefined) releaseBufferedBody(body);
      throw err;
    }
    if (body !== undefined) {
      if (result === undefined) releaseWhenDone(ex, body);
      else releaseBufferedBody(body);
    }
    return result;
  }

  async function verifyAndResign(ex: Exchange, buffered: (body: Buffer) => void): Promise<SluiceError | undefined> {
    const candidatesOnHost = awsCredentialsOn(ex);
    if (candidatesOnHost.length === 0) return undefined;
    const signed = asSigned(ex);
    const auth = findSigV4(signed.headers, signed.target);
    if (auth === undefined) return undefined;
    if ('error' in auth) {
      // Malformed claims are refused only when they carry one of our surrogates; anything
      // else is a foreign credential, the credentials step's decision.
      const text = `${headerValue(signed.headers, 'authorization') ?? ''} ${signed.target}`;
      const ours = candidatesOnHost.some((c) => text.includes(c.surrogateAccessKeyId));
      return ours ? new SluiceError('bad_request', 400, `SigV4: ${auth.error}`) : undefined;
    }
    const credential = candidatesOnHost.find((c) => c.surrogateAccessKeyId === auth.accessKeyId);
    if (credential === undefined) return undefined;
    if (heldBackInClear(ex, [credential]).length > 0) {
      ex.credential = credential.name;
      return overPlaintext(ex, [credential.name]);
    }

    warnAboutTime(ex, auth, credential.name, now());

    const hashes = await payloadHashes(ex, auth, signed.headers, signed.target, buffered);
    if (hashes instanceof SluiceError) return hashes;
    if (hashes.some((h) => h.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD'))) {
      // Its chunk signatures vary in length, so a re-signed body could not keep its length.
      return new SluiceError('bad_request', 400, 'SigV4: chunk-signed SigV4A bodies (STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD) are not supported; use an unsigned or SigV4 payload');
    }
    const candidates = canonicalCandidates(
      { method: ex.method, target: signed.target, authority: ex.authority, headers: signed.headers },
      { service: auth.scope.service, signedHeaders: auth.signedHeaders, presigned: auth.location === 'query', payloadHashes: hashes },
    );
    if ('error' in candidates) return new SluiceError('bad_surrogate_signature', 403, `SigV4: ${candidates.error}`);
    const verified = await verifySurrogateSignature(
      candidates, auth, { accessKeyId: credential.surrogateAccessKeyId, secretAccessKey: credential.surrogateSecretAccessKey }, credential.name,
    );
    if (verified instanceof SluiceError) return verified;

    const real = realCredentials(ex)?.realAwsCredentials(credential.name);
    if (real === undefined) return new SluiceError('upstream_error', 500, `sluice has no real AWS credentials for credential "${credential.name}"`);
    const seed = await resignRequest(ex, auth, { ...verified, headers: asForwarded(ex, verified.headers) }, real);

    const streaming = verified.payloadHash === STREAMING_SIGNED || verified.payloadHash === STREAMING_SIGNED_TRAILER;
    if (streaming && ex.hasBody) {
      const { date, service } = auth.scope;
      const region = auth.scope.region ?? '';
      const { getSigningKey } = await smithySigner();
      const [agentKey, realKey] = await Promise.all([
        getSigningKey(Sha256, { accessKeyId: credential.surrogateAccessKeyId, secretAccessKey: credential.surrogateSecretAccessKey }, date, region, service),
        getSigningKey(Sha256, { accessKeyId: real.accessKeyId, secretAccessKey: real.secretAccessKey }, date, region, service),
      ]);
      ex.requestBody.push(createChunkResigner({
        amzDate: auth.amzDate,
        scope: scopeString(auth.scope),
        agent: { signingKey: agentKey, seed: auth.signature },
        real: { signingKey: realKey, seed },
        trailer: verified.payloadHash === STREAMING_SIGNED_TRAILER,
        maxChunkBytes: ex.runtime.config.upstream.maxBufferedBodyBytes,
        credentialName: credential.name,
      }));
    }
    ex.credential ??= credential.name;
    ex.trace.push({ step: 'sigv4', action: streaming ? 'resigned_with_chunk_signatures' : 'resigned', detail: `${credential.name} in ${auth.location}` });
    return undefined;
  }
}

export const sigv4Step: Step = createSigv4Step();
