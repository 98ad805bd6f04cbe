// The [log] table: defaults, accepted values, and errors that name file, line and key.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import type { ConfigIssue } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import { generateConfigReference } from '../../src/config/reference.ts';

const FILE = '/cfg/sluice.toml';

function issuesOf(source: string): ConfigIssue[] {
  try {
    parseConfig(source, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('[log]', () => {
  it('defaults: 4 MiB bodies, rotation at 100 MiB keeping 5, block on failure', () => {
    expect(parseConfig('', FILE).log).toEqual({ maxBodyBytes: 4 * 1024 * 1024, maxBytes: 100 * 1024 * 1024, keep: 5, onFailure: 'block' });
  });

  it('reads every key', () => {
    const config = parseConfig('[log]\nmax_body_bytes = 65536\nmax_bytes = 1048576\nkeep = 2\non_failure = "continue"\n', FILE);
    expect(config.log).toEqual({ maxBodyBytes: 65536, maxBytes: 1048576, keep: 2, onFailure: 'continue' });
    expect(Object.isFrozen(config.log)).toBe(true);
  });

  it('rejects an unknown on_failure with the valid choices, on its line', () => {
    const issues = issuesOf('[log]\n\non_failure = "drop"\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: FILE, line: 3, key: 'log.on_failure' });
    expect(issues[0]?.message).toContain('"block"');
    expect(issues[0]?.message).toContain('"continue"');
  });

  it('rejects sizes out of range and wrong types, all at once', () => {
    const issues = issuesOf('[log]\nmax_body_bytes = 10\nmax_bytes = "big"\nkeep = 0\n');
    expect(issues.map((i) => `${i.line}:${i.key}`)).toEqual(['2:log.max_body_bytes', '3:log.max_bytes', '4:log.keep']);
  });

  it('rejects unknown keys in [log] and a [log] that is not a table', () => {
    expect(issuesOf('[log]\nlevel = "debug"\n')).toMatchObject([{ line: 2, key: 'log.level' }]);
    expect(issuesOf('log = 3\n')).toMatchObject([{ key: 'log' }]);
  });

  it('is named among the valid top-level tables', () => {
    expect(issuesOf('[logs]\n')[0]?.message).toContain('[log]');
  });

  it('is documented in the generated reference', () => {
    const reference = generateConfigReference();
    expect(reference).toContain('[log]');
    expect(reference).toContain('on_failure');
    expect(reference).toContain('max_body_bytes');
  });
});
