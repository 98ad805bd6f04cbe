// `sluice logs`: llm.ndjson for people. One line per exchange (time, id, model, status, tokens,
// duration, the first words of the answer); --json for the lines as written; --since to start
// later; --follow to keep printing; --usage for token totals per day and model; --show ID for
// one whole turn (system, messages, tools, the answer).
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.ts';
import { LLM_LOG_FILE } from '../audit/llm/llm-log.ts';
import { BUDGET_FILE } from '../budget/state-file.ts';
import { followLlmLog, readLlmLog, type LlmLine } from '../audit/llm/log-reader.ts';
import { answerText, requestTurns } from '../audit/llm/exchange-text.ts';

const USAGE = `usage: sluice logs [-c FILE | --dir DIR] [--since WHEN] [--json] [--follow] [--usage] [--show ID]
  -c, --config FILE  find the log folder from this config (default: sluice.toml)
  --dir DIR          read the logs in DIR instead
  --since WHEN       only exchanges since WHEN: 30m, 2h, 7d, or a date/time (2026-05-01T12:00Z)
  --json             print the log lines as written (NDJSON)
  -f, --follow       keep printing exchanges as they are logged (Ctrl-C to stop)
  --usage            token totals per day and model
  --show ID          one exchange in full: the request's turns and the answer
`;

export interface LogsIo {
  out(text: string): void;
  err(text: string): void;
  /** Stops --follow (default: SIGINT / SIGTERM). */
  signal?: AbortSignal;
}

const processIo: LogsIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const ANSWER_CHARS = 80;
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** 30m, 2h, 7d, or anything Date understands; undefined when neither. */
export function parseSince(text: string, now = Date.now()): number | undefined {
  const relative = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (relative !== null) return now - Number(relative[1]) * (UNITS[relative[2] as string] as number);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}

/** The options `sluice logs` and `sluice suggest` share: where the logs are, from when. */
export const LOG_READER_OPTIONS = {
  config: { type: 'string', short: 'c', default: 'sluice.toml' },
  dir: { type: 'string' },
  since: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** --since as a time (undefined when not given), or the error line `command` prints. */
export function sinceOption(command: string, text: string | undefined): { since: number | undefined } | { error: string } {
  if (text === undefined) return { since: undefined };
  const since = parseSince(text);
  return since === undefined ? { error: `sluice ${command}: --since ${text}: expected 30m, 2h, 7d or a date/time\n` } : { since };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown, fallback = '-'): string => (typeof v === 'string' && v !== '' ? v : fallback);

function tokens(line: LlmLine): { input: number; output: number } {
  const usage = line.usage as Record<string, unknown> | null | undefined;
  return { input: num(usage?.input_tokens), output: num(usage?.output_tokens) };
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function duration(ms: unknown): string {
  const v = num(ms);
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${Math.round(v)}ms`;
}

function shortTime(time: unknown): string {
  return str(time).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** One exchange in one line. */
export function formatExchange(line: LlmLine): string {
  const { input, output } = tokens(line);
  const outcome = line.outcome === 'complete' ? '' : ` ${str(line.outcome)}`;
  const usage = line.usage === null || line.usage === undefined ? 'no usage' : `${input}→${output} tok`;
  return `${shortTime(line.time)}  ${str(line.id)}  ${str(line.model)}  ${num(line.status)}${outcome}  ${usage}  ${duration(line.ms)}  ${oneLine(answerText(line.response), ANSWER_CHARS)}\n`;
}

/** One exchange in full, for --show. */
export function formatTurn(line: LlmLine): string {
  const { input, output } = tokens(line);
  const head = [
    `exchange ${str(line.id)}  ${shortTime(line.time)}  agent ${str(line.agent)}`,
    `${str(line.provider)} ${str(line.model)}  status ${num(line.status)} ${str(line.outcome)}${line.stream === true ? '  streamed' : ''}${line.truncated === true ? '  (truncated in the log)' : ''}`,
    `tokens in ${input}, out ${output}  first byte ${duration(line.ttfb_ms)}, total ${duration(line.ms)}`,
  ];
  const parts = requestTurns(line.request).map((t) => `── ${t.role} ──\n${t.text}`);
  parts.push(`── answer ──\n${answerText(line.response)}`);
  return `${head.join('\n')}\n\n${parts.join('\n\n')}\n`;
}

interface UsageRow {
  day: string;
  model: string;
  exchanges: number;
  input: number;
  output: number;
}

/** Token totals per (day, model), then per model. */
export function usageTotals(lines: readonly LlmLine[]): { byDay: UsageRow[]; byModel: UsageRow[] } {
  const byDay = new Map<string, UsageRow>();
  const byModel = new Map<string, UsageRow>();
  for (const line of lines) {
    const day = str(line.time).slice(0, 10);
    const model = str(line.model);
    const { input, output } = tokens(line);
    for (const [map, key, row] of [[byDay, `${day}\0${model}`, { day, model }], [byModel, model, { day: 'all', model }]] as const) {
      const total = map.get(key) ?? { ...row, exchanges: 0, input: 0, output: 0 };
      total.exchanges++;
      total.input += input;
      total.output += output;
      map.set(key, total);
    }
  }
  const order = (a: UsageRow, b: UsageRow): number => a.day.localeCompare(b.day) || a.model.localeCompare(b.model);
  return { byDay: [...byDay.values()].sort(order), byModel: [...byModel.values()].sort(order) };
}

function formatUsage(totals: ReturnType<typeof usageTotals>): string {
  const rows = [...totals.byDay, ...totals.byModel];
  const width = Math.max(5, ...rows.map((r) => r.model.length));
  const fmt = (day: string, model: string, exchanges: string, input: string, output: string): string =>
    `${day.padEnd(10)}  ${model.padEnd(width)}  ${exchanges.padStart(9)}  ${input.padStart(12)}  ${output.padStart(12)}\n`;
  let text = fmt('day', 'model', 'exchanges', 'input', 'output');
  for (const r of totals.byDay) text += fmt(r.day, r.model, String(r.exchanges), String(r.input), String(r.output));
  text += '\n';
  for (const r of totals.byModel) text += fmt('all days', r.model, String(r.exchanges), String(r.input), String(r.output));
  return text;
}

/** Today's counts from budget.json ([budget], DESIGN §8), if sluice keeps one here. */
function readBudgetToday(dir: string): { day: string; tokens: number; usd: number } | undefined {
  try {
    const state = JSON.parse(readFileSync(join(dir, BUDGET_FILE), 'utf8')) as { day?: unknown; tokens?: unknown; usd?: unknown };
    if (typeof state.day !== 'string' || typeof state.tokens !== 'number' || typeof state.usd !== 'number') return undefined;
    return { day: state.day, tokens: state.tokens, usd: state.usd };
  } catch {
    return undefined;
  }
}

function formatBudget(budget: ReturnType<typeof readBudgetToday>): string {
  if (budget === undefined) return '';
  return `\nbudget ${budget.day} (UTC, what [budget] counts): ${budget.tokens} tokens, ${budget.usd.toFixed(4)} USD\n`;
}

/** The log folder: --dir, else the config's log_dir, else ./logs. */
export async function logDirFrom(values: { dir?: string; config: string }): Promise<string> {
  if (values.dir !== undefined) return resolve(values.dir);
  if (existsSync(values.config)) return (await loadConfig(values.config)).proxy.logDir;
  return resolve('logs');
}

/**
 * The log holds text the agent chose (prompts, answers, model names): a terminal must not act
 * on it. C0 and C1 control characters and DEL are shown as \u escapes (valid inside JSON
 * strings too); line feeds and tabs stay.
 */
export function forTerminal(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export async function logsCommand(argv: string[], rawIo: LogsIo = processIo): Promise<number> {
  const io: LogsIo = { ...rawIo, out: (text) => rawIo.out(forTerminal(text)) };
  let values: { config: string; dir?: string; since?: string; json?: boolean; follow?: boolean; usage?: boolean; show?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...LOG_READER_OPTIONS,
        json: { type: 'boolean' },
        follow: { type: 'boolean', short: 'f' },
        usage: { type: 'boolean' },
        show: { type: 'string' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    io.err(`sluice logs: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.out(USAGE);
    return 0;
  }
  const sinceOpt = sinceOption('logs', values.since);
  if ('error' in sinceOpt) {
    io.err(sinceOpt.error);
    return 2;
  }
  const { since } = sinceOpt;
  const dir = await logDirFrom(values);
  const keep = (line: LlmLine): boolean => since === undefined || Date.parse(str(line.time, '')) >= since;
  const lines = (await readLlmLog(dir)).filter(keep);

  if (values.show !== undefined) {
    const line = lines.find((l) => l.id === values.show);
    if (line === undefined) {
      io.err(`sluice logs: no exchange ${values.show} in ${dir}\n`);
      return 1;
    }
    io.out(values.json === true ? `${JSON.stringify(line)}\n` : formatTurn(line));
    return 0;
  }
  if (values.usage === true) {
    const totals = usageTotals(lines);
    const budget = readBudgetToday(dir);
    io.out(values.json === true ? `${JSON.stringify({ ...totals, budget })}\n` : formatUsage(totals) + formatBudget(budget));
    return 0;
  }
  const print = (line: LlmLine): void => io.out(values.json === true ? `${JSON.stringify(line)}\n` : formatExchange(line));
  for (const line of lines) print(line);
  if (values.follow === true) {
    let signal = io.signal;
    if (signal === undefined) {
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      signal = controller.signal;
    }
    await followLlmLog(join(dir, LLM_LOG_FILE), (line) => {
      if (keep(line)) print(line);
    }, signal);
  }
  return 0;
}
