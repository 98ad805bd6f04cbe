// The bench's parsing of wrk output and its check of sluice's performance bar: a misread unit
// or an inverted comparison would silently turn a failed goal into a pass.
import { describe, expect, it } from 'vitest';
import { parseWrk, unproxiedProblem } from '../../bench/load.ts';
import { checkGoals, floorLines, limitLines, renderLlmStreams } from '../../bench/report.ts';
import type { LlmStreamResult } from '../../bench/llm-stream.ts';
import type { PeerResult } from '../../bench/report.ts';

const WRK_LATENCY = `Running 8s test @ https://origin.bench.test/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   300.32us   14.49us   1.07ms   97.25%
    Req/Sec    31.98k     1.32k   33.82k    74.51%
  Latency Distribution
     50%  290.00us
     75%  300.00us
     90%  310.00us
     99%    1.59ms
  162266 requests in 8.10s, 185.54MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  20032.18
Transfer/sec:     36.38MB
`;

describe('parseWrk', () => {
  it('reads rate, count, percentiles in ms and every kind of error', () => {
    const r = parseWrk(WRK_LATENCY);
    expect(r.requestsPerSec).toBe(20032.18);
    expect(r.requests).toBe(162266);
    expect(r.p50Ms).toBeCloseTo(0.29, 6);
    expect(r.p99Ms).toBeCloseTo(1.59, 6);
    expect(r.socketErrors).toBe(5);
    expect(r.non2xx).toBe(7);
  });

  it('converts seconds and leaves percentiles undefined without --latency', () => {
    const r = parseWrk(WRK_LATENCY.replace('1.59ms', '1.20s'));
    expect(r.p99Ms).toBe(1200);
    const plain = parseWrk('  10 requests in 1.00s, 1KB read\nRequests/sec:     10.00\n');
    expect(plain.p50Ms).toBeUndefined();
    expect(plain.socketErrors).toBe(0);
  });

  it('refuses output without a result', () => {
    expect(() => parseWrk('unable to connect to origin.bench.test:https Connection refused')).toThrow(/no result/);
  });
});

function peer(name: string, rps: number, p50Ms: number, conns: number, idleKib?: number): PeerResult {
  const wrk = (requestsPerSec: number) => ({ requestsPerSec, requests: 1, p50Ms, p99Ms: p50Ms, socketErrors: 0, non2xx: 0 });
  return {
    name, status: 'measured', notes: [], problems: [], seconds: 1,
    keepAlive: wrk(rps), latency: wrk(rps), newConnections: wrk(conns),
    ...(idleKib === undefined ? {} : { idle: { connections: 1000, failed: 0, firstError: '', stillOpen: 1000, rssBeforeKib: 0, rssAfterKib: 0, kibPerConnection: idleKib, openSeconds: 1 } }),
  };
}

describe('checkGoals', () => {
  const peers = [peer('direct', 40_000, 0.03, 800), peer('squid', 10_000, 0.3, 150, 150), peer('squid-w2', 12_000, 0.4, 140, 150), peer('mitmproxy', 500, 4, 30, 100)];

  it('passes a sluice that meets every bar, comparing against the better squid', () => {
    const goals = checkGoals([...peers, peer('sluice', 14_400, 0.25, 400, 40)]);
    expect(goals.slice(0, 5).map((g) => g.pass)).toEqual([true, true, true, true, true]);
    expect(goals[0]?.goal).toContain('squid-w2');
  });

  it('fails each bar that is missed', () => {
    const goals = checkGoals([...peers, peer('sluice', 4_999, 0.34, 399, 40.5)]);
    expect(goals.slice(0, 5).map((g) => g.pass)).toEqual([false, false, false, false, false]);
    expect(checkGoals([...peers, peer('sluice', 14_399, 0.25, 400, 40)])[0]?.pass).toBe(false);
  });

  it('checks transfers against the better squid, RSS growth, idle RSS and start-up time', () => {
    const transfer = (mbPerSec: number, growthMib: number) => ({ bytes: 1, seconds: 1, mbPerSec, status: 200, timedOut: false, rssBeforeKib: 50_000, peakRssKib: 50_000 + growthMib * 1024 });
    const squids = [{ ...peers[1] as PeerResult, download: transfer(100, 0), upload: transfer(80, 0) }, { ...peers[2] as PeerResult, download: transfer(120, 0), upload: transfer(60, 0) }];
    const good = { ...peer('sluice', 14_400, 0.25, 400, 40), download: transfer(120, 16), upload: transfer(80, 16), startRssKib: 60 * 1024, readyMs: 500 };
    expect(checkGoals([peers[0] as PeerResult, ...squids, peers[3] as PeerResult, good]).slice(5, 11).map((g) => g.pass)).toEqual([true, true, true, true, true, true]);
    const bad = { ...good, download: transfer(119, 16.1), upload: transfer(79, 16.1), startRssKib: 60 * 1024 + 1, readyMs: 501 };
    expect(checkGoals([peers[0] as PeerResult, ...squids, peers[3] as PeerResult, bad]).slice(5, 11).map((g) => g.pass)).toEqual([false, false, false, false, false, false]);
  });

  it('has no verdict where a figure is missing', () => {
    expect(checkGoals(peers).every((g) => g.pass === undefined)).toBe(true);
  });

  it('judges the same bar on node-floor, and sorts sluice\'s misses into Node\'s limit and its own cost', () => {
    // sluice misses keep-alive (1.2× squid-w2 = 14,400) and the idle bar; node-floor misses
    // keep-alive too but meets the idle bar.
    const goals = checkGoals([...peers, peer('node-floor', 14_000, 0.2, 700, 39), peer('sluice', 13_000, 0.25, 400, 41)]);
    expect(goals[0]).toMatchObject({ pass: false, floor: { pass: false, value: '14,000 vs 1.2 × 12,000' } });
    expect(goals[4]).toMatchObject({ pass: false, floor: { pass: true, value: '39.0 KiB' } });
    expect(limitLines(goals)).toEqual([
      '',
      'Of the 2 bar(s) sluice missed:',
      '- Node\'s floor misses too (the limit is Node\'s): keep-alive req/s ≥ 1.2× squid-w2',
      '- node-floor meets (sluice\'s own cost): ≤ 40 KiB per idle connection',
    ]);
    // Without node-floor in the run there is no floor verdict and nothing to sort.
    const alone = checkGoals([...peers, peer('sluice', 13_000, 0.25, 400, 41)]);
    expect(alone.every((g) => g.floor === undefined)).toBe(true);
    expect(limitLines(alone)).toEqual([]);
  });
});

function llm(firstEvent: { direct: number; sluice: number }, lagP99Ms: number, failed = 0): LlmStreamResult {
  const spread = { median: 0.4, p99: 1 };
  return {
    rounds: 7,
    intervalMs: 20,
    singleIntervalMs: 10,
    warmCalls: 300,
    firstEventFresh: { direct: firstEvent.direct, sluice: firstEvent.sluice + 2, nodeFloor: firstEvent.direct + 2, nginx: firstEvent.direct + 0.5 },
    firstEvent: { ...firstEvent, nodeFloor: firstEvent.direct + 0.5, nginx: firstEvent.direct + 0.25 },
    firstEventNewConnection: { direct: 4, sluice: 6, nodeFloor: 5.5, nginx: NaN },
    eventDelay: { direct: spread, sluice: spread, nodeFloor: spread, nginx: spread },
    concurrent: {
      calls: 100,
      streamsPerCall: 3,
      sluice: { eventDelay: spread, lagP99Ms, lagMaxMs: lagP99Ms * 3, failed },
      nodeFloor: { eventDelay: spread, lagP99Ms: 1, lagMaxMs: 2, failed: 0 },
    },
  };
}

describe('the LLM stream targets', () => {
  const goal = (r: LlmStreamResult | undefined, name: RegExp): boolean | undefined => checkGoals([], r).find((g) => name.test(g.goal))?.pass;

  it('judges the first event by what sluice adds to direct after the warm-up, at the bar exactly', () => {
    expect(goal(llm({ direct: 1, sluice: 2 }, 5), /first SSE event/)).toBe(true);
    expect(goal(llm({ direct: 1, sluice: 2.01 }, 5), /first SSE event/)).toBe(false);
  });

  it('judges the lag at its p99, and gives no verdict when streams failed or nothing was measured', () => {
    expect(goal(llm({ direct: 1, sluice: 1.2 }, 10), /event-loop lag/)).toBe(true);
    expect(goal(llm({ direct: 1, sluice: 1.2 }, 10.1), /event-loop lag/)).toBe(false);
    expect(goal(llm({ direct: 1, sluice: 1.2 }, 3, 1), /event-loop lag/)).toBeUndefined();
    expect(goal(undefined, /event-loop lag/)).toBeUndefined();
    expect(goal(undefined, /first SSE event/)).toBeUndefined();
  });

  it('shows nginx and the Node floor beside sluice, each as added to direct; a way not measured as a dash', () => {
    const lines = renderLlmStreams(llm({ direct: 1, sluice: 3.25 }, 12));
    expect(lines.find((l) => l.startsWith('| request → first event, kept-alive'))).toBe('| request → first event, kept-alive connection, median (after 300 warm-up calls) | 1.00 ms | 1.25 ms (+0.25) | 1.50 ms (+0.50) | 3.25 ms (+2.25) |');
    expect(lines.find((l) => l.startsWith('| … the same, first calls of a fresh process'))).toBe('| … the same, first calls of a fresh process | 1.00 ms | 1.50 ms (+0.50) | 3.00 ms (+2.00) | 5.25 ms (+4.25) |');
    expect(lines.find((l) => l.startsWith('| request → first event, new connection'))).toBe('| request → first event, new connection, median | 4.00 ms | — | 5.50 ms (+1.50) | 6.00 ms (+2.00) |');
    expect(checkGoals([], llm({ direct: 1, sluice: 3.25 }, 12)).find((g) => /first SSE event/.test(g.goal))?.value).toBe('+2.25 ms after 300 warm-up calls (node-floor +0.50 ms, nginx +0.25 ms); a fresh process\'s first calls +4.25 ms');
  });
});

describe('floorLines', () => {
  it('shows sluice as a share of the Node floor and the floor against the better squid', () => {
    const lines = floorLines([peer('squid', 10_000, 0.3, 150, 150), peer('squid-w2', 12_000, 0.4, 140, 150), peer('node-floor', 15_000, 0.2, 500, 45), peer('sluice', 9_000, 0.25, 400, 48)]);
    const keepAlive = lines.find((l) => l.startsWith('- keep-alive')) ?? '';
    expect(keepAlive).toContain('15,000 req/s = 1.25× squid');
    expect(keepAlive).toContain('sluice = 0.60× node-floor');
    expect(lines.find((l) => l.startsWith('- idle'))).toBe('- idle connection: node-floor 45.0 KiB, sluice 48.0 KiB');
  });

  it('names the protocol curl chose for the sluice upload and shows the same upload over HTTP/1.1', () => {
    const up = (mbPerSec: number, httpVersion: string, cpuMsPerMib: number) => ({ bytes: 104_857_600, seconds: 1, mbPerSec, status: 201, timedOut: false, httpVersion, cpuMsPerMib });
    const sluice = { ...peer('sluice', 9_000, 0.25, 400, 48), upload: up(177, '2', 4.0), uploadHttp11: up(260, '1.1', 2.9) };
    const lines = floorLines([{ ...peer('squid', 10_000, 0.3, 150, 150), upload: up(250, '1.1', 2.7) }, { ...peer('node-floor', 15_000, 0.2, 500, 45), upload: up(240, '1.1', 3.1) }, sluice]);
    expect(lines.find((l) => l.startsWith('- 100 MiB upload'))).toBe('- 100 MiB upload: node-floor 240 MB/s, sluice 177 MB/s (curl chose h2), squid 250 MB/s; sluice with curl --http1.1: 260 MB/s (2.9 CPU-ms/MiB; over h2 4.0)');
  });

  it('shows Node\'s TLS alone (tls-pipe) against squid and node-floor when it was measured, and nothing of it otherwise', () => {
    const transfer = (mbPerSec: number, cpuMsPerMib: number) => ({ bytes: 104_857_600, seconds: 1, mbPerSec, status: 200, timedOut: false, httpVersion: '1.1', cpuMsPerMib });
    const base = [peer('squid', 10_000, 0.3, 150, 150), peer('node-floor', 12_000, 0.2, 500, 45), peer('sluice', 9_000, 0.25, 400, 48)];
    const pipe = { ...peer('tls-pipe', 24_000, 0.1, 0), upload: transfer(320, 2.4), download: transfer(300, 3.2) };
    expect(floorLines([...base, pipe]).find((l) => l.startsWith("- Node's TLS alone"))).toBe(
      "- Node's TLS alone (tls-pipe: decrypted bytes piped to the origin, no HTTP): keep-alive 24,000 req/s = 2.40× squid, node-floor = 0.50× tls-pipe; 100 MiB upload 320 MB/s (2.4 CPU-ms/MiB), download 300 MB/s (3.2 CPU-ms/MiB)",
    );
    expect(floorLines(base).some((l) => l.includes('tls-pipe'))).toBe(false);
    expect(floorLines([...base, { ...pipe, status: 'failed' }]).some((l) => l.includes('tls-pipe'))).toBe(false);
  });

  it('says nothing without a measured node-floor', () => {
    expect(floorLines([peer('sluice', 9_000, 0.25, 400, 48)])).toEqual([]);
  });
});

describe('a rate the origin did not serve', () => {
  it('reads the bytes wrk read', () => {
    expect(parseWrk(WRK_LATENCY).bytesRead).toBe(Math.round(185.54 * 1024 * 1024));
  });

  it('is a problem, and no verdict on the keep-alive bar', () => {
    const r = { requestsPerSec: 30_000, requests: 150_000, p50Ms: undefined, p99Ms: undefined, socketErrors: 0, non2xx: 0 };
    expect(unproxiedProblem('keep-alive', { ...r, originRequests: 149_990 }, 32)).toBeUndefined();
    expect(unproxiedProblem('keep-alive', { ...r, originRequests: 70_000 }, 32)).toContain('not a proxied rate');
    const sluice = { ...peer('sluice', 30_000, 0.25, 400, 40), keepAlive: { ...r, originRequests: 70_000 } };
    expect(checkGoals([peer('squid', 10_000, 0.3, 150, 150), sluice])[0]?.pass).toBeUndefined();
  });
});
