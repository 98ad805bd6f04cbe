import { describe, expect, it } from 'vitest';
import type { AllowRule } from '../../src/config/types.ts';
import { createPolicy } from '../../src/steps/policy/policy.ts';

function rule(index: number, host: string, extra: Partial<AllowRule> = {}): AllowRule {
  return { index, host, llm: undefined, private: false, methods: undefined, paths: undefined, models: undefined, maxTokens: undefined, clampMaxTokens: false, ...extra };
}

const rules: AllowRule[] = [
  rule(0, 'api.anthropic.com', { llm: 'anthropic' }),
  rule(1, 'git.internal.example', { private: true }),
  rule(2, '*.githubusercontent.com', { methods: ['GET', 'HEAD'], paths: ['/org/**'] }),
  rule(3, '*.amazonaws.com'),
  rule(4, 'github.com', { methods: ['GET'], paths: ['/org/**'] }),
  rule(5, 'github.com', { methods: ['POST'], paths: ['/org/*/git-upload-pack'] }),
  rule(6, 'raw.githubusercontent.com', { methods: ['GET'], paths: ['/public/**'] }),
];

const policy = createPolicy(rules);

describe('policy.decide', () => {
  it.each([
    // exact names
    ['api.anthropic.com', 'POST', '/v1/messages', 0],
    ['git.internal.example', 'PUT', '/anything', 1],
    // wildcards: one or more labels below
    ['bucket.s3.us-east-1.amazonaws.com', 'PUT', '/key', 3],
    ['sts.us-east-1.amazonaws.com', 'POST', '/', 3],
    ['s3.amazonaws.com', 'GET', '/', 3],
    ['objects.githubusercontent.com', 'GET', '/org/x/y', 2],
    ['objects.githubusercontent.com', 'HEAD', '/org', 2],
    ['a.b.c.githubusercontent.com', 'GET', '/org/x?token=1', 2],
    // several rules for one host: any one allowing wins
    ['github.com', 'GET', '/org/repo', 4],
    ['github.com', 'POST', '/org/repo/git-upload-pack', 5],
    // an exact and a wildcard rule for one host
    ['raw.githubusercontent.com', 'GET', '/org/x', 2],
    ['raw.githubusercontent.com', 'GET', '/public/x', 6],
  ])('%s %s %s -> allow[%i]', (host, method, path, index) => {
    const decision = policy.decide(host, method, path);
    expect(decision).toEqual({ allow: true, rule: rules[index] });
  });

  it.each([
    ['example.com'],
    ['anthropic.com'],
    ['xapi.anthropic.com'],
    ['api.anthropic.com.evil.com'],
    ['evilapi.anthropic.com'],
    // a wildcard never matches its own base name, nor a lookalike suffix
    ['amazonaws.com'],
    ['githubusercontent.com'],
    ['evilamazonaws.com'],
    ['amazonaws.com.evil.com'],
    ['internal.example'],
    ['sub.git.internal.example'],
  ])('%s -> not_allowlisted', (host) => {
    expect(policy.decide(host, 'GET', '/')).toEqual({ allow: false, reason: 'not_allowlisted' });
  });

  it('refuses the method when no rule for the host allows it, naming the first rule for the host', () => {
    expect(policy.decide('objects.githubusercontent.com', 'POST', '/org/x')).toEqual({ allow: false, reason: 'method', rule: rules[2] });
    expect(policy.decide('github.com', 'DELETE', '/org/repo')).toEqual({ allow: false, reason: 'method', rule: rules[4] });
    // methods compare exactly: HTTP methods are case-sensitive
    expect(policy.decide('github.com', 'get', '/org/repo')).toEqual({ allow: false, reason: 'method', rule: rules[4] });
  });

  it('refuses the path when a rule allows the method, naming that rule', () => {
    expect(policy.decide('objects.githubusercontent.com', 'GET', '/other/x')).toEqual({ allow: false, reason: 'path', rule: rules[2] });
    expect(policy.decide('github.com', 'POST', '/org/repo/git-receive-pack')).toEqual({ allow: false, reason: 'path', rule: rules[5] });
    expect(policy.decide('github.com', 'GET', '/organisation')).toEqual({ allow: false, reason: 'path', rule: rules[4] });
    expect(policy.decide('github.com', 'GET', '/org/../admin')).toEqual({ allow: false, reason: 'path', rule: rules[4] });
    expect(policy.decide('raw.githubusercontent.com', 'GET', '/private/x')).toEqual({ allow: false, reason: 'path', rule: rules[2] });
  });

  it('ignores the query string for paths', () => {
    expect(policy.decide('github.com', 'GET', '/org/repo?path=/secret').allow).toBe(true);
    expect(policy.decide('github.com', 'GET', '/secret?path=/org/repo').allow).toBe(false);
  });

  it('has no wildcard that could cover an IP literal', () => {
    // "*.0.1" would be the only way to reach 10.0.0.1 by wildcard; such patterns are refused.
    expect(() => createPolicy([rule(0, '*.0.1')])).toThrow(/not normalised/);
    const ipPolicy = createPolicy([rule(0, '10.0.0.1'), rule(1, '*.example.com')]);
    expect(ipPolicy.decide('10.0.0.1', 'GET', '/')).toEqual({ allow: true, rule: rule(0, '10.0.0.1') });
    expect(ipPolicy.hostRules('10.0.0.2')).toEqual([]);
  });

  it('allocates nothing for a decision (the same decision object each time)', () => {
    const a = policy.decide('api.anthropic.com', 'POST', '/v1/messages');
    const b = policy.decide('api.anthropic.com', 'GET', '/v1/models');
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('policy.hostRules', () => {
  it('lists every rule whose host matches, in file order', () => {
    expect(policy.hostRules('github.com')).toEqual([rules[4], rules[5]]);
    expect(policy.hostRules('raw.githubusercontent.com')).toEqual([rules[2], rules[6]]);
    expect(policy.hostRules('x.s3.amazonaws.com')).toEqual([rules[3]]);
    expect(policy.hostRules('amazonaws.com')).toEqual([]);
    expect(policy.hostRules('example.com')).toEqual([]);
  });

  it('merges wildcards at several levels, in file order', () => {
    const nested = createPolicy([rule(0, '*.b.example.com'), rule(1, '*.example.com'), rule(2, 'a.b.example.com')]);
    expect(nested.hostRules('a.b.example.com').map((r) => r.index)).toEqual([0, 1, 2]);
    expect(nested.hostRules('x.b.example.com').map((r) => r.index)).toEqual([0, 1]);
    expect(nested.hostRules('b.example.com').map((r) => r.index)).toEqual([1]);
    expect(nested.hostRules('example.com').map((r) => r.index)).toEqual([]);
  });

  it('takes time linear in the labels, not the rules', () => {
    const many = createPolicy(Array.from({ length: 20_000 }, (_, i) => rule(i, i % 2 === 0 ? `h${i}.example.com` : `*.w${i}.example.net`)));
    const start = performance.now();
    for (let i = 0; i < 20_000; i++) {
      many.decide(`h${i % 1000}x.example.com`, 'GET', '/');
      many.decide(`a.b.w${(i % 1000) * 2 + 1}.example.net`, 'GET', '/');
    }
    expect(many.decide('a.b.w19999.example.net', 'GET', '/')).toMatchObject({ allow: true, rule: { index: 19999 } });
    expect(many.decide('h19998.example.com', 'GET', '/')).toMatchObject({ allow: true, rule: { index: 19998 } });
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('createPolicy', () => {
  it('refuses rules that are not normalised or carry an invalid glob', () => {
    expect(() => createPolicy([rule(0, 'API.example.com')])).toThrow(/allow\[0\].*not normalised/);
    expect(() => createPolicy([rule(0, 'example.com.')])).toThrow(/not normalised/);
    expect(() => createPolicy([rule(3, 'example.com', { paths: ['org/**'] })])).toThrow(/invalid path glob/);
  });

  it('denies everything with no rules', () => {
    expect(createPolicy([]).decide('example.com', 'GET', '/')).toEqual({ allow: false, reason: 'not_allowlisted' });
  });
});
