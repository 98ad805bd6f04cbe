// Surrogate credentials end to end on loopback: real clients (curl, git, the Anthropic and
// OpenAI SDKs) holding only surrogates, sluice in-process, a recording origin (and a real
// git http-backend) that demands and records the real secrets. The origin gets the real
// secret; the client never sees it; misuse never reaches the origin; no log and no output of
// sluice contains a real secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { fetch, Agent } from 'undici';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startRecordingOrigin, type RecordingOrigin } from '../helpers/recording-origin.ts';
import { createBareRepo } from '../helpers/git-cgi.ts';
import { curl } from '../helpers/clients.ts';
import { run, waitFor } from '../helpers/process.ts';
import { parseConfig } from '../../src/config/load.ts';
import { startSluice, type RunningSluice } from '../../src/runtime/sluice.ts';
import { loadOrCreateMintKey } from '../../src/credentials/mint-key.ts';
import { mintToken } from '../../src/credentials/macaroon.ts';
import { skipUnlessTools } from '../helpers/tools.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

const skip = skipUnlessTools('credentials', ['openssl', 'dnsmasq', 'curl', 'git']);

const REAL = {
  anthropic: 'sk-ant-api03-REALSECRET-it-0000000000000001',
  openai: 'sk-proj-REALSECRET-it-0000000000000002',
  github: 'ghp_REALSECRETit0000000000000000003',
  oauth: 'oauth-REALSECRET-it-0000000004',
};
/** What an echoed real value becomes in a body with a Content-Length: the surrogate, fitted to its length. */
const echoed = (surrogate: string, real: string): string => (surrogate.length >= real.length ? surrogate.slice(0, real.length) : surrogate.padEnd(real.length, '*'));

const SURROGATE = {
  anthropic: 'sk-ant-api03-sluice-surrogate-it-01',
  openai: 'sk-proj-sluice-surrogate-it-02',
  github: 'ghp_sluice_surrogate_it_03',
  oauth: 'oauth-sluice-surrogate-it-04',
};
const ORIGIN_ADDRESS = '127.0.0.2';

let pki: TestPki;
let dns: TestResolver;
let origin: RecordingOrigin;
let sluice: RunningSluice;
let dir: string;
let caCert: string;
let logDir: string;
let opsLogFile: string;
/** Everything every client printed, for the final grep. */
const clientOutput: string[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  const cert = await pki.issue(['api.anthropic.com', 'api.openai.com', 'git.test', 'auth.test', 'other.test']);
  const gitRoot = await createBareRepo('hello from the real git http-backend\n');
  origin = await startRecordingOrigin({ ...cert, address: ORIGIN_ADDRESS, gitRoot, gitPassword: REAL.github });
  const names = ['api.anthropic.com', 'api.openai.com', 'git.test', 'auth.test', 'other.test'];
  dns = await startDnsmasq(Object.fromEntries(names.map((n) => [n, [ORIGIN_ADDRESS]])));

  dir = makeTempDir('cred-it');
  writeFileSync(join(dir, 'openai.secret'), `${REAL.openai}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'github.secret'), REAL.github, { mode: 0o600 });
  process.env.IT_ANTHROPIC_KEY = REAL.anthropic;
  process.env.IT_OAUTH_SECRET = ` ${REAL.oauth} `;
  const file = join(dir, 'sluice.toml');
  const toml = `
[proxy]
agent = "cred-it"
extra_upstream_ca = "${pki.caCert}"

[upstream]
https_port = ${origin.port}
connect_timeout_ms = 2000

[dns]
upstream = "${dns.address}"

${names.map((n) => `[[allow]]\nhost = "${n}"\nprivate = true\n`).join('\n')}

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${SURROGATE.anthropic}"
secret = { env = "IT_ANTHROPIC_KEY" }

[credentials.openai]
hosts = ["api.openai.com"]
surrogate = "${SURROGATE.openai}"
secret = { file = "openai.secret" }
query = ["api_key"]

[credentials.github]
hosts = ["git.test"]
surrogate = "${SURROGATE.github}"
secret = { file = "github.secret" }

[credentials.oauth]
hosts = ["auth.test"]
surrogate = "${SURROGATE.oauth}"
secret = { env = "IT_OAUTH_SECRET" }
body = true
`;
  writeFileSync(file, toml);
  const parsed = parseConfig(toml, file);
  const config = { ...parsed, proxy: { ...parsed.proxy, httpsPort: 0, httpPort: 0, denyPort: 0, dnsPort: 0, adminPort: 0 } };
  logDir = config.proxy.logDir;
  // All of sluice's own output, at the most verbose level, goes to a file we grep at the end.
  opsLogFile = join(dir, 'ops.ndjson');
  const opsLog = pino({ level: 'trace', base: { component: 'sluice' } }, pino.destination({ dest: opsLogFile, sync: true }));
  sluice = await startSluice(config, { opsLog });
  caCert = sluice.caCertPath;
});

afterAll(async () => {
  await sluice?.close();
  await origin?.stop();
  await dns?.stop();
  delete process.env.IT_ANTHROPIC_KEY;
  delete process.env.IT_OAUTH_SECRET;
});

const opts = (args: string[] = []) => ({ caCert, port: sluice.ports.https, args });

async function client(host: string, path: string, args: string[] = []): Promise<{ status: number; body: string; stderr: string }> {
  const r = await curl(host, path, opts(args));
  clientOutput.push(r.stdout, r.stderr);
  return r;
}

function accessLog(): Record<string, unknown>[] {
  sluice.runtime().services.accessLog.flush();
  const path = join(logDir, 'access.ndjson');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function logLine(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(() => (found = accessLog().find(match)) !== undefined, 5_000, 'an access log line');
  return found as Record<string, unknown>;
}

const received = (host: string, path: string) => origin.requests.filter((r) => r.host === host && r.url.startsWith(path));

describe.skipIf(skip)('the origin gets the real secret, the agent never sees it', () => {
  it('curl with x-api-key: swapped upstream, scrubbed in the echoed body and header', async () => {
    const r = await client('api.anthropic.com', '/echo?n=1', ['-H', `x-api-key: ${SURROGATE.anthropic}`, '-D', '-']);
    expect(r.status).toBe(200);
    expect(received('api.anthropic.com', '/echo?n=1')[0]?.headers['x-api-key']).toBe(REAL.anthropic);
    expect(r.body).toContain(SURROGATE.anthropic);
    expect(r.body.toLowerCase()).toContain(`x-echo-auth: ${SURROGATE.anthropic.toLowerCase()}|`);
    expect(r.body).not.toContain(REAL.anthropic);
    const line = await logLine((l) => l.path === '/echo?n=1');
    expect(line).toMatchObject({ credential: 'anthropic', decision: 'allow', status: 200 });
    // Where the swap happened, by name: never the surrogate or the secret.
    expect(line.trace).toEqual([{ step: 'credentials', action: 'swapped_surrogate', detail: 'anthropic in header x-api-key' }]);
  });

  it('over h2 as well', async () => {
    const r = await client('api.anthropic.com', '/echo?n=h2', ['--http2', '-H', `x-api-key: ${SURROGATE.anthropic}`]);
    expect(r.status).toBe(200);
    expect(received('api.anthropic.com', '/echo?n=h2')[0]?.headers['x-api-key']).toBe(REAL.anthropic);
    expect(r.body).not.toContain(REAL.anthropic);
  });

  it('a gzip-compressed echo is decoded and scrubbed (with and without --compressed)', async () => {
    for (const extra of [[], ['--compressed']]) {
      const r = await client('api.anthropic.com', '/echo?gzip=1', ['-H', `x-api-key: ${SURROGATE.anthropic}`, ...extra]);
      expect(r.status).toBe(200);
      const echoed = JSON.parse(r.body) as { headers: Record<string, string> };
      expect(echoed.headers['x-api-key']).toBe(SURROGATE.anthropic);
      expect(r.body).not.toContain(REAL.anthropic);
    }
  });

  it('an event stream echoing the key split across writes reaches the agent scrubbed', async () => {
    const r = await client('api.anthropic.com', '/sse', ['-N', '-H', `x-api-key: ${SURROGATE.anthropic}`]);
    expect(r.status).toBe(200);
    expect(r.body).toBe(`event: a\ndata: {"key":"${SURROGATE.anthropic}"}\n\n`);
  });

  it('a surrogate in a form body (body = true) is swapped, and the origin gets a well-formed body', async () => {
    const form = `grant_type=client_credentials&client_id=app&client_secret=${SURROGATE.oauth}`;
    const r = await client('auth.test', '/echo?n=oauth', ['-d', form]);
    expect(r.status).toBe(200);
    const got = received('auth.test', '/echo?n=oauth')[0];
    expect(got?.body).toBe(`grant_type=client_credentials&client_id=app&client_secret=${REAL.oauth}`);
    expect(r.body).not.toContain(REAL.oauth);
    expect(r.body).toContain(SURROGATE.oauth);
  });

  it('a minted token stands in for the surrogate (the key created while sluice runs)', async () => {
    const { key } = loadOrCreateMintKey(sluice.runtime().config.proxy.caDir);
    const token = mintToken(key, 'openai', ['hosts=api.openai.com', 'methods=GET', `expires=${new Date(Date.now() + 60_000).toISOString()}`]);
    // The store looks for a key that appeared after it was built at most every 2 s.
    await new Promise((r) => setTimeout(r, 2_100));
    const ok = await client('api.openai.com', '/echo?n=token', ['-H', `authorization: Bearer ${token}`]);
    expect(ok.status).toBe(200);
    expect(received('api.openai.com', '/echo?n=token')[0]?.headers.authorization).toBe(`Bearer ${REAL.openai}`);
    const post = await client('api.openai.com', '/echo?n=token-post', ['-X', 'POST', '-H', `authorization: Bearer ${token}`]);
    expect(post.status).toBe(403);
    expect(post.body).toContain('token_caveat');
    expect(received('api.openai.com', '/echo?n=token-post')).toEqual([]);
    const forged = mintToken(Buffer.alloc(32, 7), 'openai', []);
    const bad = await client('api.openai.com', '/echo?n=forged', ['-H', `authorization: Bearer ${forged}`]);
    expect(bad.status).toBe(401);
    expect(bad.body).toContain('token_invalid');
  });
});

describe.skipIf(skip)('refusals never reach the origin', () => {
  it('a surrogate sent to a host outside its hosts is surrogate_misuse (header, URL)', async () => {
    const header = await client('other.test', '/echo?n=misuse1', ['-H', `authorization: Bearer ${SURROGATE.github}`]);
    expect(header.status).toBe(403);
    expect(header.body).toBe(`sluice: surrogate of credential "github" in header authorization sent to other.test (surrogate_misuse)\n`);
    const url = await client('other.test', `/echo?n=misuse2&leak=${SURROGATE.anthropic}`);
    expect(url.status).toBe(403);
    expect(received('other.test', '/')).toEqual([]);
    await logLine((l) => l.reason === 'surrogate_misuse' && l.host === 'other.test');
  });

  it('the agent\'s own key on a credential host is foreign_credential', async () => {
    const r = await client('api.anthropic.com', '/echo?n=foreign', ['-H', 'x-api-key: sk-ant-attackers-own-key-000000']);
    expect(r.status).toBe(403);
    expect(r.body).toContain('(foreign_credential)');
    expect(received('api.anthropic.com', '/echo?n=foreign')).toEqual([]);
  });

  it('a real secret in a header is real_secret, whatever the host', async () => {
    for (const host of ['other.test', 'api.openai.com']) {
      const r = await client(host, '/echo?n=real-header', ['-H', `authorization: Bearer ${REAL.openai}`]);
      expect(r.status).toBe(403);
      expect(r.body).toContain('(real_secret)');
      expect(r.body).not.toContain(REAL.openai);
    }
    expect(origin.requests.filter((q) => q.url.includes('real-header'))).toEqual([]);
  });

  it('a real secret in a body split over many chunks is refused before the secret is sent', async () => {
    const big = join(dir, 'big-body');
    writeFileSync(big, `${'x'.repeat(300_000)}${REAL.github}${'y'.repeat(1000)}`);
    const r = await client('other.test', '/echo?n=real-body', ['--data-binary', `@${big}`]);
    expect(r.status).toBe(403);
    expect(r.body).toContain('(real_secret)');
    // The head and the bytes before the secret may have been streamed; the secret never was,
    // and the origin never saw a complete request.
    for (const q of origin.requests) expect(q.body).not.toContain(REAL.github);
    for (const q of received('other.test', '/echo?n=real-body')) expect(q.aborted).toBe(true);
  });
});

describe.skipIf(skip)('real clients', () => {
  it('git clone https://x-access-token:SURROGATE@git.test/repo.git against a real git http-backend', async () => {
    const dest = join(dir, 'clone');
    const home = makeTempDir('git-home');
    const r = await run('git', [
      '-c', `http.sslCAInfo=${caCert}`,
      '-c', `http.curloptResolve=git.test:${sluice.ports.https}:127.0.0.1`,
      'clone', `https://x-access-token:${SURROGATE.github}@git.test:${sluice.ports.https}/repo.git`, dest,
    ], { env: { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' }, timeoutMs: 30_000 });
    clientOutput.push(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dest, 'README.md'), 'utf8')).toBe('hello from the real git http-backend\n');
    const authed = origin.requests.filter((q) => q.host === 'git.test' && q.headers.authorization !== undefined);
    expect(authed.length).toBeGreaterThan(0);
    for (const q of authed) expect(q.headers.authorization).toBe(`Basic ${Buffer.from(`x-access-token:${REAL.github}`).toString('base64')}`);
    await logLine((l) => l.host === 'git.test' && l.credential === 'github' && l.status === 200);
  });

  const dispatcher = (): Agent => new Agent({
    connect: {
      ca: readFileSync(caCert, 'utf8'),
      lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    } as never,
  });

  it('the official Anthropic SDK holding the surrogate', async () => {
    const agent = dispatcher();
    try {
      const anthropic = new Anthropic({
        apiKey: SURROGATE.anthropic,
        baseURL: `https://api.anthropic.com:${sluice.ports.https}`,
        fetch: ((url: string, init: object) => fetch(url, { ...init, dispatcher: agent })) as never,
        maxRetries: 0,
      });
      const message = await anthropic.messages.create({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
      const text = message.content[0]?.type === 'text' ? message.content[0].text : '';
      clientOutput.push(JSON.stringify(message));
      // The echo had a Content-Length: the surrogate comes back padded to the real key's length.
      expect(text).toBe(`you sent ${echoed(SURROGATE.anthropic, REAL.anthropic)}`);
      // SDK versions differ in where they put the key (x-api-key, or Authorization: Bearer).
      const headers = received('api.anthropic.com', '/v1/messages')[0]?.headers;
      expect([headers?.['x-api-key'], headers?.authorization]).toContain(headers?.['x-api-key'] === undefined ? `Bearer ${REAL.anthropic}` : REAL.anthropic);
    } finally {
      await agent.close();
    }
  });

  it('the official OpenAI SDK holding the surrogate', async () => {
    const agent = dispatcher();
    try {
      const openai = new OpenAI({
        apiKey: SURROGATE.openai,
        baseURL: `https://api.openai.com:${sluice.ports.https}/v1`,
        fetch: ((url: string, init: object) => fetch(url, { ...init, dispatcher: agent })) as never,
        maxRetries: 0,
      });
      const completion = await openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
      clientOutput.push(JSON.stringify(completion));
      expect(completion.choices[0]?.message.content).toBe(`you sent ${echoed(SURROGATE.openai, REAL.openai)}`);
      expect(received('api.openai.com', '/v1/chat/completions')[0]?.headers.authorization).toBe(`Bearer ${REAL.openai}`);
    } finally {
      await agent.close();
    }
  });
});

describe.skipIf(skip)('no trace of a real secret anywhere but upstream', () => {
  it('a real secret in the URL is refused, and the access log does not repeat it', async () => {
    const r = await client('other.test', `/echo?n=real-url&k=${REAL.anthropic}`);
    expect(r.status).toBe(403);
    expect(r.body).toContain('(real_secret)');
    await logLine((l) => l.reason === 'real_secret' && typeof l.path === 'string' && l.path.startsWith('/echo?n=real-url'));
  });

  it('a query credential is swapped upstream, and the access log does not show the real value', async () => {
    const r = await client('api.openai.com', `/echo?n=query&api_key=${SURROGATE.openai}`);
    expect(r.status).toBe(200);
    expect(received('api.openai.com', '/echo?n=query')[0]?.url).toBe(`/echo?n=query&api_key=${encodeURIComponent(REAL.openai)}`);
    const line = await logLine((l) => typeof l.path === 'string' && l.path.startsWith('/echo?n=query'));
    expect(line.credential).toBe('openai');
    expect(line.path).toBe('/echo?n=query&api_key=[REDACTED:openai]');
  });

  it('grep of every log file and all sluice output finds no real secret', async () => {
    sluice.runtime().services.accessLog.flush();
    const files = [opsLogFile, ...readdirSync(logDir).map((f) => join(logDir, f))];
    expect(files.some((f) => f.endsWith('access.ndjson'))).toBe(true);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const [name, value] of Object.entries(REAL)) expect(text.includes(value), `${name} in ${f}`).toBe(false);
    }
    // Surrogates are redacted in logs too (DESIGN.md §1).
    const access = readFileSync(join(logDir, 'access.ndjson'), 'utf8');
    for (const [name, value] of Object.entries(SURROGATE)) expect(access.includes(value), `surrogate ${name} in access.ndjson`).toBe(false);
    const output = clientOutput.join('\n');
    for (const [name, value] of Object.entries(REAL)) expect(output.includes(value), `${name} in client output`).toBe(false);
  });
});
