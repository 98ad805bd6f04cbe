// One access-log line and one metrics update per HTTP request (or upgrade).
import type { ConnectionInfo, Exchange } from '../pipeline/exchange.ts';
import type { SluiceError } from '../errors/codes.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { ForwardResult } from '../upstream/forward.ts';
import { MAX_METHOD_LENGTH } from './request-target.ts';

const round = (ms: number): number => Math.round(ms * 100) / 100;

/** Paths are agent-chosen: the log keeps 2 KiB of one (a flood of long paths fills no disk).
 *  Methods past MAX_METHOD_LENGTH are refused (request-target.ts) and logged cut to it. */
const MAX_LOGGED_PATH = 2048;

/**
 * The first `max` characters of agent-chosen text and its length. A copy, not a slice: the
 * record waits for its batch (audit/batched-file.ts), and a V8 slice would keep the whole text
 * (up to max_header_bytes) alive with it. The JSON round trip is exact, lone surrogates included.
 */
function keptText(text: string, max: number): string {
  if (text.length <= max) return text;
  const kept = JSON.parse(JSON.stringify(text.slice(0, max))) as string;
  return `${kept}…(${text.length} chars)`;
}

/**
 * decision: what the policy said ("deny": refused by sluice; "allow": forwarded, even if the
 * upstream then failed, which `reason` names).
 */
export function logRequest(
  runtime: Runtime,
  conn: ConnectionInfo,
  request: { method: string | undefined; url: string | undefined; startedAt: number },
  ex: Partial<Exchange>,
  result: Partial<ForwardResult>,
  error: SluiceError | undefined,
  decision: 'allow' | 'deny',
): void {
  const { accessLog, metrics } = runtime.services;
  const status = result.status ?? 0;
  // Learn and report modes: the allowlist's verdict is what the log is for (sluice suggest),
  // unless a later step refused the request for a reason of its own (a private address, a
  // misused surrogate): then that refusal is the decision.
  const refusedLater = decision === 'deny' && error !== undefined && error !== ex.wouldDeny;
  const logged = ex.wouldDeny !== undefined && !refusedLater ? 'would_deny' : decision;
  const reason = logged === 'would_deny' ? ex.wouldDeny?.reason : error?.reason;
  metrics.countRequest(logged, status, reason);
  accessLog.write({
    conn: conn.id,
    listener: conn.listener,
    sni: conn.sni,
    host: ex.host,
    method: request.method === undefined ? undefined : keptText(request.method, MAX_METHOD_LENGTH),
    // After a query swap the path holds the real secret; a refused URL holds what the agent sent.
    path: keptText(runtime.credentials.redact(ex.path ?? request.url ?? ''), MAX_LOGGED_PATH),
    status,
    decision: logged,
    reason,
    rule: ex.rule === undefined ? undefined : `allow[${ex.rule.index}]`,
    credential: ex.credential,
    bytes_in: result.bytesIn ?? 0,
    bytes_out: result.bytesOut ?? 0,
    ms: round(performance.now() - request.startedAt),
    ttfb_ms: result.ttfbMs === undefined ? undefined : round(result.ttfbMs),
    outcome: result.outcome,
    message: error === undefined ? undefined : runtime.credentials.redact(error.message),
    // A copy (the line is formatted with its batch, later); an empty trace is left out.
    trace: ex.trace !== undefined && ex.trace.length > 0 ? ex.trace.slice() : undefined,
  });
}
