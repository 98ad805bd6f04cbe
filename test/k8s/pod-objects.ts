// The ConfigMaps and Secrets an injected pod refers to (DESIGN §7), made the way an operator
// would: sluice's CA from `sluice ca init`, the trust bundle from `sluice ca bundle`, the real
// keys, and the test's sluice.toml (the fake origin's names resolve into 198.18.0.0/15, hence
// `private = true`; the origin's own CA is trusted by extra_upstream_ca, a file beside the config).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun, REPO } from '../compose/fixture.ts';
import type { PodObjects } from './pod-volumes.ts';

export interface K8sSecrets {
  anthropicReal: string;
  anthropicSurrogate: string;
  openaiReal: string;
  openaiSurrogate: string;
}

/** The surrogates are the ones written in the fixtures' app containers. */
export function k8sSecrets(tag: string): K8sSecrets {
  return {
    anthropicReal: `sk-ant-api03-REAL-k8s-${tag}`,
    anthropicSurrogate: 'sk-ant-api03-sluice-k8s-surrogate-0000',
    openaiReal: `sk-proj-REAL-k8s-${tag}`,
    openaiSurrogate: 'sk-proj-sluice-k8s-surrogate-00000000',
  };
}

export function sluiceToml(s: K8sSecrets): string {
  return `[proxy]
agent = "k8s-test"
ca_dir = "/sluice/ca"
log_dir = "/sluice/logs"
extra_upstream_ca = "test-ca.crt"

[[allow]]
host = "api.anthropic.com"
llm = "anthropic"
private = true

[[allow]]
host = "api.openai.com"
llm = "openai"
private = true

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${s.anthropicSurrogate}"
secret = { file = "/sluice/secrets/anthropic" }

[credentials.openai]
hosts = ["api.openai.com"]
surrogate = "${s.openaiSurrogate}"
secret = { file = "/sluice/secrets/openai" }
`;
}

/** sluice-ca, sluice-secrets, sluice-config and sluice-trust; `pkiDir` holds the origin's CA (ca.crt). */
export async function makePodObjects(dir: string, pkiDir: string, s: K8sSecrets): Promise<PodObjects> {
  const caDir = join(dir, 'sluice-ca');
  mkdirSync(caDir, { recursive: true });
  const sluice = (args: string[]): Promise<string> => mustRun(process.execPath, [join(REPO, 'bin/sluice.js'), ...args], { cwd: REPO });
  await sluice(['ca', 'init', '--dir', caDir]);
  await sluice(['ca', 'bundle', '--dir', caDir, '-o', join(dir, 'ca-bundle.crt')]);
  const caCrt = readFileSync(join(caDir, 'ca.crt'), 'utf8');
  return {
    secrets: {
      'sluice-ca': { 'ca.key': readFileSync(join(caDir, 'ca.key'), 'utf8'), 'ca.crt': caCrt },
      'sluice-secrets': { anthropic: s.anthropicReal, openai: s.openaiReal },
    },
    configMaps: {
      'sluice-config': { 'sluice.toml': sluiceToml(s), 'test-ca.crt': readFileSync(join(pkiDir, 'ca.crt'), 'utf8') },
      'sluice-trust': { 'ca.crt': caCrt, 'ca-bundle.crt': readFileSync(join(dir, 'ca-bundle.crt'), 'utf8') },
    },
  };
}
