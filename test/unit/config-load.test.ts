import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import type { ConfigIssue } from '../../src/config/errors.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';

// parseConfig never touches the disk; this file name only shapes messages and relative paths.
const FILE = '/cfg/sluice.toml';
const ALLOW_A = '[[allow]]\nhost = "a.example"\n';
const BEARER = (name: string, surrogate: string, hosts = '["a.example"]') =>
  `[credentials.${name}]\nhosts = ${hosts}\nsurrogate = "${surrogate}"\nsecret = { env = "X_${name.toUpperCase()}" }\n`;

function issuesOf(source: string): ConfigIssue[] {
  try {
    parseConfig(source, FILE);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function oneIssue(source: string): ConfigIssue {
  const issues = issuesOf(source);
  expect(issues.map((i) => `${i.line}: ${i.key}: ${i.message}`)).toHaveLength(1);
  return issues[0] as ConfigIssue;
}

describe('parseConfig: a valid file', () => {
  it('fills every default for an empty file', () => {
    const config = parseConfig('', FILE);
    expect(config).toEqual({
      file: FILE,
      proxy: {
        agent: 'my-agent',
        uid: 1337,
        caDir: '/cfg/certs',
        logDir: '/cfg/logs',
        extraUpstreamCa: undefined,
        httpsPort: 15443,
        httpPort: 15080,
        denyPort: 15001,
        dnsPort: 15053,
        adminPort: 15000,
        adminBind: ['127.0.0.1', '::1'],
        leafKey: 'rsa',
        leafCacheSize: 1000,
        drainSeconds: 10,
        bufferBudgetBytes: 256 * 1024 * 1024,
        mode: 'enforce',
      },
      upstream: {
        httpsPort: 443,
        httpPort: 80,
        connectTimeoutMs: 10_000,
        headersTimeoutMs: 600_000,
        maxBufferedBodyBytes: 10 * 1024 * 1024,
        http2: false,
        publicCidrs: [],
      },
      dns: { deny: 'sinkhole', upstream: undefined },
      client: { headersTimeoutMs: 30_000, keepAliveTimeoutMs: 60_000, maxHeaderBytes: 32 * 1024, maxHeaderCount: 100 },
      log: { maxBodyBytes: 4 * 1024 * 1024, maxBytes: 100 * 1024 * 1024, keep: 5, onFailure: 'block' },
      websocket: { maxFrameBytes: 16 * 1024 * 1024, maxMessageBytes: 64 * 1024 * 1024, idleTimeoutMs: 600_000 },
      budget: { requestsPerMinute: undefined, tokensPerDay: undefined, usdPerDay: undefined, models: [] },
      prices: [],
      allow: [],
      credentials: [],
    });
  });

  it('reads allow rules and both credential types into the Config shape', () => {
    const config = parseConfig(
      `
[[allow]]
host = "API.Anthropic.COM."
llm = "anthropic"

[[allow]]
host = "*.amazonaws.com"
private = true
methods = ["get", "HEAD", "GET"]
paths = ["/bucket/**", "/x/*/y"]

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "sk-ant-api03-sluice-EXAMPLE"
secret = { env = "ANTHROPIC_API_KEY" }
headers = ["X-Custom-Key"]
query = ["key"]
body = true

[credentials.aws]
type = "aws"
hosts = ["*.amazonaws.com"]
surrogate_access_key_id = "AKIASLUICEEXAMPLE000"
surrogate_secret_access_key = "sluice-example-surrogate-secret"
access_key_id = { env = "AWS_ACCESS_KEY_ID" }
secret_access_key = { file = "secrets/aws" }
session_token = { env = "AWS_SESSION_TOKEN", optional = true }
allow_foreign_credentials = true
`,
      FILE,
    );
    expect(config.allow).toEqual([
      { index: 0, host: 'api.anthropic.com', llm: 'anthropic', private: false, methods: undefined, paths: undefined, models: undefined, maxTokens: undefined, clampMaxTokens: false },
      { index: 1, host: '*.amazonaws.com', llm: undefined, private: true, methods: ['GET', 'HEAD'], paths: ['/bucket/**', '/x/*/y'], models: undefined, maxTokens: undefined, clampMaxTokens: false },
    ]);
    expect(config.credentials).toEqual([
      {
        type: 'bearer',
        name: 'anthropic',
        hosts: ['api.anthropic.com'],
        surrogate: 'sk-ant-api03-sluice-EXAMPLE',
        secret: { kind: 'env', name: 'ANTHROPIC_API_KEY', optional: false },
        headers: ['x-custom-key'],
        query: ['key'],
        body: true,
        allowForeignCredentials: false,
        plaintext: false,
      },
      {
        type: 'aws',
        name: 'aws',
        hosts: ['*.amazonaws.com'],
        surrogateAccessKeyId: 'AKIASLUICEEXAMPLE000',
        surrogateSecretAccessKey: 'sluice-example-surrogate-secret',
        accessKeyId: { kind: 'env', name: 'AWS_ACCESS_KEY_ID', optional: false },
        secretAccessKey: { kind: 'file', path: '/cfg/secrets/aws', optional: false },
        sessionToken: { kind: 'env', name: 'AWS_SESSION_TOKEN', optional: true },
        allowForeignCredentials: true,
        plaintext: false,
      },
    ]);
  });

  it('accepts an aws credential without a session token', () => {
    const config = parseConfig(
      `[[allow]]
host = "sts.amazonaws.com"
[credentials.aws]
type = "aws"
hosts = ["sts.amazonaws.com"]
surrogate_access_key_id = "AKIASLUICEEXAMPLE000"
surrogate_secret_access_key = "sluice-example-surrogate-secret"
access_key_id = { env = "AWS_ACCESS_KEY_ID" }
secret_access_key = { env = "AWS_SECRET_ACCESS_KEY" }
`,
      FILE,
    );
    const aws = config.credentials[0];
    expect(aws?.type === 'aws' && aws.sessionToken).toBeUndefined();
  });

  it('resolves relative paths against the config file\'s folder, absolute ones unchanged', () => {
    const config = parseConfig(
      `${ALLOW_A}[proxy]\nca_dir = "../ca"\nlog_dir = "/var/log/sluice"\nextra_upstream_ca = "test/ca.pem"\n${BEARER('a', 'surrogate-0123456789').replace('{ env = "X_A" }', '{ file = "secrets/a" }')}`,
      '/srv/conf/sluice.toml',
    );
    expect(config.file).toBe('/srv/conf/sluice.toml');
    expect(config.proxy.caDir).toBe('/srv/ca');
    expect(config.proxy.logDir).toBe('/var/log/sluice');
    expect(config.proxy.extraUpstreamCa).toBe('/srv/conf/test/ca.pem');
    const bearer = config.credentials[0];
    expect(bearer?.type === 'bearer' && bearer.secret).toEqual({ kind: 'file', path: '/srv/conf/secrets/a', optional: false });
  });

  it('resolves a relative config file name against the working directory', () => {
    const config = parseConfig('', 'conf/sluice.toml');
    expect(config.file).toBe(resolve('conf/sluice.toml'));
    expect(config.proxy.caDir).toBe(resolve('conf/certs'));
  });

  it('treats extra_upstream_ca = "" and dns.upstream = "" as not set', () => {
    const config = parseConfig('[proxy]\nextra_upstream_ca = ""\n[dns]\nupstream = ""\n', FILE);
    expect(config.proxy.extraUpstreamCa).toBeUndefined();
    expect(config.dns.upstream).toBeUndefined();
  });

  it('returns a deeply frozen Config', () => {
    const config = parseConfig(
      `[[allow]]\nhost = "a.example"\nmethods = ["GET"]\n${BEARER('a', 'surrogate-0123456789')}`,
      FILE,
    );
    for (const part of [config, config.proxy, config.proxy.adminBind, config.allow, config.allow[0], config.allow[0]?.methods, config.credentials[0]]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    const bearer = config.credentials[0];
    expect(bearer?.type === 'bearer' && Object.isFrozen(bearer.secret)).toBe(true);
    expect(() => {
      (config.proxy as { uid: number }).uid = 0;
    }).toThrow(TypeError);
    expect(() => (config.allow as unknown as unknown[]).push({})).toThrow(TypeError);
  });
});

describe('parseConfig: errors name file, line and key', () => {
  it('reports a TOML syntax error with its line and no key', () => {
    const source = '[proxy]\nagent = "a"\nuid = \n';
    const issue = oneIssue(source);
    expect(issue).toMatchObject({ file: FILE, line: 3, key: '' });
    expect(issue.message).toMatch(/^invalid TOML: /);
    expect(() => parseConfig(source, 'sluice.toml')).toThrow(/^sluice\.toml:3: invalid TOML: .+ \(column \d+\)$/);
  });

  it('rejects keys that would reach Object.prototype as invalid TOML', () => {
    expect(oneIssue('[proxy]\n__proto__ = 1\n')).toMatchObject({ line: 2, key: '' });
  });

  it('formats the error message as FILE:LINE: KEY: message, one line per issue', () => {
    let message = '';
    try {
      parseConfig('[proxy]\nuid = "x"\n\n[dns]\ndeny = "drop"\n', 'sluice.toml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'sluice.toml:2: proxy.uid: expected an integer from 0 to 4294967294, got a string\n' +
        'sluice.toml:5: dns.deny: "drop" is not valid; valid: "sinkhole" or "nxdomain"',
    );
  });

  describe('unknown keys, at every level, name the valid keys', () => {
    it('at the top level', () => {
      const issue = oneIssue('[logs]\nx = 1\n');
      expect(issue).toMatchObject({ line: 1, key: 'logs' });
      expect(issue.message).toBe(
        'unknown table or key; valid at the top level: [proxy], [upstream], [dns], [client], [log], [websocket], [budget], [prices."GLOB"], [[allow]], [credentials.NAME]',
      );
    });

    it('in [proxy], with a suggestion for a typo', () => {
      const issue = oneIssue('[proxy]\nagent = "a"\nui = 5\n');
      expect(issue).toMatchObject({ line: 3, key: 'proxy.ui' });
      expect(issue.message).toMatch(/^unknown key \(did you mean "uid"\?\); valid keys in \[proxy\]: agent, uid, ca_dir, /);
    });

    it.each([
      ['upstream', 'timeout = 1', /valid keys in \[upstream\]: https_port, http_port, connect_timeout_ms, headers_timeout_ms, max_buffered_body_bytes, public_cidrs, http2$/],
      ['dns', 'mode = "x"', /valid keys in \[dns\]: deny, upstream$/],
      ['client', 'max_headers = 1', /valid keys in \[client\]: headers_timeout_ms, keepalive_timeout_ms, max_header_bytes, max_header_count$/],
    ])('in [%s]', (table, line, message) => {
      const issue = oneIssue(`[${table}]\n${line}\n`);
      expect(issue.line).toBe(2);
      expect(issue.message).toMatch(message);
    });

    it('in an [[allow]] entry', () => {
      const issue = oneIssue(`${ALLOW_A}[[allow]]\nhost = "b.example"\nport = 443\n`);
      expect(issue).toMatchObject({ line: 5, key: 'allow[1].port' });
      expect(issue.message).toBe('unknown key; valid keys in [[allow]]: host, llm, private, methods, paths, models, max_tokens, clamp_max_tokens');
    });

    it('in a bearer credential, pointing out keys that belong to type = "aws"', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789')}session_token = { env = "T" }\n`);
      expect(issue).toMatchObject({ line: 7, key: 'credentials.a.session_token' });
      expect(issue.message).toMatch(/^unknown key \(it belongs to type = "aws"\); valid keys in \[credentials\.a\] \(type = "bearer"\): type, hosts, surrogate, secret, headers, query, body, allow_foreign_credentials, plaintext$/);
    });

    it('in an aws credential', () => {
      const issue = oneIssue(`[[allow]]
host = "*.amazonaws.com"
[credentials.s3]
type = "aws"
hosts = ["s3.amazonaws.com"]
surrogate_access_key_id = "AKIASLUICEEXAMPLE000"
surrogate_secret_access_key = "sluice-example-surrogate-secret"
access_key_id = { env = "AWS_ACCESS_KEY_ID" }
secret_access_key = { env = "AWS_SECRET_ACCESS_KEY" }
region = "us-east-1"
`);
      expect(issue).toMatchObject({ line: 10, key: 'credentials.s3.region' });
      expect(issue.message).toMatch(/valid keys in \[credentials\.s3\] \(type = "aws"\): type, hosts, surrogate_access_key_id, /);
    });

    it('in a secret source', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789').replace('{ env = "X_A" }', '{ env = "X", fiel = "y" }')}`);
      expect(issue).toMatchObject({ line: 6, key: 'credentials.a.secret.fiel' });
      expect(issue.message).toBe('unknown key (did you mean "file"?); valid keys in a secret source: env, file, optional');
    });
  });

  describe('wrong types name the expected type', () => {
    it.each([
      ['[proxy]\nuid = "1337"\n', 'proxy.uid', 'expected an integer from 0 to 4294967294, got a string'],
      ['[proxy]\nhttps_port = 443.5\n', 'proxy.https_port', 'expected an integer from 1 to 65535, got a float'],
      ['[proxy]\nagent = 7\n', 'proxy.agent', 'expected a string, got an integer'],
      ['[proxy]\nadmin_bind = "127.0.0.1"\n', 'proxy.admin_bind', 'expected an array of strings, got a string'],
      ['[[allow]]\nhost = "a.example"\nprivate = "yes"\n', 'allow[0].private', 'expected a boolean (true or false), got a string'],
      ['[[allow]]\nhost = "a.example"\nmethods = "GET"\n', 'allow[0].methods', 'expected an array of strings, got a string'],
      ['[[allow]]\nhost = 1979-05-27\n', 'allow[0].host', 'expected a string (a host name or "*.domain"), got a date'],
      ['proxy = 5\n', 'proxy', 'expected a table [proxy], got an integer'],
      ['[allow]\nhost = "a.example"\n', 'allow', 'expected [[allow]] entries (an array of tables), got a table'],
      ['allow = ["a.example"]\n', 'allow[0]', 'expected a table ([[allow]] entry), got a string'],
      ['credentials = 1\n', 'credentials', 'expected tables [credentials.NAME], got an integer'],
    ])('%j', (source, key, message) => {
      const issue = oneIssue(source);
      expect(issue.key).toBe(key);
      expect(issue.message).toBe(message);
    });

    it('never echoes a value given where a secret source belongs', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789').replace('{ env = "X_A" }', '"sk-live-REAL-SECRET-VALUE"')}`);
      expect(issue).toMatchObject({ line: 6, key: 'credentials.a.secret' });
      expect(issue.message).toBe('expected an inline table { env = "NAME" } or { file = "path" }, got a string');
      expect(issue.message).not.toContain('REAL-SECRET');
    });
  });

  describe('host patterns', () => {
    it.each([
      ['', /^empty host; write a DNS name like/],
      ['*', /^"\*" would allow every host/],
      ['*foo.com', /"\*" is only valid as a whole leading label/],
      ['a.*.com', /"\*" is only valid as a whole leading label/],
      ['*.*.com', /"\*" is only valid as a whole leading label/],
      ['a..example', /has an empty label/],
      ['-a.example', /has the label "-a"/],
      [`${'x'.repeat(64)}.example`, /has the label "x{64}"/],
      ['https://a.example', /contains ":"; write the host name only, without scheme, port or path/],
      ['a.example:443', /contains ":"/],
      ['a.example/v1', /contains "\/"/],
      ['a b.example', /contains " "/],
      ['ex%61mple.com', /contains "%"/],
      ['*.10.0.0.1', /"\*\." needs a DNS name, not an IP address/],
      ['example.123', /ends in a number, so it is not a host name/],
      ['0x7f.1', /ends in a number/],
      ['2130706433', /ends in a number/],
    ])('rejects %j', (host, message) => {
      const issue = oneIssue(`[[allow]]\nhost = ${JSON.stringify(host)}\n`);
      expect(issue).toMatchObject({ line: 2, key: 'allow[0].host' });
      expect(issue.message).toMatch(message);
    });

    it.each([
      ['API.Example.COM.', 'api.example.com'],
      ['bücher.de', 'xn--bcher-kva.de'],
      ['*.Bücher.DE', '*.xn--bcher-kva.de'],
      ['*.amazonaws.com', '*.amazonaws.com'],
      ['git_server.internal', 'git_server.internal'],
      ['10.0.0.5', '10.0.0.5'],
      ['2001:DB8::0:1', '2001:db8::1'],
    ])('normalises %j to %j', (host, pattern) => {
      expect(parseConfig(`[[allow]]\nhost = ${JSON.stringify(host)}\n`, FILE).allow[0]?.host).toBe(pattern);
    });

  });

  describe('path globs', () => {
    it.each([
      ['v1/models', /"v1\/models" does not start with "\/"/],
      ['/v1?x=1', /"\?" is not supported/],
      ['/v1/[ab]', /character classes "\[\.\.\.\]" are not supported/],
      ['/v1/{a,b}', /alternatives "\{a,b\}" are not supported/],
      ['/v1/**x', /"\*\*" must be a whole segment/],
      ['/v1/../admin', /"\." and "\.\." segments are not supported/],
      ['/v1#top', /"#" is not supported/],
    ])('rejects %j', (glob, message) => {
      const issue = oneIssue(`[[allow]]\nhost = "a.example"\npaths = ["/ok/**", ${JSON.stringify(glob)}]\n`);
      expect(issue).toMatchObject({ line: 3, key: 'allow[0].paths' });
      expect(issue.message).toMatch(message);
      expect(issue.message).toMatch(/valid: a path from "\/"/);
    });

    it('accepts "*" segments, "**" anywhere and "*" inside a segment', () => {
      const globs = ['/v1/*/files', '/org/**', '/a/**/b', '/files/*.json', '/'];
      const config = parseConfig(`[[allow]]\nhost = "a.example"\npaths = ${JSON.stringify(globs)}\n`, FILE);
      expect(config.allow[0]?.paths).toEqual(globs);
    });

    it('rejects an empty list, which would allow nothing', () => {
      expect(oneIssue('[[allow]]\nhost = "a.example"\npaths = []\n').message).toBe(
        'an empty array allows nothing; omit paths to allow any path',
      );
    });
  });

  describe('methods and llm', () => {
    it.each([
      ['GET /', '"GET /" is not an HTTP method; valid: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or another method name of letters and "-"'],
      ['*', '"*" is not an HTTP method; omit methods to allow any method'],
      ['', '"" is not an HTTP method; valid: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or another method name of letters and "-"'],
    ])('rejects method %j', (method, message) => {
      const issue = oneIssue(`[[allow]]\nhost = "a.example"\n\nmethods = ["GET", ${JSON.stringify(method)}]\n`);
      expect(issue).toMatchObject({ line: 4, key: 'allow[0].methods', message });
    });

    it('upper-cases and de-duplicates methods', () => {
      const config = parseConfig('[[allow]]\nhost = "a.example"\nmethods = ["get", "PROPFIND", "Get", "M-SEARCH"]\n', FILE);
      expect(config.allow[0]?.methods).toEqual(['GET', 'PROPFIND', 'M-SEARCH']);
    });

    it('rejects an unknown llm provider', () => {
      expect(oneIssue('[[allow]]\nhost = "a.example"\nllm = "claude"\n')).toMatchObject({
        line: 3,
        key: 'allow[0].llm',
        message: '"claude" is not valid; valid: "anthropic", "openai" or "gemini"',
      });
    });
  });

  describe('ports and other values', () => {
    it('rejects two listeners on one port, naming both', () => {
      expect(oneIssue('[proxy]\nhttps_port = 8443\nadmin_port = 8443\n')).toMatchObject({
        line: 3,
        key: 'proxy.admin_port',
        message: '8443 is also proxy.https_port; each listener needs its own port',
      });
      // Against a default, the clash is reported on the key that was written.
      expect(oneIssue('[proxy]\nagent = "a"\nhttps_port = 15080\n')).toMatchObject({
        line: 3,
        key: 'proxy.https_port',
        message: '15080 is also the default of proxy.http_port; each listener needs its own port',
      });
    });

    it('lets upstream ports equal listener ports (they are on other machines)', () => {
      expect(parseConfig('[upstream]\nhttps_port = 15443\n', FILE).upstream.httpsPort).toBe(15443);
    });

    it.each([
      ['[proxy]\nhttp_port = 0\n', 'proxy.http_port', '0 is out of range; valid: an integer from 1 to 65535'],
      ['[upstream]\nhttps_port = 70000\n', 'upstream.https_port', '70000 is out of range; valid: an integer from 1 to 65535'],
      ['[proxy]\nleaf_key = "ed25519"\n', 'proxy.leaf_key', '"ed25519" is not valid; valid: "ecdsa" or "rsa"'],
      ['[proxy]\nadmin_bind = ["localhost"]\n', 'proxy.admin_bind', '"localhost" is not an IP address; valid: e.g. "127.0.0.1", "::1", "0.0.0.0"'],
      ['[proxy]\nadmin_bind = []\n', 'proxy.admin_bind', 'an empty array allows nothing; list at least one address, e.g. "127.0.0.1"'],
      ['[proxy]\nagent = ""\n', 'proxy.agent', 'expected a non-empty string without control characters'],
      ['[client]\nmax_header_count = 0\n', 'client.max_header_count', '0 is out of range; valid: an integer from 1 to 10000'],
    ])('%j', (source, key, message) => {
      expect(oneIssue(source)).toMatchObject({ key, message });
    });

    it('checks the DNS resolver address', () => {
      for (const ok of ['1.1.1.1', '10.0.0.2:5353', '[2606:4700::1111]:53', '::1']) {
        expect(parseConfig(`[dns]\nupstream = "${ok}"\n`, FILE).dns.upstream).toBe(ok);
      }
      for (const bad of ['dns.google', '1.1.1.1:99999', '[1.1.1.1]:53']) {
        expect(oneIssue(`[dns]\nupstream = "${bad}"\n`).message).toMatch(/is not a resolver address; valid: an IP address with an optional port/);
      }
    });
  });

  describe('credentials', () => {
    it('requires the keys of its type, with an example', () => {
      const issues = issuesOf(`${ALLOW_A}[credentials.a]\nhosts = ["a.example"]\n`);
      expect(issues.map((i) => [i.line, i.key, i.message])).toEqual([
        [3, 'credentials.a.surrogate', 'required key is missing from [credentials.a] (type = "bearer"); add surrogate (string), e.g. surrogate = "sk-sluice-surrogate-0123456789"'],
        [3, 'credentials.a.secret', 'required key is missing from [credentials.a] (type = "bearer"); add secret (secret source), e.g. secret = { env = "API_KEY" }'],
      ]);
    });

    it('rejects a secret source with both env and file, or neither', () => {
      const both = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789').replace('{ env = "X_A" }', '{ env = "X", file = "f" }')}`);
      expect(both).toMatchObject({
        line: 6,
        key: 'credentials.a.secret',
        message: 'both env and file given; valid: exactly one, { env = "NAME" } or { file = "path" }',
      });
      const neither = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789').replace('{ env = "X_A" }', '{ optional = true }')}`);
      expect(neither.message).toMatch(/^neither env and file given/);
    });

    it('rejects a surrogate shorter than 16 characters without echoing it', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'short-surrogate')}`);
      expect(issue).toMatchObject({ line: 5, key: 'credentials.a.surrogate' });
      expect(issue.message).toBe('not a usable surrogate (15 characters); valid: at least 16 printable ASCII characters without spaces');
    });

    it('rejects a surrogate used by two credentials', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789')}${BEARER('b', 'surrogate-0123456789')}`);
      expect(issue).toMatchObject({
        line: 9,
        key: 'credentials.b.surrogate',
        message: 'this surrogate is the same as credentials.a.surrogate; every surrogate must be unique',
      });
    });

    it('rejects a surrogate that contains another one', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789')}${BEARER('b', 'surrogate-0123456789-long')}`);
      expect(issue.message).toBe('this surrogate overlaps (one contains the other) credentials.a.surrogate; every surrogate must be unique');
    });

    it('rejects a credential host that no allow rule admits', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789', '["a.example", "b.example"]')}`);
      expect(issue).toMatchObject({
        line: 4,
        key: 'credentials.a.hosts',
        message: '"b.example" is not allowed by any [[allow]] rule, so this credential could never be used there; add [[allow]] host = "b.example" or remove it from hosts',
      });
    });

    it('accepts credential hosts that overlap an allow rule through wildcards', () => {
      const source = `[[allow]]\nhost = "*.example.com"\n[[allow]]\nhost = "s3.us-east-1.amazonaws.com"\n${BEARER('a', 'surrogate-0123456789', '["api.example.com", "*.eu.example.com", "*.amazonaws.com"]')}`;
      expect(parseConfig(source, FILE).credentials[0]?.hosts).toEqual(['api.example.com', '*.eu.example.com', '*.amazonaws.com']);
    });

    it('rejects an unknown type and a credential name that cannot be logged plainly', () => {
      expect(oneIssue(`${ALLOW_A}[credentials.a]\ntype = "oauth"\n`)).toMatchObject({
        line: 4,
        key: 'credentials.a.type',
        message: '"oauth" is not valid; valid: "bearer" or "aws"',
      });
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789').replace('[credentials.a]', '[credentials."my key"]')}`);
      expect(issue).toMatchObject({ line: 3, key: 'credentials."my key"' });
      expect(issue.message).toMatch(/^a credential name is letters, digits, "_" and "-"/);
    });

    it('checks header and query names', () => {
      const issue = oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789')}headers = ["x key"]\n`);
      expect(issue).toMatchObject({ line: 7, key: 'credentials.a.headers' });
      expect(oneIssue(`${ALLOW_A}${BEARER('a', 'surrogate-0123456789')}query = ["a=b"]\n`).key).toBe('credentials.a.query');
    });
  });

  it('reports every problem at once, in line order', () => {
    const source = `[proxy]
uid = -1
https_port = 15080

[[allow]]
host = "*"
methods = ["GET /"]

[credentials.a]
hosts = ["a.example"]
surrogate = "tiny"
secret = { env = "A", file = "b" }

[bogus]
`;
    const issues = issuesOf(source);
    expect(issues.map((i) => `${i.line} ${i.key}`)).toEqual([
      '2 proxy.uid',
      '3 proxy.https_port',
      '6 allow[0].host',
      '7 allow[0].methods',
      '11 credentials.a.surrogate',
      '12 credentials.a.secret',
      '14 bogus',
    ]);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the checked-in sluice.toml clean', async () => {
    const config = await loadConfig('sluice.toml');
    expect(config.file).toBe(resolve('sluice.toml'));
    expect(config.proxy.agent).toBe('my-agent');
    expect(config.allow.map((r) => [r.host, r.llm])).toEqual([
      ['api.anthropic.com', 'anthropic'],
      ['api.openai.com', 'openai'],
      ['generativelanguage.googleapis.com', 'gemini'],
    ]);
    expect(config.credentials).toEqual([]);
  });

  it('loads the checked-in sluice.toml with its commented-out examples enabled', async () => {
    // The examples show users the shape of each feature; they must stay valid.
    const source = await readFile('sluice.toml', 'utf8');
    const enabled = source.replace(/^# ((?:\[|[a-z_]+ = ).*)$/gm, '$1');
    expect(enabled).not.toBe(source);
    const file = join(dir, 'examples.toml');
    await writeFile(file, `${enabled}\n[[allow]]\nhost = "*.amazonaws.com"\n`);
    const config = await loadConfig(file);
    expect(config.credentials.map((c) => [c.name, c.type])).toEqual([
      ['anthropic', 'bearer'],
      ['aws', 'aws'],
    ]);
    expect(config.allow.some((r) => r.methods !== undefined && r.paths !== undefined)).toBe(true);
    expect(config.allow.some((r) => r.private)).toBe(true);
  });

  it('reports a missing file as a ConfigError naming it', async () => {
    const file = join(dir, 'missing.toml');
    await expect(loadConfig(file)).rejects.toThrow(`${file}: cannot read the config file (ENOENT)`);
  });

  it('names the file as given in every issue', async () => {
    const file = join(dir, 'bad.toml');
    await writeFile(file, '[proxy]\n\nuid = "x"\n');
    await expect(loadConfig(file)).rejects.toThrow(`${file}:3: proxy.uid: expected an integer`);
  });
});
