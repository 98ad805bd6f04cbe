// The verifying S3 origin (test/helpers/sigv4-origin.ts: aws4 checks every request with the REAL
// key pair, then s3rver stores) in a process of its own, so that it can run inside a network
// namespace and so that its buffers never count against the memory of the process hosting sluice.
//
//   node aws-origin.ts CONFIG.json      prints "ready" once it listens
//
// The helper listens on an ephemeral loopback port; plain TCP forwarders put it on the addresses
// the config names (443 in the fake internet). TLS ends in the helper, so SNI, Host and
// signatures are what the client sent through sluice. Every judgement is appended to `record`
// as one NDJSON line at the moment the helper records it.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../helpers/process.ts';
import { startSigV4Origin, type Judgement, type OriginCredentials } from '../helpers/sigv4-origin.ts';

export interface AwsOriginConfig {
  cert: { cert: string; key: string };
  real: OriginCredentials;
  bucket: string;
  /** Where to accept connections; port 0 picks one (reported on the "ready" line). */
  listen: { host: string; port: number }[];
  record: string;
}

/** Starts the origin from `config`; resolves with the ports it listens on, in `listen` order. */
export async function serveAwsOrigin(config: AwsOriginConfig): Promise<number[]> {
  const origin = await startSigV4Origin(config.cert, config.real, { bucket: config.bucket });
  // `seen` is the helper's own array: recording at push time keeps the file exact, with no lag.
  const push = origin.seen.push.bind(origin.seen);
  origin.seen.push = (...items: Judgement[]): number => {
    for (const j of items) appendFileSync(config.record, `${JSON.stringify(j)}\n`);
    return push(...items);
  };
  const ports: number[] = [];
  for (const { host, port } of config.listen) {
    const server = net.createServer((down) => {
      const up = net.connect(origin.port, '127.0.0.1');
      down.pipe(up).pipe(down);
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    ports.push((server.address() as net.AddressInfo).port);
  }
  return ports;
}

if (import.meta.main) {
  const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as AwsOriginConfig;
  const ports = await serveAwsOrigin(config);
  process.stdout.write(`ready ${JSON.stringify(ports)}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

export interface RunningAwsOrigin {
  ports: number[];
  /** Judgements so far, oldest first. */
  seen(): Judgement[];
  stop(): Promise<void>;
}

/** Runs the origin as a child process, inside network namespace `netns` when given. */
export async function startAwsOrigin(config: AwsOriginConfig, options: { netns?: string; env?: Record<string, string> } = {}): Promise<RunningAwsOrigin> {
  writeFileSync(config.record, '');
  const file = `${config.record}.config.json`;
  writeFileSync(file, JSON.stringify(config));
  const script = fileURLToPath(import.meta.url);
  const [cmd, args] = options.netns === undefined
    ? [process.execPath, [script, file]]
    : ['ip', ['netns', 'exec', options.netns, process.execPath, script, file]];
  const daemon = await startDaemon(cmd, args, (out) => out.includes('ready'), { timeoutMs: 20_000, env: { ...process.env, ...options.env } });
  const ports = JSON.parse(/ready (\[[^\]]*\])/.exec(daemon.output())?.[1] ?? '[]') as number[];
  return {
    ports,
    seen: () => readFileSync(config.record, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Judgement),
    stop: daemon.stop,
  };
}
