// "node-floor": the least a Node TLS-terminating forwarder can do (node-floor-server.ts), behind
// the same capture as sluice, as its own uid. Not a product: the measured floor that tells
// sluice's own cost from Node's (issue 14: "show the measurement that proves the limit").
import { fileURLToPath } from 'node:url';
import { nodeServerPeer } from './node-server-peer.ts';

export const nodeFloor = nodeServerPeer({
  name: 'node-floor',
  uid: 1341,
  server: fileURLToPath(new URL('./node-floor-server.ts', import.meta.url)),
  description: 'https server + undici pool, no policy, no log',
});
