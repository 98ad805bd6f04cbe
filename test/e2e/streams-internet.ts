// The gRPC and WebSocket services of the streams suite, added to the fake internet of
// fake-internet.ts without changing it (as credentials-internet.ts does): four more addresses on
// the internet namespace's link (inside 198.18.0.0/24 and 2001:db8:5c::/64, which the host
// namespace already routes there), a resolver of our own that knows the stream names, and
// streams-origin.ts serving them. sluice's `[dns] upstream` points at this resolver. The
// "denied" names are served by the same servers: they work when reached directly, so a refusal
// through sluice is sluice's doing.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestPki } from '../helpers/pki.ts';
import { startDaemon } from '../helpers/process.ts';
import type { FakeInternet } from './fake-internet.ts';
import type { StreamsOriginConfig, StreamsOriginRecord } from './streams-origin.ts';

/** Unused by the other e2e files' sites (198.18.0.10/.11/.20/.53/.54/.66). */
export const STREAMS_NET = {
  dns: '198.18.0.55',
  grpc4: '198.18.0.30',
  grpc6: '2001:db8:5c::30',
  ws4: '198.18.0.31',
  ws6: '2001:db8:5c::31',
} as const;

export const STREAMS_NAMES = {
  grpc: 'grpc.fake.test',
  /** Served by the same gRPC server, not allowlisted. */
  grpcDenied: 'grpc-denied.fake.test',
  ws: 'ws.fake.test',
  /** Served by the same WebSocket server, not allowlisted. */
  wsDenied: 'ws-denied.fake.test',
} as const;

export interface StreamSites {
  /** What the services received so far, in order. */
  records(): StreamsOriginRecord[];
  stop(): Promise<void>;
}

const originScript = fileURLToPath(new URL('./streams-origin.ts', import.meta.url));

export async function startStreamSites(fi: FakeInternet, dir: string, pki: TestPki, real: string): Promise<StreamSites> {
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const inet = fi.internet;
    for (const a of [STREAMS_NET.grpc4, STREAMS_NET.ws4, STREAMS_NET.dns]) inet.execOk('ip', ['addr', 'add', `${a}/32`, 'dev', 'up0']);
    for (const a of [STREAMS_NET.grpc6, STREAMS_NET.ws6]) inet.execOk('ip', ['-6', 'addr', 'add', `${a}/128`, 'dev', 'up0', 'nodad']);

    const records = [
      ...[STREAMS_NAMES.grpc, STREAMS_NAMES.grpcDenied].map((n) => `--host-record=${n},${STREAMS_NET.grpc4},${STREAMS_NET.grpc6}`),
      ...[STREAMS_NAMES.ws, STREAMS_NAMES.wsDenied].map((n) => `--host-record=${n},${STREAMS_NET.ws4},${STREAMS_NET.ws6}`),
    ];
    const dnsmasq = await startDaemon('ip', ['netns', 'exec', inet.name, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null',
      `--listen-address=${STREAMS_NET.dns}`, '--bind-interfaces', '--port=53', '--no-resolv', '--no-hosts', '--user=root',
      '--local=/#/', '--log-facility=-', ...records],
    (out) => out.includes('started'), { timeoutMs: 10_000 });
    stops.push(dnsmasq.stop);

    const recordFile = join(dir, 'streams-origin-records.ndjson');
    writeFileSync(recordFile, '');
    const config: StreamsOriginConfig = {
      record: recordFile,
      grpcAddresses: [STREAMS_NET.grpc4, STREAMS_NET.grpc6],
      wsAddresses: [STREAMS_NET.ws4, STREAMS_NET.ws6],
      cert: await pki.issue(Object.values(STREAMS_NAMES), 'streams'),
      real,
    };
    // It holds the real token (the services demand it): root only.
    const configFile = join(dir, 'streams-origin.json');
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
    const origin = await startDaemon('ip', ['netns', 'exec', inet.name, process.execPath, originScript, configFile],
      (out) => out.includes('ready'), { timeoutMs: 15_000 });
    stops.push(origin.stop);

    return {
      records: () => (existsSync(recordFile) ? readFileSync(recordFile, 'utf8') : '').split('\n').filter(Boolean)
        .map((l) => JSON.parse(l) as StreamsOriginRecord),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
