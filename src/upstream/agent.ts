// Upstream connection pools. Transport only: which name to reach and whether private
// addresses are acceptable were decided by the steps; this module dials exactly an address
// that the checked resolver returned for the name (no second, unchecked lookup that DNS
// rebinding could exploit) and verifies the upstream certificate against that name.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { Agent, buildConnector } from 'undici';
import type { UpstreamSettings } from '../config/types.ts';
import type { CheckedResolver } from './resolve.ts';

export interface UpstreamOptions {
  settings: UpstreamSettings;
  resolver: CheckedResolver;
  /** PEM file of one extra CA to trust upstream (tests), absolute path. */
  extraCaFile: string | undefined;
}

export interface Upstream {
  /** The pool set for hosts that may (true) or may not (false) resolve to private addresses. */
  agent(allowPrivate: boolean): Agent;
  /** The trust store upstream certificates are verified against. */
  readonly trust: tls.SecureContext;
  close(): Promise<void>;
}

/** System trust store (falls back to Node's bundled Mozilla roots) plus the optional extra CA. */
export function upstreamTrust(extraCaFile: string | undefined): tls.SecureContext {
  let roots: string[] = [];
  try {
    roots = [...tls.getCACertificates('system')];
  } catch {
    roots = [];
  }
  if (roots.length === 0) roots = [...tls.rootCertificates];
  if (extraCaFile !== undefined) roots.push(readFileSync(extraCaFile, 'utf8'));
  return tls.createSecureContext({ ca: roots, minVersion: 'TLSv1.2' });
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const secureContext = upstreamTrust(options.extraCaFile);
  const make = (allowPrivate: boolean): Agent => {
    const dial = buildConnector({ secureContext, timeout: options.settings.connectTimeoutMs } as buildConnector.BuildOptions);
    const connect: buildConnector.connector = (opts, callback) => {
      options.resolver.resolve(opts.hostname, allowPrivate).then(
        (resolved) => {
          const addresses = resolved.addresses;
          // Try each checked address in turn (IPv6 and IPv4 as resolved); stop at the first
          // that connects. Every candidate passed the address check.
          let attempt = 0;
          const next = (previous: Error | null): void => {
            const candidate = addresses[attempt++];
            if (candidate === undefined) {
              callback(previous ?? new Error(`no address for ${opts.hostname}`), null);
              return;
            }
            dial({ ...opts, hostname: candidate.address, servername: opts.hostname }, (err, socket) => {
              if (err !== null && isRetryableConnectError(err) && attempt < addresses.length) next(err);
              else if (err !== null) callback(err, null);
              else callback(null, socket);
            });
          };
          next(null);
        },
        (err: Error) => callback(err, null),
      );
    };
    return new Agent({
      connect,
      headersTimeout: options.settings.headersTimeoutMs,
      bodyTimeout: options.settings.headersTimeoutMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: 256,
      pipelining: 1,
    });
  };
  const publicOnly = make(false);
  const withPrivate = make(true);
  return {
    agent: (allowPrivate) => (allowPrivate ? withPrivate : publicOnly),
    trust: secureContext,
    async close() {
      await Promise.all([publicOnly.close(), withPrivate.close()]);
    },
  };
}

function isRetryableConnectError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EADDRNOTAVAIL';
}
