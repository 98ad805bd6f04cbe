import { describe, expect, it } from 'vitest';
import { compilePathGlob, isAmbiguousPath, pathGlobError } from '../../src/steps/policy/path-glob.ts';

type Case = [glob: string, path: string, matches: boolean];

const cases: Case[] = [
  // literal
  ['/v1/messages', '/v1/messages', true],
  ['/v1/messages', '/v1/messages?beta=true', true],
  ['/v1/messages', '/v1/messages/', false],
  ['/v1/messages', '/v1/Messages', false],
  ['/v1/messages', '/v1/messagesx', false],
  ['/v1/messages', '/v1', false],
  ['/', '/', true],
  ['/', '/?q=1', true],
  ['/', '/a', false],
  // "*" = exactly one non-empty segment
  ['/repos/*/issues', '/repos/sluice/issues', true],
  ['/repos/*/issues', '/repos/a/b/issues', false],
  ['/repos/*/issues', '/repos//issues', false],
  ['/repos/*/issues', '/repos/issues', false],
  ['/org/*', '/org/repo', true],
  ['/org/*', '/org/', false],
  ['/org/*', '/org', false],
  ['/org/*', '/org/repo/x', false],
  ['/org/*', '/org/repo?x=/y/z', true],
  // "*" inside a segment
  ['/files/*.json', '/files/a.json', true],
  ['/files/*.json', '/files/.json', true],
  ['/files/*.json', '/files/a.json.txt', false],
  ['/files/*.json', '/files/a/b.json', false],
  ['/files/a*b*c', '/files/abc', true],
  ['/files/a*b*c', '/files/aXbYc', true],
  ['/files/a*b*c', '/files/aXcYb', false],
  ['/files/ab*ba', '/files/aba', false],
  ['/v*/models', '/v1/models', true],
  // "**" = any number of whole segments, zero included
  ['/org/**', '/org', true],
  ['/org/**', '/org/', true],
  ['/org/**', '/org/a', true],
  ['/org/**', '/org/a/b/c', true],
  ['/org/**', '/org/a/b/c?x=1', true],
  ['/org/**', '/organisation', false],
  ['/org/**', '/organisation/x', false],
  ['/org/**', '/other/org/x', false],
  ['/org/**', '/', false],
  ['/**', '/', true],
  ['/**', '/anything/at/all', true],
  ['/**/issues', '/issues', true],
  ['/**/issues', '/a/b/issues', true],
  ['/**/issues', '/a/b/issues/1', false],
  ['/a/**/b/**/c', '/a/b/c', true],
  ['/a/**/b/**/c', '/a/x/b/y/z/c', true],
  ['/a/**/b/**/c', '/a/x/y/c', false],
  ['/a/**/*.txt', '/a/x/y/z.txt', true],
  ['/a/**/*.txt', '/a/x/y/z.txt/w', false],
  ['/a/**/x/y', '/a/x/x/y', true],
  // not a path (absolute-form or asterisk-form must be converted by the caller)
  ['/**', '*', false],
  ['/**', 'http://example.com/', false],
  ['/**', '', false],
  // ambiguous forms a server could normalise outside the glob
  ['/org/**', '/org/../admin', false],
  ['/org/**', '/org/./x', false],
  ['/org/**', '/org/..', false],
  ['/org/**', '/org/%2e%2e/admin', false],
  ['/org/**', '/org/%2E%2e/admin', false],
  ['/org/**', '/org/.%2e/admin', false],
  ['/org/**', '/org/%2e/admin', false],
  ['/org/**', '/org/..;/admin', false],
  ['/org/**', '/org/..;jsessionid=1/admin', false],
  ['/org/**', '/org/a%2fb', false],
  ['/org/**', '/org/a%2F..%2Fadmin', false],
  ['/org/**', '/org/a%5cb', false],
  ['/org/**', '/org\\..\\admin', false],
  ['/org/*', '/org/%2e%2e', false],
  // …while lookalikes stay fine
  ['/org/**', '/org/.well-known/x', true],
  ['/org/**', '/org/...', true],
  ['/org/**', '/org/a..b', true],
  ['/org/**', '/org/%20x', true],
  ['/org/**', '/org/x?next=/../admin', true],
];

describe('compilePathGlob', () => {
  it.each(cases)('%s vs %s -> %s', (glob, path, expected) => {
    expect(compilePathGlob(glob)(path)).toBe(expected);
  });

  it('is linear-ish on a pathological glob (bounded time)', () => {
    const match = compilePathGlob('/**/a/**/a/**/a/**/a/**/b');
    const path = '/' + Array.from({ length: 2000 }, () => 'a').join('/');
    const start = performance.now();
    expect(match(path)).toBe(false);
    expect(performance.now() - start).toBeLessThan(500);
  });

  it('throws on an invalid glob', () => {
    expect(() => compilePathGlob('org/**')).toThrow(/does not start with/);
  });
});

describe('pathGlobError', () => {
  it.each([
    ['/org/**'],
    ['/'],
    ['/**'],
    ['/a/*/b'],
    ['/files/*.json'],
  ])('accepts %s', (glob) => {
    expect(pathGlobError(glob)).toBeUndefined();
  });

  it.each([
    ['org/**', /start with "\/"/],
    ['', /start with "\/"/],
    ['/a?b=1', /"\?" is not supported/],
    ['/a#frag', /"#" is not supported/],
    ['/a/[ab]', /character classes/],
    ['/a/{b,c}', /alternatives/],
    ['/a b', /whitespace/],
    ['/a/**b', /whole segment/],
    ['/a/b**', /whole segment/],
    ['/a/***', /whole segment/],
    ['/a/../b', /"\." and "\.\." segments/],
    ['/a/./b', /"\." and "\.\." segments/],
    ['/a\\b', /"\\" is not supported/],
  ])('refuses %j', (glob, message) => {
    expect(pathGlobError(glob)).toMatch(message);
  });
});

describe('isAmbiguousPath', () => {
  it.each([
    ['/a/b', false],
    ['/a/.well-known', false],
    ['/a/b?x=/../', false],
    ['/a/../b', true],
    ['/a/%2E/b', true],
    ['/a%2fb', true],
    ['/a\\b', true],
    ['/..;/x', true],
  ])('%s -> %s', (path, expected) => {
    expect(isAmbiguousPath(path)).toBe(expected);
  });
});
