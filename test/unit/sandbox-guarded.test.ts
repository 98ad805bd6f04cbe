// What `sluice sandbox` checks before it starts CMD (src/sandbox/trust.ts): among the rest, the
// file of system roots that upstream certificates are verified against, so that a CMD able to
// change it cannot add a root of its own and have sluice accept its server as any host.
import { describe, expect, it } from 'vitest';
import { guardedPaths } from '../../src/sandbox/trust.ts';
import { parseConfig } from '../../src/config/load.ts';
import { upstreamRoots } from '../../src/tls/upstream-roots.ts';

describe('sluice sandbox guards', () => {
  it('the file of upstream roots when the roots come from one, as a file CMD must not change (not a secret)', () => {
    const config = parseConfig('[proxy]\nagent = "t"\n[[allow]]\nhost = "a.example"\n', '/etc/sluice/sluice.toml');
    const roots = upstreamRoots();
    const entry = guardedPaths({ configFile: '/etc/sluice/sluice.toml', config, code: [] }).find((g) => g.what.includes('upstream certificates'));
    if (roots.source.startsWith('/')) {
      expect(entry).toEqual({ path: roots.source, what: 'the system roots upstream certificates are verified against', secret: false, fix: `chown root:root ${roots.source} && chmod 644 ${roots.source}` });
    } else {
      // SSL_CERT_FILE or SSL_CERT_DIR set for this process: Node reads OpenSSL's locations.
      expect(entry).toBeUndefined();
    }
  });
});
