// `sluice run`: start everything, reload on SIGHUP or a changed config file, drain on SIGTERM.
import { parseArgs } from 'node:util';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, join, resolve, relative } from 'node:path';
import { BUNDLE_FILE } from './env.ts';
import { loadConfig } from '../config/load.ts';
import { createOpsLog } from '../audit/ops-log.ts';
import { startSluice } from '../runtime/sluice.ts';

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c', default: 'sluice.toml' } }, strict: true });
  const file = resolve(values.config);
  const opsLog = createOpsLog();
  const config = await loadConfig(file);
  const sluice = await startSluice(config, { opsLog });
  const near = relative(process.cwd(), sluice.caCertPath);
  const shown = near === '' || near.startsWith('..') ? sluice.caCertPath : near;
  process.stderr.write(
    `sluice: ${sluice.caCreated ? 'created a new CA' : 'using the CA'} at ${shown}\n`
    + `sluice: agents must trust it: NODE_EXTRA_CA_CERTS=${sluice.caCertPath}; SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE … =${join(dirname(sluice.caCertPath), BUNDLE_FILE)} (system roots + this CA; \`sluice env\` prints them all)\n`
    + `sluice: listening on ${sluice.skippedAddresses.some((a) => a.startsWith('::1:')) ? '127.0.0.1 (::1 unavailable: IPv6 is off)' : '127.0.0.1 and ::1'} — TLS :${sluice.ports.https}, HTTP :${sluice.ports.http}, other TCP :${sluice.ports.deny}, DNS :${sluice.ports.dns}, admin :${sluice.ports.admin}\n`
    + `sluice: ${config.allow.length} allow rule(s) from ${file}; access log ${config.proxy.logDir}/access.ndjson\n`,
  );

  let reloading = Promise.resolve();
  const reload = (why: string): void => {
    reloading = reloading.then(async () => {
      try {
        const next = await loadConfig(file);
        sluice.reload(next);
        opsLog.info({ why, rules: next.allow.length }, 'configuration reloaded');
      } catch (err) {
        sluice.runtime().services.metrics.reloads.inc({ result: 'error' });
        opsLog.error({ why, error: (err as Error).message }, 'configuration refused; keeping the previous one');
      }
    });
  };

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  try {
    // Editors replace files; watch the folder and filter by name so renames are seen too.
    const dir = resolve(file, '..');
    const base = file.slice(dir.length + 1);
    watcher = watch(dir, (_event, name) => {
      if (name !== base) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => reload('file changed'), 200);
    });
  } catch (err) {
    opsLog.warn({ error: (err as Error).message }, 'cannot watch the config file; reload with SIGHUP');
  }
  process.on('SIGHUP', () => reload('SIGHUP'));

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      opsLog.info({ signal }, 'draining');
      watcher?.close();
      clearTimeout(debounce);
      // Bounded: whatever an upstream or a client does, sluice is gone shortly after the drain.
      const deadline = setTimeout(() => {
        opsLog.error('drain did not finish in time; exiting');
        done(1);
      }, (config.proxy.drainSeconds + 5) * 1000);
      deadline.unref();
      sluice.close().then(
        () => {
          clearTimeout(deadline);
          opsLog.info('stopped');
          done(0);
        },
        (err: Error) => {
          opsLog.error({ error: err.message }, 'shutdown failed');
          done(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
