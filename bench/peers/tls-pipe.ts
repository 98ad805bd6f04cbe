// "tls-pipe": Node's TLS and nothing else (tls-pipe-server.ts), behind the same capture as
// sluice, as its own uid. Not a product and not a default peer (`--peers …,tls-pipe`): the floor
// under node-floor, which tells what HTTP costs in Node from what TLS does. It opens an origin
// connection per client connection instead of pooling, so only the tests where that makes no
// difference are run for it: keep-alive (32 connections, each kept) and the two transfers.
import { fileURLToPath } from 'node:url';
import { nodeServerPeer } from './node-server-peer.ts';

export const tlsPipe = nodeServerPeer({
  name: 'tls-pipe',
  uid: 1342,
  server: fileURLToPath(new URL('./tls-pipe-server.ts', import.meta.url)),
  description: 'TLS in, one verified TLS connection out per client connection, bytes piped; keep-alive and transfers only',
  steps: ['download', 'upload', 'keep-alive'],
});
