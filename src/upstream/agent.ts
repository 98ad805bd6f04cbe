// Upstream connection pools. Transport only: which name to reach and whether private
// addresses are acceptable were decided by the steps; this module dials exactly an address
// that the checked resolver returned for the name (no second, unchecked lookup that DNS
// rebinding could exploit) and verifies the upstream certificate against that name.
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { buildConnector } from 'undici';
import { LRUCache } from 'lru-cache';
import type { UpstreamSettings } from '../config/types.ts';
import type { CheckedResolver } from './resolve.ts';
import { createOriginPools, type OriginPools } from './origin-pools.ts';
import { connectStaggered, preferAddress, type Dial, type DialCallback } from './staggered-connect.ts';
import { upstreamRoots } from '../tls/upstream-roots.ts';

// undici's entry point loads all of undici (fetch, WebSocket, caches, mocks): +28 MiB of RSS
// and ~0.1 s at start. sluice needs its pools and connector only, +14 MiB (bench/idle-memory.ts).
const require = createRequire(import.meta.url);
const makeConnector = require('undici/lib/core/connect.js') as typeof buildConnector;

/** How long the address that last connected for a host is tried first. */
const LAST_CONNECTED_TTL_MS = 10 * 60_000;

export interface UpstreamOptions {
  settings: UpstreamSettings;
  resolver: CheckedResolver;
  /** PEM file of one extra CA to trust upstream (tests), absolute path. */
  extraCaFile: string | undefined;
}

export interface Upstream {
  /**
   * The pool set for hosts that may (true) or may not (false) resolve to private addresses;
   * `h2`: one that offers HTTP/2 by ALPN (gRPC needs it; undici's HTTP/1.1 pool is faster).
   */
  agent(allowPrivate: boolean, h2?: boolean): OriginPools;
  /** The trust store upstream certificates are verified against. */
  readonly trust: tls.SecureContext;
  /** Where its roots came from (tls/upstream-roots.ts) and how many there are, for the log. */
  readonly trustRoots: { source: string; count: number };
  close(): Promise<void>;
}

/** The system trust store (tls/upstream-roots.ts) plus the optional extra CA. */
export function upstreamTrust(extraCaFile: string | undefined): { context: tls.SecureContext; source: string; count: number } {
  const roots = upstreamRoots();
  const count = roots.pems.length;
  if (extraCaFile !== undefined) roots.pems.push(readFileSync(extraCaFile, 'utf8'));
  return { context: tls.createSecureContext({ ca: roots.pems, minVersion: 'TLSv1.2' }), source: roots.source, count };
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const trust = upstreamTrust(options.extraCaFile);
  const secureContext = trust.context;
  const make = (allowPrivate: boolean, allowH2: boolean): OriginPools => {
    const dial = makeConnector({ secureContext, timeout: options.settings.connectTimeoutMs, allowH2 } as buildConnector.BuildOptions);
    /** The address that last connected, by host and port: tried first next time. */
    const lastConnected = new LRUCache<string, string>({ max: 1024, ttl: LAST_CONNECTED_TTL_MS });
    const connect: buildConnector.connector = (opts, callback) => {
      options.resolver.resolve(opts.hostname, allowPrivate).then(
        (resolved) => {
          // Every candidate passed the address check; they are tried staggered, in the
          // resolver's order (IPv6 and IPv4 interleaved), the one that last connected first.
          const key = `${opts.hostname}:${opts.port}`;
          // undici's connector returns the socket it opened (its type says void): the attempts
          // that lose the race are closed through it.
          const attempt: Dial = (candidate, done) => dial({ ...opts, hostname: candidate.address, servername: opts.hostname }, done) as unknown as Socket;
          connectStaggered(preferAddress(resolved.addresses, lastConnected.get(key)), attempt, isRetryableConnectError, (err, socket, winner) => {
            if (winner !== undefined) lastConnected.set(key, winner.address);
            (callback as DialCallback)(err, socket);
          });
        },
        (err: Error) => callback(err, null),
      );
    };
    return createOriginPools({
      connect,
      headersTimeout: options.settings.headersTimeoutMs,
      bodyTimeout: options.settings.headersTimeoutMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: 256,
      pipelining: 1,
      allowH2,
      // One h2 connection per origin carries up to this many streams (the agent's own cap).
      maxConcurrentStreams: 100,
    });
  };
  // [private][h2]; the h2 pools are made on first use (most deployments never speak gRPC).
  const pools: Array<Array<OriginPools | undefined>> = [[make(false, false), undefined], [make(true, false), undefined]];
  return {
    agent(allowPrivate, h2 = false) {
      const row = pools[allowPrivate ? 1 : 0] as Array<OriginPools | undefined>;
      const index = h2 ? 1 : 0;
      let agent = row[index];
      if (agent === undefined) {
        agent = make(allowPrivate, true);
        row[index] = agent;
      }
      return agent;
    },
    trust: secureContext,
    trustRoots: { source: trust.source, count: trust.count },
    async close() {
      await Promise.all(pools.flat().map((a) => a?.close()));
    },
  };
}

function isRetryableConnectError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EADDRNOTAVAIL';
}
