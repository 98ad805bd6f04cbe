// What a resolv.conf says about the resolvers behind it, read the way Docker writes it.
//
// Besides the ordinary `nameserver` lines, Docker >= 25 records the servers its embedded DNS
// (127.0.0.11) forwards to in a comment: `# ExtServers: [192.0.2.53 host(127.0.0.53)]`. A
// `host(…)` entry is one the engine reaches from the *host's* namespace (Docker Desktop's VM
// resolver, systemd-resolved's stub); it may or may not answer from a container's namespace.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';

export interface ExtServer {
  address: string;
  /** Written as `host(…)`: the engine reaches it from the host's network namespace. */
  hostNamespace: boolean;
}

export interface ResolvConf {
  /** Every `nameserver` line that holds an IP address, in file order. */
  nameservers: string[];
  /** Docker's `# ExtServers: […]` record, in order; empty when absent (Docker 20.10–24). */
  extServers: ExtServer[];
}

/** Parses resolv.conf text. Lines that only look like entries are ignored. */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  const extServers: ExtServer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) {
      if (extServers.length === 0) extServers.push(...parseExtServers(line));
      continue;
    }
    const [key, value] = line.split(/[ \t]+/, 2);
    if (key === 'nameserver' && value !== undefined && isNameserverAddress(value)) nameservers.push(value);
  }
  return { nameservers, extServers };
}

/** Reads and parses a resolv.conf; undefined when the file does not exist or cannot be read. */
export async function readResolvConf(path: string): Promise<ResolvConf | undefined> {
  try {
    return parseResolvConf(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** "# ExtServers: [a host(b)]" → its entries; anything else → none. */
function parseExtServers(comment: string): ExtServer[] {
  const body = comment.replace(/^#[ \t]*/, '');
  if (!body.startsWith('ExtServers:')) return [];
  const open = body.indexOf('[');
  const close = body.indexOf(']', open + 1);
  if (open < 0 || close < 0) return [];
  const servers: ExtServer[] = [];
  for (const entry of body.slice(open + 1, close).split(/[ \t]+/)) {
    const hostNamespace = entry.startsWith('host(') && entry.endsWith(')');
    const address = hostNamespace ? entry.slice(5, -1) : entry;
    if (isNameserverAddress(address)) servers.push({ address, hostNamespace });
  }
  return servers;
}

/** An IP address; a link-local one with a %zone counts too (the caller decides what to do with it). */
function isNameserverAddress(value: string): boolean {
  const zone = value.indexOf('%');
  return isIP(zone < 0 ? value : value.slice(0, zone)) !== 0;
}
