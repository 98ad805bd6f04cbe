// The baseline: no proxy and no redirect; the load tool talks to nginx itself.
import type { Peer, RunningPeer } from './types.ts';

export const direct: Peer = {
  name: 'direct',
  start(ctx): Promise<RunningPeer> {
    return Promise.resolve({
      pid: undefined,
      capture: undefined,
      clientCaFile: ctx.pki.testCaCert,
      notes: ['no proxy, no capture'],
      alive: () => true,
      exitStatus: () => 'running',
      output: () => '',
      stop: () => Promise.resolve(),
    });
  },
};
