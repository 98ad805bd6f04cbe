// Bounded fuzz of the config loader (issue 11; DESIGN.md §2 "Errors name the file, line and
// key"): random TOML-ish documents built from sluice's own tables and keys, and byte and line
// mutations of the sample sluice.toml and of a full example. parseConfig must return a config
// or throw ConfigError, never anything else, and every issue must name the file, a line of the
// document, and the key (TOML syntax errors have no key: they name the line and column).
// Fixed seeds, fixed numbers of runs, and a time limit.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/errors.ts';
import * as schema from '../../src/config/schema.ts';

// Relative paths resolve beside this (missing) file; parseConfig itself reads and writes nothing.
const FILE = '/nonexistent/sluice-fuzz/sluice.toml';
const TIME_LIMIT_MS = 6_000;

const SAMPLE = readFileSync(join(import.meta.dirname, '../../sluice.toml'), 'utf8');
/** Every table of DESIGN.md §2's example, credentials included. */
const FULL = `
[proxy]
agent = "my-agent"
uid = 1337
ca_dir = "certs"
log_dir = "logs"
extra_upstream_ca = ""

[[allow]]
host = "api.anthropic.com"
llm = "anthropic"

[[allow]]
host = "git.internal.example"
private = true

[[allow]]
host = "*.githubusercontent.com"
methods = ["GET", "HEAD"]
paths = ["/org/**"]

[[allow]]
host = "*.amazonaws.com"

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "sk-ant-api03-sluice-EXAMPLE"
secret = { env = "ANTHROPIC_API_KEY" }

[credentials.aws]
type = "aws"
hosts = ["*.amazonaws.com"]
surrogate_access_key_id = "AKIASLUICEEXAMPLE000"
surrogate_secret_access_key = "sluice-example-surrogate-secret"
access_key_id = { env = "AWS_ACCESS_KEY_ID" }
secret_access_key = { env = "AWS_SECRET_ACCESS_KEY" }
session_token = { env = "AWS_SESSION_TOKEN", optional = true }
`;

/** The keys sluice knows, from the schema itself (so the fuzz follows it as it grows). */
const KNOWN_KEYS = [...new Set(Object.entries(schema)
  .filter(([name, value]) => name.endsWith('_KEYS') && typeof value === 'object' && value !== null)
  .flatMap(([, value]) => Object.keys(value as object)))];
const TABLES = ['[proxy]', '[upstream]', '[dns]', '[client]', '[log]', '[websocket]', '[budget]', '[prices]', '[[allow]]', '[credentials.a]', '[credentials.aws]',
  '[credentials]', '[allow]', '[[proxy]]', '[proxy.extra]', '[nope]', '[credentials."x y"]', '[prices."claude-*"]', '[budget.models."m"]', '[', '[[allow]', ''];

const stringValue = fc.constantFrom('""', '"x"', '"api.anthropic.com"', '"*.example.com"', '"*"', '"../../etc"', '"/abs/path"', '"GET"', '"anthropic"', '"sinkhole"',
  '"127.0.0.1:53"', '"10.0.0.0/8"', '"AKIASLUICEEXAMPLE000"', '"sk-ant-api03-sluice-EXAMPLE"', "'single'", '"""multi\nline"""', '"\\q bad escape"', '"\\u0000"', '"unterminated', '"é✓"');
const value = fc.oneof(
  stringValue,
  fc.constantFrom('0', '1', '-1', '1337', '65535', '65536', '9007199254740993', '1e400', '0x10', '1_000', '3.5', '-0.0', 'nan', 'inf', 'true', 'false', 'True',
    '1979-05-27T07:32:00Z', '07:32:00', '', '=', 'bare'),
  fc.array(stringValue, { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
  fc.constantFrom('[1, "a"]', '[[]]', '[', '{ env = "X" }', '{ file = "/run/secrets/x" }', '{ env = 1 }', '{ env = "X", file = "y" }', '{ env = "X", optional = true }', '{}', '{ a.b = 1 }', '{ env = "X"'),
);
const key = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...KNOWN_KEYS) }, { weight: 1, arbitrary: fc.constantFrom('unknown', 'a.b', '"quoted key"', 'host.x', '', '1', 'type', 'hosts', 'secret') });
const line = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...TABLES) }, { weight: 4, arbitrary: fc.tuple(key, value).map(([k, v]) => `${k} = ${v}`) }, { weight: 1, arbitrary: fc.constantFrom('# comment', '   ', 'garbage line', 'x = 1 # trailing') });
const generated = fc.array(line, { maxLength: 25 }).map((lines) => lines.join('\n'));

/** One to four line or byte edits of a valid document, applied one after another. */
function mutated(base: string): fc.Arbitrary<string> {
  type Edit = (doc: string) => string;
  const lineEdit: fc.Arbitrary<Edit> = fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('delete', 'duplicate', 'swap', 'replace'), line).map(([a, b, op, text]) => (doc: string) => {
    const lines = doc.split('\n');
    const i = a % lines.length;
    const j = b % lines.length;
    const out = [...lines];
    if (op === 'delete') out.splice(i, 1);
    else if (op === 'duplicate') out.splice(j, 0, lines[i] as string);
    else if (op === 'swap') [out[i], out[j]] = [lines[j] as string, lines[i] as string];
    else out[i] = text;
    return out.join('\n');
  });
  const byteEdit: fc.Arbitrary<Edit> = fc.tuple(fc.nat(), fc.constantFrom('"', '[', ']', '=', '\n', '\\', '{', ',', '#', '\x00', 'x', ''), fc.nat({ max: 3 }))
    .map(([a, insert, drop]) => (doc: string) => {
      const at = a % (doc.length + 1);
      return doc.slice(0, at) + insert + doc.slice(at + drop);
    });
  return fc.array(fc.oneof(lineEdit, byteEdit), { minLength: 1, maxLength: 4 }).map((edits) => edits.reduce((doc, edit) => edit(doc), base));
}

/** Throws (failing the property) unless `source` loads, or fails with issues that say where. */
function checkLoads(source: string): 'ok' | 'refused' {
  let error: unknown;
  try {
    parseConfig(source, FILE);
    return 'ok';
  } catch (err) {
    error = err;
  }
  if (!(error instanceof ConfigError)) throw new Error(`parseConfig threw ${String(error)} (not a ConfigError) for:\n${source}`, { cause: error });
  const lineCount = source.split('\n').length;
  expect(error.issues.length).toBeGreaterThan(0);
  for (const issue of error.issues) {
    const where = `${JSON.stringify(issue)} for:\n${source}`;
    expect(issue.file, where).toBe(FILE);
    expect(Number.isInteger(issue.line) && issue.line >= 1 && issue.line <= lineCount + 1, `line ${issue.line} of ${lineCount}: ${where}`).toBe(true);
    expect(issue.message.length, where).toBeGreaterThan(0);
    if (!issue.message.startsWith('invalid TOML')) expect(issue.key, `no key named: ${where}`).not.toBe('');
  }
  return 'refused';
}

describe('fuzz: the config loader', () => {
  it('the documents mutated below load as they are', () => {
    expect(checkLoads(SAMPLE)).toBe('ok');
    expect(checkLoads(FULL)).toBe('ok');
  });

  for (const [name, arbitrary, seed, runs] of [
    ['random TOML-ish documents of sluice\'s tables and keys', generated, 0x51_1c_e3, 3_000],
    ['mutations of the sample sluice.toml', mutated(SAMPLE), 0x51_1c_e4, 1_500],
    ['mutations of a full example (credentials, allow rules with methods and paths)', mutated(FULL), 0x51_1c_e5, 1_500],
  ] as const) {
    it(`${name}: a config or a ConfigError naming file, line and key`, () => {
      const counts = { ok: 0, refused: 0 };
      const started = performance.now();
      fc.assert(fc.property(arbitrary, (source) => {
        counts[checkLoads(source)]++;
      }), { seed, numRuns: runs, interruptAfterTimeLimit: TIME_LIMIT_MS });
      console.log(`[fuzz config] ${name}: ${counts.ok} loaded, ${counts.refused} refused, in ${Math.round(performance.now() - started)} ms`);
      expect(counts.ok + counts.refused).toBeGreaterThan(runs / 4);
    }, 20_000);
  }
});
