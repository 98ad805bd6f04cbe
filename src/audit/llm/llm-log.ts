// llm.ndjson: one line per LLM exchange (DESIGN.md §4), formatted by pino and appended by a
// size-rotated file that reports when it cannot be written (for /readyz, the access log and
// `[log] on_failure`). Exchanges under way register here so that on SIGTERM each is written
// as cut off before sluice exits. One log per running sluice, opened at start and held in its
// Services (src/runtime/runtime.ts), so a reload keeps the file and its in-flight exchanges.
import { join } from 'node:path';
import pino from 'pino';
import type { Config } from '../../config/types.ts';
import { RotatingFile } from './rotating-file.ts';
import type { NormalisedUsage } from './usage.ts';

export const LLM_LOG_FILE = 'llm.ndjson';

export type LlmOutcome = 'complete' | 'error' | 'cut_off';

/** One line of llm.ndjson, after `time` and `agent`. Field names are the contract (§4). */
export interface LlmRecord {
  id: string;
  provider: string;
  model: string | null;
  stream: boolean;
  status: number;
  request: unknown;
  response: unknown;
  usage: NormalisedUsage | null;
  usage_raw: unknown;
  ttfb_ms: number | null;
  ms: number;
  truncated: boolean;
  outcome: LlmOutcome;
}

/** An exchange still under way: asked, at shutdown, for its record as cut off. */
export interface InFlightExchange {
  /** Stops capturing and returns the record as it stands, or undefined if already written. */
  cutOff(): LlmRecord | undefined;
}

export interface LlmLog {
  readonly path: string;
  write(record: LlmRecord): void;
  /** Registers an exchange under way; call the returned function once it has been written. */
  track(exchange: InFlightExchange): () => void;
  /** Why llm.ndjson cannot be written now (for /readyz), or undefined. */
  problem(): string | undefined;
  /** Shutdown: writes every exchange still in flight as cut_off, then waits (bounded) for the disk. */
  flushInFlight(timeoutMs?: number): Promise<void>;
  close(): void;
}

export interface LlmLogOptions {
  logDir: string;
  agent: string;
  maxBytes: number;
  keep: number;
  retryMs?: number;
  /** Told when the log becomes unwritable (why) and when it recovers (undefined). */
  onProblem?: (problem: string | undefined) => void;
}

export function createLlmLog(options: LlmLogOptions): LlmLog {
  const path = join(options.logDir, LLM_LOG_FILE);
  const file = new RotatingFile(path, { maxBytes: options.maxBytes, keep: options.keep, retryMs: options.retryMs, onProblem: options.onProblem });
  const logger = pino(
    {
      base: { agent: options.agent },
      // The line is the record: no level, no msg; `time` opens it (hence no leading comma).
      formatters: { level: () => ({}) },
      timestamp: () => `"time":"${new Date().toISOString()}"`,
    },
    { write: (line: string) => file.write(line) },
  );
  const inFlight = new Set<InFlightExchange>();
  const write = (record: LlmRecord): void => logger.info(record);
  return {
    path,
    write,
    track(exchange) {
      inFlight.add(exchange);
      return () => inFlight.delete(exchange);
    },
    problem: () => file.problem,
    async flushInFlight(timeoutMs = 5_000) {
      for (const exchange of [...inFlight]) {
        inFlight.delete(exchange);
        const record = exchange.cutOff();
        if (record !== undefined) write(record);
      }
      await file.drain(timeoutMs);
    },
    close: () => file.close(),
  };
}

/**
 * The LLM log of `config.proxy.logDir`. File settings (`[log] max_bytes`, `keep`) are those in
 * force at start: a reload does not reopen the file.
 */
export function openLlmLog(config: Config, hooks: Pick<LlmLogOptions, 'onProblem'> = {}): LlmLog {
  return createLlmLog({ logDir: config.proxy.logDir, agent: config.proxy.agent, maxBytes: config.log.maxBytes, keep: config.log.keep, onProblem: hooks.onProblem });
}

/** Shutdown: writes in-flight exchanges as cut off, waits (bounded) for the disk, closes the file. */
export async function closeLlmLog(log: LlmLog): Promise<void> {
  await log.flushInFlight();
  log.close();
}
