import { describe, expect, it } from 'vitest';
import { indexKeyLines, joinKey, locateKey } from '../../src/config/locate.ts';

// Line numbers in these sources are what a user sees in an editor (1-based).
const SOURCE = `# a comment with [brackets] and key = value
[proxy]
agent = "a"
uid = 1337

[[allow]]
host = "one.example"

[[allow]]                       # second rule
host = "two.example"
methods = [
  "GET",   # comment ] with a bracket
  "HEAD",
]

[[allow]]
host = "three.example"
paths = ["/a/**"]
methods = ["POST"]

[credentials.aws]
type = "aws"
hosts = ["*.amazonaws.com"]
secret_access_key = { env = "AWS_SECRET_ACCESS_KEY" }

[credentials."my cred"]
hosts = ["x.example"]
`;

describe('locateKey', () => {
  const index = indexKeyLines(SOURCE);

  it('finds keys in plain tables', () => {
    expect(index.lineOf('proxy.agent')).toBe(3);
    expect(index.lineOf('proxy.uid')).toBe(4);
  });

  it('numbers [[allow]] entries from 0 and finds keys inside each', () => {
    expect(index.lineOf('allow[0].host')).toBe(7);
    expect(index.lineOf('allow[1].host')).toBe(10);
    expect(index.lineOf('allow[1].methods')).toBe(11);
    expect(index.lineOf('allow[2].methods')).toBe(19);
    expect(index.lineOf('allow[2].paths')).toBe(18);
  });

  it('skips over multi-line arrays and their comments', () => {
    // If the scanner lost its place inside the array, allow[2] would be numbered wrongly.
    expect(index.lineOf('allow[2]')).toBe(16);
  });

  it('finds keys of named tables and attributes inline-table keys to their line', () => {
    expect(index.lineOf('credentials.aws.hosts')).toBe(23);
    expect(index.lineOf('credentials.aws.secret_access_key')).toBe(24);
    expect(index.lineOf('credentials.aws.secret_access_key.env')).toBe(24);
  });

  it('handles quoted table names, spelled as joinKey spells them', () => {
    const key = joinKey(joinKey('credentials', 'my cred'), 'hosts');
    expect(key).toBe('credentials."my cred".hosts');
    expect(index.lineOf(key)).toBe(27);
  });

  it('falls back to the table header, then to line 1', () => {
    expect(index.lineOf('proxy.admin_port')).toBe(2);
    expect(index.lineOf('allow[0].methods')).toBe(6);
    expect(index.lineOf('credentials.aws.session_token')).toBe(21);
    expect(index.lineOf('dns.deny')).toBe(1);
    expect(index.lineOf('')).toBe(1);
  });

  it('finds the first header of a table that only appears as a prefix', () => {
    expect(index.lineOf('credentials')).toBe(21);
    expect(index.lineOf('allow')).toBe(6);
  });

  it('handles dotted keys at the top level and inside tables', () => {
    const src = 'proxy.uid = 1\n[dns]\nupstream.x = 2\n';
    expect(locateKey(src, 'proxy.uid')).toBe(1);
    expect(locateKey(src, 'dns.upstream.x')).toBe(3);
    expect(locateKey(src, 'dns.upstream')).toBe(3);
  });

  it('is not fooled by headers and keys inside multi-line strings', () => {
    const src = [
      '[proxy]',
      'agent = """',
      '[dns]',
      'uid = 5',
      '"""',
      "extra = '''",
      '[[allow]]',
      "'''",
      'uid = 7',
    ].join('\n');
    expect(locateKey(src, 'proxy.uid')).toBe(9);
    expect(locateKey(src, 'dns')).toBe(1);
    expect(locateKey(src, 'allow[0]')).toBe(1);
  });

  it('numbers nested arrays of tables per parent element', () => {
    const src = ['[[a]]', '[[a.b]]', 'x = 1', '[[a]]', '[[a.b]]', '[[a.b]]', 'x = 2'].join('\n');
    expect(locateKey(src, 'a[0].b[0].x')).toBe(3);
    expect(locateKey(src, 'a[1].b[1].x')).toBe(7);
    expect(locateKey(src, 'a[1].b[0]')).toBe(5);
  });

  it('copes with CRLF line endings and whitespace inside headers', () => {
    const src = '[ proxy ]\r\n\r\n  uid = 1\r\n[[ allow ]]\r\nhost = "a"\r\n';
    expect(locateKey(src, 'proxy.uid')).toBe(3);
    expect(locateKey(src, 'allow[0].host')).toBe(5);
  });
});
