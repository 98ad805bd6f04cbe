// access.ndjson: one line per connection decision and per HTTP request (DESIGN.md §4).
// access-line.ts formats each line; batched-file.ts writes them in batches; flush() is called
// on shutdown.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openBatchedFile } from './batched-file.ts';
import { accessLineFormatter } from './access-line.ts';
import type { DenyReason } from '../errors/codes.ts';
import type { TraceEntry } from '../pipeline/trace.ts';

/**
 * Reasons on lines that are not about one connection or request: the LLM log's health, so
 * that an audit gap shows in the access log too (DESIGN §4, `[log] on_failure`).
 */
export const NOTICE_REASONS = {
  llm_log_unwritable: 'llm.ndjson cannot be written; `message` says why',
  llm_log_recovered: 'llm.ndjson is writable again',
} as const;

/** The closed set of `reason` values in access.ndjson: a refusal's code or a notice. */
export type AccessReason = DenyReason | keyof typeof NOTICE_REASONS;

export interface AccessRecord {
  conn?: string;
  listener?: 'tls' | 'http' | 'deny' | 'dns' | 'admin';
  src_uid?: number;
  src_port?: number;
  port?: number;
  sni?: string;
  host?: string;
  method?: string;
  path?: string;
  status?: number;
  /** would_deny: learn and report modes (DESIGN §8), with the allowlist's reason. */
  decision: 'allow' | 'deny' | 'would_deny';
  reason?: AccessReason;
  rule?: string;
  credential?: string;
  bytes_in?: number;
  bytes_out?: number;
  ms?: number;
  ttfb_ms?: number;
  outcome?: 'complete' | 'cut_off' | 'client_aborted';
  /** DNS: the query type. */
  qtype?: string;
  message?: string;
  /** What the steps did to this request (names and places, never values); absent when nothing. */
  trace?: readonly TraceEntry[];
}

/** What a record holds besides its path and message, roughly (the fields and their line). */
const RECORD_BYTES = 384;

interface TimedRecord {
  readonly at: number;
  readonly record: AccessRecord;
}

export interface AccessLog {
  /** Queues one line; `record` must not change afterwards (it is formatted with its batch). */
  write(record: AccessRecord): void;
  flush(): void;
  /** Writes what waits and closes the file; later lines are dropped. */
  close(): void;
  readonly path: string;
}

export function createAccessLog(logDir: string, agent: string): AccessLog {
  mkdirSync(logDir, { recursive: true });
  const path = join(logDir, 'access.ndjson');
  // Lines are written in batches (src/audit/batched-file.ts): at most a quarter second late,
  // each with the time its record was written, formatted when its batch is.
  const format = accessLineFormatter(agent);
  const file = openBatchedFile<TimedRecord>(path, {
    serialize: (entry) => {
      try {
        return format(entry.record, entry.at);
      } catch (err) {
        // No record sluice builds can fail JSON.stringify; if one ever does, its line still
        // says that a decision was made on that connection.
        const { conn, listener, decision } = entry.record;
        return format({ conn, listener, decision, message: `this line could not be formatted: ${(err as Error).message}` }, entry.at);
      }
    },
    // A record's fields are a few hundred bytes, but for the agent-chosen ones (the path, 2 KiB
    // logged at most; the method, 64 at most; host, SNI) and the message: waiting records hold
    // at most ~64 KiB of text, as the waiting lines did.
    sizeOf: ({ record: r }) => RECORD_BYTES + (r.path?.length ?? 0) + (r.message?.length ?? 0) + (r.method?.length ?? 0) + (r.host?.length ?? 0) + (r.sni?.length ?? 0),
    onError: (err) => process.stderr.write(`sluice: cannot write ${path}: ${err.message}; lines are kept and retried\n`),
  });
  // An exit that skips close() (the drain deadline's process.exit, an uncaught error) still
  // writes the lines waiting for their batch: 'exit' listeners run synchronously, as writeSync does.
  const flushOnExit = (): void => file.flush();
  process.on('exit', flushOnExit);
  return {
    path,
    write(record) {
      file.write({ at: Date.now(), record });
    },
    flush() {
      file.flush();
    },
    close() {
      process.removeListener('exit', flushOnExit);
      file.close();
    },
  };
}
