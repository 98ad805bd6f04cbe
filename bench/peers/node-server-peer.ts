// A Node floor peer (node-floor, tls-pipe): one of the bench's own servers, given the origin's
// certificate and key and the CA that verifies the origin, started from a filled compile cache
// as its own uid behind the same capture as sluice.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ORIGIN_ADDR, ORIGIN_NAME } from '../netns.ts';
import { fillCompileCache, giveTo, startPeerProcess } from './peer-process.ts';
import type { Peer, RunningPeer } from './types.ts';

const HTTPS_PORT = 15443;

export interface NodeServerPeerSpec {
  name: string;
  uid: number;
  /** The server script: `node SERVER DIR PORT ORIGIN_ADDR ORIGIN_NAME [--compile-only]`. */
  server: string;
  /** What the server is, for the results' notes. */
  description: string;
  steps?: readonly string[];
}

export function nodeServerPeer(spec: NodeServerPeerSpec): Peer {
  return {
    name: spec.name,
    steps: spec.steps,
    async start(ctx): Promise<RunningPeer> {
      await copyFile(ctx.pki.originCert, join(ctx.dir, 'origin.crt'));
      await copyFile(ctx.pki.originKey, join(ctx.dir, 'origin.key'));
      await copyFile(ctx.pki.testCaCert, join(ctx.dir, 'test-ca.crt'));
      await mkdir(join(ctx.dir, 'home'), { recursive: true });
      await mkdir(join(ctx.dir, 'compile-cache'), { recursive: true });
      await giveTo(ctx.dir, spec.uid);
      const argv = [process.execPath, spec.server, ctx.dir, String(HTTPS_PORT), ORIGIN_ADDR, ORIGIN_NAME];
      const cacheEnv = await fillCompileCache(argv, spec.uid, join(ctx.dir, 'home'), join(ctx.dir, 'compile-cache'));
      return startPeerProcess({
        argv,
        uid: spec.uid,
        cpu: ctx.cpu,
        home: join(ctx.dir, 'home'),
        env: { NODE_ENV: 'production', ...cacheEnv },
        // Only HTTPS is measured; plain HTTP lands on a closed port.
        capture: { httpsPort: HTTPS_PORT, httpPort: 15080 },
        clientCaFile: ctx.pki.testCaCert,
        readyLine: `${spec.name}: listening on`,
        notes: [`node ${process.version} bench/peers/${spec.server.split('/').pop()} (uid ${spec.uid}): ${spec.description}, compile cache filled before the start`],
      });
    },
  };
}
