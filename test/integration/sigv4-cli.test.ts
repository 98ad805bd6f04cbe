// Issue 7 with the command-line clients people run, unmodified and holding only the surrogate
// key pair: Debian's aws CLI (2.9 in bookworm: UNSIGNED-PAYLOAD + Content-MD5), rclone
// (UNSIGNED-PAYLOAD) and s3cmd (hex payload hash, no spaces after commas in Authorization).
// Another aws CLI first on PATH runs too where there is one (on developer machines often a
// pyenv aws CLI v1: STREAMING-UNSIGNED-PAYLOAD-TRAILER + Expect: 100-continue); CI has none, as
// PyPI is not reachable there. Test names carry `aws --version`: they say which CLI ran.
// Each runs with a private /etc/hosts (its own mount namespace: nothing on the machine changes)
// that sends the S3 name to sluice's loopback listener; the origin behind sluice verifies every
// request with the real key pair (aws4 + its own chunk check) before s3rver stores anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { startSigV4Origin, type SigV4Origin, awsCredentialToml } from '../helpers/sigv4-origin.ts';
import { run } from '../helpers/process.ts';
import { findTool, installHint, missingTools, skipSuite } from '../helpers/tools.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';
import { awsCliVersion } from '../e2e/aws-clients.ts';

const BUCKET = 'sluice-cli';
const S3 = 's3.us-east-1.amazonaws.com';
const VHOST = `${BUCKET}.${S3}`;
const SURROGATE = { accessKeyId: 'AKIASLUICEEXAMPLE000', secretAccessKey: 'sluice-example-surrogate-secret' };
const REAL = { accessKeyId: 'AKIAREALKEYEXAMPLE00', secretAccessKey: 'real/secret+key/EXAMPLE0000000000000000', sessionToken: 'REAL-SESSION-TOKEN-EXAMPLE' };

const awsV2 = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : undefined;
// Each client gets its own /etc/hosts (unshare -m and a bind mount), which needs root.
const skip = skipSuite('sigv4-cli', process.getuid?.() !== 0
  ? 'needs root (unshare -m gives each client its own /etc/hosts): run npm test as root, or CI=true'
  : (missingTools(['openssl', 'dnsmasq', 'curl', 'unshare', 'rclone', 's3cmd']) ?? (awsV2 === undefined ? `needs Debian's aws CLI v2 in /usr/bin: sudo apt-get install awscli` : undefined)));
const awsOnPath = ((): string | undefined => {
  const onPath = findTool('aws');
  return onPath !== undefined && onPath !== '/usr/bin/aws' ? onPath : undefined;
})();
// Any other aws CLI (a pip-installed v1, say) is optional and CI does not have one: said once.
if (skip === undefined && awsOnPath === undefined) console.warn(`[skipped] sigv4-cli, a second aws CLI: optional, none on PATH besides ${installHint('aws')}`);
/** The aws CLIs tried, named by what `aws --version` says, so a report shows which one ran. */
const AWS_CLIS = [
  { id: 'debian', bin: awsV2, label: `${(awsV2 === undefined ? undefined : awsCliVersion(awsV2)) ?? 'aws CLI'} (Debian's /usr/bin/aws)` },
  ...(awsOnPath === undefined ? [] : [{ id: 'path', bin: awsOnPath, label: `${awsCliVersion(awsOnPath) ?? 'aws CLI'} (${awsOnPath}, first on PATH)` }]),
];
const rclone = findTool('rclone');
const s3cmd = findTool('s3cmd');

let pki: TestPki;
let dns: TestResolver;
let origin: SigV4Origin;
let t: TestSluice;
let dir: string;
let hosts: string;
let endpoint: string;

beforeAll(async () => {
  pki = await createTestPki();
  const cert = await pki.issue([VHOST, S3]);
  origin = await startSigV4Origin(cert, REAL, { bucket: BUCKET });
  dns = await startDnsmasq({ [VHOST]: ['127.0.0.1'], [S3]: ['127.0.0.1'] });
  process.env.SLUICE_IT_AWS_ACCESS_KEY_ID = REAL.accessKeyId;
  process.env.SLUICE_IT_AWS_SECRET_ACCESS_KEY = REAL.secretAccessKey;
  process.env.SLUICE_IT_AWS_SESSION_TOKEN = REAL.sessionToken;
  t = await startTestSluice(`
[proxy]
agent = "it-agent"
extra_upstream_ca = "${pki.caCert}"

[upstream]
https_port = ${origin.port}

[dns]
upstream = "${dns.address}"

${awsCredentialToml(SURROGATE, 'SLUICE_IT_AWS')}`);
  dir = makeTempDir('cli');
  hosts = join(dir, 'hosts');
  writeFileSync(hosts, `127.0.0.1 localhost\n127.0.0.1 ${S3}\n127.0.0.1 ${VHOST}\n`);
  writeFileSync(join(dir, 'upload.txt'), 'uploaded by an unmodified client\n');
  // An aws CLI v1 (if one is on PATH) presigns S3 URLs with SigV2 unless told otherwise.
  writeFileSync(join(dir, 'aws-config'), '[default]\ns3 =\n    signature_version = s3v4\n');
  // The listener port is ephemeral, so the endpoint names it; SNI and Host keep the S3 name.
  endpoint = `https://${S3}:${t.sluice.ports.https}`;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await origin?.stop();
  await dns?.stop();
});

/** Runs a client with its own /etc/hosts, the surrogate keys and sluice's CA. */
async function client(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = await run('unshare', ['-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, cmd, ...args], {
    timeoutMs: 60_000,
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8',
      AWS_ACCESS_KEY_ID: SURROGATE.accessKeyId, AWS_SECRET_ACCESS_KEY: SURROGATE.secretAccessKey,
      AWS_SESSION_TOKEN: 'AGENT-OWN-SESSION-TOKEN', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1',
      AWS_CA_BUNDLE: t.caCert, AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(dir, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      PYENV_VERSION: process.env.PYENV_VERSION ?? '', ...env,
    },
  });
  return r;
}

function lastPut(key: string) {
  return origin.seen.filter((j) => j.method === 'PUT' && j.url.includes(key)).at(-1);
}

for (const { id, bin, label } of AWS_CLIS) {
  describe.skipIf(skip || bin === undefined)(`${label}`, () => {
    const key = `cli/${id}-a b€.txt`;
    it('s3 cp up and down, s3 ls, and a presigned URL', async () => {
      const up = await client(bin as string, ['--endpoint-url', endpoint, 's3', 'cp', 'upload.txt', `s3://${BUCKET}/${key}`]);
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      const put = lastPut('cli/');
      expect(put?.ok).toBe(true);
      const ls = await client(bin as string, ['--endpoint-url', endpoint, 's3', 'ls', `s3://${BUCKET}/cli/`]);
      expect(ls.code).toBe(0);
      expect(ls.stdout).toContain(key.slice(4));
      const down = await client(bin as string, ['--endpoint-url', endpoint, 's3', 'cp', `s3://${BUCKET}/${key}`, '-']);
      expect(down.code).toBe(0);
      expect(down.stdout).toBe('uploaded by an unmodified client\n');
      const presign = await client(bin as string, ['--endpoint-url', endpoint, 's3', 'presign', `s3://${BUCKET}/${key}`, '--expires-in', '300']);
      expect(presign.code).toBe(0);
      const url = presign.stdout.trim();
      expect(url).toContain('X-Amz-Signature=');
      const fetched = await run('curl', ['-sS', '--max-time', '20', '--cacert', t.caCert, '--resolve', `${S3}:${t.sluice.ports.https}:127.0.0.1`, url]);
      expect(fetched.stdout).toBe('uploaded by an unmodified client\n');
      expect(origin.seen.at(-1)).toMatchObject({ form: 'presigned', ok: true });
      expect(origin.seen.every((j) => j.ok)).toBe(true);
      console.info(`${label}: PUT payload ${put?.payload}`);
    });
  });
}

describe.skipIf(skip)('rclone', () => {
  it('copyto, lsf and cat', async () => {
    const flags = ['--s3-provider', 'AWS', '--s3-endpoint', endpoint, '--s3-region', 'us-east-1', '--s3-env-auth', '--s3-no-check-bucket', '--s3-force-path-style', '--retries', '1', '--low-level-retries', '1'];
    // rclone 1.60 fails with AWS_CA_BUNDLE set (DESIGN.md §5); it trusts SSL_CERT_FILE.
    const env = { AWS_CA_BUNDLE: '', SSL_CERT_FILE: t.caCert, RCLONE_CONFIG: join(dir, 'rclone.conf') };
    writeFileSync(join(dir, 'rclone.conf'), '');
    const up = await client(rclone as string, ['copyto', 'upload.txt', `:s3:${BUCKET}/cli/rclone.txt`, ...flags], env);
    expect(up.stderr).not.toMatch(/ERROR/);
    expect(up.code).toBe(0);
    expect(lastPut('cli/rclone.txt')?.ok).toBe(true);
    const ls = await client(rclone as string, ['lsf', `:s3:${BUCKET}/cli/`, ...flags], env);
    expect(ls.stdout).toContain('rclone.txt');
    const cat = await client(rclone as string, ['cat', `:s3:${BUCKET}/cli/rclone.txt`, ...flags], env);
    expect(cat.stdout).toBe('uploaded by an unmodified client\n');
    expect(origin.seen.every((j) => j.ok)).toBe(true);
    console.info(`rclone: PUT payload ${lastPut('cli/rclone.txt')?.payload}`);
  });
});

describe.skipIf(skip)('s3cmd', () => {
  let config: string;
  beforeAll(() => {
    config = join(dir, 's3cfg');
    writeFileSync(config, [
      '[default]', `access_key = ${SURROGATE.accessKeyId}`, `secret_key = ${SURROGATE.secretAccessKey}`,
      `host_base = ${S3}:${t.sluice.ports.https}`, `host_bucket = ${S3}:${t.sluice.ports.https}`, 'bucket_location = us-east-1',
      `ca_certs_file = ${t.caCert}`, 'check_ssl_certificate = True', 'use_https = True', 'signature_v2 = False', '',
    ].join('\n'));
  });

  it('put and ls', async () => {
    const up = await client(s3cmd as string, ['-c', config, 'put', 'upload.txt', `s3://${BUCKET}/cli/s3cmd.txt`]);
    expect(up.code).toBe(0);
    expect(lastPut('cli/s3cmd.txt')?.ok).toBe(true);
    expect(lastPut('cli/s3cmd.txt')?.payload).toMatch(/^[0-9a-f]{64}$/);
    const ls = await client(s3cmd as string, ['-c', config, 'ls', `s3://${BUCKET}/cli/`]);
    expect(ls.stdout).toContain('s3cmd.txt');
    expect(origin.seen.every((j) => j.ok)).toBe(true);
  });

  // s3cmd's download needs Content-Length (KeyError otherwise): the scrub keeps it.
  it('get keeps Content-Length through the response scrub', async () => {
    const get = await client(s3cmd as string, ['-c', config, 'get', '--force', `s3://${BUCKET}/cli/s3cmd.txt`, join(dir, 'got.txt')]);
    expect(get.code).toBe(0);
    expect(readFileSync(join(dir, 'got.txt'), 'utf8')).toBe('uploaded by an unmodified client\n');
  });
});
