// A real secret store built from TOML and real secret sources, and exchanges to run the real
// credentials step on, with request bodies pushed through the forwarder's own transform chain.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { createSecretStore, type SecretStore } from '../../src/credentials/secret-store.ts';
import type { Exchange } from '../../src/pipeline/exchange.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { credentialStep } from '../../src/steps/credentials/step.ts';
import { SluiceError } from '../../src/errors/codes.ts';
import { transformRequestBody } from '../../src/upstream/request-body.ts';
import { makeTempDir } from './temp-dir.ts';

/** Values used across the credential unit tests. Real secrets are the ones that must never leak. */
export const V = {
  githubReal: 'ghp_REALrealREALrealREAL0123456789',
  githubSurrogate: 'ghp_sluice_surrogate_github_0001',
  anthropicReal: 'sk-ant-api03-REAL-REAL-REAL-REAL-0001',
  anthropicSurrogate: 'sk-ant-api03-sluice-SURROGATE-0001',
  oauthReal: 'oauth-client-secret-REAL-77777',
  oauthSurrogate: 'oauth-client-secret-SURR-00000-longer',
  awsKeyIdReal: 'AKIAREALREALREAL0001',
  awsSecretReal: 'realAwsSecretAccessKey/REAL+real0001',
  awsSessionReal: 'IQoJb3JpZ2luX2VjREALSESSIONTOKEN0001',
  awsKeyIdSurrogate: 'AKIASLUICEEXAMPLE000',
  awsSecretSurrogate: 'sluice-example-surrogate-secret',
} as const;

export interface CredentialFixture {
  dir: string;
  config: Config;
  store: SecretStore;
  runtime: Runtime;
  exchange(init: { host: string; method?: string; path?: string; headers?: HeaderMap; hasBody?: boolean }): Exchange;
  /** Runs the credentials step alone. */
  step(ex: Exchange): SluiceError | undefined;
  /** Streams body chunks through the transforms the step registered; the bytes sent upstream or the refusal. */
  body(ex: Exchange, chunks: readonly (string | Buffer)[]): Promise<Buffer | SluiceError>;
}

export const DEFAULT_TOML = (dir: string): string => `
[proxy]
ca_dir = "${dir}/certs"
log_dir = "${dir}/logs"

[[allow]]
host = "github.com"
[[allow]]
host = "api.anthropic.com"
[[allow]]
host = "auth.example.com"
[[allow]]
host = "*.amazonaws.com"
[[allow]]
host = "elsewhere.test"

[credentials.github]
hosts = ["github.com"]
surrogate = "${V.githubSurrogate}"
secret = { file = "${dir}/github.secret" }

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${V.anthropicSurrogate}"
secret = { env = "T_ANTHROPIC_KEY" }
headers = ["x-custom-auth"]
query = ["key"]

[credentials.oauth]
hosts = ["auth.example.com"]
surrogate = "${V.oauthSurrogate}"
secret = { env = "T_OAUTH_SECRET" }
body = true

[credentials.aws]
type = "aws"
hosts = ["*.amazonaws.com"]
surrogate_access_key_id = "${V.awsKeyIdSurrogate}"
surrogate_secret_access_key = "${V.awsSecretSurrogate}"
access_key_id = { env = "T_AWS_ID" }
secret_access_key = { env = "T_AWS_SECRET" }
session_token = { env = "T_AWS_SESSION", optional = true }
`;

export const ENV = {
  T_ANTHROPIC_KEY: `  ${V.anthropicReal}\n`,
  T_OAUTH_SECRET: V.oauthReal,
  T_AWS_ID: V.awsKeyIdReal,
  T_AWS_SECRET: V.awsSecretReal,
  T_AWS_SESSION: V.awsSessionReal,
};

export function createCredentialFixture(toml: (dir: string) => string = DEFAULT_TOML, env: Record<string, string | undefined> = ENV): CredentialFixture {
  const dir = makeTempDir('cred');
  // Surrounding whitespace, as secret files usually end with a newline.
  writeFileSync(join(dir, 'github.secret'), `${V.githubReal}\n`, { mode: 0o600 });
  const file = join(dir, 'sluice.toml');
  const text = toml(dir);
  writeFileSync(file, text);
  const config = parseConfig(text, file);
  const store = createSecretStore(config, { env });
  const runtime = { config, credentials: store } as unknown as Runtime;
  return {
    dir,
    config,
    store,
    runtime,
    exchange(init) {
      return {
        conn: { id: 'c1', listener: 'tls', sni: init.host, host: init.host, remoteAddress: '127.0.0.1', remotePort: 1, upstreamPort: 443 },
        runtime,
        startedAt: 0,
        method: init.method ?? 'GET',
        path: init.path ?? '/',
        host: init.host,
        authority: init.host,
        headers: { ...(init.headers ?? {}) },
        hasBody: init.hasBody ?? false,
        rule: undefined,
        resolved: undefined,
        credential: undefined,
        trace: [],
        requestBody: [],
        response: [],
      };
    },
    step(ex) {
      const r = credentialStep.onRequest(ex);
      if (r instanceof Promise) throw new Error('the credentials step is synchronous');
      return r;
    },
    async body(ex, chunks) {
      const source = Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
      const out = transformRequestBody(source, ex.requestBody);
      const parts: Buffer[] = [];
      try {
        for await (const part of out) parts.push(part as Buffer);
      } catch (err) {
        if (err instanceof SluiceError) return err;
        throw err;
      }
      return Buffer.concat(parts);
    },
  };
}
