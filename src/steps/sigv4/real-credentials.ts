// Where the sigv4 step gets the real AWS key pair. Real values live only in the secret store
// (src/credentials/secret-store.ts, DESIGN.md "one place that holds secrets"); this is the one
// question the step asks it. Tests pass their own source.
import type { Exchange } from '../../pipeline/exchange.ts';
import type { RealAwsCredentials } from '../../sigv4/resign.ts';

export interface AwsRealCredentialSource {
  /** The real key id, secret and optional session token of the `type = "aws"` credential `name`. */
  realAwsCredentials(name: string): RealAwsCredentials | undefined;
}

export type RealCredentialsOf = (ex: Exchange) => AwsRealCredentialSource | undefined;

/** The runtime's secret store. */
export const fromSecretStore: RealCredentialsOf = (ex) => ex.runtime.credentials;
