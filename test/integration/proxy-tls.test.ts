// The MITM core against a real nginx origin, with real curl, python3 and Node's fetch:
// allowed, denied, misdirected, private and failing upstreams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fetch, Agent } from 'undici';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startNginx, type NginxOrigin } from '../helpers/nginx.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { curl, python } from '../helpers/clients.ts';
import { run } from '../helpers/process.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('proxy-tls', ['openssl', 'nginx', 'dnsmasq', 'curl', 'python3']);

let pki: TestPki;
let origin: NginxOrigin;
let dns: TestResolver;
let t: TestSluice;

beforeAll(async () => {
  pki = await createTestPki();
  const cert = await pki.issue(['origin.test', 'api.anthropic.com', 'private.test', 'down.test', 'methods.test']);
  origin = await startNginx(cert);
  dns = await startDnsmasq({
    'origin.test': ['127.0.0.1'],
    'api.anthropic.com': ['127.0.0.1'],
    'private.test': ['127.0.0.1'],
    'down.test': ['127.0.0.2'],
    'untrusted.test': ['127.0.0.1'],
    'methods.test': ['127.0.0.1'],
  });
  t = await startTestSluice(`
[proxy]
agent = "it-agent"
extra_upstream_ca = "${pki.caCert}"

[upstream]
https_port = ${origin.httpsPort}
http_port = ${origin.httpPort}
connect_timeout_ms = 2000

[dns]
upstream = "${dns.address}"

[[allow]]
host = "origin.test"
private = true

[[allow]]
host = "api.anthropic.com"
private = true

[[allow]]
host = "private.test"

[[allow]]
host = "down.test"
private = true

[[allow]]
host = "untrusted.test"
private = true

[[allow]]
host = "methods.test"
private = true
methods = ["GET"]
paths = ["/org/**"]
`);
});

afterAll(async () => {
  await t?.stop();
  await origin?.stop();
  await dns?.stop();
});

const opts = () => ({ caCert: t.caCert, port: t.sluice.ports.https });

describe.skipIf(skip)('allowed HTTPS', () => {
  it('forwards to the origin over verified TLS with a leaf from sluice\'s CA (curl)', async () => {
    const r = await curl('origin.test', '/', opts());
    expect(r.stderr).toBe('');
    expect(r.status).toBe(200);
    expect(r.body).toBe('origin ok host=origin.test scheme=https\n');
    const line = await t.waitForLog((l) => l.host === 'origin.test' && l.path === '/');
    expect(line).toMatchObject({ agent: 'it-agent', decision: 'allow', status: 200, sni: 'origin.test', method: 'GET', listener: 'tls' });
    expect(typeof line.conn).toBe('string');
    expect(line.bytes_out).toBeGreaterThan(0);
    expect(typeof line.ms).toBe('number');
  });

  it('presents a leaf for the SNI issued by sluice\'s CA that strict openssl accepts', async () => {
    const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${t.sluice.ports.https}`, '-servername', 'api.anthropic.com', '-CAfile', t.caCert, '-verify_return_error', '-x509_strict', '-verify_hostname', 'api.anthropic.com', '-brief'], { input: '', timeoutMs: 10_000 });
    expect(r.stderr).toMatch(/Verification: OK/);
    expect(r.code).toBe(0);
  });

  it('serves h2 when the client offers it', async () => {
    const r = await curl('origin.test', '/', { ...opts(), args: ['--http2', '-o', '/dev/null', '-w', '%{http_version}'] });
    expect(r.stdout.startsWith('2')).toBe(true);
  });

  it('works with python3\'s ssl and urllib', async () => {
    const r = await python(`https://origin.test/headers`, { ...opts(), headers: { 'X-Custom': 'py' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('200\nhost=origin.test');
    expect(r.stdout).toContain('custom=py');
  });

  it('works with Node\'s fetch (undici) trusting only sluice\'s CA', async () => {
    const dispatcher = new Agent({
      connect: {
        ca: readFileSync(t.caCert, 'utf8'),
        lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
      } as never,
    });
    try {
      const res = await fetch(`https://api.anthropic.com:${t.sluice.ports.https}/`, { dispatcher });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('origin ok host=api.anthropic.com scheme=https\n');
    } finally {
      await dispatcher.close();
    }
  });

  it('passes redirects to the client instead of following them', async () => {
    const r = await curl('origin.test', '/redirect', { ...opts(), args: ['-D', '-'] });
    expect(r.status).toBe(302);
    expect(r.body.toLowerCase()).toContain('location: https://elsewhere.test/landing');
  });

  it('removes headers the agent may not set before forwarding', async () => {
    const r = await curl('origin.test', '/headers', {
      ...opts(),
      args: ['-H', 'X-Forwarded-For: 6.6.6.6', '-H', 'Forwarded: for=6.6.6.6', '-H', 'Proxy-Authorization: Basic Zm9vOmJhcg==', '-H', 'X-Custom: kept'],
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain('xff= fwd= proxyauth=');
    expect(r.body).toContain('custom=kept');
  });
});

describe.skipIf(skip)('denials', () => {
  it('answers a host outside the allowlist with 403 over a completed handshake', async () => {
    const r = await curl('denied.test', '/', opts());
    expect(r.status).toBe(403);
    expect(r.body).toContain('denied.test is not in sluice\'s allowlist');
    const line = await t.waitForLog((l) => l.host === 'denied.test');
    expect(line).toMatchObject({ decision: 'deny', reason: 'not_allowlisted', status: 403, sni: 'denied.test' });
  });

  it('refuses a Host that differs from the SNI with 421', async () => {
    const r = await curl('origin.test', '/', { ...opts(), args: ['-H', 'Host: api.anthropic.com'] });
    expect(r.status).toBe(421);
    expect(r.body).toContain('does not match the TLS server name');
    await t.waitForLog((l) => l.reason === 'host_sni_mismatch' && l.sni === 'origin.test');
  });

  it('closes a TLS connection without SNI with unrecognized_name, and logs it', async () => {
    const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${t.sluice.ports.https}`, '-noservername', '-brief'], { input: '', timeoutMs: 10_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unrecognized name|alert number 112/i);
    await t.waitForLog((l) => l.reason === 'no_sni' && l.decision === 'deny');
  });

  it('refuses a method or path outside the rule with 403 naming the rule', async () => {
    const post = await curl('methods.test', '/org/repo', { ...opts(), args: ['-X', 'POST'] });
    expect(post.status).toBe(403);
    expect(post.body).toMatch(/POST is not allowed for methods\.test by allow\[5\]/);
    const path = await curl('methods.test', '/other', opts());
    expect(path.status).toBe(403);
    expect(path.body).toMatch(/\/other is not allowed for methods\.test by allow\[5\]/);
    const ok = await curl('methods.test', '/org/repo/file', opts());
    expect(ok.status).toBe(200);
  });

  it('refuses an upstream that resolves to a private address without private = true', async () => {
    const r = await curl('private.test', '/', opts());
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/private\.test.*127\.0\.0\.1.*loopback/);
    await t.waitForLog((l) => l.host === 'private.test' && l.reason === 'private_address');
  });

  it('answers 502 upstream_refused when nothing listens upstream', async () => {
    const r = await curl('down.test', '/', opts());
    expect(r.status).toBe(502);
    expect(r.body).toContain('upstream_refused');
  });

  it('answers 502 upstream_tls when the upstream certificate does not match the name', async () => {
    const r = await curl('untrusted.test', '/', opts());
    expect(r.status).toBe(502);
    expect(r.body).toContain('upstream_tls');
    await t.waitForLog((l) => l.host === 'untrusted.test' && l.reason === 'upstream_tls');
  });

  it('answers 502 upstream_dns for a name the resolver does not know', async () => {
    const next = t.parse(readFileSync(`${t.dir}/sluice.toml`, 'utf8') + '\n[[allow]]\nhost = "nxdomain.test"\nprivate = true\n');
    t.sluice.reload(next);
    const r = await curl('nxdomain.test', '/', opts());
    expect(r.status).toBe(502);
    expect(r.body).toContain('upstream_dns');
  });
});

describe.skipIf(skip)('plain HTTP', () => {
  it('forwards by Host header and denies unknown hosts', async () => {
    const ok = await curl('origin.test', '/', { ...opts(), scheme: 'http', port: t.sluice.ports.http });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('origin ok host=origin.test scheme=http\n');
    const denied = await curl('denied.test', '/', { ...opts(), scheme: 'http', port: t.sluice.ports.http });
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('not in sluice\'s allowlist');
  });
});
