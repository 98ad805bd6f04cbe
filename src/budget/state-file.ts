// The budget's persistence: today's counts in log_dir/budget.json, written atomically (a
// temporary file renamed over the old one) at most every 200 ms and on shutdown, so a kill -9
// loses at most the usage of the last 200 ms. A missing or unreadable file is not fatal:
// the day is rebuilt from llm.ndjson, which has every exchange's model and usage (the access
// log has neither), and the problem is logged.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addModelSpend, emptyDay, priceOf, utcDay, type DayState } from './ledger.ts';
import type { ModelPrice } from '../config/types.ts';
import type { NormalisedUsage } from '../audit/llm/usage.ts';

export const BUDGET_FILE = 'budget.json';
/** The largest llm.ndjson today's usage is rebuilt from. */
const MAX_REBUILD_BYTES = 256 * 1024 * 1024;
const WRITE_EVERY_MS = 200;

function isDayState(v: unknown): v is DayState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  if (typeof s.day !== 'string' || typeof s.tokens !== 'number' || typeof s.usd !== 'number') return false;
  if (typeof s.models !== 'object' || s.models === null) return false;
  return Object.values(s.models as Record<string, unknown>).every((m) => {
    const spend = m as Record<string, unknown>;
    return typeof m === 'object' && m !== null && typeof spend.tokens === 'number' && typeof spend.usd === 'number';
  });
}

/** Today's usage from the LLM log (lines whose `time` falls on today's UTC day). */
export function dayFromLlmLog(logDir: string, prices: readonly ModelPrice[], now: number): DayState {
  const state = emptyDay(now);
  const file = join(logDir, 'llm.ndjson');
  // Only a regular file of a size the log can reach (it rotates at [log] max_bytes): anything
  // else (a device, a runaway file) is not read, and the day starts from zero.
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return state;
    size = stat.size;
  } catch {
    return state;
  }
  if (size > MAX_REBUILD_BYTES) return state;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith(`{"time":"${state.day}`)) continue;
    let rec: { model?: unknown; usage?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    const usage = rec.usage as NormalisedUsage | null | undefined;
    if (usage === null || usage === undefined || typeof usage.input_tokens !== 'number' || typeof usage.output_tokens !== 'number') continue;
    const model = typeof rec.model === 'string' ? rec.model : 'unknown';
    const tokens = usage.input_tokens + usage.output_tokens;
    const usd = priceOf(model, usage, prices);
    state.tokens += tokens;
    state.usd += usd;
    addModelSpend(state.models, model, tokens, usd);
  }
  return state;
}

export interface LoadedState {
  state: DayState;
  /** Why the file was not used, for the operations log. */
  problem: string | undefined;
}

export function loadBudgetState(logDir: string, prices: readonly ModelPrice[], now: number): LoadedState {
  const file = join(logDir, BUDGET_FILE);
  if (!existsSync(file)) return { state: dayFromLlmLog(logDir, prices, now), problem: undefined };
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isDayState(parsed)) throw new Error('not a budget state object');
    if (parsed.day !== utcDay(now)) return { state: emptyDay(now), problem: undefined };
    return { state: parsed, problem: undefined };
  } catch (err) {
    return {
      state: dayFromLlmLog(logDir, prices, now),
      problem: `${file} is unreadable (${(err as Error).message}); today's usage was rebuilt from llm.ndjson`,
    };
  }
}

export interface StateWriter {
  /** Schedules a write of `state` (at most one every 200 ms). */
  save(state: DayState): void;
  /** Writes what is pending now, once the write under way (if any) is done (shutdown). */
  flush(): Promise<void>;
}

export function createStateWriter(logDir: string, onError: (err: unknown) => void): StateWriter {
  const file = join(logDir, BUDGET_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  let pending: DayState | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastWrite = 0;
  // The write runs in libuv's pool, not on the event loop: the rename over the old file alone
  // held the loop 0.4-1 ms on ext4 (it starts the new file's writeback), after nearly every LLM
  // exchange when exchanges are sparse. One write at a time, so the file never goes back to an
  // older state.
  let writing: Promise<void> | undefined;
  const schedule = (): void => {
    const wait = Math.max(0, lastWrite + WRITE_EVERY_MS - Date.now());
    if (wait === 0) write();
    else {
      timer = setTimeout(write, wait);
      timer.unref();
    }
  };
  const write = (): void => {
    timer = undefined;
    if (pending === undefined || writing !== undefined) return;
    const state = pending;
    pending = undefined;
    lastWrite = Date.now();
    writing = writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 })
      .then(() => rename(tmp, file))
      .catch(onError)
      .finally(() => {
        writing = undefined;
        // What was saved while this write was under way.
        if (pending !== undefined && timer === undefined) schedule();
      });
  };
  return {
    save(state) {
      pending = state;
      if (timer === undefined && writing === undefined) schedule();
    },
    async flush() {
      // The write under way (and any it chains) first, then what is left, now.
      for (;;) {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        if (writing === undefined) break;
        await writing;
      }
      write();
      await writing;
    },
  };
}
