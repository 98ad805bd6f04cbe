// The access-log record of one request: an agent-chosen path is kept to its first 2 KiB, the
// rest counted, so a flood of long paths cannot fill the log volume.
import { describe, expect, it } from 'vitest';
import { logRequest } from '../../src/capture/request-log.ts';
import type { AccessRecord } from '../../src/audit/access-log.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { ConnectionInfo } from '../../src/pipeline/exchange.ts';

function recorder(): { runtime: Runtime; records: AccessRecord[] } {
  const records: AccessRecord[] = [];
  const runtime = {
    services: { accessLog: { write: (r: AccessRecord) => records.push(r) }, metrics: { countRequest: () => undefined } },
    credentials: { redact: (text: string) => text },
  } as unknown as Runtime;
  return { runtime, records };
}

const conn: ConnectionInfo = { id: 'c-1', listener: 'tls', sni: 'a.example', host: 'a.example', remoteAddress: '127.0.0.1', remotePort: 40000, upstreamPort: 443 };

describe('request log record', () => {
  it('keeps a short path whole', () => {
    const { runtime, records } = recorder();
    logRequest(runtime, conn, { method: 'GET', url: '/x?q=1', startedAt: performance.now() }, { host: 'a.example', path: '/x?q=1' }, { status: 200 }, undefined, 'allow');
    expect(records[0]).toMatchObject({ path: '/x?q=1', status: 200, decision: 'allow', conn: 'c-1' });
  });

  it('keeps the first 2 KiB of a long path exactly (a lone surrogate at the cut too) and counts the rest', () => {
    const { runtime, records } = recorder();
    const path = `/${'a'.repeat(2046)}\ud83d${'b'.repeat(40_000)}`;
    logRequest(runtime, conn, { method: 'GET', url: path, startedAt: performance.now() }, { host: 'a.example', path }, { status: 200 }, undefined, 'allow');
    expect(records[0]?.path).toBe(`${path.slice(0, 2048)}…(${path.length} chars)`);
    expect(records[0]?.path?.endsWith('\ud83d…(42048 chars)')).toBe(true);
  });

  it('copies the trace: steps that add to it later do not change the waiting record', () => {
    const { runtime, records } = recorder();
    const trace = [{ step: 'policy', action: 'learn', detail: 'not_allowlisted' }];
    logRequest(runtime, conn, { method: 'GET', url: '/', startedAt: performance.now() }, { host: 'a.example', path: '/', trace }, { status: 200 }, undefined, 'allow');
    trace.push({ step: 'late', action: 'x', detail: 'y' });
    expect(records[0]?.trace).toEqual([{ step: 'policy', action: 'learn', detail: 'not_allowlisted' }]);
  });
});
