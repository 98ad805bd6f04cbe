// S3 on the fake internet, composed onto the shared one (fake-internet.ts) without changing it:
// one more address for the verifying S3 origin (aws-origin.ts, in the internet namespace, port
// 443) and one for a resolver of its own that knows the S3 names, since the shared dnsmasq's
// names are fixed. sluice in the pod is pointed at this resolver; nothing here forwards a query.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../helpers/process.ts';
import type { TestPki } from '../helpers/pki.ts';
import type { OriginCredentials } from '../helpers/sigv4-origin.ts';
import type { FakeInternet } from './fake-internet.ts';
import { startAwsOrigin, type RunningAwsOrigin } from './aws-origin.ts';

/** Inside the shared fake internet's 198.18.0.0/24 and 2001:db8:5c::/64, unused by it. */
export const AWS_NET = {
  s3v4: '198.18.0.11',
  s3v6: '2001:db8:5c::11',
  dns: '198.18.0.54',
} as const;

export interface AwsInternet {
  /** For sluice's [dns] upstream. */
  resolver: string;
  origin: RunningAwsOrigin;
  /** Names the resolver was asked about so far. */
  dnsQueries(): string[];
  stop(): Promise<void>;
}

/** Serves `names` (all S3 endpoints) from the verifying origin, which accepts `real` only. */
export async function addAwsToInternet(fi: FakeInternet, dir: string, pki: TestPki, real: OriginCredentials, bucket: string, names: readonly string[]): Promise<AwsInternet> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    fi.internet.execOk('ip', ['addr', 'add', `${AWS_NET.s3v4}/32`, 'dev', 'up0']);
    fi.internet.execOk('ip', ['addr', 'add', `${AWS_NET.dns}/32`, 'dev', 'up0']);
    fi.internet.execOk('ip', ['-6', 'addr', 'add', `${AWS_NET.s3v6}/128`, 'dev', 'up0', 'nodad']);

    const dnsLog = join(dir, 'aws-dnsmasq.log');
    writeFileSync(dnsLog, '');
    const dnsmasq = await startDaemon('ip', ['netns', 'exec', fi.internet.name, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null',
      `--listen-address=${AWS_NET.dns}`, '--bind-interfaces', '--port=53', '--no-resolv', '--no-hosts', '--user=root',
      '--local=/#/', '--log-queries', `--log-facility=${dnsLog}`,
      ...names.map((n) => `--host-record=${n},${AWS_NET.s3v4},${AWS_NET.s3v6}`)],
    () => existsSync(dnsLog) && readFileSync(dnsLog, 'utf8').includes('started'), { timeoutMs: 10_000 });
    stops.push(dnsmasq.stop);

    const cert = await pki.issue([...names], 'aws-s3');
    // TMPDIR: s3rver's store lands in the test's folder, removed with it.
    const origin = await startAwsOrigin({
      cert, real, bucket, record: join(dir, 'aws-origin.ndjson'),
      listen: [{ host: AWS_NET.s3v4, port: 443 }, { host: AWS_NET.s3v6, port: 443 }],
    }, { netns: fi.internet.name, env: { TMPDIR: dir } });
    stops.push(origin.stop);
    return {
      resolver: AWS_NET.dns,
      origin,
      dnsQueries: () => [...readFileSync(dnsLog, 'utf8').matchAll(/query\[\w+\] (\S+) from/g)].map((m) => m[1] as string),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
