// Which root certificates upstream servers are verified against: the system trust store,
// read the cheapest way that gives the same roots.
//
// Node's `tls.getCACertificates('system')` reads OpenSSL's default file and directory, and on
// Debian both hold the same certificates (the directory twice over, by name and by hash): 576
// certificates for 144 roots, which Node parses and keeps, and which a secure context built from
// them parses again. That cost 3.8 MiB of RSS at start against 1.2 MiB for the bundle file
// alone (README, Benchmarks). So where OpenSSL's locations are the defaults (neither
// SSL_CERT_FILE nor SSL_CERT_DIR set), the system's bundle file is read: the same file the
// agents' trust bundle is built from (trust-bundle.ts). Where an operator set either variable,
// or the system keeps its roots in a directory only, Node's reading is used, each root once.
// Node's bundled Mozilla roots are the last resort.
import tls from 'node:tls';
import { SYSTEM_BUNDLE_PATHS, readSystemBundleFile, type SystemRoots } from './trust-bundle.ts';

export interface UpstreamRoots {
  /** PEM certificates, one per string, for `tls.createSecureContext({ ca })`; the caller's own array. */
  pems: string[];
  /** Where they came from: a bundle file's path, "system store" or "node:tls". */
  source: string;
}

/** The bundle file the roots come from, where they come from one (OpenSSL's locations are the defaults). */
export function upstreamRootsFile(env: NodeJS.ProcessEnv = process.env, paths: readonly string[] = SYSTEM_BUNDLE_PATHS): SystemRoots | undefined {
  if (env.SSL_CERT_FILE !== undefined || env.SSL_CERT_DIR !== undefined) return undefined;
  return readSystemBundleFile(paths);
}

export function upstreamRoots(env: NodeJS.ProcessEnv = process.env, paths: readonly string[] = SYSTEM_BUNDLE_PATHS): UpstreamRoots {
  const file = upstreamRootsFile(env, paths);
  // One entry per certificate: Node stops reading a PEM string at the first block it cannot
  // parse, so one damaged block in the file must not take the roots after it along.
  if (file !== undefined) return { pems: [...file.blocks], source: file.source };
  let system: string[] = [];
  try {
    system = [...new Set(tls.getCACertificates('system'))];
  } catch {
    system = [];
  }
  if (system.length > 0) return { pems: system, source: 'system store' };
  return { pems: [...tls.rootCertificates], source: 'node:tls' };
}
