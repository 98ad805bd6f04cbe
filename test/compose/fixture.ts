// Everything the compose test sets up around the real compose.yaml: the images (stand-in base,
// sluice from docker/Dockerfile, the tools image for agent/origin/DNS), the test's CA and origin
// certificate, its sluice.toml and secrets, and `compose up`/`down` with the override file.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run, type RunResult } from '../helpers/process.ts';

export const REPO = resolve(import.meta.dirname, '../..');
export const HERE = import.meta.dirname;
export const PROJECT = 'sluicecomposetest';
export const ORIGIN_IP = '198.19.100.10';
export const DNS_IP = '198.19.100.53';
export const SLUICE_IMAGE = 'sluice:compose-test';

/** The values the test uses: real secrets (sluice only) and the surrogates the agent holds. */
export interface Secrets {
  anthropicReal: string;
  anthropicSurrogate: string;
  openaiReal: string;
  openaiSurrogate: string;
}

export function makeSecrets(): Secrets {
  const tag = randomBytes(8).toString('hex');
  return {
    anthropicReal: `sk-ant-api03-REAL-compose-${tag}`,
    anthropicSurrogate: 'sk-ant-api03-sluice-compose-surrogate',
    openaiReal: `sk-proj-REAL-compose-${tag}`,
    openaiSurrogate: 'sk-proj-sluice-compose-surrogate-0000',
  };
}

export async function mustRun(cmd: string, args: string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
  const result = await run(cmd, args, { timeoutMs: 120_000, ...options });
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.code}\n${result.stderr.slice(-3000)}${result.stdout.slice(-2000)}`);
  }
  return result.stdout;
}

/** The test's own CA and a certificate for every name the fake origin serves. */
async function makePki(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const o = (args: string[]): Promise<string> => mustRun('openssl', args, { cwd: dir });
  await o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-subj', '/CN=sluice compose test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'origin.key', '-out', 'origin.csr',
    '-subj', '/CN=fake origin']);
  writeFileSync(join(dir, 'origin.ext'),
    'subjectAltName=DNS:api.anthropic.com,DNS:api.openai.com,DNS:example.com\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await o(['x509', '-req', '-in', 'origin.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'origin.crt',
    '-days', '2', '-extfile', 'origin.ext']);
  chmodSync(join(dir, 'origin.key'), 0o644); // read by the origin container; a throwaway key
}

/** The test's policy: the fake origin's names are in 198.18.0.0/15, hence private = true. */
function sluiceToml(s: Secrets): string {
  return `[proxy]
agent = "compose-test"
extra_upstream_ca = "/sluice/test-ca.crt"

[[allow]]
host = "api.anthropic.com"
llm = "anthropic"
private = true

[[allow]]
host = "api.openai.com"
llm = "openai"
private = true

# From the environment, as compose.yaml passes it from .env.
[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${s.anthropicSurrogate}"
secret = { env = "ANTHROPIC_API_KEY" }

# From a Docker secret: a root-only 0600 file on the host, copied for uid 1337 by the entrypoint.
[credentials.openai]
hosts = ["api.openai.com"]
surrogate = "${s.openaiSurrogate}"
secret = { file = "/run/sluice/secrets/openai_api_key" }
`;
}

export async function prepareFiles(dir: string, secrets: Secrets): Promise<void> {
  await makePki(join(dir, 'pki'));
  mkdirSync(join(dir, 'records'), { recursive: true });
  writeFileSync(join(dir, 'records', 'origin.ndjson'), '');
  chmodSync(join(dir, 'records'), 0o777);
  writeFileSync(join(dir, 'sluice.toml'), sluiceToml(secrets), { mode: 0o644 });
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'secrets', 'openai_api_key'), secrets.openaiReal, { mode: 0o600 });
}

/** Builds (or finds cached) the stand-in base image; returns its reference. */
export async function baseImage(log: (line: string) => void): Promise<string> {
  const given = process.env.SLUICE_TEST_BASE_IMAGE;
  if (given !== undefined && given !== '') return given;
  const result = await run('bash', [join(HERE, 'build-base-image.sh'), REPO], { timeoutMs: 600_000 });
  result.stderr.split('\n').filter(Boolean).forEach(log);
  if (result.code !== 0) throw new Error(`build-base-image.sh failed:\n${result.stderr.slice(-3000)}`);
  return result.stdout.trim().split('\n').pop() ?? '';
}

/** Legacy builder, host network (the test's engine gives containers no route out). */
async function dockerBuild(args: string[], options: { cwd?: string; input?: string } = {}): Promise<void> {
  await mustRun('docker', ['build', '--network', 'host', ...args], {
    ...options, timeoutMs: 600_000, env: { ...process.env, DOCKER_BUILDKIT: '0' },
  });
}

/** The agent / origin / DNS image, cached by the hash of its Dockerfile and base. */
export async function toolsImage(base: string): Promise<string> {
  const dockerfile = readFileSync(join(HERE, 'tools.Dockerfile'), 'utf8');
  const tag = `sluice-test-tools:${createHash('sha256').update(dockerfile).update(base).digest('hex').slice(0, 16)}`;
  const exists = await run('docker', ['image', 'inspect', tag], { timeoutMs: 30_000 });
  if (exists.code !== 0) await dockerBuild(['-t', tag, '--build-arg', `BASE_IMAGE=${base}`, '-'], { input: dockerfile });
  return tag;
}

/** sluice's image from the working tree, exactly as compose.yaml builds it (layer cache makes it quick). */
export async function sluiceImage(base: string): Promise<void> {
  await dockerBuild(['-f', 'docker/Dockerfile', '--build-arg', `BASE_IMAGE=${base}`, '-t', SLUICE_IMAGE, '.'], { cwd: REPO });
  // Old builds of this tag become dangling; drop those (and only those: same label).
  await run('docker', ['image', 'prune', '-f', '--filter', 'label=org.opencontainers.image.title=sluice'], { timeoutMs: 60_000 });
}

export interface Compose {
  /** Runs a compose subcommand with the real file, the override and the test's environment. */
  (args: string[], timeoutMs?: number): Promise<RunResult>;
  env: NodeJS.ProcessEnv;
}

export function composeRunner(cmd: string[], dir: string, env: Record<string, string>): Compose {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env, COMPOSE_TEST_DIR: dir, COMPOSE_TEST_SRC: HERE };
  const [bin, ...pre] = cmd;
  const files = ['-p', PROJECT, '-f', join(REPO, 'compose.yaml'), '-f', join(HERE, 'compose.test.yaml')];
  const runner = ((args: string[], timeoutMs = 180_000) =>
    run(bin as string, [...pre, ...files, ...args], { cwd: REPO, env: fullEnv, timeoutMs })) as Compose;
  runner.env = fullEnv;
  return runner;
}

/** The id of a service's container. */
export async function containerId(compose: Compose, service: string): Promise<string> {
  const result = await compose(['ps', '-q', service], 30_000);
  const id = result.stdout.trim().split('\n')[0] ?? '';
  if (result.code !== 0 || id === '') throw new Error(`no container for ${service}: ${result.stderr}`);
  return id;
}

/** docker exec; returns the result whatever the exit code. */
export function exec(id: string, command: string[], options: { user?: string; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const args = ['exec', ...(options.input !== undefined ? ['-i'] : []), ...(options.user !== undefined ? ['-u', options.user] : []), id, ...command];
  return run('docker', args, { timeoutMs: options.timeoutMs ?? 30_000, input: options.input });
}

export async function inspect(id: string, format: string): Promise<string> {
  return (await mustRun('docker', ['inspect', '-f', format, id], { timeoutMs: 30_000 })).trim();
}

/** A container's output so far (both streams: the entrypoint and dnsmasq log to stderr). */
export async function containerLogs(id: string): Promise<string> {
  const result = await run('docker', ['logs', id], { timeoutMs: 30_000 });
  return result.stdout + result.stderr;
}

/** Waits (bounded) until a container reports healthy. */
export async function waitHealthy(id: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let status = '';
  while (Date.now() < deadline) {
    status = await inspect(id, '{{.State.Health.Status}}');
    if (status === 'healthy') return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`container ${id.slice(0, 12)} is ${status}, not healthy, after ${timeoutMs / 1000} s`);
}

/** The fake origin's record of everything it saw. */
export function originRecords(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'records', 'origin.ndjson'), 'utf8').split('\n').filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
