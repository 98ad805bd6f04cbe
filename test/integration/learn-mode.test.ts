// Learning mode end to end (DESIGN §8): `mode = "learn"` forwards what the allowlist would deny
// and logs it as would_deny, but never reaches a private address and never swaps a credential
// outside its scope; `sluice suggest` turns the log into [[allow]] entries that `sluice check`
// accepts; sluice in enforce mode with them allows exactly what was seen; `mode = "report"`
// denies and logs the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { startLlmOrigin, type LlmOrigin } from '../helpers/llm-origin.ts';
import { suggestCommand } from '../../src/cli/suggest.ts';
import { parseConfig } from '../../src/config/load.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('learn-mode', ['openssl', 'dnsmasq']);

const ORIGIN = '127.0.0.7';
const SURROGATE = 'sk-ant-api03-sluice-LEARN-SURROGATE-01';

let pki: TestPki;
let origin: LlmOrigin;
let dns: TestResolver;
let dir: string;

function toml(mode: string, extra = ''): string {
  return `
[proxy]
log_dir = "${join(dir, `logs-${mode}`)}"
mode = "${mode}"
extra_upstream_ca = "${pki.caCert}"
[upstream]
https_port = ${origin.port}
public_cidrs = ["${ORIGIN}/32"]
[dns]
upstream = "${dns.address}"
[[allow]]
host = "api.anthropic.com"
[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${SURROGATE}"
secret = { file = "${join(dir, 'anthropic-key')}" }
${extra}`;
}

function client(t: TestSluice): { get: (url: string, init?: Record<string, unknown>) => Promise<{ status: number; reason: string | null }>; close: () => Promise<void> } {
  const dispatcher = new Agent({
    connect: {
      ca: readFileSync(t.caCert, 'utf8'),
      lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    } as never,
  });
  return {
    get: async (url, init = {}) => {
      const res = await undiciFetch(url.replace('/PORT/', `:${t.sluice.ports.https}/`), { ...init, dispatcher } as never);
      await res.arrayBuffer();
      return { status: res.status, reason: res.headers.get('x-sluice-reason') };
    },
    close: () => dispatcher.close(),
  };
}

/** The traffic of an agent whose needs nobody wrote down. */
const SEEN = [
  ['GET', 'https://docs.test/PORT/v1/guides/a'],
  ['GET', 'https://docs.test/PORT/v1/guides/b?page=2'],
  ['HEAD', 'https://docs.test/PORT/v1/guides/c'],
  ['GET', 'https://status.docs.test/PORT/health'],
] as const;

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'sluice-learn-'));
  writeFileSync(join(dir, 'anthropic-key'), 'sk-ant-api03-REAL-learn-0123456789', { mode: 0o600 });
  pki = await createTestPki();
  origin = await startLlmOrigin(await pki.issue(['docs.test', 'status.docs.test', 'priv.test', 'api.anthropic.com']), ORIGIN);
  dns = await startDnsmasq({ 'docs.test': [ORIGIN], 'status.docs.test': [ORIGIN], 'priv.test': ['127.0.0.9'], 'api.anthropic.com': [ORIGIN] });
});

afterAll(async () => {
  await origin?.stop();
  await dns?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip)('learn → suggest → check → enforce', () => {
  let suggestion = '';

  it('learn mode forwards what the allowlist would deny and logs would_deny', async () => {
    const t = await startTestSluice(toml('learn'));
    const c = client(t);
    const before = origin.received.length;
    for (const [method, url] of SEEN) {
      const res = await c.get(url, { method });
      // Forwarded: the origin answered (404: it has no such fixture), not sluice's 403.
      expect(res.status, url).toBe(404);
      expect(res.reason).toBeNull();
    }
    expect(origin.received.length - before).toBe(SEEN.length);
    const line = await t.waitForLog((l) => l.host === 'docs.test' && l.path === '/v1/guides/a');
    expect(line).toMatchObject({ decision: 'would_deny', reason: 'not_allowlisted', status: 404 });
    // The step that let it through says so in the line's trace.
    expect(line.trace).toEqual([{ step: 'policy', action: 'learn', detail: 'not_allowlisted' }]);

    // Never a private address, even in learn mode.
    expect(await c.get('https://priv.test/PORT/')).toEqual({ status: 403, reason: 'private_address' });
    expect(await t.waitForLog((l) => l.host === 'priv.test')).toMatchObject({ decision: 'deny', reason: 'private_address' });
    // Never a credential outside its scope.
    expect(await c.get('https://docs.test/PORT/v1/guides/a', { headers: { authorization: `Bearer ${SURROGATE}` } })).toEqual({ status: 403, reason: 'surrogate_misuse' });
    expect(origin.received.length - before).toBe(SEEN.length);

    // The access log is written in batches: everything is on disk once sluice has stopped.
    await c.close();
    await t.stop();
    const out: string[] = [];
    const code = await suggestCommand(['--dir', join(dir, 'logs-learn')], { out: (s) => out.push(s), err: (s) => out.push(s) });
    expect(code).toBe(0);
    suggestion = out.join('');
  });

  it('suggests one narrow entry per host, which sluice check accepts', () => {
    expect(suggestion).toContain('host = "docs.test"');
    expect(suggestion).toContain('methods = ["GET", "HEAD"]');
    expect(suggestion).toContain('paths = ["/v1/guides/**"]');
    expect(suggestion).toContain('host = "status.docs.test"');
    expect(suggestion).toContain('paths = ["/health"]');
    // Not what was refused for other reasons.
    expect(suggestion).not.toContain('priv.test');
    const file = join(dir, 'suggested.toml');
    writeFileSync(file, toml('enforce', suggestion));
    expect(() => parseConfig(readFileSync(file, 'utf8'), file)).not.toThrow();
  });

  it('enforce mode with the suggestion allows exactly what was seen', async () => {
    const t = await startTestSluice(toml('enforce', suggestion));
    const c = client(t);
    for (const [method, url] of SEEN) expect((await c.get(url, { method })).status, url).toBe(404);
    expect(await c.get('https://docs.test/PORT/v1/guides/a', { method: 'POST', body: '{}' })).toEqual({ status: 403, reason: 'method' });
    expect(await c.get('https://docs.test/PORT/admin')).toEqual({ status: 403, reason: 'path' });
    expect(await c.get('https://elsewhere.docs.test/PORT/health')).toEqual({ status: 403, reason: 'not_allowlisted' });
    await c.close();
    await t.stop();
  });

  it('report mode denies as enforce does and logs would_deny', async () => {
    const t = await startTestSluice(toml('report'));
    const c = client(t);
    expect(await c.get('https://docs.test/PORT/v1/guides/a')).toEqual({ status: 403, reason: 'not_allowlisted' });
    const line = await t.waitForLog((l) => l.host === 'docs.test');
    expect(line).toMatchObject({ decision: 'would_deny', reason: 'not_allowlisted', status: 403 });
    // No step acted on it: no trace field at all.
    expect(line).not.toHaveProperty('trace');
    await c.close();
    await t.stop();
  });
});
