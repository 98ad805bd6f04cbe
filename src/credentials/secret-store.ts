// The one place that holds real secret values. Built once per configuration load (a reload
// builds a new one, re-reading files and variables through secret-sources.ts); everything else
// asks it questions — "is there a surrogate in this text?", "a real secret?", "redact this",
// "scrub this" — and never gets a value back, except where it must go: the request sent to the
// credential's host, and the AWS keys the sigv4 step signs with.
//
// Real values are recognised in every form a server commonly echoes (secret-forms.ts: literal,
// percent-encoded, JSON-escaped, base64 at any offset) on both sides: an agent cannot smuggle
// one out encoded, and an upstream's echo cannot reach the agent encoded.

import type { Config, Credential } from '../config/types.ts';
import { hostPatternsOverlap } from '../names/host.ts';
import { TOKEN_PREFIX, parseToken, type ParsedToken } from './macaroon.ts';
import { findTokens, replaceTokens } from './token-scan.ts';
import { describeSecretProblem, readSecretValues, type SecretValue } from './secret-sources.ts';
import { createTokenVerifier } from './token-verifier.ts';
import { formsPattern, literalPattern, type PatternValue, type ScanPattern } from './secret-forms.ts';
import { replacementFor } from './same-form.ts';
import { createStreamReplacer, createStreamScanner, findIn, replaceAll, type Replacement, type StreamOptions, type StreamReplacer } from './stream-replace.ts';
import { createGrpcFrameTracker } from './grpc-frames.ts';

/** Host names whose credential scope is remembered (cleared whole when full). */
const SCOPE_CACHE_SIZE = 1_000;
const EMPTY = Buffer.alloc(0);

export interface SecretStoreOptions {
  /** Environment to read `{ env = … }` sources from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export type BodyFinding = { kind: 'real_secret' | 'surrogate'; credential: string };

/** What a streaming scan knows of the stream's framing. */
export interface StreamFraming {
  /** The body is gRPC (application/grpc…): whole messages are released at once. */
  grpc?: boolean;
}

function streamOptions(framing: StreamFraming | undefined): StreamOptions {
  return framing?.grpc === true ? { frames: createGrpcFrameTracker() } : {};
}

export interface BodyWatch {
  push(chunk: Buffer): Buffer | BodyFinding;
  end(): Buffer | BodyFinding;
  /** Releases what is held (or the finding in it) mid-body; the watch goes on. */
  flush(): Buffer | BodyFinding;
  /** Bytes held back until more arrive or the body ends, whatever they are. */
  readonly window: number;
}

export interface SecretStore {
  readonly credentials: readonly Credential[];
  /** Credentials whose hosts include `host` (a normalised name). */
  scopedTo(host: string): readonly Credential[];
  /** The credential whose surrogate, or a minted token for it, occurs in text. */
  findSurrogate(text: string, options?: { ignoreCase?: boolean }): Credential | undefined;
  /** The credential one of whose real values occurs in text, in any echoed form. */
  findRealSecret(text: string, options?: { ignoreCase?: boolean }): Credential | undefined;
  /** Every surrogate, minted token and real value (in any echoed form) → `[REDACTED:name]`. */
  redact(text: string): string;
  /**
   * Every real value, in any echoed form → its surrogate in the same form (`[REDACTED:name]`
   * where there is none; a same-length marker for base64): what the agent may see. For whole
   * texts: header values, the HTTP/1 reason phrase.
   */
  scrub(text: string): string;
  /** True if the body scrub can change a body's length; responseScrubber(true) never does. */
  readonly scrubChangesLength: boolean;
  /** `presented` (the bearer credential's surrogate or a verified token for it) → its real secret. */
  swap(text: string, name: string, presented: string): string;
  /** Checks a token's signature with the mint key; 'no_key' when sluice has none. */
  verifyToken(token: ParsedToken): boolean | 'no_key';
  /** Streaming swap of a bearer credential's surrogate in request bodies. */
  bodySwapper(name: string, framing?: StreamFraming): { replacer: StreamReplacer; changesLength: boolean };
  /**
   * Streaming scrub (see scrub) of one stream from a credential host: a response body, or one
   * WebSocket message. `keepLength` when a length was promised: each replacement is then
   * exactly as long as the echo it replaces. Holds back `scrubWindow` bytes until end().
   */
  responseScrubber(keepLength: boolean, framing?: StreamFraming): StreamReplacer;
  /** Bytes responseScrubber holds back until more arrive or the stream ends. */
  readonly scrubWindow: number;
  /** Streaming watch of a request body for real values and for the surrogates of `surrogatesOf`. */
  bodyWatch(surrogatesOf: readonly Credential[], framing?: StreamFraming): BodyWatch;
  /**
   * The real key pair (and session token) of an AWS credential, for the sigv4 step to sign
   * with, and for nothing else: signing needs the secret itself.
   */
  realAwsCredentials(name: string): RealAwsKeys | undefined;
}

export interface RealAwsKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
}

function marker(credential: Credential | string): string {
  return `[REDACTED:${typeof credential === 'string' ? credential : credential.name}]`;
}

function surrogatesOf(credential: Credential): string[] {
  return credential.type === 'bearer' ? [credential.surrogate] : [credential.surrogateAccessKeyId, credential.surrogateSecretAccessKey];
}

export function createSecretStore(config: Config, options: SecretStoreOptions = {}): SecretStore {
  const { values: real, problems } = readSecretValues(config, options.env ?? process.env);
  if (problems.length > 0) throw new Error(problems.map((p) => describeSecretProblem(p)).join('\n'));
  const byName = new Map(config.credentials.map((c) => [c.name, c]));
  const surrogates = config.credentials.flatMap((credential) => surrogatesOf(credential).map((value) => ({ credential, value })));
  const surrogateLower = surrogates.map((s) => ({ ...s, lower: s.value.toLowerCase() }));

  // Patterns are made once per load, not per request.
  const realForms: PatternValue[] = real.map((r) => ({ text: r.value, base64: true }));
  const realPattern = formsPattern(realForms);
  const realPatternLower = formsPattern(realForms, { ignoreCase: true });
  const redactPattern = formsPattern([...realForms, ...surrogates.map((s) => ({ text: s.value, base64: false }))]);
  const redactNames = [...real.map((r) => r.credential.name), ...surrogates.map((s) => s.credential.name)];
  const scrubTo = real.map((r) => r.surrogate ?? marker(r.credential));
  // A real value becomes its surrogate in the echo's form; the tail of one that overlaps the
  // previous (stream-replace.ts) takes no more bytes than it had, as with a promised length.
  const scrubReplacement = (keepLength: boolean): Replacement => (raw, needle, tail) => replacementFor(raw, needle, scrubTo[needle.value] as string, keepLength || tail);
  const scrubKeepingLength = scrubReplacement(true);
  const scrubFree = scrubReplacement(false);
  // In a log line both overlapping values go under the first one's marker.
  const redactReplacement: Replacement = (_raw, needle, tail) => (tail ? EMPTY : Buffer.from(marker(redactNames[needle.value] as string)));
  const scrubber = (keepLength: boolean, framing?: StreamFraming): StreamReplacer =>
    createStreamReplacer(realPattern, keepLength ? scrubKeepingLength : scrubFree, { ...streamOptions(framing), overlaps: true });

  // The body watch's pattern depends on which surrogates are misplaced on the host: a few sets per config.
  const watchPatterns = new Map<string, { pattern: ScanPattern; findings: BodyFinding[] }>();
  const watchPattern = (misplaced: readonly Credential[]): { pattern: ScanPattern; findings: BodyFinding[] } => {
    const key = misplaced.map((c) => c.name).join('\n');
    let entry = watchPatterns.get(key);
    if (entry === undefined) {
      const extra = surrogates.filter((s) => misplaced.includes(s.credential));
      entry = {
        pattern: formsPattern([...realForms, ...extra.map((s) => ({ text: s.value, base64: false }))]),
        findings: [
          ...real.map((r): BodyFinding => ({ kind: 'real_secret', credential: r.credential.name })),
          ...extra.map((s): BodyFinding => ({ kind: 'surrogate', credential: s.credential.name })),
        ],
      };
      watchPatterns.set(key, entry);
    }
    return entry;
  };

  const scopeCache = new Map<string, readonly Credential[]>();
  const verifyToken = createTokenVerifier(config.proxy.caDir);
  const realOf = (credential: Credential, field: SecretValue['field']): string | undefined =>
    real.find((r) => r.credential === credential && r.field === field)?.value;

  return {
    credentials: config.credentials,

    scopedTo(host) {
      let scoped = scopeCache.get(host);
      if (scoped === undefined) {
        scoped = Object.freeze(config.credentials.filter((c) => c.hosts.some((pattern) => hostPatternsOverlap(pattern, host))));
        // Bounded: names come from the agent, so the cache must not grow without limit.
        if (scopeCache.size >= SCOPE_CACHE_SIZE) scopeCache.clear();
        scopeCache.set(host, scoped);
      }
      return scoped;
    },

    findSurrogate(text, opts) {
      const ignoreCase = opts?.ignoreCase === true;
      const haystack = ignoreCase ? text.toLowerCase() : text;
      for (const s of surrogateLower) {
        if (haystack.includes(ignoreCase ? s.lower : s.value)) return s.credential;
      }
      if (haystack.includes(ignoreCase ? TOKEN_PREFIX.toLowerCase() : TOKEN_PREFIX)) {
        for (const token of findTokens(text)) {
          const parsed = parseToken(token);
          const credential = parsed === undefined ? undefined : byName.get(parsed.credential);
          if (credential !== undefined) return credential;
        }
      }
      return undefined;
    },

    findRealSecret(text, opts) {
      const ignoreCase = opts?.ignoreCase === true;
      const needle = findIn(ignoreCase ? realPatternLower : realPattern, Buffer.from(ignoreCase ? text.toLowerCase() : text, 'utf8'));
      return needle === undefined ? undefined : real[needle.value]?.credential;
    },

    redact(text) {
      let out = text;
      if (redactPattern.needles.length > 0) {
        out = replaceAll(redactPattern, Buffer.from(text, 'utf8'), redactReplacement, { overlaps: true }).toString('utf8');
      }
      if (out.includes(TOKEN_PREFIX)) out = replaceTokens(out, (token) => marker(parseToken(token)?.credential ?? 'token'));
      return out;
    },

    scrub(text) {
      if (realPattern.needles.length === 0) return text;
      return replaceAll(realPattern, Buffer.from(text, 'utf8'), scrubFree, { overlaps: true }).toString('utf8');
    },

    scrubChangesLength: real.some((r, i) => Buffer.byteLength(r.value) !== Buffer.byteLength(scrubTo[i] as string)) || realPattern.needles.some((n) => n.kind === 'base64'),

    scrubWindow: realPattern.window,

    swap(text, name, presented) {
      const credential = byName.get(name);
      if (credential?.type !== 'bearer') throw new Error(`credential "${name}" is not a bearer credential`);
      if (presented !== credential.surrogate && !presented.startsWith(TOKEN_PREFIX)) {
        throw new Error(`swap of credential "${name}" asked for something that is not its surrogate or a token`);
      }
      return text.split(presented).join(realOf(credential, 'secret') as string);
    },

    verifyToken,

    bodySwapper(name, framing) {
      const credential = byName.get(name);
      if (credential?.type !== 'bearer') throw new Error(`credential "${name}" is not a bearer credential`);
      const from = Buffer.from(credential.surrogate, 'utf8');
      const to = Buffer.from(realOf(credential, 'secret') as string, 'utf8');
      return { replacer: createStreamReplacer(literalPattern([from]), () => to, streamOptions(framing)), changesLength: from.length !== to.length };
    },

    responseScrubber: scrubber,

    realAwsCredentials(name) {
      const credential = byName.get(name);
      if (credential?.type !== 'aws') return undefined;
      return Object.freeze({
        accessKeyId: realOf(credential, 'access_key_id') as string,
        secretAccessKey: realOf(credential, 'secret_access_key') as string,
        sessionToken: realOf(credential, 'session_token'),
      });
    },

    bodyWatch(misplaced, framing) {
      const { pattern, findings } = watchPattern(misplaced);
      const scanner = createStreamScanner(pattern, streamOptions(framing));
      const finding = (r: ReturnType<typeof scanner.push>): Buffer | BodyFinding => ('pass' in r ? r.pass : (findings[r.found.value] as BodyFinding));
      return {
        push: (chunk) => finding(scanner.push(chunk)),
        end: () => finding(scanner.end()),
        flush: () => finding(scanner.flush()),
        window: pattern.window,
      };
    },
  };
}
