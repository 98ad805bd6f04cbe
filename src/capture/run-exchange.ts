// What every captured request (plain or upgrade) goes through: build the exchange strictly,
// run the steps, then either refuse or proceed. One place, so the two paths cannot drift.
import type { ConnectionInfo, Exchange } from '../pipeline/exchange.ts';
import { runSteps } from '../pipeline/step.ts';
import { requestSteps } from '../steps/index.ts';
import { SluiceError } from '../errors/codes.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { buildExchange, type AnyRequest } from './exchange-builder.ts';

export function runExchange(
  req: AnyRequest,
  conn: ConnectionInfo,
  runtime: Runtime,
  startedAt: number,
  refuse: (ex: Partial<Exchange>, error: SluiceError) => void,
  proceed: (ex: Exchange) => void,
): void {
  const exchange = buildExchange(req, conn, runtime, startedAt);
  if (exchange instanceof SluiceError) {
    refuse({ host: conn.host }, exchange);
    return;
  }
  const failed = (err: unknown): void => {
    runtime.services.opsLog.error({ err, conn: conn.id }, 'request pipeline failed');
    refuse(exchange, new SluiceError('upstream_error', 500, 'internal error in sluice'));
  };
  const decided = (refusal: SluiceError | undefined): void => {
    if (refusal !== undefined) refuse(exchange, refusal);
    else proceed(exchange);
  };
  let outcome: ReturnType<typeof runSteps>;
  try {
    outcome = runSteps(requestSteps, exchange);
  } catch (err) {
    failed(err);
    return;
  }
  if (outcome instanceof Promise) {
    outcome.then(decided).catch(failed);
    return;
  }
  try {
    decided(outcome);
  } catch (err) {
    failed(err);
  }
}
