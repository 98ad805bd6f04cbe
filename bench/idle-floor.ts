// The floor under the "≤ 40 KiB per idle connection" bar: what Node's own TLS servers cost per
// idle keep-alive connection, with no proxying at all. Each kind of server (bench/
// idle-floor-server.ts) runs on its own core; bench/idle-client.ts (the bench's own idle
// client, a Node TLS client) opens COUNT connections, makes one request on each and holds them.
// Reported: RSS and anonymous memory after minus before, per connection, both read after a GC.
//
//   npx node bench/idle-floor.ts [--count 1000] [--rounds 2] [--kinds tls-x25519,tls,https,h2]
//
// Loopback only; bounded in count and time (each hold ends after 60 s at most).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/helpers/ports.ts';
import { jsonLineReader, run, withTimeout } from './exec.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    kinds: { type: 'string', default: 'tls-x25519,tls,https-x25519,https,h2-x25519,h2' },
  },
});
const COUNT = Number(values.count);
const ROUNDS = Number(values.rounds);
const SERVER = join(import.meta.dirname, 'idle-floor-server.ts');
const CLIENT = join(import.meta.dirname, 'idle-client.ts');

interface Memory { rssKib: number; anonKib: number; heapUsedKib: number }

/** Opens `count` idle connections; resolves with a function that closes them. */
async function holdConnections(port: number, count: number): Promise<{ opened: number; close: () => Promise<void> }> {
  const client = spawn('taskset', ['-c', '1', process.execPath, CLIENT, '127.0.0.1', String(port), String(count), '50', '60'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const next = jsonLineReader(client.stdout);
  const { opened } = (await withTimeout(next(), 60_000, 'idle client')) as { opened: number };
  return {
    opened,
    close: async () => {
      client.stdin.end();
      await withTimeout(next(), 60_000, 'idle client close');
    },
  };
}

async function measure(kind: string, cert: string, key: string): Promise<{ rss: number; anon: number; heap: number }> {
  const port = await freePort();
  const server = spawn('taskset', ['-c', '0', process.execPath, '--expose-gc', '--max-semi-space-size=16', SERVER, kind, String(port), cert, key], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const next = jsonLineReader(server.stdout);
    await withTimeout(next(), 60_000, `${kind} server`);
    const memory = async (): Promise<Memory> => {
      server.stdin.write('memory\n');
      return (await withTimeout(next(), 60_000, `${kind} server memory`)) as Memory;
    };
    // Warm-up: what the first connections bring in once (code, pools) is not per connection.
    await (await holdConnections(port, 50)).close();
    const before = await memory();
    const held = await holdConnections(port, COUNT);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await memory();
    await held.close();
    if (held.opened !== COUNT) throw new Error(`${kind}: ${held.opened} of ${COUNT} connections opened`);
    return { rss: (after.rssKib - before.rssKib) / COUNT, anon: (after.anonKib - before.anonKib) / COUNT, heap: (after.heapUsedKib - before.heapUsedKib) / COUNT };
  } finally {
    server.kill();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'idle-floor-'));
try {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=origin.test']);
  console.log(`idle-floor: ${COUNT} idle keep-alive connections from Node TLS clients, KiB per connection (RSS, anonymous, JS heap), ${ROUNDS} round(s)`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of values.kinds.split(',')) {
      const m = await measure(kind, cert, key);
      console.log(`round ${round} ${kind.padEnd(13)} RSS ${m.rss.toFixed(1)}  anon ${m.anon.toFixed(1)}  heap ${m.heap.toFixed(1)}`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
