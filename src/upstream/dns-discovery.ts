// Finds the resolver sluice uses for its own lookups when nobody named one (DESIGN.md §5).
//
// sluice cannot use the resolver its container is given on a compose network: Docker's embedded
// DNS (127.0.0.11) forwards names it does not know from inside the captured namespace, as root,
// and the capture sends that forward straight back to sluice. So sluice looks for a real one,
// in this order, and takes the first that answers a real query from here:
//   1. an explicit address (SLUICE_DNS_UPSTREAM; [dns] upstream is handled by the config);
//   2. a nameserver in the namespace's resolv.conf that is not loopback (the default bridge,
//      Kubernetes, plain `docker run`);
//   3. the servers Docker >= 25 records there as `# ExtServers: […]`, `host(…)` ones included
//      (Docker Desktop: its VM resolver usually answers from containers too);
//   4. the resolvers the engine itself hands out: the resolv.conf of a container on Docker's
//      default bridge, which has no embedded DNS (compose.yaml's sluice-dns-scout writes it).
//      On Docker 20.10–24 this is the only place a compose container can see them.
// Loopback addresses are never candidates: in a namespace shared with the agent, 127.0.0.x is
// the agent's as much as sluice's, and 127.0.0.11 is the trap itself.
import { isIP } from 'node:net';
import { probeDnsServer, type ProbeOptions, type ProbeResult } from './dns-probe.ts';
import { parseUpstream } from './resolve.ts';
import { readResolvConf, type ResolvConf } from './resolv-conf.ts';

export interface Candidate {
  /** "IP", "IP:port" or "[IPv6]:port", as SLUICE_DNS_UPSTREAM takes it. */
  server: string;
  /** Where it was found, for the log and the refusal. */
  source: string;
}

export interface Skipped extends Candidate {
  reason: string;
}

export interface DiscoveryInput {
  /** SLUICE_DNS_UPSTREAM, when set (empty counts as unset). */
  explicit?: string;
  /** The namespace's resolv.conf, and where it was read. */
  namespace?: { conf: ResolvConf; path: string };
  /** The resolv.conf Docker gives a container on its default bridge. */
  engine?: { conf: ResolvConf; path: string };
}

export interface Attempt extends Candidate {
  result: ProbeResult;
}

export interface Discovery {
  /** The first candidate, in order, that answered; undefined when none did. */
  chosen?: Candidate;
  /** True when chosen is the explicit address (used even if it did not answer: see below). */
  explicit: boolean;
  attempts: Attempt[];
  skipped: Skipped[];
}

/** Candidates in the order above, each once; the ones that can never work are listed as skipped. */
export function resolverCandidates(input: DiscoveryInput): { candidates: Candidate[]; skipped: Skipped[] } {
  const candidates: Candidate[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  const consider = (address: string, source: string): void => {
    const zone = address.indexOf('%');
    if (zone >= 0) {
      skipped.push({ server: address, source, reason: 'link-local with a zone, which "IP:port" cannot carry' });
      return;
    }
    if (isLoopback(address)) {
      skipped.push({ server: address, source, reason: address === '127.0.0.11'
        ? "Docker's embedded DNS: its forwards are captured back to sluice"
        : 'loopback: in the shared namespace it would be the agent\'s as much as sluice\'s' });
      return;
    }
    const server = isIP(address) === 6 ? `[${address}]:53` : address;
    if (seen.has(server)) return;
    seen.add(server);
    candidates.push({ server, source });
  };
  if (input.namespace !== undefined) {
    const { conf, path } = input.namespace;
    for (const ns of conf.nameservers) consider(ns, `nameserver in ${path}`);
    for (const ext of conf.extServers) {
      consider(ext.address, `Docker's ExtServers record in ${path}${ext.hostNamespace ? ' (host namespace)' : ''}`);
    }
  }
  if (input.engine !== undefined) {
    const { conf, path } = input.engine;
    for (const ns of conf.nameservers) consider(ns, `the engine's resolver (${path})`);
  }
  return { candidates, skipped };
}

export interface DiscoverOptions extends ProbeOptions {
  probe?: (server: string, options: ProbeOptions) => Promise<ProbeResult>;
  /** At most this many candidates are probed (all at once, so the wait is one timeout). */
  maxCandidates?: number;
}

/**
 * Probes the candidates (all at once, each bounded by timeoutMs) and picks the first in order
 * that answered. An explicit address is probed too, but used even when it does not answer:
 * the operator chose it (it may be a resolver that starts after sluice), and silently taking
 * another one would go against that choice. The caller logs the failed probe.
 */
export async function discoverDnsUpstream(input: DiscoveryInput, options: DiscoverOptions = {}): Promise<Discovery> {
  const probe = options.probe ?? probeDnsServer;
  const probeOptions: ProbeOptions = { timeoutMs: options.timeoutMs ?? 2_000, name: options.name };
  if (input.explicit !== undefined && input.explicit !== '') {
    const server = parseUpstream(input.explicit);
    const candidate = { server, source: 'SLUICE_DNS_UPSTREAM' };
    const result = await probe(server, probeOptions);
    return { chosen: candidate, explicit: true, attempts: [{ ...candidate, result }], skipped: [] };
  }
  const { candidates, skipped } = resolverCandidates(input);
  const limited = candidates.slice(0, options.maxCandidates ?? 8);
  const pending = limited.map((c) => probe(c.server, probeOptions));
  // Decided as soon as a candidate has answered and every one before it has failed: the
  // later probes are not waited for (they end by their own timeout).
  const attempts: Attempt[] = [];
  for (const [i, c] of limited.entries()) {
    const result = await (pending[i] as Promise<ProbeResult>);
    attempts.push({ ...c, result });
    if (result.ok) return { chosen: { server: c.server, source: c.source }, explicit: false, attempts, skipped };
  }
  return { chosen: undefined, explicit: false, attempts, skipped };
}

/** One line per candidate: what was found where, and what became of it. */
export function describeDiscovery(d: Discovery): string[] {
  const lines = d.skipped.map((s) => `${s.server} (${s.source}): skipped, ${s.reason}`);
  for (const a of d.attempts) {
    lines.push(`${a.server} (${a.source}): ${a.result.ok ? `answered ${a.result.rcode} in ${a.result.ms} ms` : a.result.reason}`);
  }
  return lines;
}

/** Why sluice refuses to start, and the exact line that fixes it. */
export function refusalMessage(d: Discovery): string {
  const tried = describeDiscovery(d);
  return [
    'no DNS resolver for sluice: none of the candidates answers from this network namespace.',
    ...(tried.length > 0 ? tried.map((l) => `  ${l}`) : ['  (no candidate found: resolv.conf names only loopback resolvers)']),
    'Add this line to .env next to compose.yaml, with the address of a resolver this network can reach (your host\'s',
    'own: `grep nameserver /etc/resolv.conf`, or /run/systemd/resolve/resolv.conf on systemd-resolved hosts), then',
    '`docker compose up -d` again (or set [dns] upstream in sluice.toml):',
    '',
    'SLUICE_DNS_UPSTREAM=IP_OF_YOUR_RESOLVER',
  ].join('\n');
}

export interface DiscoveryFiles {
  /** The namespace's resolv.conf: the first of these that exists (a snapshot before the live file). */
  namespace: string[];
  /** The engine's resolv.conf, as sluice-dns-scout wrote it (absent outside compose). */
  engine: string;
}

/**
 * For the image's entrypoint (docker/dns-upstream.sh): the chosen server on stdout, what was
 * tried on stderr; exit code 0, or 1 with refusalMessage when nothing answers.
 */
export async function printDnsUpstream(files: DiscoveryFiles, env: NodeJS.ProcessEnv, options: DiscoverOptions = {}): Promise<number> {
  const log = (line: string): void => void process.stderr.write(`sluice-dns: ${line}\n`);
  let namespace: DiscoveryInput['namespace'];
  for (const path of files.namespace) {
    const conf = await readResolvConf(path);
    if (conf !== undefined) {
      namespace = { conf, path };
      break;
    }
  }
  const engineConf = await readResolvConf(files.engine);
  const input: DiscoveryInput = {
    explicit: env.SLUICE_DNS_UPSTREAM,
    namespace,
    engine: engineConf === undefined ? undefined : { conf: engineConf, path: files.engine },
  };
  let discovery: Discovery;
  try {
    discovery = await discoverDnsUpstream(input, options);
  } catch (err) {
    log(`SLUICE_DNS_UPSTREAM=${env.SLUICE_DNS_UPSTREAM ?? ''}: ${(err as Error).message}`);
    return 1;
  }
  for (const line of describeDiscovery(discovery)) log(line);
  if (discovery.chosen === undefined) {
    log(refusalMessage(discovery));
    return 1;
  }
  if (discovery.explicit && discovery.attempts[0]?.result.ok !== true) {
    log(`warning: ${discovery.chosen.server} (SLUICE_DNS_UPSTREAM) does not answer yet; using it anyway, as set`);
  }
  process.stdout.write(`${discovery.chosen.server}\n`);
  return 0;
}

function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  const lower = address.toLowerCase();
  return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || lower.startsWith('::ffff:127.');
}
