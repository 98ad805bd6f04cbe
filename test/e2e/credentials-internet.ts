// The credential services, added to the fake internet of fake-internet.ts without changing it:
// two more addresses on the internet namespace's link (inside 2001:db8:5c::/64 and 198.18.0.0/24,
// which the host namespace already routes there), a resolver of our own that knows the API
// names, and credentials-origin.ts serving them. sluice's `[dns] upstream` points at this
// resolver; it also answers the shared origin's name, so that origin can serve as a host that
// no surrogate may reach.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBareRepo } from '../helpers/git-cgi.ts';
import type { TestPki } from '../helpers/pki.ts';
import { startDaemon } from '../helpers/process.ts';
import { NAMES, NET, type FakeInternet } from './fake-internet.ts';
import type { CredentialOriginConfig, CredentialOriginRecord } from './credentials-origin.ts';

export const CRED_NET = {
  dns: '198.18.0.54',
  origin4: '198.18.0.20',
  origin6: '2001:db8:5c::20',
} as const;

export const CRED_NAMES = {
  anthropic: 'api.anthropic.com',
  openai: 'api.openai.com',
  git: NAMES.git,
  /** Allowlisted, credential-free: where a misused surrogate would go. */
  elsewhere: 'elsewhere.fake.test',
} as const;

export interface RealSecrets {
  anthropic: string;
  openai: string;
  github: string;
}

export interface CredentialSites {
  /** What the credential origin received so far, in order. */
  records(): CredentialOriginRecord[];
  /** The README of org/repo.git. */
  gitContent: string;
  stop(): Promise<void>;
}

const originScript = fileURLToPath(new URL('./credentials-origin.ts', import.meta.url));

export async function startCredentialSites(fi: FakeInternet, dir: string, pki: TestPki, real: RealSecrets): Promise<CredentialSites> {
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const inet = fi.internet;
    for (const a of [CRED_NET.origin4, CRED_NET.dns]) inet.execOk('ip', ['addr', 'add', `${a}/32`, 'dev', 'up0']);
    inet.execOk('ip', ['-6', 'addr', 'add', `${CRED_NET.origin6}/128`, 'dev', 'up0', 'nodad']);

    const records = [
      ...[CRED_NAMES.anthropic, CRED_NAMES.openai, CRED_NAMES.git, CRED_NAMES.elsewhere].map((n) => `--host-record=${n},${CRED_NET.origin4},${CRED_NET.origin6}`),
      `--host-record=${NAMES.allowed},${NET.origin4},${NET.origin6}`,
      `--host-record=${NAMES.evil},${NET.canary4},${NET.canary6}`,
    ];
    const dnsmasq = await startDaemon('ip', ['netns', 'exec', inet.name, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null',
      `--listen-address=${CRED_NET.dns}`, '--bind-interfaces', '--port=53', '--no-resolv', '--no-hosts', '--user=root',
      '--local=/#/', '--log-facility=-', ...records],
    (out) => out.includes('started'), { timeoutMs: 10_000 });
    stops.push(dnsmasq.stop);

    // A real bare repository at org/repo.git, served by git http-backend.
    const gitContent = `hello from git http-backend in the fake internet ${process.pid}\n`;
    const made = await createBareRepo(gitContent);
    const gitRoot = join(dir, 'cred-git');
    mkdirSync(join(gitRoot, 'org'), { recursive: true });
    renameSync(join(made, 'repo.git'), join(gitRoot, 'org', 'repo.git'));
    rmSync(made, { recursive: true, force: true });

    const recordFile = join(dir, 'credential-origin-records.ndjson');
    writeFileSync(recordFile, '');
    const config: CredentialOriginConfig = {
      record: recordFile,
      addresses: [CRED_NET.origin4, CRED_NET.origin6],
      cert: await pki.issue([CRED_NAMES.anthropic, CRED_NAMES.openai, CRED_NAMES.git, CRED_NAMES.elsewhere], 'credentials'),
      gitRoot,
      // elsewhere too: a git client only sends its token after a 401, so the misuse is tried.
      gitHosts: [CRED_NAMES.git, CRED_NAMES.elsewhere],
      real,
    };
    // It holds the real secrets (the origins demand them): root only.
    const configFile = join(dir, 'credential-origin.json');
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
    const origin = await startDaemon('ip', ['netns', 'exec', inet.name, process.execPath, originScript, configFile],
      (out) => out.includes('ready'), { timeoutMs: 15_000 });
    stops.push(origin.stop);

    return {
      records: () => (existsSync(recordFile) ? readFileSync(recordFile, 'utf8') : '').split('\n').filter(Boolean)
        .map((l) => JSON.parse(l) as CredentialOriginRecord),
      gitContent,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
