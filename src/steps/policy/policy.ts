// The allowlist. Exact host patterns sit in one Map, wildcard patterns ("*.example.com") in
// another keyed by their suffix ("example.com"); a lookup tries the exact name, then each
// proper suffix of it: O(labels), no scanning of the rule list. "*.example.com" matches one
// or more labels below example.com and never example.com itself.

import type { AllowRule } from '../../config/types.ts';
import { isIpLiteral, normalizeHostPattern } from '../../names/host.ts';
import { compilePathGlob } from './path-glob.ts';

export type PolicyDecision =
  | { allow: true; rule: AllowRule }
  | { allow: false; reason: 'not_allowlisted' | 'method' | 'path'; rule?: AllowRule };

export interface Policy {
  /**
   * Decides one request. `host` is already normalised; `path` is the request target's path,
   * query included or not (it is ignored). Methods compare exactly (HTTP methods are
   * case-sensitive: "get" is not "GET").
   */
  decide(host: string, method: string, path: string): PolicyDecision;
  /** Every rule whose host pattern matches, in file order; empty if none (deny). */
  hostRules(host: string): readonly AllowRule[];
}

interface CompiledRule {
  rule: AllowRule;
  methods: ReadonlySet<string> | undefined;
  paths: readonly ((path: string) => boolean)[] | undefined;
  // Decisions are built once per rule and shared: decide() allocates nothing.
  allowed: PolicyDecision;
  deniedMethod: PolicyDecision;
  deniedPath: PolicyDecision;
}

/** Rules that share one host pattern, kept in both shapes so lookups never rebuild them. */
interface Bucket {
  compiled: CompiledRule[];
  rules: AllowRule[];
}

const NONE: readonly AllowRule[] = Object.freeze([]);
const NOT_ALLOWLISTED: PolicyDecision = Object.freeze({ allow: false, reason: 'not_allowlisted' });

/** Builds the policy. Throws on a rule whose host is not a normal pattern or whose glob is invalid. */
export function createPolicy(rules: readonly AllowRule[]): Policy {
  const exact = new Map<string, Bucket>();
  const wildcard = new Map<string, Bucket>();
  for (const rule of [...rules].sort((a, b) => a.index - b.index)) {
    if (normalizeHostPattern(rule.host) !== rule.host) {
      throw new Error(`allow[${rule.index}]: host pattern "${rule.host}" is not normalised`);
    }
    const compiled: CompiledRule = {
      rule,
      methods: rule.methods === undefined ? undefined : new Set(rule.methods),
      paths: rule.paths?.map((glob) => compilePathGlob(glob)),
      allowed: Object.freeze({ allow: true, rule }),
      deniedMethod: Object.freeze({ allow: false, reason: 'method', rule }),
      deniedPath: Object.freeze({ allow: false, reason: 'path', rule }),
    };
    const isWildcard = rule.host.startsWith('*.');
    const map = isWildcard ? wildcard : exact;
    const key = isWildcard ? rule.host.slice(2) : rule.host;
    let bucket = map.get(key);
    if (bucket === undefined) {
      bucket = { compiled: [], rules: [] };
      map.set(key, bucket);
    }
    bucket.compiled.push(compiled);
    bucket.rules.push(rule);
  }

  /**
   * The rules matching a host, in file order. One matching pattern (the usual case) returns
   * its bucket as is; several are merged into a fresh bucket.
   */
  function lookup(host: string): Bucket | undefined {
    let found = exact.get(host);
    // An IP literal never matches a wildcard ("*.0.1" must not admit 10.0.0.1).
    if (wildcard.size === 0 || looksLikeIp(host)) return found;
    for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
      const bucket = wildcard.get(host.slice(dot + 1));
      if (bucket === undefined) continue;
      found = found === undefined ? bucket : mergeBuckets(found, bucket);
    }
    return found;
  }

  return {
    hostRules(host: string): readonly AllowRule[] {
      return lookup(host)?.rules ?? NONE;
    },

    decide(host: string, method: string, path: string): PolicyDecision {
      const bucket = lookup(host);
      if (bucket === undefined) return NOT_ALLOWLISTED;
      let firstMethodMatch: CompiledRule | undefined;
      for (const c of bucket.compiled) {
        if (c.methods !== undefined && !c.methods.has(method)) continue;
        if (c.paths === undefined) return c.allowed;
        for (const match of c.paths) if (match(path)) return c.allowed;
        firstMethodMatch ??= c;
      }
      // Name the closest rule in the 403: the first that allowed the method (the path failed),
      // otherwise the first whose host matched (the method failed everywhere).
      if (firstMethodMatch !== undefined) return firstMethodMatch.deniedPath;
      const first = bucket.compiled[0];
      return first === undefined ? NOT_ALLOWLISTED : first.deniedMethod;
    },
  };
}

function mergeBuckets(a: Bucket, b: Bucket): Bucket {
  const compiled = [...a.compiled, ...b.compiled].sort((x, y) => x.rule.index - y.rule.index);
  return { compiled, rules: compiled.map((c) => c.rule) };
}

function looksLikeIp(host: string): boolean {
  const last = host.charCodeAt(host.length - 1);
  return (host.includes(':') || (last >= 0x30 && last <= 0x39)) && isIpLiteral(host);
}
