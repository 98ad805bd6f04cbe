import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkCommand } from '../../src/cli/check.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { generateConfigReference, replaceReference, REFERENCE_END, REFERENCE_START } from '../../src/config/reference.ts';
import { SECTIONS } from '../../src/config/schema.ts';
import { checkSecretSources } from '../../src/config/secrets-check.ts';

const SECRET_VALUE = 'TOP-SECRET-VALUE-never-printed';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-check-'));
  await mkdir(join(dir, 'secrets'));
  await writeFile(join(dir, 'secrets', 'good'), `${SECRET_VALUE}\n`);
  await writeFile(join(dir, 'secrets', 'empty'), ' \n');
  await mkdir(join(dir, 'secrets', 'folder'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bearer = (name: string, secret: string) => `
[credentials.${name}]
hosts = ["api.example.com"]
surrogate = "surrogate-${name}-0123456789"
secret = ${secret}
`;

describe('checkSecretSources', () => {
  const source = `[[allow]]
host = "api.example.com"
[[allow]]
host = "*.amazonaws.com"
${bearer('unset', '{ env = "SLUICE_TEST_UNSET" }')}${bearer('emptyenv', '{ env = "SLUICE_TEST_EMPTY" }')}${bearer('goodenv', '{ env = "SLUICE_TEST_GOOD" }')}${bearer('missingfile', '{ file = "secrets/missing" }')}${bearer('emptyfile', '{ file = "secrets/empty" }')}${bearer('folder', '{ file = "secrets/folder" }')}${bearer('goodfile', '{ file = "secrets/good" }')}${bearer('optionalfile', '{ file = "secrets/missing", optional = true }')}
[credentials.aws]
type = "aws"
hosts = ["*.amazonaws.com"]
surrogate_access_key_id = "AKIASLUICEEXAMPLE000"
surrogate_secret_access_key = "sluice-example-surrogate-secret"
access_key_id = { env = "SLUICE_TEST_GOOD" }
secret_access_key = { file = "secrets/good" }
session_token = { env = "SLUICE_TEST_UNSET", optional = true }
`;
  const env = { SLUICE_TEST_EMPTY: '', SLUICE_TEST_GOOD: SECRET_VALUE };

  it('reports unset and empty variables, missing, empty and folder files, each with file:line: key', () => {
    const config = parseConfig(source, join(dir, 'sluice.toml'));
    const problems = checkSecretSources(config, { source, displayFile: 'sluice.toml', env });
    expect(problems).toEqual([
      'sluice.toml:9: credentials.unset.secret: environment variable SLUICE_TEST_UNSET is not set; set it in sluice\'s environment, or mark the source optional = true if it may be absent',
      'sluice.toml:14: credentials.emptyenv.secret: environment variable SLUICE_TEST_EMPTY is empty; set it in sluice\'s environment, or mark the source optional = true if it may be absent',
      `sluice.toml:24: credentials.missingfile.secret: secret file ${join(dir, 'secrets', 'missing')} does not exist; create it, or mark the source optional = true if it may be absent`,
      `sluice.toml:29: credentials.emptyfile.secret: secret file ${join(dir, 'secrets', 'empty')} is empty; valid: a file holding the secret`,
      `sluice.toml:34: credentials.folder.secret: secret file ${join(dir, 'secrets', 'folder')} is a folder; valid: a readable file holding the secret`,
    ]);
    expect(problems.join('\n')).not.toContain(SECRET_VALUE);
  });

  it('accepts an absent optional session token and optional file', () => {
    const config = parseConfig(source, join(dir, 'sluice.toml'));
    const problems = checkSecretSources(config, { source, env });
    expect(problems.some((p) => p.includes('session_token') || p.includes('optionalfile'))).toBe(false);
  });

  it('reads the config file itself for line numbers when no source is given', async () => {
    const file = join(dir, 'on-disk.toml');
    await writeFile(file, source);
    const problems = checkSecretSources(await loadConfig(file), { env });
    expect(problems[0]).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}:9: credentials\\.unset\\.secret: `));
  });

  it('reports a file it may not read (the real CLI, without the power to read anything)', async () => {
    const locked = join(dir, 'secrets', 'locked');
    await writeFile(locked, SECRET_VALUE, { mode: 0o000 });
    await chmod(locked, 0o000);
    const file = join(dir, 'locked.toml');
    await writeFile(file, `[[allow]]\nhost = "api.example.com"\n${bearer('locked', '{ file = "secrets/locked" }')}`, { mode: 0o644 });
    // Root reads anything: without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH it meets a real
    // EACCES like any user, and can still read the checkout wherever CI put it.
    const bin = join(import.meta.dirname, '../../bin/sluice.js');
    const argv = process.getuid?.() === 0
      ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', process.execPath, bin, 'check', '-c', file]
      : [process.execPath, bin, 'check', '-c', file];
    const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${file}:7: credentials.locked.secret: cannot read secret file ${locked} (permission denied); make it readable by the user sluice runs as`);
    expect(result.stderr + result.stdout).not.toContain(SECRET_VALUE);
  });
});

/** Runs checkCommand with stdout and stderr captured. */
async function runCheck(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const capture = (append: (s: string) => void) => ((chunk: string | Uint8Array) => {
    append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture((s) => (stdout += s)));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture((s) => (stderr += s)));
  try {
    const code = await checkCommand(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('sluice check', () => {
  const goodSource = `[proxy]
agent = "test-agent"

[[allow]]
host = "api.example.com"
llm = "openai"

[[allow]]
host = "*.githubusercontent.com"
methods = ["GET", "HEAD"]
paths = ["/org/**"]
private = true
${bearer('example', '{ env = "SLUICE_TEST_CHECK_SECRET" }')}`;

  it('exits 1 and prints every error as FILE:LINE: KEY: on stderr', async () => {
    const file = join(dir, 'bad.toml');
    await writeFile(file, '[proxy]\nuid = "root"\n\n[[allow]]\nhost = "*"\nmethods = ["FETCH", "GET /"]\n');
    const { code, stdout, stderr } = await runCheck(['-c', file]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `${file}:2: proxy.uid: expected an integer from 0 to 4294967294, got a string\n` +
        `${file}:5: allow[0].host: "*" would allow every host; write a DNS name like "api.example.com" or "*.example.com"\n` +
        `${file}:6: allow[0].methods: "GET /" is not an HTTP method; valid: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or another method name of letters and "-"\n`,
    );
  });

  it('summarises what a valid config allows, showing only a prefix of each surrogate', async () => {
    const file = join(dir, 'good.toml');
    await writeFile(file, goodSource);
    const { code, stdout, stderr } = await runCheck(['--config', file, '--no-secrets']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`${file} is valid (agent "test-agent").

Allowed (anything else is denied):
  allow[0] api.example.com  methods: any  paths: any  llm: openai
  allow[1] *.githubusercontent.com  methods: GET, HEAD  paths: /org/**  private addresses allowed

Credentials:
  example (bearer)  hosts: api.example.com
    surrogate surrogat…  secret from $SLUICE_TEST_CHECK_SECRET

Secrets: not checked (--no-secrets).
`);
    expect(stdout).not.toContain('surrogate-example-0123456789');
  });

  it('fails on an unreadable secret source unless --no-secrets', async () => {
    const file = join(dir, 'good.toml');
    await writeFile(file, goodSource);
    delete process.env.SLUICE_TEST_CHECK_SECRET;
    const { code, stderr } = await runCheck(['-c', file]);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}:17: credentials\\.example\\.secret: environment variable SLUICE_TEST_CHECK_SECRET is not set;`));
  });

  it('passes when the secret is there, and never prints it', async () => {
    const file = join(dir, 'good.toml');
    await writeFile(file, goodSource);
    process.env.SLUICE_TEST_CHECK_SECRET = SECRET_VALUE;
    try {
      const { code, stdout, stderr } = await runCheck(['-c', file]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toContain('Secrets: 1 source readable.');
      expect(stdout).not.toContain(SECRET_VALUE);
    } finally {
      delete process.env.SLUICE_TEST_CHECK_SECRET;
    }
  });

  it('reads ./sluice.toml by default (the checked-in config is valid)', async () => {
    const { code, stdout } = await runCheck([]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^sluice\.toml is valid \(agent "my-agent"\)\./);
    expect(stdout).toContain('allow[0] api.anthropic.com  methods: any  paths: any  llm: anthropic');
  });

  it('reports a missing config file', async () => {
    const file = join(dir, 'nope.toml');
    const { code, stderr } = await runCheck(['-c', file]);
    expect(code).toBe(1);
    expect(stderr).toBe(`${file}: cannot read the config file (ENOENT)\n`);
  });

  it('exits 2 on an unknown option, with usage', async () => {
    const { code, stderr } = await runCheck(['--bogus']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^sluice check: Unknown option '--bogus'.*\nusage: sluice check/s);
  });
});

describe('configuration reference', () => {
  it('documents every key of every section with its type and default', () => {
    const reference = generateConfigReference();
    for (const section of SECTIONS) {
      expect(reference).toMatch(new RegExp(`^### \`?${section.heading.replace(/[[\]().*]/g, '\\$&')}\`?$`, 'm'));
      for (const [name, spec] of Object.entries(section.keys)) {
        expect(reference).toMatch(new RegExp(`^\\| \`${name}\` \\| ${spec.type} \\| `, 'm'));
      }
    }
    expect(reference).toContain('| `https_port` | port | `15443` | Listener for captured TLS connections. |');
    expect(reference).toContain('| `headers_timeout_ms` | integer | `600000` (10 min) |');
    expect(reference).toContain('| `host` | string | required |');
  });

  it('is up to date in README.md (regenerate: npx node scripts/config-reference.ts)', async () => {
    const readme = await readFile('README.md', 'utf8');
    expect(replaceReference(readme, generateConfigReference())).toBe(readme);
  });

  it('replaces only what is between the markers, and refuses a README without them', () => {
    const readme = `# x\n${REFERENCE_START}\nold\n${REFERENCE_END}\ntail\n`;
    expect(replaceReference(readme, 'new\n')).toBe(`# x\n${REFERENCE_START}\nnew\n${REFERENCE_END}\ntail\n`);
    expect(() => replaceReference('# x\n', 'new\n')).toThrow(/no <!-- config-reference:start -->/);
  });
});
