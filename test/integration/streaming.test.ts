// DESIGN.md §1 "Bodies stream": a 50 MB upload reaches the origin intact and a 100 MB download
// reaches the client complete, while sluice (in this process) stays within a bounded amount of
// memory. RSS is sampled every 100 ms during each transfer; growth over the baseline must stay
// under 64 MB, far below the transfer sizes, so buffering a body whole would fail the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.ts';
import { curl } from '../helpers/clients.ts';
import { run } from '../helpers/process.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('streaming', ['openssl', 'nginx', 'dnsmasq', 'curl']);

const MB = 1024 * 1024;
const UPLOAD_BYTES = 50 * MB;
const DOWNLOAD_BYTES = 100 * MB;
const RSS_GROWTH_LIMIT = 64 * MB;

let f: EdgeFixture;
let dir: string;
let upload: { file: string; sha256: string };

beforeAll(async () => {
  f = await startEdgeFixture({ bigBytes: DOWNLOAD_BYTES });
  dir = mkdtempSync(join(tmpdir(), 'sluice-stream-'));
  // Random bytes, so no layer can compress or dedupe its way to a pass.
  const file = join(dir, 'upload.bin');
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  for (let written = 0; written < UPLOAD_BYTES; written += MB) {
    const chunk = randomBytes(MB);
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  upload = { file, sha256: hash.digest('hex') };
});

afterAll(async () => {
  await f?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs work while sampling this process's RSS every 100 ms; returns the peak growth. */
async function withRssSampling<T>(work: () => Promise<T>): Promise<{ result: T; growth: number; baseline: number; peak: number }> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - baseline, baseline, peak };
  } finally {
    clearInterval(timer);
  }
}

const mb = (n: number): string => `${(n / MB).toFixed(1)} MB`;

function zerosSha256(bytes: number): string {
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(MB);
  for (let done = 0; done < bytes; done += MB) hash.update(zeros.subarray(0, Math.min(MB, bytes - done)));
  return hash.digest('hex');
}

describe.skipIf(skip)('request bodies stream to the origin intact', () => {
  // Content-Length framing (a lost byte is caught by length checks on the way) and HTTP/1.1
  // chunked framing (nothing but the origin's hash notices a lost byte).
  const cases = [
    { name: '--http1.1, Content-Length', args: ['--http1.1'] },
    { name: '--http1.1, chunked', args: ['--http1.1', '-H', 'Transfer-Encoding: chunked'] },
    { name: '--http2', args: ['--http2'] },
  ];
  for (const c of cases) {
    it(`a 50 MB POST (curl --data-binary @file ${c.name}) arrives with the same size and sha256`, async () => {
      const { result: r, growth, baseline, peak } = await withRssSampling(() => curl('echo.test', '/sha256', {
        ...f.opts(),
        timeoutMs: 60_000,
        args: [...c.args, '--max-time', '60', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${upload.file}`],
      }));
      console.log(`[upload 50 MB ${c.name}] status ${r.status} ${r.body.slice(0, 120)}; rss baseline ${mb(baseline)}, peak ${mb(peak)}, growth ${mb(growth)} (limit ${mb(RSS_GROWTH_LIMIT)})`);
      expect(r.stderr).toBe('');
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ bytes: UPLOAD_BYTES, sha256: upload.sha256 });
      expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
    }, 90_000);
  }
});

describe.skipIf(skip)('response bodies stream to the client complete, in bounded memory', () => {
  const expected = zerosSha256(DOWNLOAD_BYTES);
  for (const proto of ['--http1.1', '--http2']) {
    it(`a 100 MB download from nginx /big (${proto}) arrives complete`, async () => {
      const script = 'curl -sS --max-time 60 --cacert "$1" --connect-to origin.test:443:127.0.0.1:"$2" "$3" "https://origin.test/big?via=$3" | sha256sum';
      const { result: r, growth, baseline, peak } = await withRssSampling(() => run('sh', ['-c', script, 'sh', f.t.caCert, String(f.t.sluice.ports.https), proto], { timeoutMs: 90_000 }));
      console.log(`[download 100 MB ${proto}] rss baseline ${mb(baseline)}, peak ${mb(peak)}, growth ${mb(growth)} (limit ${mb(RSS_GROWTH_LIMIT)})`);
      expect(r.stderr).toBe('');
      expect(r.stdout.split(' ')[0]).toBe(expected);
      expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
      const line = await f.t.waitForLog((l) => l.host === 'origin.test' && l.path === `/big?via=${proto}` && l.bytes_out === DOWNLOAD_BYTES);
      expect(line).toMatchObject({ status: 200, outcome: 'complete' });
    }, 90_000);
  }
});
