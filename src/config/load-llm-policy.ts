// The LLM-aware policy's tables (DESIGN §8): [budget] with [budget.models."GLOB"], and
// [prices."GLOB"]. Model globs use "*" for any run of characters ("claude-sonnet-4-*").
// Split from load.ts to keep each file small.

import { joinKey } from './locate.ts';
import { isTable, readTable, describeType } from './read-table.ts';
import type { Reporter } from './read-table.ts';
import { BUDGET_KEYS, BUDGET_MODEL_KEYS, PRICE_KEYS } from './schema.ts';
import type { BudgetSettings, ModelPrice } from './types.ts';
import { modelGlob } from './values.ts';
import { INVALID } from './read-table.ts';

function readGlobTables<T>(value: unknown, at: Reporter, label: string, read: (pattern: string, entry: Record<string, unknown>, here: Reporter) => T): T[] {
  if (value === undefined) return [];
  if (!isTable(value)) {
    at.report(`expected tables ${label}."MODEL-GLOB", got ${describeType(value)}`);
    return [];
  }
  const out: T[] = [];
  for (const [pattern, entry] of Object.entries(value)) {
    const here = at.at(joinKey(at.key, pattern));
    if (modelGlob(pattern, here) === INVALID) continue;
    if (!isTable(entry)) {
      here.report(`expected a table ${label}."${pattern}", got ${describeType(entry)}`);
      continue;
    }
    out.push(read(pattern, entry, here));
  }
  return out;
}

export function loadBudget(value: unknown, at: Reporter): BudgetSettings {
  if (value !== undefined && !isTable(value)) at.report(`expected a table [budget], got ${describeType(value)}`);
  const table = isTable(value) ? value : {};
  const { models: rawModels, ...rest } = table;
  const { values: v } = readTable(rest, BUDGET_KEYS, at, { label: '[budget]' });
  const models = readGlobTables(rawModels, at.at(joinKey(at.key, 'models')), '[budget.models', (pattern, entry, here) => {
    const { values: m } = readTable(entry, BUDGET_MODEL_KEYS, here, { label: `[budget.models."${pattern}"]` });
    return { pattern, tokensPerDay: m.tokens_per_day, usdPerDay: m.usd_per_day };
  });
  return { requestsPerMinute: v.requests_per_minute, tokensPerDay: v.tokens_per_day, usdPerDay: v.usd_per_day, models };
}

export function loadPrices(value: unknown, at: Reporter): ModelPrice[] {
  return readGlobTables(value, at, '[prices', (pattern, entry, here) => {
    const { values: p } = readTable(entry, PRICE_KEYS, here, { label: `[prices."${pattern}"]` });
    return { pattern, input: p.input, output: p.output };
  });
}

/** Checks across tables: a spend budget needs prices; model rules need an LLM provider. */
export function checkLlmPolicy(budget: BudgetSettings, prices: readonly ModelPrice[], allow: readonly { index: number; llm: unknown; models?: unknown; maxTokens?: unknown }[], root: Reporter): void {
  const wantsUsd = budget.usdPerDay !== undefined || budget.models.some((m) => m.usdPerDay !== undefined);
  if (wantsUsd && prices.length === 0) {
    root.report('a usd_per_day budget needs prices: add [prices."MODEL-GLOB"] tables with input and output (USD per million tokens)', budget.usdPerDay !== undefined ? 'budget.usd_per_day' : 'budget.models');
  }
  for (const rule of allow) {
    if (rule.llm !== undefined) continue;
    if (rule.models !== undefined) root.report('models needs llm = "anthropic" | "openai" | "gemini" on the same rule (sluice reads the model from the LLM request)', `allow[${rule.index}].models`);
    if (rule.maxTokens !== undefined) root.report('max_tokens needs llm = "anthropic" | "openai" | "gemini" on the same rule', `allow[${rule.index}].max_tokens`);
  }
}
