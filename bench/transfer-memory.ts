// `npx node bench/transfer-memory.ts [--flags=--trace-gc] [--rounds N]`: sluice alone, a
// 100 MiB download and a 100 MiB upload through the same capture as `npm run bench`, with the
// growth of sluice's peak RSS (VmHWM, reset before each transfer) over its RSS just before.
// A quick loop for memory work; `npm run bench` takes the same figures for every peer.
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { sleep } from './exec.ts';
import { download, probe, upload } from './load.ts';
import type { LoadContext } from './load.ts';
import { setCapture, setupTopology, teardownTopology } from './netns.ts';
import { DOWNLOAD_PATH, UPLOAD_PATH, startOrigin } from './origin.ts';
import { sluicePeer } from './peers/sluice.ts';
import { makeBenchPki } from './pki.ts';
import { resetPeakRss, treePeakRssKib, treeRssKib } from './proc-memory.ts';

const { values } = parseArgs({ options: { flags: { type: 'string', default: '' }, rounds: { type: 'string', default: '1' }, 'upload-first': { type: 'boolean', default: false } } });
const work = await mkdtemp('/tmp/sluice-transfer-');
await chmod(work, 0o755);
await setupTopology();
const pki = await makeBenchPki(work);
const origin = await startOrigin(join(work, 'origin'), pki, '0');
const home = join(work, 'load');
await mkdir(home, { recursive: true });
const bodyFile = join(work, 'upload.bin');
await writeFile(bodyFile, '');
await truncate(bodyFile, 100 * 1024 * 1024);
await chmod(bodyFile, 0o644);
const load: LoadContext = { uid: 1400, cpu: '0', home, noResumeShim: '' };
const peerDir = join(work, 'sluice');
await mkdir(peerDir, { recursive: true });
const flags = values.flags === '' ? [] : values.flags.split(' ');
const peer = await sluicePeer({ nodeFlags: flags }).start({ dir: peerDir, pki, cpu: '1', repoRoot: join(import.meta.dirname, '..') });
try {
  await setCapture(peer.capture ?? null);
  const startedAt = performance.now();
  let ready = false;
  for (let i = 0; i < 120 && !ready; i++) {
    ready = (await probe(load, peer.clientCaFile)).ok;
    if (!ready) await sleep(100);
  }
  if (!ready) throw new Error(`sluice did not come up:\n${peer.output().slice(-3000)}`);
  console.log(`serving after ${((performance.now() - startedAt) / 1000).toFixed(2)} s`);
  const pid = peer.pid as number;
  // Warm-up: the bench measures transfers after other tests, with sluice's code paths compiled.
  await download(load, '/files/1m.bin', 30);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const kind of values['upload-first'] ? ['upload', 'download'] as const : ['download', 'upload'] as const) {
      await sleep(500);
      await resetPeakRss(pid);
      const before = await treeRssKib(pid);
      const r = kind === 'download' ? await download(load, DOWNLOAD_PATH, 60) : await upload(load, UPLOAD_PATH, bodyFile, 60);
      const peak = await treePeakRssKib(pid);
      console.log(`${kind}: status ${r.status}, ${r.bytes} bytes, ${r.mbPerSec.toFixed(0)} MB/s; RSS before ${(before / 1024).toFixed(1)} MiB, peak ${(peak / 1024).toFixed(1)} MiB, growth ${((peak - before) / 1024).toFixed(1)} MiB`);
    }
  }
} finally {
  await setCapture(null).catch(() => undefined);
  await peer.stop();
  if (flags.length > 0) console.log(peer.output().slice(-6000));
  await origin.stop();
  await teardownTopology();
  await rm(work, { recursive: true, force: true });
}
