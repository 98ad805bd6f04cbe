// mitmproxy (mitmdump) in transparent mode, run as its own uid with default settings apart
// from trusting the test CA upstream and staying quiet.
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { giveTo, startPeerProcess } from './peer-process.ts';
import { PeerUnavailable } from './types.ts';
import type { Peer, RunningPeer } from './types.ts';

const MITMDUMP = '/usr/bin/mitmdump';
const UID = 1338;
const PORT = 8081;

export const mitmproxy: Peer = {
  name: 'mitmproxy',
  async start(ctx): Promise<RunningPeer> {
    try {
      await access(MITMDUMP);
    } catch {
      throw new PeerUnavailable(`${MITMDUMP} not installed`);
    }
    const confdir = join(ctx.dir, 'mitm');
    await mkdir(confdir, { recursive: true });
    await giveTo(ctx.dir, UID);
    return startPeerProcess({
      argv: [
        MITMDUMP, '--mode', 'transparent', '--listen-host', '127.0.0.1', '--listen-port', String(PORT),
        '--set', `confdir=${confdir}`, '--set', `ssl_verify_upstream_trusted_ca=${ctx.pki.testCaCert}`, '-q',
      ],
      uid: UID,
      cpu: ctx.cpu,
      home: ctx.dir,
      // One transparent listener handles both ports (it reads the original destination).
      capture: { httpsPort: PORT, httpPort: PORT },
      clientCaFile: join(confdir, 'mitmproxy-ca-cert.pem'),
      notes: ['mitmdump --mode transparent, defaults (bodies buffered whole)'],
    });
  },
};
