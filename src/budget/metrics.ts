// The budget on /metrics: today's spend and its limits, by scope ("total" or a [budget.models]
// glob from the config: a closed set; a model name an agent could invent is never a label).
import { Gauge, type Registry } from '../admin/prom.ts';
import type { BudgetSettings } from '../config/types.ts';
import type { Ledger } from './ledger.ts';
import { modelMatches } from './model-glob.ts';

export function registerBudgetMetrics(registry: Registry, ledger: Ledger, budget: () => BudgetSettings): void {
  const spent = (): Array<{ scope: string; tokens: number; usd: number; tokenLimit?: number; usdLimit?: number }> => {
    const state = ledger.snapshot();
    const b = budget();
    const rows = [{ scope: 'total', tokens: state.tokens, usd: state.usd, tokenLimit: b.tokensPerDay, usdLimit: b.usdPerDay }];
    for (const m of b.models) {
      let tokens = 0;
      let usd = 0;
      for (const [model, s] of Object.entries(state.models)) {
        if (!modelMatches(m.pattern, model)) continue;
        tokens += s.tokens;
        usd += s.usd;
      }
      rows.push({ scope: m.pattern, tokens, usd, tokenLimit: m.tokensPerDay, usdLimit: m.usdPerDay });
    }
    return rows;
  };
  const gauge = (name: string, help: string, pick: (r: ReturnType<typeof spent>[number]) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['scope'],
      registers: [registry],
      collect() {
        this.reset();
        for (const row of spent()) {
          const value = pick(row);
          if (value !== undefined) this.set({ scope: row.scope }, value);
        }
      },
    });
  };
  gauge('sluice_budget_tokens_today', 'LLM tokens (input + output) used today (UTC), by budget scope', (r) => r.tokens);
  gauge('sluice_budget_usd_today', 'LLM spend today (UTC) in USD from [prices], by budget scope', (r) => r.usd);
  gauge('sluice_budget_tokens_limit', 'tokens_per_day of the budget scope', (r) => r.tokenLimit);
  gauge('sluice_budget_usd_limit', 'usd_per_day of the budget scope', (r) => r.usdLimit);
}
