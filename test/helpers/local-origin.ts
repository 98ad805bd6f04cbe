// What a test's sluice needs to reach one local origin under made-up names: the TOML that
// trusts the origin's CA, dials its port for every name, resolves through the test resolver
// and allows each name although it resolves to loopback; and a secret file for a credential.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestResolver } from './dnsmasq.ts';
import { makeTempDir } from './temp-dir.ts';

/** [proxy], [upstream], [dns] and one private [[allow]] per name; append further sections after it. */
export function localOriginToml(origin: { caCert: string; port: number; dns: TestResolver; names: readonly string[] }): string {
  const allows = origin.names.map((name) => `[[allow]]\nhost = "${name}"\nprivate = true\n`).join('');
  return `[proxy]
extra_upstream_ca = "${origin.caCert}"
[upstream]
https_port = ${origin.port}
[dns]
upstream = "${origin.dns.address}"
${allows}`;
}

/** A file holding `value` (mode 0600), in a folder removed when the test file ends. */
export function secretFile(value: string): string {
  const file = join(makeTempDir('secret'), 'secret');
  writeFileSync(file, value, { mode: 0o600 });
  return file;
}
