// Zero added latency for LLM streams (issue 5), measured: a fake Anthropic origin sends a real
// tool-use SSE stream one event every 20 ms; the client times each event's arrival directly and
// through sluice with the LLM log on. Loopback only, bounded. Run: npx node bench/llm-stream.ts
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { createTestPki } from '../test/helpers/pki.ts';
import { startDnsmasq } from '../test/helpers/dnsmasq.ts';
import { startTestSluice } from '../test/helpers/sluice.ts';
import { startLlmOrigin } from '../test/helpers/llm-origin.ts';

const ADDRESS = '127.0.0.7';
const INTERVAL_MS = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Streaming calls at once through sluice for the event-loop lag figure. */
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 100);

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
async function run(label: string, port: number, ca: string, address: string, onFirstByte?: () => void): Promise<{ delays: number[]; ttfb: number }> {
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
    let carry = '';
    let complete = 0;
    let ttfb = 0;
    for await (const chunk of res.body) {
      if (ttfb === 0) {
        ttfb = performance.now() - started;
        onFirstByte?.();
      }
      // Count event ends ("\n\n") in the new bytes only (plus a carried "\n"): re-splitting the
      // whole text each time made the clients' own work quadratic in the stream's length.
      const joined = carry + (chunk as Buffer).toString('utf8');
      complete += joined.split('\n\n').length - 1;
      carry = joined.endsWith('\n') && !joined.endsWith('\n\n') ? '\n' : '';
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
const firstDirect: number[] = [];
const firstProxied: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const d = await run(`direct-${i}`, origin.port, readFileSync(pki.caCert, 'utf8'), ADDRESS);
  const p = await run(`sluice-${i}`, t.sluice.ports.https, readFileSync(t.caCert, 'utf8'), '127.0.0.1');
  direct.push(...d.delays.slice(1));
  proxied.push(...p.delays.slice(1));
  ttfbDirect.push(d.ttfb);
  ttfbProxied.push(p.ttfb);
  if (d.delays[0] !== undefined) firstDirect.push(d.delays[0]);
  if (p.delays[0] !== undefined) firstProxied.push(p.delays[0]);
}
// CONCURRENT streams at once through sluice. sluice runs in this process (test helper), so the
// lag below also carries the clients' own work: an upper bound for sluice's.
// Two windows: everything (200 TLS handshakes in this one process at once), and the streaming
// alone, from the moment every stream has its first bytes.
const loop = monitorEventLoopDelay({ resolution: 1 });
const streaming = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
let streamsStarted = 0;
const onFirstByte = (): void => {
  if (++streamsStarted === CONCURRENT) streaming.enable();
};
const many = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => run(`many-${i}`, t.sluice.ports.https, readFileSync(t.caCert, 'utf8'), '127.0.0.1', onFirstByte)));
loop.disable();
streaming.disable();
const manyDelays = many.flatMap((r) => r.delays.slice(1));
const lagMs = (ns: number): number => Math.max(0, ns / 1e6 - 1); // beyond the 1 ms sampling interval
console.log(`LLM stream: ${ROUNDS} streams each way, events ${INTERVAL_MS} ms apart, new connection per stream, LLM log on`);
console.log('| | direct | through sluice | added |\n|---|---|---|---|');
console.log(`| time to first byte, median | ${median(ttfbDirect).toFixed(2)} ms | ${median(ttfbProxied).toFixed(2)} ms | ${(median(ttfbProxied) - median(ttfbDirect)).toFixed(2)} ms |`);
console.log(`| first event: origin write → client has it, median | ${median(firstDirect).toFixed(2)} ms | ${median(firstProxied).toFixed(2)} ms | ${(median(firstProxied) - median(firstDirect)).toFixed(2)} ms |`);
console.log(`| origin write → client has event, median | ${median(direct).toFixed(2)} ms | ${median(proxied).toFixed(2)} ms | ${(median(proxied) - median(direct)).toFixed(2)} ms |`);
console.log(`| origin write → client has event, p99 | ${p99(direct).toFixed(2)} ms | ${p99(proxied).toFixed(2)} ms | ${(p99(proxied) - p99(direct)).toFixed(2)} ms |`);
console.log(`\n${CONCURRENT} streams at once through sluice: origin write → client has event, median ${median(manyDelays).toFixed(2)} ms, p99 ${p99(manyDelays).toFixed(2)} ms; event-loop lag (sluice and the clients, one process) p99 ${lagMs(loop.percentile(99)).toFixed(2)} ms, max ${lagMs(loop.max).toFixed(2)} ms; once all were streaming: p99 ${lagMs(streaming.percentile(99)).toFixed(2)} ms, max ${lagMs(streaming.max).toFixed(2)} ms`);
await t.stop();
await origin.stop();
await dns.stop();
process.exit(0);
