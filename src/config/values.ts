// Parsers for the kinds of values sluice.toml holds. Each checks the TOML type, then the
// content, and on failure reports what is wrong and what would be valid. Type errors never
// echo the value: a secret pasted where a `{ env = … }` table belongs must not reach a log.

import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseHostPattern } from './host-pattern.ts';
import { pathGlobError } from '../steps/policy/path-glob.ts';
import { INVALID, describeType } from './read-table.ts';
import type { Invalid, Reporter } from './read-table.ts';

export type Parser<T> = (value: unknown, at: Reporter) => T | Invalid;

function wrongType(expected: string, value: unknown, at: Reporter): Invalid {
  at.report(`expected ${expected}, got ${describeType(value)}`);
  return INVALID;
}

export const string: Parser<string> = (value, at) =>
  typeof value === 'string' ? value : wrongType('a string', value, at);

export const nonEmptyString: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string', value, at);
  if (value.trim() === '' || /\p{Cc}/u.test(value)) {
    at.report('expected a non-empty string without control characters');
    return INVALID;
  }
  return value;
};

export const boolean: Parser<boolean> = (value, at) =>
  typeof value === 'boolean' ? value : wrongType('a boolean (true or false)', value, at);

export function integerIn(min: number, max: number): Parser<number> {
  return (value, at) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      return wrongType(`an integer from ${min} to ${max}`, value, at);
    }
    if (value < min || value > max) {
      at.report(`${value} is out of range; valid: an integer from ${min} to ${max}`);
      return INVALID;
    }
    return value;
  };
}

export const port: Parser<number> = integerIn(1, 65535);

export function oneOf<const T extends string>(choices: readonly T[]): Parser<T> {
  const quoted = choices.map((c) => JSON.stringify(c));
  const valid = quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}` : (quoted[0] ?? '');
  return (value, at) => {
    if (typeof value !== 'string') return wrongType(`a string: ${valid}`, value, at);
    if (!(choices as readonly string[]).includes(value)) {
      at.report(`${JSON.stringify(value)} is not valid; valid: ${valid}`);
      return INVALID;
    }
    return value as T;
  };
}

/** A file or folder; relative paths are relative to the config file's folder. */
export const path: Parser<string> = (value, at) => {
  const text = nonEmptyString(value, at);
  return text === INVALID ? INVALID : resolve(at.baseDir, text);
};

/** Like `path`, but "" means "not set" (sluice.toml templates write `extra_upstream_ca = ""`). */
export const optionalPath: Parser<string | undefined> = (value, at) =>
  value === '' ? undefined : path(value, at);

/**
 * An array of strings, each checked by `item`; duplicates are dropped. Empty arrays are
 * refused unless `allowEmpty`, because for allow-lists they would silently allow nothing.
 */
export function list<T>(item: Parser<T>, options: { allowEmpty: boolean; emptyHint?: string }): Parser<readonly T[]> {
  return (value, at) => {
    if (!Array.isArray(value)) return wrongType('an array of strings', value, at);
    if (value.length === 0 && !options.allowEmpty) {
      at.report(`an empty array allows nothing; ${options.emptyHint ?? 'list at least one value'}`);
      return INVALID;
    }
    const out: T[] = [];
    let ok = true;
    for (const element of value) {
      const parsed = item(element, at);
      if (parsed === INVALID) ok = false;
      else if (!out.includes(parsed)) out.push(parsed);
    }
    return ok ? out : INVALID;
  };
}

export const hostPattern: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (a host name or "*.domain")', value, at);
  const result = parseHostPattern(value);
  if (!result.ok) {
    at.report(result.reason);
    return INVALID;
  }
  return result.pattern;
};

const COMMON_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/** An HTTP method, upper-cased ("get" means GET). */
export const httpMethod: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType(`a string (${COMMON_METHODS}, …)`, value, at);
  const upper = value.toUpperCase();
  if (upper === '*') {
    at.report(`"*" is not an HTTP method; omit methods to allow any method`);
    return INVALID;
  }
  if (!/^[A-Z]+(?:-[A-Z]+)*$/.test(upper)) {
    at.report(
      `${JSON.stringify(value)} is not an HTTP method; valid: ${COMMON_METHODS}, or another method name of letters and "-"`,
    );
    return INVALID;
  }
  return upper;
};

const GLOB_VALID = 'valid: a path from "/" where "*" matches within one segment and "**" any segments, e.g. "/v1/*/files", "/org/**"';

/** A path glob, checked by the matcher's own validator (src/steps/policy/path-glob.ts). */
export const pathGlob: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (a path glob like "/v1/**")', value, at);
  const error = pathGlobError(value);
  if (error !== undefined) {
    at.report(`${error}; ${GLOB_VALID}`);
    return INVALID;
  }
  return value;
};

/** A model name glob: letters, digits and ".-_:/@", with "*" for any run of characters. */
export const modelGlob: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (a model name or glob like "claude-sonnet-4-*")', value, at);
  if (value === '' || value.length > 200 || !/^[A-Za-z0-9.\-_:/@*]+$/.test(value)) {
    at.report(`${JSON.stringify(value)} is not a model glob; valid: letters, digits, ".-_:/@" and "*" for any run of characters, e.g. "claude-sonnet-4-*"`);
    return INVALID;
  }
  return value;
};

/** A CIDR block: "10.0.0.0/8", "fd00::/8". */
export const cidr: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (a CIDR block like "10.20.0.0/16")', value, at);
  const [address, bits, extra] = value.split('/');
  const family = isIP(address ?? '');
  const max = family === 4 ? 32 : 128;
  const n = Number(bits);
  if (extra !== undefined || family === 0 || bits === undefined || !/^[0-9]{1,3}$/.test(bits) || n > max) {
    at.report(`${JSON.stringify(value)} is not a CIDR block; valid: an address and a prefix length, e.g. "10.20.0.0/16", "fd00::/8"`);
    return INVALID;
  }
  return value;
};

/** A number (integer or float) at least 0. */
export const nonNegativeNumber: Parser<number> = (value, at) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    at.report(`expected a number >= 0, got ${JSON.stringify(value)}`);
    return INVALID;
  }
  return value;
};

/** An IP address to bind to. */
export const ipAddress: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (an IP address)', value, at);
  if (isIP(value) === 0) {
    at.report(`${JSON.stringify(value)} is not an IP address; valid: e.g. "127.0.0.1", "::1", "0.0.0.0"`);
    return INVALID;
  }
  return value;
};

/** A DNS resolver: "ip", "ipv4:port" or "[ipv6]:port"; "" means the system resolver. */
export const resolverAddress: Parser<string | undefined> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string ("IP" or "IP:port")', value, at);
  if (value === '') return undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  const v4WithPort = /^([^:]+):(\d+)$/.exec(value);
  const host = bracketed?.[1] ?? v4WithPort?.[1] ?? value;
  const portText = bracketed?.[2] ?? v4WithPort?.[2];
  const portNumber = portText === undefined ? 53 : Number(portText);
  const hostOk = bracketed !== null ? isIP(host) === 6 : isIP(host) !== 0;
  if (!hostOk || portNumber < 1 || portNumber > 65535) {
    at.report(
      `${JSON.stringify(value)} is not a resolver address; valid: an IP address with an optional port, e.g. "1.1.1.1", "10.0.0.2:5353", "[2606:4700::1111]:53"`,
    );
    return INVALID;
  }
  return value;
};

/** A request header name, lower-cased. */
export const headerName: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (a header name)', value, at);
  const lower = value.toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) {
    at.report(`${JSON.stringify(value)} is not a header name; valid: letters, digits and -, e.g. "x-api-token"`);
    return INVALID;
  }
  return lower;
};

/** A query parameter name (matched exactly, case-sensitive). */
export const queryName: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (a query parameter name)', value, at);
  if (value === '' || /[&=#?\s\p{Cc}]/u.test(value)) {
    at.report(`${JSON.stringify(value)} is not a query parameter name; valid: a non-empty name without &, =, #, ? or spaces, e.g. "key"`);
    return INVALID;
  }
  return value;
};

export const envVarName: Parser<string> = (value, at) => {
  if (typeof value !== 'string') return wrongType('a string (an environment variable name)', value, at);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
    at.report(`${JSON.stringify(value)} is not an environment variable name; valid: letters, digits and _, e.g. "ANTHROPIC_API_KEY"`);
    return INVALID;
  }
  return value;
};

export const MIN_SURROGATE_LENGTH = 16;

/** A surrogate the agent holds in place of a secret. Not secret, but never echoed either. */
export function surrogate(charset: RegExp, valid: string): Parser<string> {
  return (value, at) => {
    if (typeof value !== 'string') return wrongType(`a string (${valid})`, value, at);
    if (value.length < MIN_SURROGATE_LENGTH || !charset.test(value)) {
      at.report(`not a usable surrogate (${value.length} characters); valid: ${valid}`);
      return INVALID;
    }
    return value;
  };
}

/** Printable ASCII without spaces: it travels in headers, Basic auth and query strings. */
export const tokenSurrogate = surrogate(
  /^[\x21-\x7e]+$/,
  `at least ${MIN_SURROGATE_LENGTH} printable ASCII characters without spaces`,
);

/** AWS access key ids are upper-case letters and digits; SDKs and the SigV4 scope expect that. */
export const awsKeyIdSurrogate = surrogate(
  /^[A-Z0-9]+$/,
  `at least ${MIN_SURROGATE_LENGTH} upper-case letters and digits, e.g. "AKIASLUICEEXAMPLE000"`,
);
