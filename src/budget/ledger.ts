// What this agent has spent on LLM calls today (UTC): tokens and USD, in total and per model,
// counted from the usage that responses report (plain and streamed; the LLM audit reads it),
// plus a requests-per-minute token bucket. A request is checked before it leaves; its usage is
// added when its response ends, so concurrent calls can overspend by at most the calls already
// in flight (DESIGN §8). The day's counts persist in log_dir/budget.json (state-file.ts).
import type { BudgetSettings, ModelPrice } from '../config/types.ts';
import type { NormalisedUsage } from '../audit/llm/usage.ts';
import { modelMatches } from './model-glob.ts';

export interface ModelSpend {
  tokens: number;
  usd: number;
}

export interface DayState {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  tokens: number;
  usd: number;
  models: Record<string, ModelSpend>;
}

export type BudgetVerdict =
  | { ok: true }
  | { ok: false; reason: 'rate_limited' | 'budget_exhausted'; retryAfterSeconds: number; message: string };

export interface Ledger {
  /** Checks the day budgets for `model` (undefined: the model is not known yet). */
  checkBudget(budget: BudgetSettings, model: string | undefined): BudgetVerdict;
  /** Takes one request from the per-minute bucket, or says when the next one is free. */
  takeRequest(budget: BudgetSettings): BudgetVerdict;
  /** Adds the usage a response reported. */
  record(model: string | undefined, usage: NormalisedUsage | undefined, prices: readonly ModelPrice[]): void;
  /** Today's counts (a copy). */
  snapshot(): DayState;
  /** Called after each change (persistence). */
  onChange?: (state: DayState) => void;
}

/** Whether any day budget is set (tokens, USD, or per model). */
export function budgetApplies(b: BudgetSettings): boolean {
  return b.tokensPerDay !== undefined || b.usdPerDay !== undefined || b.models.length > 0;
}

export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

function secondsToNextUtcDay(now: number): number {
  const d = new Date(now);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now) / 1000));
}

/** USD for `usage` at the first price whose glob matches the model (0 when none does). */
export function priceOf(model: string | undefined, usage: NormalisedUsage, prices: readonly ModelPrice[]): number {
  if (model === undefined) return 0;
  const price = prices.find((p) => modelMatches(p.pattern, model));
  if (price === undefined) return 0;
  return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000;
}

/**
 * Distinct model names kept per day; beyond, usage is counted under "other". The names come
 * from requests and responses, so an agent could otherwise grow the ledger without bound.
 */
export const MAX_MODELS_PER_DAY = 200;
export const OTHER_MODELS = 'other';

/** A prototype-less map: a model named "__proto__" is just a name. */
export function modelMap(from?: Record<string, ModelSpend>): Record<string, ModelSpend> {
  const out = Object.create(null) as Record<string, ModelSpend>;
  if (from !== undefined) for (const [k, v] of Object.entries(from)) out[k] = { tokens: v.tokens, usd: v.usd };
  return out;
}

/** Adds spend for `model` to a day's per-model map, within MAX_MODELS_PER_DAY names. */
export function addModelSpend(models: Record<string, ModelSpend>, model: string, tokens: number, usd: number): void {
  const key = model in models || Object.keys(models).length < MAX_MODELS_PER_DAY ? model : OTHER_MODELS;
  const m = models[key] ?? (models[key] = { tokens: 0, usd: 0 });
  m.tokens += tokens;
  m.usd += usd;
}

export function emptyDay(now: number): DayState {
  return { day: utcDay(now), tokens: 0, usd: 0, models: modelMap() };
}

export function createLedger(initial: DayState, clock: () => number = Date.now): Ledger {
  let state: DayState = { ...initial, models: modelMap(initial.models) };
  // Token bucket: capacity = requests_per_minute, refilled continuously.
  let bucket: { tokens: number; at: number; capacity: number } | undefined;

  const today = (): DayState => {
    const day = utcDay(clock());
    if (state.day !== day) state = { day, tokens: 0, usd: 0, models: modelMap() };
    return state;
  };

  const spentFor = (glob: string): ModelSpend => {
    const out = { tokens: 0, usd: 0 };
    for (const [model, spend] of Object.entries(today().models)) {
      if (!modelMatches(glob, model)) continue;
      out.tokens += spend.tokens;
      out.usd += spend.usd;
    }
    return out;
  };

  const ledger: Ledger = {
    checkBudget(budget, model) {
      const s = today();
      const exhausted = (what: string): BudgetVerdict => ({
        ok: false,
        reason: 'budget_exhausted',
        retryAfterSeconds: secondsToNextUtcDay(clock()),
        message: `${what} is spent for today (UTC); it resets at midnight UTC`,
      });
      if (budget.tokensPerDay !== undefined && s.tokens >= budget.tokensPerDay) return exhausted(`the budget of ${budget.tokensPerDay} tokens per day`);
      if (budget.usdPerDay !== undefined && s.usd >= budget.usdPerDay) return exhausted(`the budget of ${budget.usdPerDay} USD per day`);
      if (model !== undefined) {
        for (const m of budget.models) {
          if (!modelMatches(m.pattern, model)) continue;
          const spent = spentFor(m.pattern);
          if (m.tokensPerDay !== undefined && spent.tokens >= m.tokensPerDay) return exhausted(`the budget of ${m.tokensPerDay} tokens per day for "${m.pattern}"`);
          if (m.usdPerDay !== undefined && spent.usd >= m.usdPerDay) return exhausted(`the budget of ${m.usdPerDay} USD per day for "${m.pattern}"`);
        }
      }
      return { ok: true };
    },
    takeRequest(budget) {
      const rpm = budget.requestsPerMinute;
      if (rpm === undefined) return { ok: true };
      const now = clock();
      if (bucket === undefined || bucket.capacity !== rpm) bucket = { tokens: rpm, at: now, capacity: rpm };
      bucket.tokens = Math.min(rpm, bucket.tokens + ((now - bucket.at) / 60_000) * rpm);
      bucket.at = now;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      const waitMs = ((1 - bucket.tokens) / rpm) * 60_000;
      return { ok: false, reason: 'rate_limited', retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), message: `more than ${rpm} LLM requests per minute` };
    },
    record(model, usage, prices) {
      if (usage === undefined) return;
      const tokens = usage.input_tokens + usage.output_tokens;
      if (tokens <= 0) return;
      const s = today();
      const usd = priceOf(model, usage, prices);
      s.tokens += tokens;
      s.usd += usd;
      addModelSpend(s.models, model ?? 'unknown', tokens, usd);
      ledger.onChange?.(ledger.snapshot());
    },
    snapshot() {
      const s = today();
      return { day: s.day, tokens: s.tokens, usd: s.usd, models: modelMap(s.models) };
    },
  };
  return ledger;
}
