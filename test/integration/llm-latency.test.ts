// Zero added latency (issue 5): with the LLM log on, each SSE event reaches the client through
// sluice as soon as it would directly. The fake provider sends one event every 20 ms; the
// client times each event's arrival, directly and through sluice, and the differences must stay
// within a few milliseconds (loopback + one TLS hop), never growing along the stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { startLlmOrigin, type LlmOrigin } from '../helpers/llm-origin.ts';
import { closeLlmLog } from '../../src/audit/llm/llm-log-registry.ts';

const ADDRESS = '127.0.0.7';
const INTERVAL_MS = 20;
let pki: TestPki;
let origin: LlmOrigin;
let dns: TestResolver;
let t: TestSluice;

beforeAll(async () => {
  pki = await createTestPki();
  const cert = await pki.issue(['api.anthropic.com']);
  origin = await startLlmOrigin(cert, ADDRESS);
  dns = await startDnsmasq({ 'api.anthropic.com': [ADDRESS] });
  t = await startTestSluice(`
[proxy]
extra_upstream_ca = "${pki.caCert}"
[upstream]
https_port = ${origin.port}
[dns]
upstream = "${dns.address}"
[[allow]]
host = "api.anthropic.com"
llm = "anthropic"
private = true
`);
});

afterAll(async () => {
  await t?.stop();
  if (t !== undefined) await closeLlmLog(t.config);
  await origin?.stop();
  await dns?.stop();
});

/** Per event: milliseconds from the origin writing it to the client having it whole. */
async function eventDelays(run: string, port: number, ca: string, address: string): Promise<number[]> {
  const dispatcher = new Agent({
    connect: { ca, lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address, family: 4 }]) } as never,
  });
  try {
    const res = await request(`https://api.anthropic.com:${port}/v1/messages`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-interval-ms': String(INTERVAL_MS), 'x-test-run': run },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'timing' }] }),
    });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8');
      const complete = text.split('\n\n').length - 1;
      while (arrivals.length < complete) arrivals.push(performance.now());
    }
    // The origin runs in this process: one clock for both ends.
    const sent = origin.eventTimes.get(run) ?? [];
    return arrivals.map((at, i) => at - (sent[i] as number));
  } finally {
    await dispatcher.close();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

describe('time to each event, direct vs through sluice with the LLM log on', () => {
  it('adds at most a few milliseconds per event, and nothing that grows along the stream', async () => {
    const direct = await eventDelays('direct', origin.port, readFileSync(pki.caCert, 'utf8'), ADDRESS);
    const proxied = await eventDelays('sluice', t.sluice.ports.https, readFileSync(t.caCert, 'utf8'), '127.0.0.1');
    expect(direct.length).toBeGreaterThan(20);
    expect(proxied).toHaveLength(direct.length);
    const added = median(proxied) - median(direct);
    const early = median(proxied.slice(0, 8));
    const late = median(proxied.slice(-8));
    console.log(`[llm latency] ${direct.length} events ${INTERVAL_MS} ms apart; origin write → client, median: direct ${median(direct).toFixed(2)} ms, through sluice ${median(proxied).toFixed(2)} ms (first event ${(proxied[0] as number).toFixed(2)} ms); added ${added.toFixed(2)} ms; first 8 vs last 8 through sluice ${early.toFixed(2)} / ${late.toFixed(2)} ms`);
    expect(added).toBeLessThan(5);
    expect(late).toBeLessThan(early + 5);
    const line = await t.waitForLog((l) => l.host === 'api.anthropic.com' && l.status === 200);
    expect(line.outcome).toBe('complete');
  });
});
