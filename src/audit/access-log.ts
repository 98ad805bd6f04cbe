// access.ndjson: one line per connection decision and per HTTP request (DESIGN.md §4).
// pino writes asynchronously through sonic-boom; flush() is called on shutdown.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
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
  // Lines are gathered into writes of at least 4 KiB (one syscall per request costs
  // measurable throughput); a timer flushes whatever waits, so a quiet proxy's lines still
  // reach the file within a second, and flush() is called on shutdown.
  const destination = pino.destination({ dest: path, sync: false, mkdir: true, minLength: 4096 });
  const timer = setInterval(() => {
    try {
      destination.flush();
    } catch {
      // not open yet
    }
  }, 1_000);
  timer.unref();
  const logger = pino(
    {
      base: { agent },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'message',
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    path,
    write(record) {
      logger.info(record);
    },
    flush() {
      try {
        destination.flushSync();
      } catch {
        // Nothing buffered yet (sonic-boom throws if the file is still opening).
      }
    },
  };
}
