// The ledger as sluice runs it: loaded from log_dir/budget.json (or rebuilt from llm.ndjson),
// saved after each change, flushed on shutdown.
import type { Config } from '../config/types.ts';
import type { OpsLog } from '../audit/ops-log.ts';
import { budgetApplies, createLedger, type Ledger } from './ledger.ts';
import { createStateWriter, loadBudgetState } from './state-file.ts';
import { runLogWorkNow } from '../audit/llm/log-work.ts';

export interface BudgetService extends Ledger {
  /** Writes pending state now (SIGTERM), after the write under way. */
  flush(): Promise<void>;
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
  // Usage is recorded when an exchange's log line is built, which the LLM log does in slices
  // after the response (audit/llm/log-work.ts): whatever reads the day's counts first lets
  // every exchange that has ended record its usage, so a call is never checked against a
  // ledger that lacks the one before it.
  return {
    checkBudget(budget, model) {
      // Only where a day budget applies: every LLM call is checked, and 100 calls starting
      // together must not each run the log work of the calls that just ended.
      if (budgetApplies(budget)) runLogWorkNow();
      return ledger.checkBudget(budget, model);
    },
    takeRequest: (budget) => ledger.takeRequest(budget),
    record: (model, usage, prices) => ledger.record(model, usage, prices),
    snapshot() {
      runLogWorkNow();
      return ledger.snapshot();
    },
    flush: () => writer.flush(),
  };
}
