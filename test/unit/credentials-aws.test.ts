// AWS without SigV4: the surrogate key id is recognised (and left for the sigv4 step), any
// other key id is foreign, and the agent's own session token is never forwarded.
import { describe, expect, it } from 'vitest';
import { createCredentialFixture, V } from '../helpers/credentials-fixture.ts';
import { SluiceError } from '../../src/errors/codes.ts';
import { droppedSecurityToken } from '../../src/steps/credentials/aws.ts';

const f = createCredentialFixture();
const sigv4 = (keyId: string): string =>
  `AWS4-HMAC-SHA256 Credential=${keyId}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd`;
const host = 'bucket.s3.us-east-1.amazonaws.com';

describe('AWS credential places', () => {
  it('marks a request signed with the surrogate key id and leaves it for sigv4', () => {
    const headers = { authorization: sigv4(V.awsKeyIdSurrogate), 'x-amz-date': '20260101T000000Z' };
    const ex = f.exchange({ host, headers });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.credential).toBe('aws');
    expect(ex.headers.authorization).toBe(headers.authorization);
    expect(ex.trace).toContainEqual({ step: 'credentials', action: 'left_for_sigv4', detail: 'aws in header authorization (SigV4 Credential)' });
  });

  it('recognises X-Amz-Credential in a presigned URL', () => {
    const path = `/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${V.awsKeyIdSurrogate}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab`;
    const ex = f.exchange({ host, path });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.credential).toBe('aws');
  });

  it('refuses another key id as foreign, in the header or the query', () => {
    for (const init of [
      { headers: { authorization: sigv4('AKIAATTACKERKEY00001') } },
      { path: '/key?X-Amz-Credential=AKIAATTACKERKEY00001%2F20260101%2Fus-east-1%2Fs3%2Faws4_request' },
      { headers: { authorization: 'Bearer something-else-entirely' } },
    ]) {
      const r = f.step(f.exchange({ host, ...init }));
      expect(r).toBeInstanceOf(SluiceError);
      expect((r as SluiceError).reason).toBe('foreign_credential');
      expect((r as SluiceError).message).not.toContain('AKIAATTACKER');
    }
  });

  it('refuses the real access key id as a real secret', () => {
    const r = f.step(f.exchange({ host, headers: { authorization: sigv4(V.awsKeyIdReal) } }));
    expect((r as SluiceError).reason).toBe('real_secret');
  });

  it('never forwards the agent\'s X-Amz-Security-Token (header or query), and keeps it for sigv4', () => {
    const ex = f.exchange({
      host,
      path: '/key?a=1&X-Amz-Security-Token=agent-session&b=2',
      headers: { authorization: sigv4(V.awsKeyIdSurrogate), 'x-amz-security-token': 'agent-session-token' },
    });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers['x-amz-security-token']).toBeUndefined();
    expect(ex.path).toBe('/key?a=1&b=2');
    expect(droppedSecurityToken(ex)).toEqual({ header: 'agent-session-token', query: 'agent-session' });
    expect(ex.trace).toContainEqual({ step: 'credentials', action: 'dropped_header', detail: 'x-amz-security-token' });
  });

  it('leaves X-Amz-Security-Token alone on hosts without an AWS credential', () => {
    const ex = f.exchange({ host: 'elsewhere.test', headers: { 'x-amz-security-token': 'whatever-token' } });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers['x-amz-security-token']).toBe('whatever-token');
  });

  it('the surrogate secret access key is a surrogate too: misuse elsewhere', () => {
    const r = f.step(f.exchange({ host: 'elsewhere.test', headers: { 'x-leak': V.awsSecretSurrogate } }));
    expect((r as SluiceError).reason).toBe('surrogate_misuse');
  });
});
