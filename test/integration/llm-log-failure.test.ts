// When llm.ndjson cannot be written (here: a full disk, llm.ndjson → /dev/full, where every
// write fails with ENOSPC), `[log] on_failure = "block"` (the default) refuses LLM requests
// with 503 until the log is writable again, while other hosts keep working; "continue" lets
// LLM requests through. The line that failed is kept and written once the disk has room.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { startLlmOrigin, type LlmOrigin } from '../helpers/llm-origin.ts';
import { waitFor } from '../helpers/process.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('llm-log-failure', ['openssl', 'dnsmasq']);

const ADDRESS = '127.0.0.6';
let pki: TestPki;
let origin: LlmOrigin;
let dns: TestResolver;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  const cert = await pki.issue(['api.anthropic.com', 'plain.test']);
  origin = await startLlmOrigin(cert, ADDRESS);
  dns = await startDnsmasq({ 'api.anthropic.com': [ADDRESS], 'plain.test': [ADDRESS] });
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await origin?.stop();
  await dns?.stop();
});

async function sluiceWithFullDisk(onFailure: 'block' | 'continue'): Promise<{ t: TestSluice; logDir: string; send: (host: string) => Promise<{ status: number; reason: unknown; marker: string }> }> {
  const logDir = mkdtempSync(join(tmpdir(), 'sluice-full-'));
  symlinkSync('/dev/full', join(logDir, 'llm.ndjson'));
  const t = await startTestSluice(`
[proxy]
log_dir = "${logDir}"
extra_upstream_ca = "${pki.caCert}"
[upstream]
https_port = ${origin.port}
[dns]
upstream = "${dns.address}"
[log]
on_failure = "${onFailure}"
[[allow]]
host = "api.anthropic.com"
llm = "anthropic"
private = true
[[allow]]
host = "plain.test"
private = true
`);
  const dispatcher = new Agent({
    connect: {
      ca: readFileSync(t.caCert, 'utf8'),
      lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    } as never,
  });
  cleanups.push(async () => {
    await dispatcher.close();
    await t.stop();
    rmSync(logDir, { recursive: true, force: true });
  });
  const send = async (host: string): Promise<{ status: number; reason: unknown; marker: string }> => {
    const marker = randomUUID();
    const res = await request(`https://${host}:${t.sluice.ports.https}/v1/messages`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'x-test-fixture': 'anthropic-tool-use.json' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: marker }] }),
    });
    await res.body.text();
    return { status: res.statusCode, reason: res.headers['x-sluice-reason'], marker };
  };
  return { t, logDir, send };
}

describe.skipIf(skip)('[log] on_failure', () => {
  it('"block": a full disk stops LLM requests with 503 (other hosts work), and recovery resumes them', async () => {
    const { t, logDir, send } = await sluiceWithFullDisk('block');
    const log = t.sluice.runtime().services.llmLog;
    const first = await send('api.anthropic.com');
    expect(first.status).toBe(200);
    // Writing the first exchange's line hits ENOSPC.
    await waitFor(() => log.problem() !== undefined, 5_000, 'the log to report ENOSPC');
    expect(log.problem()).toMatch(/ENOSPC/);

    const refused = await send('api.anthropic.com');
    expect(refused).toMatchObject({ status: 503, reason: 'audit_log_unavailable' });
    const line = await t.waitForLog((l) => l.status === 503 && l.host === 'api.anthropic.com');
    expect(line).toMatchObject({ decision: 'deny', reason: 'audit_log_unavailable' });
    expect((await send('plain.test')).status).toBe(200);

    // Space again (the full device replaced by a plain file): the kept line lands, traffic resumes.
    unlinkSync(join(logDir, 'llm.ndjson'));
    await waitFor(() => log.problem() === undefined, 10_000, 'the log to recover');
    const after = await send('api.anthropic.com');
    expect(after.status).toBe(200);
    await waitFor(() => existsSync(join(logDir, 'llm.ndjson')) && readFileSync(join(logDir, 'llm.ndjson'), 'utf8').includes(after.marker), 5_000, 'the new line');
    const text = readFileSync(join(logDir, 'llm.ndjson'), 'utf8');
    expect(text).toContain(first.marker);
    expect(text).not.toContain(refused.marker);
  });

  it('"continue": LLM requests keep flowing while the log cannot be written', async () => {
    const { t, send } = await sluiceWithFullDisk('continue');
    const log = t.sluice.runtime().services.llmLog;
    expect((await send('api.anthropic.com')).status).toBe(200);
    await waitFor(() => log.problem() !== undefined, 5_000, 'the log to report ENOSPC');
    expect((await send('api.anthropic.com')).status).toBe(200);
  });
});
