// "node-floor": the least a Node TLS-terminating forwarder can do (node-floor-server.ts), behind
// the same capture as sluice, as its own uid. Not a product: the measured floor that tells
// sluice's own cost from Node's (issue 14: "show the measurement that proves the limit").
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ORIGIN_ADDR, ORIGIN_NAME } from '../netns.ts';
import { giveTo, startPeerProcess } from './peer-process.ts';
import type { Peer, RunningPeer } from './types.ts';

const UID = 1341;
const HTTPS_PORT = 15443;
const SERVER = fileURLToPath(new URL('./node-floor-server.ts', import.meta.url));

export const nodeFloor: Peer = {
  name: 'node-floor',
  async start(ctx): Promise<RunningPeer> {
    await copyFile(ctx.pki.originCert, join(ctx.dir, 'origin.crt'));
    await copyFile(ctx.pki.originKey, join(ctx.dir, 'origin.key'));
    await copyFile(ctx.pki.testCaCert, join(ctx.dir, 'test-ca.crt'));
    await mkdir(join(ctx.dir, 'home'), { recursive: true });
    await giveTo(ctx.dir, UID);
    return startPeerProcess({
      argv: [process.execPath, SERVER, ctx.dir, String(HTTPS_PORT), ORIGIN_ADDR, ORIGIN_NAME],
      uid: UID,
      cpu: ctx.cpu,
      home: join(ctx.dir, 'home'),
      env: { NODE_ENV: 'production' },
      // Only HTTPS is measured; plain HTTP lands on a closed port.
      capture: { httpsPort: HTTPS_PORT, httpPort: 15080 },
      clientCaFile: ctx.pki.testCaCert,
      readyLine: 'node-floor: listening on',
      notes: [`node ${process.version} bench/peers/node-floor-server.ts (uid ${UID}): https server + undici pool, no policy, no log`],
    });
  },
};
