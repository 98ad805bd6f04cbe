// The trust bundle for variables that *replace* a client's trust store (SSL_CERT_FILE,
// REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, …, DESIGN §5): the system roots plus sluice's CA, so a
// client pointed at it still trusts every public site and also sluice's leaves.

import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import tls from 'node:tls';

/** Where distributions keep their PEM root bundle, most common first. */
export const SYSTEM_BUNDLE_PATHS: readonly string[] = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine, Arch, Gentoo
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL, CentOS
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // RHEL 7+, newer Fedora
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/ssl/cert.pem', // Alpine, macOS, BSD
];

// Whole lines only, as OpenSSL reads them: a BEGIN line someone commented out ("# -----BEGIN…")
// starts no certificate. The body is base64 (no '-'), so a block cannot run into the next one.
const PEM_BLOCK = /^-----BEGIN CERTIFICATE-----[ \t]*\r?\n[A-Za-z0-9+/=\s]+?^-----END CERTIFICATE-----[ \t]*\r?$/gm;

export interface SystemRoots {
  /** PEM certificates, one block after another (joined on each read). */
  readonly pem: string;
  /** The same certificates, one PEM block each. */
  blocks: string[];
  /** The file they came from, or "node:tls" for Node's bundled Mozilla roots. */
  source: string;
  count: number;
}

/** `pem` is joined when asked for, not kept: the memo below holds the blocks for the process's life. */
function rootsOf(blocks: string[], source: string): SystemRoots {
  return {
    get pem() {
      return blocks.join('\n') + '\n';
    },
    blocks,
    source,
    count: blocks.length,
  };
}

/** The system's bundle file, read once: start-up needs it twice (the agents' bundle, upstream trust). */
let systemBundle: { roots: SystemRoots | undefined } | undefined;

/**
 * The first readable bundle file among `paths` that holds a certificate, or undefined. The
 * system's own paths are read once per process, as Node reads its system store once.
 */
export function readSystemBundleFile(paths: readonly string[] = SYSTEM_BUNDLE_PATHS): SystemRoots | undefined {
  if (paths !== SYSTEM_BUNDLE_PATHS) return readBundleFile(paths);
  systemBundle ??= { roots: readBundleFile(paths) };
  return systemBundle.roots;
}

function readBundleFile(paths: readonly string[]): SystemRoots | undefined {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const blocks = text.match(PEM_BLOCK) ?? [];
    if (blocks.length > 0) return rootsOf(blocks, path);
  }
  return undefined;
}

/** The system's root certificates: the first readable bundle file, else Node's bundled roots. */
export async function readSystemRoots(paths: readonly string[] = SYSTEM_BUNDLE_PATHS): Promise<SystemRoots> {
  return readSystemBundleFile(paths) ?? rootsOf([...tls.rootCertificates], 'node:tls');
}

/** System roots followed by the sluice CA (not added twice if the system already trusts it). */
export async function buildTrustBundle(caCertPem: string, paths?: readonly string[]): Promise<string> {
  const ca = new X509Certificate(caCertPem);
  const roots = await readSystemRoots(paths);
  const caBody = pemBody(ca.toString());
  const alreadyTrusted = roots.blocks.some((block) => pemBody(block) === caBody);
  if (alreadyTrusted) return roots.pem;
  const label = `# sluice CA: ${ca.subject.replaceAll('\n', ', ')} (SHA-256 ${ca.fingerprint256})`;
  return `${roots.pem}${label}\n${ca.toString().trimEnd()}\n`;
}

/** Writes the bundle atomically (readers never see half a file), mode 0644. */
export async function writeTrustBundle(caCertPem: string, outPath: string, paths?: readonly string[]): Promise<void> {
  const bundle = await buildTrustBundle(caCertPem, paths);
  const tmp = `${outPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const file = await open(tmp, 'wx', 0o644);
  try {
    await file.writeFile(bundle);
    await file.chmod(0o644);
  } finally {
    await file.close();
  }
  try {
    await rename(tmp, outPath);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * A PEM block's base64 without its armour and line breaks: equal for the same DER, whatever the
 * line width. Comparing these instead of parsing every root (150 X509Certificate objects on
 * each start) takes ~0.5 ms instead of ~6 ms of the start.
 */
function pemBody(pem: string): string {
  return pem.replace(/-----(?:BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}
