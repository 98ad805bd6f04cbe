// `sluice ca init|show|bundle`: create the CA, print its certificate, write a trust bundle.
// The CA folder comes from the config's proxy.ca_dir, or from --dir without any config.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCa, loadOrCreateCa } from '../tls/ca.ts';
import type { CertificateAuthority } from '../tls/ca.ts';
import { buildTrustBundle, writeTrustBundle } from '../tls/trust-bundle.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

const USAGE = `usage:
  sluice ca init   [-c FILE | --dir DIR]             create the CA if it does not exist
  sluice ca show   [-c FILE | --dir DIR]             print the CA certificate (PEM)
  sluice ca bundle [-c FILE | --dir DIR] [-o FILE]   system roots + the CA, for SSL_CERT_FILE & co.
-c defaults to ./sluice.toml; --dir names the CA folder directly (no config needed).
`;

/** Runs `sluice ca …` with argv after "ca"; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function caCommand(argv: string[], io: CliIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        dir: { type: 'string' },
        out: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.stderr(`sluice ca: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub === undefined || !['init', 'show', 'bundle'].includes(sub) || extra.length > 0) {
    io.stderr(`sluice ca: ${sub === undefined ? 'missing subcommand' : `unexpected ${JSON.stringify(extra[0] ?? sub)}`}\n${USAGE}`);
    return 2;
  }
  if (values.config !== undefined && values.dir !== undefined) {
    io.stderr(`sluice ca: give either -c or --dir, not both\n${USAGE}`);
    return 2;
  }
  if (values.out !== undefined && sub !== 'bundle') {
    io.stderr(`sluice ca: -o is only for \`ca bundle\`\n${USAGE}`);
    return 2;
  }

  try {
    const dir = values.dir !== undefined ? resolve(values.dir) : await caDirFromConfig(values.config ?? 'sluice.toml');
    if (sub === 'init') {
      const { ca, created, warnings } = await loadOrCreateCa(dir);
      warnings.forEach((w) => io.stderr(`warning: ${w}\n`));
      io.stdout(describeInit(ca, dir, created));
      return 0;
    }
    const { ca, warnings } = await loadCa(dir);
    warnings.forEach((w) => io.stderr(`warning: ${w}\n`));
    if (sub === 'show') {
      io.stdout(ca.certPem.endsWith('\n') ? ca.certPem : `${ca.certPem}\n`);
    } else if (values.out !== undefined) {
      const out = resolve(values.out);
      await writeTrustBundle(ca.certPem, out);
      io.stderr(`wrote ${out} (system roots + ${ca.subject}); point SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, … at it\n`);
    } else {
      io.stdout(await buildTrustBundle(ca.certPem));
    }
    return 0;
  } catch (err) {
    io.stderr(`sluice ca ${sub}: ${(err as Error).message}\n`);
    return 1;
  }
}

async function caDirFromConfig(file: string): Promise<string> {
  // Loaded lazily: `--dir` must work without a config (or its module) at all.
  const { loadConfig } = await import('../config/load.ts');
  const config = await loadConfig(resolve(file));
  return config.proxy.caDir;
}

function describeInit(ca: CertificateAuthority, dir: string, created: boolean): string {
  return `${created ? 'Created a new CA' : 'Using the existing CA'} in ${dir}
  certificate  ${ca.certPath}   (public: give it to agents)
  private key  ${ca.keyPath}   (0600: keep it with sluice only)
  subject      ${ca.subject}
  SHA-256      ${ca.fingerprint256}
  valid until  ${ca.notAfter.toISOString()}
To make an agent trust it:
  variables that add a CA:      NODE_EXTRA_CA_CERTS=${ca.certPath}  DENO_CERT=${ca.certPath}
  variables that replace roots: write a bundle with \`sluice ca bundle -o FILE\`, then point
                                SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO,
                                AWS_CA_BUNDLE, PIP_CERT, NPM_CONFIG_CAFILE, … at FILE
`;
}
