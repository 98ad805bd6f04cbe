// `sluice run`: start everything, reload on SIGHUP or a changed config file, drain on SIGTERM.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { watchConfigFile, type ConfigWatch } from '../config/watch-file.ts';
import { dirname, join, resolve, relative } from 'node:path';
import { BUNDLE_FILE } from './env.ts';
import { loadConfig } from '../config/load.ts';
import { createOpsLog } from '../audit/ops-log.ts';
import { startSluice } from '../runtime/sluice.ts';
import { releaseStartupMemory } from '../runtime/release-startup-memory.ts';

const USAGE = `usage: sluice run [-c FILE]
  -c, --config FILE   the configuration (default: sluice.toml)
Starts every listener. SIGHUP or a changed FILE reloads the policy without dropping
connections; SIGTERM or SIGINT drains (up to [proxy] drain_seconds), then exits.
`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c', default: 'sluice.toml' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file = resolve(values.config);
  const opsLog = createOpsLog();
  // Signal handlers first, installed once: without one SIGTERM, SIGINT and SIGHUP kill the
  // process outright, and a supervisor may send one as soon as the admin port answers. Until
  // sluice has started, a stop is remembered (and acted on then) and SIGHUP is moot (the
  // config is being read now).
  let onStop: ((signal: 'SIGTERM' | 'SIGINT') => void) | undefined;
  let onReload: (why: string) => void = () => {};
  let early: 'SIGTERM' | 'SIGINT' | undefined;
  const stopSignal = (signal: 'SIGTERM' | 'SIGINT') => (): void => {
    if (onStop !== undefined) onStop(signal);
    else early ??= signal;
  };
  process.on('SIGTERM', stopSignal('SIGTERM'));
  process.on('SIGINT', stopSignal('SIGINT'));
  process.on('SIGHUP', () => onReload('SIGHUP'));
  const config = await loadConfig(file);
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  try {
    sluice = await startSluice(config, { opsLog });
  } catch (err) {
    const taken = portInUse(err);
    if (taken === undefined) throw err;
    process.stderr.write(taken);
    return 1;
  }
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

  let watcher: ConfigWatch | undefined;
  try {
    // Sees editors' renames and a ConfigMap's `..data` swap (config/watch-file.ts).
    watcher = watchConfigFile(file, () => reload('file changed'));
  } catch (err) {
    opsLog.warn({ error: (err as Error).message }, 'cannot watch the config file; reload with SIGHUP');
  }

  onReload = reload;

  const stopped = new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      opsLog.info({ signal }, 'draining');
      watcher?.close();
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
    onStop = stop;
    if (early !== undefined) stop(early);
  });

  // Before the ready line: what start-up left in V8's young generation goes back to the system.
  if (!releaseStartupMemory()) opsLog.warn('this Node offers no gc() to a new context: start-up memory stays with sluice (~8 MiB)');
  const roots = sluice.runtime().upstream.trustRoots;
  const near = relative(process.cwd(), sluice.caCertPath);
  const shown = near === '' || near.startsWith('..') ? sluice.caCertPath : near;
  process.stderr.write(
    `sluice: ${sluice.caCreated ? 'created a new CA' : 'using the CA'} at ${shown}\n`
    + `sluice: agents must trust it: NODE_EXTRA_CA_CERTS=${sluice.caCertPath}; SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE … =${existsSync(join(dirname(sluice.caCertPath), BUNDLE_FILE)) ? join(dirname(sluice.caCertPath), BUNDLE_FILE) : 'a bundle made elsewhere (the CA folder is read-only)'} (system roots + this CA; \`sluice env\` prints them all)\n`
    + `sluice: listening on ${sluice.skippedAddresses.some((a) => a.startsWith('::1:')) ? '127.0.0.1 (::1 unavailable: IPv6 is off)' : '127.0.0.1 and ::1'} — TLS :${sluice.ports.https}, HTTP :${sluice.ports.http}, other TCP :${sluice.ports.deny}, DNS :${sluice.ports.dns}, admin :${sluice.ports.admin}\n`
    + `sluice: ${config.allow.length} allow rule(s) from ${file}; access log ${config.proxy.logDir}/access.ndjson\n`
    + `sluice: upstream certificates verified against ${roots.count} root(s) from ${roots.source}${config.proxy.extraUpstreamCa === undefined ? '' : ` and ${config.proxy.extraUpstreamCa}`}\n`,
  );

  return stopped;
}

/** For a listener's EADDRINUSE: which port, who may hold it, how to find out. */
function portInUse(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code !== 'EADDRINUSE' || e.port === undefined) return undefined;
  return `sluice run: port ${e.port} on ${e.address ?? 'loopback'} is already in use: another sluice (an earlier \`npm start\` still running?) or another program holds it.\n`
    + `  find it:    ss -ltnp 'sport = :${e.port}'\n`
    + `  or move sluice: set the port in [proxy] of the config (https_port, http_port, deny_port, dns_port, admin_port)\n`;
}
