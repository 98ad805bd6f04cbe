// `sluice mint`: print a scoped, expiring token that sluice accepts in place of a credential's
// surrogate (a macaroon, see credentials/macaroon.ts). `--attenuate TOKEN` narrows an existing
// token offline, without the key: what a holder does to hand a weaker token on.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseHostPattern } from '../config/host-pattern.ts';
import { hostPatternsOverlap } from '../names/host.ts';
import type { Credential } from '../config/types.ts';
import { attenuateToken, caveatError, mintToken, parseToken } from '../credentials/macaroon.ts';
import { loadOrCreateMintKey, mintKeyPath } from '../credentials/mint-key.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  now: () => number;
}

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  now: () => Date.now(),
};

const USAGE = `usage:
  sluice mint --credential NAME [-c sluice.toml] [CAVEATS]   a new token for a bearer credential
  sluice mint --attenuate TOKEN [CAVEATS]                    the token with more caveats (no key needed)
caveats (each narrows; all must hold):
  --hosts H[,H…]         host names or "*.example.com" patterns (default: all of the credential's hosts)
  --methods M[,M…]       e.g. GET,HEAD
  --paths G[,G…]         path globs, e.g. "/org/**" ("*" one segment, "**" many)
  --valid-for DURATION   e.g. 30m, 1h, 7d (minting defaults to 1h)
  --not-before TIME      ISO-8601 time, or +DURATION from now
The token is printed on stdout; the key is ca_dir/mint.key (0600), created on first use.
`;

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseDuration(text: string): number {
  const m = /^([1-9][0-9]*)([smhd])$/.exec(text);
  if (m === null) throw new UsageError(`--valid-for ${JSON.stringify(text)}: write a number and a unit, e.g. 30m, 1h, 7d`);
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

function parseTime(text: string, now: number): number {
  if (text.startsWith('+')) return now + parseDuration(text.slice(1));
  const at = Date.parse(text);
  if (!Number.isFinite(at)) throw new UsageError(`--not-before ${JSON.stringify(text)}: an ISO-8601 time like 2026-01-31T09:00:00Z, or +DURATION`);
  return at;
}

class UsageError extends Error {}

function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError('an empty list; give at least one value');
  return items;
}

function buildCaveats(values: Record<string, string | boolean | undefined>, now: number, defaultValidFor: number | undefined, credential?: Credential): string[] {
  const caveats: string[] = [];
  const hosts = list(values.hosts as string | undefined);
  if (hosts !== undefined) {
    const patterns = hosts.map((h) => {
      const parsed = parseHostPattern(h);
      if (!parsed.ok) throw new UsageError(`--hosts: ${parsed.reason}`);
      if (credential !== undefined && !credential.hosts.some((c) => hostPatternsOverlap(c, parsed.pattern))) {
        throw new UsageError(`--hosts: "${h}" is outside the hosts of credential "${credential.name}" (${credential.hosts.join(', ')})`);
      }
      return parsed.pattern;
    });
    caveats.push(`hosts=${patterns.join(',')}`);
  }
  const methods = list(values.methods as string | undefined);
  if (methods !== undefined) caveats.push(`methods=${methods.map((m) => m.toUpperCase()).join(',')}`);
  const paths = list(values.paths as string | undefined);
  if (paths !== undefined) caveats.push(`paths=${paths.join(',')}`);
  if (values['not-before'] !== undefined) caveats.push(`not-before=${new Date(parseTime(values['not-before'] as string, now)).toISOString()}`);
  const validFor = values['valid-for'] !== undefined ? parseDuration(values['valid-for'] as string) : defaultValidFor;
  if (validFor !== undefined) caveats.push(`expires=${new Date(now + validFor).toISOString()}`);
  for (const caveat of caveats) {
    const error = caveatError(caveat);
    if (error !== undefined) throw new UsageError(error);
  }
  return caveats;
}

/** Runs `sluice mint …` with argv after "mint"; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function mintCommand(argv: string[], io: CliIo = processIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        credential: { type: 'string' },
        attenuate: { type: 'string' },
        hosts: { type: 'string' },
        methods: { type: 'string' },
        paths: { type: 'string' },
        'valid-for': { type: 'string' },
        'not-before': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`sluice mint: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.stdout(USAGE);
    return 0;
  }
  if ((values.credential === undefined) === (values.attenuate === undefined)) {
    io.stderr(`sluice mint: give exactly one of --credential NAME or --attenuate TOKEN\n${USAGE}`);
    return 2;
  }
  const now = io.now();
  try {
    if (values.attenuate !== undefined) {
      if (values.config !== undefined) throw new UsageError('--attenuate needs no config (-c): it uses no key');
      const token = values.attenuate;
      if (parseToken(token) === undefined) throw new UsageError('--attenuate: that is not a sluice minted token');
      const caveats = buildCaveats(values, now, undefined);
      if (caveats.length === 0) throw new UsageError('--attenuate: add at least one caveat');
      io.stdout(`${attenuateToken(token, caveats)}\n`);
      io.stderr(`sluice mint: added ${caveats.join('; ')}\n`);
      return 0;
    }
    const { loadConfig } = await import('../config/load.ts');
    const config = await loadConfig(resolve(values.config ?? 'sluice.toml'));
    const name = values.credential as string;
    const credential = config.credentials.find((c) => c.name === name);
    if (credential === undefined) {
      const known = config.credentials.map((c) => c.name).join(', ') || 'none';
      throw new UsageError(`no credential "${name}" in ${config.file} (configured: ${known})`);
    }
    if (credential.type !== 'bearer') {
      throw new UsageError(`credential "${name}" is type = "${credential.type}"; tokens stand in for bearer surrogates only`);
    }
    const caveats = buildCaveats(values, now, UNITS.h, credential);
    const { key, created } = loadOrCreateMintKey(config.proxy.caDir);
    if (created) io.stderr(`sluice mint: created the mint key ${mintKeyPath(config.proxy.caDir)} (0600); a running sluice picks it up\n`);
    io.stdout(`${mintToken(key, name, caveats)}\n`);
    io.stderr(`sluice mint: token for credential "${name}": ${caveats.join('; ')}\n`);
    return 0;
  } catch (err) {
    io.stderr(`sluice mint: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
