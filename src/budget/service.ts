// The ledger as sluice runs it: loaded from log_dir/budget.json (or rebuilt from llm.ndjson),
// saved after each change, flushed on shutdown.
import type { Config } from '../config/types.ts';
import type { OpsLog } from '../audit/ops-log.ts';
import { createLedger, type Ledger } from './ledger.ts';
import { createStateWriter, loadBudgetState } from './state-file.ts';

export interface BudgetService extends Ledger {
  /** Writes pending state now (SIGTERM). */
  flush(): void;
}

export function createBudgetService(config: Config, opsLog: OpsLog, clock: () => number = Date.now): BudgetService {
  const { logDir } = config.proxy;
  const loaded = loadBudgetState(logDir, config.prices, clock());
  if (loaded.problem !== undefined) opsLog.warn({ problem: loaded.problem }, 'budget state');
  const writer = createStateWriter(logDir, (err) => opsLog.error({ err }, 'budget state could not be saved'));
  const ledger = createLedger(loaded.state, clock);
  ledger.onChange = (state) => writer.save(state);
  // A rebuilt day replaces the unreadable file at once.
  if (loaded.problem !== undefined) writer.save(ledger.snapshot());
  return Object.assign(ledger, { flush: () => writer.flush() });
}
