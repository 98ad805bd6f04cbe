// The one place that holds real secret values. Built once per configuration load (a reload
// builds a new one, re-reading files and variables); everything else asks it questions —
// "is there a surrogate in this text?", "a real secret?", "redact this", "swap this" — and never
// gets a value back, except where it must go: the request sent to the credential's host.

import { readFileSync } from 'node:fs';
import type { Config, Credential, SecretSource } from '../config/types.ts';
import { hostPatternsOverlap } from '../config/host-pattern.ts';
import { TOKEN_PATTERN, TOKEN_PREFIX, parseToken, verifyTokenSignature, type ParsedToken } from './macaroon.ts';
import { readMintKey } from './mint-key.ts';
import { createStreamReplacer, createStreamScanner, type StreamReplacer } from './stream-replace.ts';

/** Shorter values would match inside ordinary text and refuse or mangle unrelated requests. */
export const MIN_SECRET_LENGTH = 8;
/** How often a missing mint key is looked for again (`sluice mint` may create it later). */
const MINT_KEY_RETRY_MS = 2_000;
/** Host names whose credential scope is remembered (cleared whole when full). */
const SCOPE_CACHE_SIZE = 1_000;

export interface SecretStoreOptions {
  /** Environment to read `{ env = … }` sources from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** One real value, with what the agent should see in its place. */
interface RealValue {
  credential: Credential;
  field: 'secret' | 'access_key_id' | 'secret_access_key' | 'session_token';
  value: string;
  /** The surrogate for this value, or undefined (an AWS session token has none). */
  surrogate: string | undefined;
}

interface SurrogateValue {
  credential: Credential;
  value: string;
}

export type BodyFinding = { kind: 'real_secret' | 'surrogate'; credential: string };

export interface BodyWatch {
  push(chunk: Buffer): Buffer | BodyFinding;
  end(): Buffer;
}

export interface SecretStore {
  readonly credentials: readonly Credential[];
  /** Credentials whose hosts include `host` (a normalised name). */
  scopedTo(host: string): readonly Credential[];
  /** The credential whose surrogate, or a minted token for it, occurs in text. */
  findSurrogate(text: string, options?: { ignoreCase?: boolean }): Credential | undefined;
  /** The credential one of whose real values occurs in text. */
  findRealSecret(text: string, options?: { ignoreCase?: boolean }): Credential | undefined;
  /** Every surrogate, minted token and real value (also percent-encoded) → `[REDACTED:name]`. */
  redact(text: string): string;
  /** Every real value → its surrogate (`[REDACTED:name]` where there is none): what the agent may see. */
  scrub(text: string): string;
  /** True if the body scrub can change a body's length; responseScrubber(true) never does. */
  readonly scrubChangesLength: boolean;
  /** `presented` (the bearer credential's surrogate or a verified token for it) → its real secret. */
  swap(text: string, name: string, presented: string): string;
  /** Checks a token's signature with the mint key; 'no_key' when sluice has none. */
  verifyToken(token: ParsedToken): boolean | 'no_key';
  /** Streaming swap of a bearer credential's surrogate in request bodies. */
  bodySwapper(name: string): { replacer: StreamReplacer; changesLength: boolean };
  /** Streaming scrub of response bodies (see scrub); `keepLength` when Content-Length was promised. */
  responseScrubber(keepLength: boolean): StreamReplacer;
  /** Streaming watch of a request body for real values and for the surrogates of `surrogatesOf`. */
  bodyWatch(surrogatesOf: readonly Credential[]): BodyWatch;
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

function describeSource(source: SecretSource): string {
  return source.kind === 'env' ? `environment variable ${source.name}` : `secret file ${source.path}`;
}

/** Reads one source; undefined only for an optional source that is absent. Trimmed like `sluice check`. */
function readSource(key: string, source: SecretSource, env: Readonly<Record<string, string | undefined>>): string | undefined {
  let raw: string | undefined;
  if (source.kind === 'env') {
    raw = env[source.name];
  } else {
    try {
      const bytes = readFileSync(source.path);
      raw = bytes.toString('utf8');
      bytes.fill(0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || !source.optional) {
        const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'is not readable by sluice (permission denied)' : `cannot be read (${code ?? 'error'})`;
        throw new Error(`${key}: ${describeSource(source)} ${why}`);
      }
    }
  }
  const value = raw?.trim();
  if (value === undefined || value === '') {
    if (source.optional) return undefined;
    throw new Error(`${key}: ${describeSource(source)} ${raw === undefined ? 'is not set' : 'is empty'}`);
  }
  if (value.length < MIN_SECRET_LENGTH) {
    throw new Error(`${key}: the value in ${describeSource(source)} is ${value.length} characters; sluice needs at least ${MIN_SECRET_LENGTH} to recognise it safely`);
  }
  return value;
}

function readValues(config: Config, env: Readonly<Record<string, string | undefined>>): { real: RealValue[]; surrogates: SurrogateValue[] } {
  const real: RealValue[] = [];
  const surrogates: SurrogateValue[] = [];
  for (const credential of config.credentials) {
    const key = `credentials.${credential.name}`;
    switch (credential.type) {
      case 'bearer': {
        const value = readSource(`${key}.secret`, credential.secret, env) as string;
        real.push({ credential, field: 'secret', value, surrogate: credential.surrogate });
        surrogates.push({ credential, value: credential.surrogate });
        break;
      }
      case 'aws': {
        const id = readSource(`${key}.access_key_id`, credential.accessKeyId, env) as string;
        const secret = readSource(`${key}.secret_access_key`, credential.secretAccessKey, env) as string;
        real.push({ credential, field: 'access_key_id', value: id, surrogate: credential.surrogateAccessKeyId });
        real.push({ credential, field: 'secret_access_key', value: secret, surrogate: credential.surrogateSecretAccessKey });
        if (credential.sessionToken !== undefined) {
          const token = readSource(`${key}.session_token`, credential.sessionToken, env);
          if (token !== undefined) real.push({ credential, field: 'session_token', value: token, surrogate: undefined });
        }
        surrogates.push({ credential, value: credential.surrogateAccessKeyId });
        surrogates.push({ credential, value: credential.surrogateSecretAccessKey });
        break;
      }
      default: {
        const unknown: never = credential;
        throw new Error(`unhandled credential type in ${JSON.stringify(unknown)}`);
      }
    }
  }
  // A secret inside a surrogate (or the reverse) would make every use of the surrogate look
  // like a leaked secret, or a swap produce a surrogate again.
  for (const r of real) {
    for (const s of surrogates) {
      if (r.value.includes(s.value) || s.value.includes(r.value)) {
        throw new Error(`credentials.${r.credential.name}: a real secret value contains, or is contained in, the surrogate of credential "${s.credential.name}"; use a different surrogate`);
      }
    }
  }
  return { real, surrogates };
}

function marker(credential: Credential | string): string {
  return `[REDACTED:${typeof credential === 'string' ? credential : credential.name}]`;
}

/** The value and its percent-encoded form, when that differs (URLs carry it encoded). */
function spellings(value: string): string[] {
  const encoded = encodeURIComponent(value);
  return encoded === value ? [value] : [value, encoded];
}

function replaceEvery(text: string, pairs: ReadonlyArray<readonly [string, string]>): string {
  let out = text;
  for (const [from, to] of pairs) if (out.includes(from)) out = out.split(from).join(to);
  return out;
}

/** `to` made exactly `length` bytes long: padded with '*' or cut. */
function sameLength(to: Buffer, length: number): Buffer {
  if (to.length === length) return to;
  if (to.length > length) return to.subarray(0, length);
  return Buffer.concat([to, Buffer.alloc(length - to.length, '*')]);
}

export function createSecretStore(config: Config, options: SecretStoreOptions = {}): SecretStore {
  const { real, surrogates } = readValues(config, options.env ?? process.env);
  const byName = new Map(config.credentials.map((c) => [c.name, c]));
  const realLower = real.map((r) => ({ ...r, lower: r.value.toLowerCase() }));
  const surrogateLower = surrogates.map((s) => ({ ...s, lower: s.value.toLowerCase() }));

  // Longest first, so a value is never cut by a shorter one inside it.
  const redactPairs: Array<readonly [string, string]> = [...real, ...surrogates]
    .flatMap((v) => spellings(v.value).map((s) => [s, marker(v.credential)] as const))
    .sort((a, b) => b[0].length - a[0].length);
  const scrubPairs: Array<readonly [string, string]> = real
    .map((r) => [r.value, r.surrogate ?? marker(r.credential)] as const)
    .sort((a, b) => b[0].length - a[0].length);

  // Byte forms for the streaming scans, made once per load rather than per request. A body
  // whose length was promised (Content-Length) gets replacements of the echoed value's length
  // (the surrogate padded with '*' or cut), so the promise stays true: S3 downloads and many
  // clients need it. Other bodies get the surrogate itself.
  const scrubBytes = scrubPairs.map(([from, to]) => ({ from: Buffer.from(from, 'utf8'), to: Buffer.from(to, 'utf8') }));
  const scrubBytesSameLength = scrubBytes.map(({ from, to }) => ({ from, to: sameLength(to, from.length) }));
  const realNeedles: Buffer[] = [];
  const realFindings: BodyFinding[] = [];
  for (const r of real) {
    for (const spelling of spellings(r.value)) {
      realNeedles.push(Buffer.from(spelling, 'utf8'));
      realFindings.push({ kind: 'real_secret', credential: r.credential.name });
    }
  }
  const surrogateNeedles = surrogates.map((s) => ({ credential: s.credential, bytes: Buffer.from(s.value, 'utf8') }));

  const scopeCache = new Map<string, readonly Credential[]>();
  let mintKey = readMintKey(config.proxy.caDir);
  let mintKeyCheckedAt = Date.now();

  const tokenCredential = (token: string): Credential | undefined => {
    const parsed = parseToken(token);
    return parsed === undefined ? undefined : byName.get(parsed.credential);
  };

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
      const haystack = opts?.ignoreCase === true ? text.toLowerCase() : text;
      for (const s of surrogateLower) {
        if (haystack.includes(opts?.ignoreCase === true ? s.lower : s.value)) return s.credential;
      }
      if (haystack.includes(opts?.ignoreCase === true ? TOKEN_PREFIX.toLowerCase() : TOKEN_PREFIX)) {
        for (const m of text.matchAll(TOKEN_PATTERN)) {
          const credential = tokenCredential(m[0]);
          if (credential !== undefined) return credential;
        }
      }
      return undefined;
    },

    findRealSecret(text, opts) {
      const haystack = opts?.ignoreCase === true ? text.toLowerCase() : text;
      for (const r of realLower) {
        if (haystack.includes(opts?.ignoreCase === true ? r.lower : r.value)) return r.credential;
      }
      return undefined;
    },

    redact(text) {
      let out = replaceEvery(text, redactPairs);
      if (out.includes(TOKEN_PREFIX)) {
        out = out.replace(TOKEN_PATTERN, (token) => marker(parseToken(token)?.credential ?? 'token'));
      }
      return out;
    },

    scrub(text) {
      return replaceEvery(text, scrubPairs);
    },

    scrubChangesLength: scrubPairs.some(([from, to]) => Buffer.byteLength(from) !== Buffer.byteLength(to)),

    swap(text, name, presented) {
      const credential = byName.get(name);
      if (credential?.type !== 'bearer') throw new Error(`credential "${name}" is not a bearer credential`);
      if (presented !== credential.surrogate && !presented.startsWith(TOKEN_PREFIX)) {
        throw new Error(`swap of credential "${name}" asked for something that is not its surrogate or a token`);
      }
      const value = real.find((r) => r.credential === credential)?.value as string;
      return text.split(presented).join(value);
    },

    verifyToken(token) {
      if (mintKey === undefined && Date.now() - mintKeyCheckedAt >= MINT_KEY_RETRY_MS) {
        mintKeyCheckedAt = Date.now();
        mintKey = readMintKey(config.proxy.caDir);
      }
      if (mintKey === undefined) return 'no_key';
      return verifyTokenSignature(mintKey, token);
    },

    bodySwapper(name) {
      const credential = byName.get(name);
      if (credential?.type !== 'bearer') throw new Error(`credential "${name}" is not a bearer credential`);
      const value = real.find((r) => r.credential === credential)?.value as string;
      const from = Buffer.from(credential.surrogate, 'utf8');
      const to = Buffer.from(value, 'utf8');
      return { replacer: createStreamReplacer([{ from, to }]), changesLength: from.length !== to.length };
    },

    responseScrubber(keepLength) {
      return createStreamReplacer(keepLength ? scrubBytesSameLength : scrubBytes);
    },

    realAwsCredentials(name) {
      const credential = byName.get(name);
      if (credential?.type !== 'aws') return undefined;
      const of = (field: RealValue['field']): string | undefined => real.find((r) => r.credential === credential && r.field === field)?.value;
      return Object.freeze({
        accessKeyId: of('access_key_id') as string,
        secretAccessKey: of('secret_access_key') as string,
        sessionToken: of('session_token'),
      });
    },

    bodyWatch(surrogatesOf) {
      const findings: BodyFinding[] = [...realFindings];
      const needles: Buffer[] = [...realNeedles];
      for (const s of surrogateNeedles) {
        if (!surrogatesOf.includes(s.credential)) continue;
        needles.push(s.bytes);
        findings.push({ kind: 'surrogate', credential: s.credential.name });
      }
      const scanner = createStreamScanner(needles);
      return {
        push(chunk) {
          const r = scanner.push(chunk);
          return 'pass' in r ? r.pass : (findings[r.found] as BodyFinding);
        },
        end: () => scanner.end(),
      };
    },
  };
}
