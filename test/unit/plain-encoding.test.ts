// Credential hosts are asked for uncompressed answers; the SigV4 step verifies the agent's
// signature against the values the agent sent and re-signs the ones that go upstream.
import { describe, expect, it } from 'vitest';
import { askForPlaintext, asForwarded, headersAsSent } from '../../src/steps/credentials/plain-encoding.ts';
import type { Exchange } from '../../src/pipeline/exchange.ts';

const exchange = (headers: Record<string, string | string[]>): Exchange => ({ headers: { ...headers } }) as unknown as Exchange;

describe('asking a credential host for plaintext', () => {
  it('sets accept-encoding always, and the gRPC and Connect ones where the agent sent them', () => {
    const ex = exchange({ 'accept-encoding': 'gzip, br', 'grpc-accept-encoding': 'gzip', accept: '*/*' });
    askForPlaintext(ex);
    expect(ex.headers).toEqual({ 'accept-encoding': 'identity', 'grpc-accept-encoding': 'identity', accept: '*/*' });
    const bare = exchange({});
    askForPlaintext(bare);
    expect(bare.headers).toEqual({ 'accept-encoding': 'identity' });
  });

  it('gives the SigV4 step the agent\'s values to verify, and the new ones to sign', () => {
    const ex = exchange({ 'accept-encoding': 'gzip', host: 'bucket.test', constructor: 'a   b' });
    askForPlaintext(ex);
    expect(headersAsSent(ex, ex.headers)).toEqual({ 'accept-encoding': 'gzip', host: 'bucket.test', constructor: 'a   b' });
    // A header the agent did not send is absent again as it signed.
    const bare = exchange({ host: 'bucket.test' });
    askForPlaintext(bare);
    expect(headersAsSent(bare, bare.headers)).toEqual({ host: 'bucket.test' });
    // Only what was replaced changes, whatever the other headers are called.
    const signed = [['accept-encoding', 'gzip'], ['constructor', 'a b'], ['host', 'bucket.test']] as const;
    expect(asForwarded(ex, signed)).toEqual([['accept-encoding', 'identity'], ['constructor', 'a b'], ['host', 'bucket.test']]);
    expect(asForwarded(exchange({}), signed)).toEqual(signed);
  });
});
