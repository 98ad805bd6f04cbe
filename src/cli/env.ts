// `sluice env`: the trust variables an agent needs (DESIGN.md §5). Variables that add to a
// runtime's trust store point at sluice's CA; variables that replace it point at the bundle
// (system roots + sluice's CA).
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.ts';

export const CA_FILE = 'ca.crt';
export const BUNDLE_FILE = 'ca-bundle.crt';

/** Variables that add one CA to the runtime's own roots. */
export const ADDITIVE_TRUST_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'DENO_CERT'] as const;
/** Variables that replace the trust store: they need the whole bundle. */
export const REPLACING_TRUST_VARIABLES = [
  'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'AWS_CA_BUNDLE',
  'PIP_CERT', 'NPM_CONFIG_CAFILE', 'CARGO_HTTP_CAINFO', 'CODEX_CA_CERTIFICATE',
  // gRPC C-core runtimes (Python grpcio, Ruby, PHP) read this one and ignore SSL_CERT_FILE.
  'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH',
] as const;

export function trustVariables(caDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ADDITIVE_TRUST_VARIABLES) out[name] = join(caDir, CA_FILE);
  for (const name of REPLACING_TRUST_VARIABLES) out[name] = join(caDir, BUNDLE_FILE);
  return out;
}

const USAGE = `usage: sluice env [-c FILE | --ca-dir DIR] [--export]
  -c, --config FILE   read ca_dir from this configuration (default: sluice.toml; certs/ without it)
  --ca-dir DIR        the folder holding ca.crt and ca-bundle.crt
  --export            prefix each line with "export " (for eval in a shell)
Prints NAME=PATH lines: variables that add a CA point at ca.crt, variables that replace the
trust store point at ca-bundle.crt (system roots + sluice's CA).
`;

export async function envCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c', default: 'sluice.toml' },
      'ca-dir': { type: 'string' },
      export: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  let caDir = values['ca-dir'];
  if (caDir === undefined) {
    caDir = existsSync(values.config) ? (await loadConfig(values.config)).proxy.caDir : resolve('certs');
  }
  const prefix = values.export ? 'export ' : '';
  for (const [name, value] of Object.entries(trustVariables(caDir))) process.stdout.write(`${prefix}${name}=${value}\n`);
  return 0;
}
