// Issue 7: a 200 MB multipart upload by the unmodified AWS SDK for JavaScript v3, holding only the
// surrogate key pair, through in-process sluice at constant memory. The SDK streams each part
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked, CRC32 trailer); sluice re-signs the header and
// must pass the body through without holding it. The verifying origin (aws4 with the REAL key
// pair, then s3rver) runs in a child process, so that this process holds sluice and the client
// only; the client's body is one small buffer repeated, so whatever this process grows by is
// sluice's (plus the client's socket buffers). Parts are 100 MB: a proxy that held one part would
// grow by at least that much.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { S3Client, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { startAwsOrigin, type RunningAwsOrigin } from '../e2e/aws-origin.ts';
import { awsCredentialToml } from '../helpers/sigv4-origin.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('sigv4-multipart', ['openssl', 'dnsmasq']);

// A full collection on demand, without a command-line flag for the test worker.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const BUCKET = 'sluice-mpu';
const VHOST = `${BUCKET}.s3.us-east-1.amazonaws.com`;
const SURROGATE = { accessKeyId: 'AKIASLUICEEXAMPLE000', secretAccessKey: 'sluice-example-surrogate-secret' };
const REAL = { accessKeyId: 'AKIAREALKEYEXAMPLE00', secretAccessKey: 'real/secret+key/EXAMPLE0000000000000000', sessionToken: 'REAL-SESSION-TOKEN-EXAMPLE' };
const MiB = 1024 * 1024;
const PIECE = 64 * 1024;
const PART_BYTES = 100 * MiB;
const PARTS = 2;
/** Allowed growth of live memory (sampled right after a full GC); one held part is 100 MB. */
const MAX_RETAINED = 32 * MiB;
/**
 * Allowed RSS growth with V8 left alone. Buffers already written are garbage until the next
 * collection, and RSS keeps the high-water mark: measured ~80 MB whether the parts are 5, 20 or
 * 100 MB, so this bound is about the collector; a proxy holding one 100 MB part goes past it.
 */
const MAX_GROWTH = 160 * MiB;

let pki: TestPki;
let dns: TestResolver;
let origin: RunningAwsOrigin;
let t: TestSluice;
let agent: https.Agent;
let dir: string;

/** One 64 KiB piece per part number, repeated: the client holds 64 KiB whatever the size. */
function piece(part: number): Buffer {
  const b = Buffer.alloc(PIECE);
  for (let i = 0; i < PIECE; i++) b[i] = (i * 31 + part * 7) & 0xff;
  return b;
}

function partBody(part: number, bytes: number): Readable {
  const p = piece(part);
  let left = bytes;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, PIECE);
      left -= n;
      this.push(n === PIECE ? p : p.subarray(0, n));
    },
  });
}

function partMd5(part: number, bytes: number): string {
  const h = createHash('md5');
  const p = piece(part);
  for (let left = bytes; left > 0; left -= PIECE) h.update(left >= PIECE ? p : p.subarray(0, left));
  return h.digest('hex');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-mpu-'));
  pki = await createTestPki();
  const cert = await pki.issue([VHOST, 's3.us-east-1.amazonaws.com']);
  // TMPDIR: s3rver's store (200 MB on disk) lands in this test's folder, removed afterwards.
  origin = await startAwsOrigin({ cert, real: REAL, bucket: BUCKET, listen: [{ host: '127.0.0.1', port: 0 }], record: join(dir, 'origin.ndjson') }, { env: { TMPDIR: dir } });
  dns = await startDnsmasq({ [VHOST]: ['127.0.0.1'], 's3.us-east-1.amazonaws.com': ['127.0.0.1'] });
  process.env.SLUICE_MPU_AWS_ACCESS_KEY_ID = REAL.accessKeyId;
  process.env.SLUICE_MPU_AWS_SECRET_ACCESS_KEY = REAL.secretAccessKey;
  process.env.SLUICE_MPU_AWS_SESSION_TOKEN = REAL.sessionToken;
  t = await startTestSluice(`
[proxy]
agent = "it-agent"
extra_upstream_ca = "${pki.caCert}"

[upstream]
https_port = ${origin.ports[0]}

[dns]
upstream = "${dns.address}"

${awsCredentialToml(SURROGATE, 'SLUICE_MPU_AWS')}`);
  const ca = readFileSync(t.caCert, 'utf8');
  const port = t.sluice.ports.https;
  agent = new https.Agent({ keepAlive: true, ca });
  // Every connection goes to sluice's TLS port; SNI keeps the S3 name.
  (agent as unknown as { createConnection: (o: tls.ConnectionOptions) => tls.TLSSocket }).createConnection = (o) =>
    tls.connect({ ...o, host: '127.0.0.1', port, servername: o.servername ?? (o.host as string), ca });
}, 60_000);

afterAll(async () => {
  agent?.destroy();
  await t?.stop();
  await origin?.stop();
  await dns?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function upload(s3: S3Client, key: string, partBytes: number, parts: number): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  const done: { PartNumber: number; ETag: string }[] = [];
  for (let n = 1; n <= parts; n++) {
    const r = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: n, Body: partBody(n, partBytes), ContentLength: partBytes }));
    // The part's ETag is s3rver's MD5 of what it stored: every byte arrived, in order.
    expect(r.ETag?.replaceAll('"', '')).toBe(partMd5(n, partBytes));
    done.push({ PartNumber: n, ETag: r.ETag as string });
  }
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: done } }));
}

interface Measured {
  seconds: number;
  baseline: number;
  peak: number;
  /** heapUsed + external (Buffers included): after a full GC, what is live. */
  liveBaseline: number;
  livePeak: number;
  samples: number;
}

/** Uploads PARTS × PART_BYTES, sampling this process's memory every 100 ms (right after a full GC when `collect`). */
async function measuredUpload(s3: S3Client, key: string, collect: boolean): Promise<Measured> {
  const samples: number[] = [];
  const live: number[] = [];
  const sample = (): void => {
    if (collect) gc();
    const m = process.memoryUsage();
    samples.push(m.rss);
    live.push(m.heapUsed + m.external);
  };
  for (let i = 0; i < 5; i++) {
    sample();
    await new Promise((r) => setTimeout(r, 100));
  }
  const baseline = Math.max(...samples);
  const liveBaseline = Math.max(...live);
  const timer = setInterval(sample, 100);
  const started = Date.now();
  try {
    await upload(s3, key, PART_BYTES, PARTS);
  } finally {
    clearInterval(timer);
  }
  return { seconds: (Date.now() - started) / 1000, baseline, peak: Math.max(...samples), liveBaseline, livePeak: Math.max(...live), samples: samples.length };
}

function checkOrigin(key: string): void {
  const seen = origin.seen();
  expect(seen.filter((j) => !j.ok)).toEqual([]);
  const parts = seen.filter((j) => j.method === 'PUT' && j.url.startsWith(`/${key}?`) && j.url.includes('partNumber='));
  expect(parts.map((j) => j.payload)).toEqual(Array(PARTS).fill('STREAMING-UNSIGNED-PAYLOAD-TRAILER'));
  for (const j of parts) expect(j.bodyBytes).toBeGreaterThan(PART_BYTES); // aws-chunked framing around each part
  expect(seen.filter((j) => j.method === 'POST' && j.url.startsWith(`/${key}?uploadId=`)).map((j) => j.ok)).toEqual([true]);
}

const mb = (bytes: number): string => (bytes / MiB).toFixed(1);

describe.skipIf(skip)('a 200 MB multipart upload through sluice', () => {
  let s3: S3Client;
  beforeAll(async () => {
    s3 = new S3Client({ region: 'us-east-1', credentials: SURROGATE, requestHandler: { httpsAgent: agent }, maxAttempts: 1 });
    // Warm-up: code paths, TLS sessions and the SDK's own allocations are in the baseline.
    await upload(s3, 'warm-up.bin', 5 * MiB, 2);
  }, 60_000);

  it('left to its own GC, RSS grows by garbage awaiting collection only, whatever the part size', async () => {
    const m = await measuredUpload(s3, 'big.bin', false);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'big.bin' }));
    expect(head.ContentLength).toBe(PART_BYTES * PARTS);
    checkOrigin('big.bin');
    console.info(`multipart ${PARTS} × ${PART_BYTES / MiB} MB, natural GC: ${m.seconds.toFixed(1)} s (${((PART_BYTES * PARTS) / MiB / m.seconds).toFixed(0)} MB/s); `
      + `RSS baseline ${mb(m.baseline)} MB, peak ${mb(m.peak)} MB, growth ${mb(m.peak - m.baseline)} MB (${m.samples} samples)`);
    expect(m.peak - m.baseline).toBeLessThan(MAX_GROWTH);
  }, 60_000);

  // After the run above RSS keeps its high-water mark, so this one judges live memory.
  it('holds no part: with a full GC before every sample, live memory stays flat', async () => {
    const m = await measuredUpload(s3, 'big-gc.bin', true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'big-gc.bin' }));
    expect(head.ContentLength).toBe(PART_BYTES * PARTS);
    checkOrigin('big-gc.bin');
    console.info(`multipart ${PARTS} × ${PART_BYTES / MiB} MB, GC before each sample: ${m.seconds.toFixed(1)} s; `
      + `live (heap + external) baseline ${mb(m.liveBaseline)} MB, peak ${mb(m.livePeak)} MB, growth ${mb(m.livePeak - m.liveBaseline)} MB; `
      + `RSS growth ${mb(m.peak - m.baseline)} MB (${m.samples} samples)`);
    expect(m.livePeak - m.liveBaseline).toBeLessThan(MAX_RETAINED);
  }, 60_000);
});
