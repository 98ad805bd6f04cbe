// access.ndjson: one line per connection decision and per HTTP request (DESIGN.md §4).
// pino serialises each line; batched-file.ts writes them in batches; flush() is called on shutdown.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { openBatchedFile } from './batched-file.ts';
import type { DenyReason } from '../errors/codes.ts';

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
  decision: 'allow' | 'deny';
  reason?: DenyReason | string;
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
}

export interface AccessLog {
  write(record: AccessRecord): void;
  flush(): void;
  readonly path: string;
}

export function createAccessLog(logDir: string, agent: string): AccessLog {
  mkdirSync(logDir, { recursive: true });
  const path = join(logDir, 'access.ndjson');
  // Lines are written in batches (src/audit/batched-file.ts): at most a quarter second late.
  const file = openBatchedFile(path, {
    onError: (err) => process.stderr.write(`sluice: cannot write ${path}: ${err.message}; lines are kept and retried\n`),
  });
  const logger = pino(
    {
      base: { agent },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'message',
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => file.write(line) },
  );
  return {
    path,
    write(record) {
      logger.info(record);
    },
    flush() {
      file.flush();
    },
  };
}
