// Starts sluice in-process for integration tests: a config written as TOML in a temp folder,
// listeners on ephemeral loopback ports, logs read back as parsed NDJSON.
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { startSluice, type RunningSluice } from '../../src/runtime/sluice.ts';
import { createOpsLog } from '../../src/audit/ops-log.ts';
import { waitFor } from './process.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';

export interface TestSluice {
  sluice: RunningSluice;
  dir: string;
  config: Config;
  caCert: string;
  /** Parsed lines of access.ndjson written so far. */
  accessLog(): Record<string, unknown>[];
  /** Waits until a log line matching `match` appears. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Rewrites the config with new TOML (same temp dir) and returns it parsed with ephemeral ports. */
  parse(toml: string): Config;
  stop(): Promise<void>;
}

/** Ports 0 (ephemeral) for every listener: tests run in parallel. */
function withEphemeralPorts(config: Config): Config {
  return { ...config, proxy: { ...config.proxy, httpsPort: 0, httpPort: 0, denyPort: 0, dnsPort: 0, adminPort: 0 } };
}

export async function startTestSluice(toml: string): Promise<TestSluice> {
  const dir = makeTempDir('it');
  const file = join(dir, 'sluice.toml');
  const parse = (text: string): Config => {
    writeFileSync(file, text);
    return withEphemeralPorts(parseConfig(text, file));
  };
  const config = parse(toml);
  const sluice = await startSluice(config, { opsLog: createOpsLog('warn') });
  const logPath = join(config.proxy.logDir, 'access.ndjson');
  const accessLog = (): Record<string, unknown>[] => {
    sluice.runtime().services.accessLog.flush();
    if (!existsSync(logPath)) return [];
    // Only complete lines: the asynchronous writer may be mid-line.
    const lines = readFileSync(logPath, 'utf8').split('\n');
    lines.pop();
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  return {
    sluice,
    dir,
    config,
    caCert: sluice.caCertPath,
    accessLog,
    async waitForLog(match, timeoutMs = 5_000) {
      let found: Record<string, unknown> | undefined;
      await waitFor(() => {
        found = accessLog().find(match);
        return found !== undefined;
      }, timeoutMs, 'an access log line');
      return found as Record<string, unknown>;
    },
    parse,
    async stop() {
      await sluice.close();
      removeTempDir(dir);
    },
  };
}
