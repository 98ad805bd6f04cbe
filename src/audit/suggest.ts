// `sluice suggest`: [[allow]] entries that would have allowed every request the allowlist
// refused (decision "deny") or would have refused (decision "would_deny", learn and report
// modes), read from access.ndjson. One entry per host: the methods seen when they were few,
// path prefixes when the traffic stayed under a few of them. Only the allowlist's own reasons
// are turned into rules; a private address or a misused surrogate is never something to allow.
import { isAmbiguousPath } from '../steps/policy/path-glob.ts';

const POLICY_REASONS = new Set(['not_allowlisted', 'method', 'path']);
/** More distinct methods than this: the entry allows any method. */
const MAX_METHODS = 3;
/** More distinct path prefixes than this: the entry allows any path. */
const MAX_PREFIXES = 4;

export interface AccessLine {
  time?: string;
  host?: string;
  method?: string;
  path?: string;
  decision?: string;
  reason?: string;
  listener?: string;
}

export interface Suggestion {
  host: string;
  methods: string[] | undefined;
  paths: string[] | undefined;
  requests: number;
  first: string;
  last: string;
  reasons: string[];
}

function pathOnly(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

/** A path segment as a glob literal: "*" would be a wildcard, so such a segment becomes "*". */
function literal(segment: string): string {
  return segment.includes('*') ? '*' : segment;
}

/** The narrowest set of "/prefix/**" globs (at most MAX_PREFIXES) covering every path. */
function pathGlobs(paths: string[]): string[] | undefined {
  if (paths.some((p) => !p.startsWith('/') || isAmbiguousPath(p))) return undefined;
  const split = paths.map((p) => p.slice(1).split('/'));
  // The longest common run of segments (all but a request's last one: that is the resource).
  const common: string[] = [];
  for (let i = 0; ; i++) {
    const seg = split[0]?.[i];
    if (seg === undefined || seg === '' || split.some((s) => s[i] !== seg || s.length <= i + 1)) break;
    common.push(seg);
  }
  if (common.length > 0) return [`/${common.map(literal).join('/')}/**`];
  const firsts = [...new Set(split.map((s) => s[0] ?? ''))];
  if (firsts.includes('') || firsts.length > MAX_PREFIXES) return undefined;
  // A single-segment path ("/health") is itself; deeper ones get their first segment's subtree.
  const globs = new Set<string>();
  for (const s of split) {
    const first = literal(s[0] as string);
    globs.add(s.length === 1 ? `/${first}` : `/${first}/**`);
  }
  // "/a/**" already matches "/a".
  for (const g of [...globs]) if (!g.endsWith('/**') && globs.has(`${g}/**`)) globs.delete(g);
  return [...globs].sort();
}

export function suggestAllow(lines: Iterable<AccessLine>, since?: number): Suggestion[] {
  const byHost = new Map<string, { methods: Set<string>; paths: string[]; requests: number; first: string; last: string; reasons: Set<string> }>();
  for (const line of lines) {
    if (line.decision !== 'deny' && line.decision !== 'would_deny') continue;
    if (line.reason === undefined || !POLICY_REASONS.has(line.reason)) continue;
    if (line.host === undefined || line.method === undefined || line.path === undefined) continue;
    const time = line.time ?? '';
    if (since !== undefined && Date.parse(time) < since) continue;
    let group = byHost.get(line.host);
    if (group === undefined) {
      group = { methods: new Set(), paths: [], requests: 0, first: time, last: time, reasons: new Set() };
      byHost.set(line.host, group);
    }
    group.methods.add(line.method.toUpperCase());
    group.paths.push(pathOnly(line.path));
    group.requests += 1;
    group.reasons.add(line.reason);
    if (time < group.first) group.first = time;
    if (time > group.last) group.last = time;
  }
  return [...byHost.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([host, g]) => ({
    host,
    methods: g.methods.size <= MAX_METHODS ? [...g.methods].sort() : undefined,
    paths: pathGlobs([...new Set(g.paths)]),
    requests: g.requests,
    first: g.first,
    last: g.last,
    reasons: [...g.reasons].sort(),
  }));
}

const q = (s: string): string => JSON.stringify(s);

export function suggestionsToToml(suggestions: readonly Suggestion[]): string {
  if (suggestions.length === 0) return '# nothing was denied in this period: no [[allow]] entries to suggest\n';
  let out = '';
  for (const s of suggestions) {
    out += `# ${s.requests} request${s.requests === 1 ? '' : 's'} ${s.first} … ${s.last} (${s.reasons.join(', ')})\n`;
    out += '[[allow]]\n';
    out += `host = ${q(s.host)}\n`;
    if (s.methods !== undefined) out += `methods = [${s.methods.map(q).join(', ')}]\n`;
    if (s.paths !== undefined) out += `paths = [${s.paths.map(q).join(', ')}]\n`;
    out += '\n';
  }
  return out;
}
