// Issue 11 item 2, end to end: `curl http://api.anthropic.com/… -H "x-api-key: $SURROGATE"`
// through sluice's real plain-HTTP listener must not put the real key on the wire. A recording
// plain-HTTP origin shows what would have crossed the network: nothing, for a credential
// without plaintext = true (the agent gets 403 credential_over_plaintext); the real secret,
// for one that opts in. The same for SigV4, signed by curl's own --aws-sigv4.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type net from 'node:net';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { curl } from '../helpers/clients.ts';

const ORIGIN_ADDRESS = '127.0.0.6';
const REAL = { anthropic: 'sk-ant-api03-REAL-plaintext-it-000000001', legacy: 'legacy-REAL-plaintext-it-000000002', awsId: 'AKIAREALPLAINTEXT001', awsSecret: 'real/aws+secret-plaintext-it-0000000000001' };
const SURROGATE = { anthropic: 'sk-ant-api03-sluice-plaintext-it-01', legacy: 'legacy-sluice-plaintext-it-02', awsStrictId: 'AKIASLUICESTRICT0001', awsLenientId: 'AKIASLUICELENIENT001', awsSecret: 'sluice-surrogate-aws-secret-plaintext' };
const NAMES = ['api.anthropic.com', 'legacy.test', 'sts.strict.test', 'sts.lenient.test'];

interface Seen {
  host: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let origin: http.Server;
let originPort: number;
const seen: Seen[] = [];
let dns: TestResolver;
let t: TestSluice;

beforeAll(async () => {
  origin = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      seen.push({ host: String(req.headers.host), url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts).toString() });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('origin ok\n');
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, ORIGIN_ADDRESS, resolve));
  originPort = (origin.address() as net.AddressInfo).port;
  dns = await startDnsmasq(Object.fromEntries(NAMES.map((n) => [n, [ORIGIN_ADDRESS]])));
  process.env.PT_IT_ANTHROPIC = REAL.anthropic;
  process.env.PT_IT_LEGACY = REAL.legacy;
  process.env.PT_IT_AWS_ID = REAL.awsId;
  process.env.PT_IT_AWS_SECRET = REAL.awsSecret;
  const aws = (name: string, host: string, id: string, plaintext: boolean): string => `
[credentials.${name}]
type = "aws"
hosts = ["${host}"]
surrogate_access_key_id = "${id}"
surrogate_secret_access_key = "${SURROGATE.awsSecret}-${name}"
access_key_id = { env = "PT_IT_AWS_ID" }
secret_access_key = { env = "PT_IT_AWS_SECRET" }
plaintext = ${plaintext}
`;
  t = await startTestSluice(`
[proxy]
agent = "plaintext-it"

[upstream]
http_port = ${originPort}
connect_timeout_ms = 2000

[dns]
upstream = "${dns.address}"

${NAMES.map((n) => `[[allow]]\nhost = "${n}"\nprivate = true\n`).join('\n')}

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${SURROGATE.anthropic}"
secret = { env = "PT_IT_ANTHROPIC" }

[credentials.legacy]
hosts = ["legacy.test"]
surrogate = "${SURROGATE.legacy}"
secret = { env = "PT_IT_LEGACY" }
plaintext = true
${aws('awsstrict', 'sts.strict.test', SURROGATE.awsStrictId, false)}${aws('awslenient', 'sts.lenient.test', SURROGATE.awsLenientId, true)}`);
});

afterAll(async () => {
  await t?.stop();
  await dns?.stop();
  await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
  for (const k of ['PT_IT_ANTHROPIC', 'PT_IT_LEGACY', 'PT_IT_AWS_ID', 'PT_IT_AWS_SECRET']) delete process.env[k];
});

const plainCurl = (host: string, path: string, args: string[]) => curl(host, path, { caCert: t.caCert, port: t.sluice.ports.http, scheme: 'http', args });
const reached = (path: string) => seen.filter((s) => s.url === path);

describe('a credential over the plain HTTP listener', () => {
  it('curl http://api.anthropic.com with the surrogate: 403 credential_over_plaintext, nothing reaches the origin', async () => {
    const r = await plainCurl('api.anthropic.com', '/v1/models?n=1', ['-H', `x-api-key: ${SURROGATE.anthropic}`]);
    expect(r.status).toBe(403);
    expect(r.body).toContain('credential_over_plaintext');
    expect(r.body).not.toContain(REAL.anthropic);
    expect(reached('/v1/models?n=1')).toEqual([]);
    const line = await t.waitForLog((l) => l.path === '/v1/models?n=1');
    expect(line).toMatchObject({ status: 403, decision: 'deny', reason: 'credential_over_plaintext', credential: 'anthropic' });
    expect(JSON.stringify(t.accessLog())).not.toContain(REAL.anthropic);
  });

  it('the same host without a credential is forwarded (the listener itself works)', async () => {
    const r = await plainCurl('api.anthropic.com', '/v1/models?n=2', []);
    expect(r.status).toBe(200);
    expect(reached('/v1/models?n=2')).toHaveLength(1);
  });

  it('a credential with plaintext = true is swapped over plain HTTP', async () => {
    const r = await plainCurl('legacy.test', '/api?n=3', ['-H', `authorization: Bearer ${SURROGATE.legacy}`]);
    expect(r.status).toBe(200);
    expect(reached('/api?n=3')[0]?.headers.authorization).toBe(`Bearer ${REAL.legacy}`);
  });

  it('curl --aws-sigv4 over plain HTTP: refused, body unread and nothing forwarded', async () => {
    const r = await plainCurl('sts.strict.test', '/?n=4', ['--aws-sigv4', 'aws:amz:us-east-1:sts', '--user', `${SURROGATE.awsStrictId}:${SURROGATE.awsSecret}-awsstrict`, '-d', 'Action=GetCallerIdentity&Version=2011-06-15']);
    expect(r.status).toBe(403);
    expect(r.body).toContain('credential_over_plaintext');
    expect(reached('/?n=4')).toEqual([]);
  });

  it('curl --aws-sigv4 for a credential with plaintext = true: verified and re-signed with the real key', async () => {
    const r = await plainCurl('sts.lenient.test', '/?n=5', ['--aws-sigv4', 'aws:amz:us-east-1:sts', '--user', `${SURROGATE.awsLenientId}:${SURROGATE.awsSecret}-awslenient`, '-d', 'Action=GetCallerIdentity&Version=2011-06-15']);
    expect(r.status).toBe(200);
    const got = reached('/?n=5')[0];
    expect(got?.headers.authorization).toContain(`Credential=${REAL.awsId}/`);
    expect(got?.body).toBe('Action=GetCallerIdentity&Version=2011-06-15');
  });
});
