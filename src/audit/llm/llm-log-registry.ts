// One LLM log per log folder for the whole process, found from the configuration in force.
// The request step reaches it through the Runtime's config; sluice's start/close reach the
// same instance to report it on /readyz and to write in-flight exchanges on SIGTERM.
// Settings that shape the file (max_bytes, keep) apply when the log is first opened.
import type { Config } from '../../config/types.ts';
import { createLlmLog, type LlmLog } from './llm-log.ts';

const logs = new Map<string, LlmLog>();

export interface LlmLogHooks {
  /** Told when llm.ndjson becomes unwritable (why) and when it recovers (undefined). */
  onProblem?: (problem: string | undefined) => void;
}

/** The LLM log of `config.proxy.logDir`, opened on first use. */
export function llmLogFor(config: Config, hooks: LlmLogHooks = {}): LlmLog {
  const existing = logs.get(config.proxy.logDir);
  if (existing !== undefined) return existing;
  const log = createLlmLog({ logDir: config.proxy.logDir, agent: config.proxy.agent, maxBytes: config.log.maxBytes, keep: config.log.keep, onProblem: hooks.onProblem });
  logs.set(config.proxy.logDir, log);
  return log;
}

/** Shutdown: writes in-flight exchanges as cut off, waits for the disk, closes the file. */
export async function closeLlmLog(config: Config): Promise<void> {
  const log = logs.get(config.proxy.logDir);
  if (log === undefined) return;
  logs.delete(config.proxy.logDir);
  await log.flushInFlight();
  log.close();
}
