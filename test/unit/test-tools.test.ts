// The tests' own tool finder (test/helpers/tools.ts): a normal user's PATH lacks /usr/sbin,
// where Debian puts nginx and dnsmasq, and a missing program skips with one line naming the
// package, or fails under CI=true.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync } from 'node:fs';
import { findTool, missingTools, skipSuite } from '../helpers/tools.ts';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('test tools', () => {
  it.skipIf(!existsSync('/usr/sbin/nginx'))('finds /usr/sbin programs with a normal user\'s PATH', () => {
    vi.stubEnv('PATH', '/usr/local/bin:/usr/bin:/bin');
    expect(findTool('nginx')).toBe('/usr/sbin/nginx');
  });

  it('prefers PATH, and says undefined for a program that is nowhere', () => {
    vi.stubEnv('PATH', '/usr/bin:/bin');
    expect(findTool('sh')).toMatch(/^\/(usr\/)?bin\/sh$/);
    expect(findTool('no-such-program-sluice')).toBeUndefined();
  });

  it('names the Debian packages of missing programs in one clause', () => {
    vi.stubEnv('PATH', '/nonexistent');
    const reason = missingTools(['curl', 'openssl']);
    // /usr/sbin and /sbin are still searched, and hold neither.
    expect(reason).toBe('needs curl, openssl: sudo apt-get install curl openssl');
  });

  it('skips with one [skipped] line, or throws under CI=true', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    vi.stubEnv('CI', '');
    expect(skipSuite('demo', 'needs x')).toBe('needs x');
    expect(warn.mock.calls).toEqual([['[skipped] demo: needs x']]);
    expect(skipSuite('demo', undefined)).toBeUndefined();
    vi.stubEnv('CI', 'true');
    expect(() => skipSuite('demo', 'needs x')).toThrow('demo: cannot run under CI=true: needs x');
  });
});
