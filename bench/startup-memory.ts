// Start-up footprint of `sluice run`, alone: spawns bin/sluice.js N times with a given config,
// and for each start reads the time from spawn to its "listening on" line and the process's
// /proc status right then (VmRSS, RssAnon, RssFile: what bench/run.ts reports as "RSS at
// start"), again after it has idled for a while, and the CPU time it used to get ready (less
// sensitive than wall time to other load on the machine). Prints each start and the medians.
//
// usage: npx node bench/startup-memory.ts -c sluice.toml [--runs 5] [--idle-ms 3000]
//        [--cpu 0] [--fresh-ca DIR] [--bundle] [-- NODE_FLAGS…]
// --bundle starts the bundle laid out as the image installs it (bench/peers/installed-app.ts)
// instead of the sources; each layout fills its own compile cache on its first start.
// The config must bind free ports. --fresh-ca DIR (the config's ca_dir) removes that folder
// before each start, so every start generates its CA, as each start in `npm run bench` does.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stageInstalledApp } from './peers/installed-app.ts';
import { SLUICE_ENV } from './peers/sluice.ts';

const { values, positionals } = parseArgs({
  options: {
    config: { type: 'string', short: 'c' },
    runs: { type: 'string', default: '5' },
    'idle-ms': { type: 'string', default: '3000' },
    cpu: { type: 'string', default: '0' },
    'fresh-ca': { type: 'string' },
    bundle: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
if (values.config === undefined) throw new Error('usage: startup-memory.ts -c CONFIG [--runs N] [--idle-ms MS] [--cpu N] [-- NODE_FLAGS…]');
const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = values.bundle ? join(await stageInstalledApp(REPO, await mkdtemp(join(tmpdir(), 'sluice-bundle-'))), 'bin', 'sluice.js') : join(REPO, 'bin', 'sluice.js');

interface Sample { readyMs: number; cpuMs: number; rss: number; anon: number; file: number; idleRss: number; idleAnon: number }

/** CPU time (user + system) the process has used, ms: start-up work, robust to other load. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks (USER_HZ 100)
}

async function status(pid: number): Promise<{ rss: number; anon: number; file: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile') };
}

async function once(): Promise<Sample> {
  if (values['fresh-ca'] !== undefined) await rm(values['fresh-ca'], { recursive: true, force: true });
  const started = performance.now();
  // taskset: one core, as the bench pins the peer under test.
  const child = spawn('taskset', ['-c', values.cpu, process.execPath, ...positionals, BIN, 'run', '-c', values.config as string], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', ...SLUICE_ENV },
  });
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`not ready in 15 s:\n${err}`)), 15_000);
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        if (err.includes('sluice: listening on')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${err}`)));
    });
    const cpu = await cpuMs(child.pid as number);
    const at = await status(child.pid as number);
    await new Promise((resolve) => setTimeout(resolve, Number(values['idle-ms'])));
    const idle = await status(child.pid as number);
    return { readyMs, cpuMs: cpu, ...at, idleRss: idle.rss, idleAnon: idle.anon };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await closed;
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const mib = (kib: number): string => (kib / 1024).toFixed(1);
const samples: Sample[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  const s = await once();
  samples.push(s);
  console.log(`start ${i + 1}: ready ${s.readyMs.toFixed(0)} ms (CPU ${s.cpuMs} ms); at ready RSS ${mib(s.rss)} MiB (anon ${mib(s.anon)}, file ${mib(s.file)}); after idle RSS ${mib(s.idleRss)} (anon ${mib(s.idleAnon)})`);
}
const m = (k: keyof Sample): number => median(samples.map((s) => s[k]));
console.log(`median of ${samples.length}: ready ${m('readyMs').toFixed(0)} ms (CPU ${m('cpuMs')} ms); RSS at ready ${mib(m('rss'))} MiB (anon ${mib(m('anon'))}, file ${mib(m('file'))}); after idle ${mib(m('idleRss'))} MiB (anon ${mib(m('idleAnon'))})`);
