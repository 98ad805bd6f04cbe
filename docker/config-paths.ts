// Prints what the entrypoint needs from sluice.toml as shell assignments (values quoted), so
// that the capture rules use the same ports as the listeners and the right folders get the
// right owner. Reads the file only; secrets are not touched (they may be readable only after
// the entrypoint has prepared them).
//
//   node /app/docker/config-paths.ts /sluice/sluice.toml
import { loadConfig } from '../src/config/load.ts';

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const file = process.argv[2] ?? 'sluice.toml';
try {
  const config = await loadConfig(file);
  const values: Record<string, string> = {
    CFG_UID: String(config.proxy.uid),
    CFG_CA_DIR: config.proxy.caDir,
    CFG_LOG_DIR: config.proxy.logDir,
    CFG_DNS_UPSTREAM: config.dns.upstream ?? '',
    CFG_HTTPS_PORT: String(config.proxy.httpsPort),
    CFG_HTTP_PORT: String(config.proxy.httpPort),
    CFG_DENY_PORT: String(config.proxy.denyPort),
    CFG_DNS_PORT: String(config.proxy.dnsPort),
    CFG_ADMIN_PORT: String(config.proxy.adminPort),
  };
  for (const [name, value] of Object.entries(values)) process.stdout.write(`${name}=${quote(value)}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
}
