// Zero added latency for LLM streams (issue 5), measured: a fake Anthropic origin sends a real
// tool-use SSE stream one event every 20 ms; the client times each event's arrival directly and
// through sluice with the LLM log on. Loopback only, bounded. Run: npx node bench/llm-stream.ts
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { createTestPki } from '../test/helpers/pki.ts';
import { startDnsmasq } from '../test/helpers/dnsmasq.ts';
import { startTestSluice } from '../test/helpers/sluice.ts';
import { startLlmOrigin } from '../test/helpers/llm-origin.ts';
import { closeLlmLog } from '../src/audit/llm/llm-log-registry.ts';

const ADDRESS = '127.0.0.7';
const INTERVAL_MS = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const pki = await createTestPki();
const origin = await startLlmOrigin(await pki.issue(['api.anthropic.com']), ADDRESS);
const dns = await startDnsmasq({ 'api.anthropic.com': [ADDRESS] });
const t = await startTestSluice(`
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

/** Per event: ms from the origin writing it to the client having it whole; plus time to first byte. */
async function run(label: string, port: number, ca: string, address: string): Promise<{ delays: number[]; ttfb: number }> {
  const dispatcher = new Agent({
    connect: { ca, lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address, family: 4 }]) } as never,
  });
  try {
    const started = performance.now();
    const res = await request(`https://api.anthropic.com:${port}/v1/messages`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-interval-ms': String(INTERVAL_MS), 'x-test-run': label },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'timing' }] }),
    });
    const arrivals: number[] = [];
    let text = '';
    let ttfb = 0;
    for await (const chunk of res.body) {
      if (ttfb === 0) ttfb = performance.now() - started;
      text += (chunk as Buffer).toString('utf8');
      const complete = text.split('\n\n').length - 1;
      while (arrivals.length < complete) arrivals.push(performance.now());
    }
    const sent = origin.eventTimes.get(label) ?? [];
    return { delays: arrivals.map((at, i) => at - (sent[i] as number)), ttfb };
  } finally {
    await dispatcher.close();
  }
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
const p99 = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * 0.99))] as number;
const direct: number[] = [];
const proxied: number[] = [];
const ttfbDirect: number[] = [];
const ttfbProxied: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const d = await run(`direct-${i}`, origin.port, readFileSync(pki.caCert, 'utf8'), ADDRESS);
  const p = await run(`sluice-${i}`, t.sluice.ports.https, readFileSync(t.caCert, 'utf8'), '127.0.0.1');
  direct.push(...d.delays.slice(1));
  proxied.push(...p.delays.slice(1));
  ttfbDirect.push(d.ttfb);
  ttfbProxied.push(p.ttfb);
}
console.log(`LLM stream: ${ROUNDS} streams each way, events ${INTERVAL_MS} ms apart, new connection per stream, LLM log on`);
console.log('| | direct | through sluice | added |\n|---|---|---|---|');
console.log(`| time to first byte, median | ${median(ttfbDirect).toFixed(2)} ms | ${median(ttfbProxied).toFixed(2)} ms | ${(median(ttfbProxied) - median(ttfbDirect)).toFixed(2)} ms |`);
console.log(`| origin write → client has event, median | ${median(direct).toFixed(2)} ms | ${median(proxied).toFixed(2)} ms | ${(median(proxied) - median(direct)).toFixed(2)} ms |`);
console.log(`| origin write → client has event, p99 | ${p99(direct).toFixed(2)} ms | ${p99(proxied).toFixed(2)} ms | ${(p99(proxied) - p99(direct)).toFixed(2)} ms |`);
await t.stop();
await closeLlmLog(t.config);
await origin.stop();
await dns.stop();
process.exit(0);
