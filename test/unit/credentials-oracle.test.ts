// Issue 11, item 1: the prefix oracle. The first stream scanner held back exactly the longest
// suffix that could start a secret, so an agent that could see what an allowlisted upstream
// received (or what a credential host's echo let through) sent `<known><guess>`, paused, and
// learnt from the byte count whether its guess was a prefix of a real secret: ~900 probes for a
// 40-character AWS key. Now every scanner holds back a fixed window, so the counts for a right
// and a wrong guess are the same, for the request body watch (any host) and the response scrub.
import { describe, expect, it } from 'vitest';
import { createCredentialFixture, V } from '../helpers/credentials-fixture.ts';

const f = createCredentialFixture();
const KNOWN = 'action=PutObject&payload=';

/** A wrong guess of the same length: the right one with its last character changed. */
function wrong(guess: string): string {
  const last = guess.at(-1) === 'x' ? 'y' : 'x';
  return guess.slice(0, -1) + last;
}

/** Bytes a fresh body watch lets through after one push of `text`. */
function watchReleases(text: string): number {
  const watch = f.store.bodyWatch([]);
  const out = watch.push(Buffer.from(text));
  if (!Buffer.isBuffer(out)) throw new Error('a prefix is not a finding');
  return out.length;
}

/** Bytes a fresh response scrub lets through after one push of `text`. */
function scrubReleases(text: string, keepLength: boolean): number {
  return f.store.responseScrubber(keepLength).push(Buffer.from(text)).length;
}

/** Every guess an attacker would try: each prefix of each form of the secret, right and wrong. */
function probes(secret: string): Array<[string, string]> {
  const forms = [secret, encodeURIComponent(secret), Buffer.from(`user:${secret}`).toString('base64'), JSON.stringify(secret).slice(1, -1).replaceAll('/', '\\/')];
  const out: Array<[string, string]> = [];
  for (const form of forms) {
    for (let k = 1; k < form.length; k++) {
      // A long prefix of base64(user:secret) already holds every character the secret decides.
      if (f.store.findRealSecret(form.slice(0, k)) !== undefined) break;
      out.push([form.slice(0, k), wrong(form.slice(0, k))]);
    }
  }
  return out;
}

describe('no prefix oracle', () => {
  const secrets = [V.awsSecretReal, V.githubReal, V.anthropicReal];

  it('the request body watch lets through as many bytes for a right guess as for a wrong one', () => {
    for (const secret of secrets) {
      for (const [right, bad] of probes(secret)) {
        expect(watchReleases(KNOWN + right), right).toBe(watchReleases(KNOWN + bad));
      }
    }
  });

  it('the response scrub lets through as many bytes for a right guess as for a wrong one', () => {
    for (const keepLength of [false, true]) {
      for (const secret of secrets) {
        for (const [right, bad] of probes(secret)) {
          expect(scrubReleases(KNOWN + right, keepLength), right).toBe(scrubReleases(KNOWN + bad, keepLength));
        }
      }
    }
  });

  it('holds back a fixed window after every chunk, whatever the bytes, and flushes it at the end', () => {
    const window = f.store.scrubWindow;
    expect(window).toBeGreaterThan(0);
    const scrub = f.store.responseScrubber(false);
    const watch = f.store.bodyWatch([]);
    let total = 0;
    let scrubbed = 0;
    let watched = 0;
    const body = `${KNOWN}${V.awsSecretReal.slice(0, 20)} and then ${'z'.repeat(3 * window)} ${V.githubReal.slice(0, 9)}`;
    for (let at = 0; at < body.length; at += 37) {
      const chunk = Buffer.from(body.slice(at, at + 37));
      total += chunk.length;
      scrubbed += scrub.push(chunk).length;
      const w = watch.push(chunk);
      if (!Buffer.isBuffer(w)) throw new Error('no whole secret was sent');
      watched += w.length;
      expect(scrubbed).toBe(Math.max(0, total - window));
      expect(watched).toBe(Math.max(0, total - watch.window));
    }
    expect(scrubbed + scrub.end().length).toBe(total);
    const rest = watch.end();
    expect(Buffer.isBuffer(rest) && watched + rest.length).toBe(total);
  });

  it('refuses a whole secret at once, before any of the window is released', () => {
    const watch = f.store.bodyWatch([]);
    expect(watch.push(Buffer.from('k='))).toEqual(Buffer.alloc(0));
    expect(watch.push(Buffer.from(encodeURIComponent(V.awsSecretReal)))).toEqual({ kind: 'real_secret', credential: 'aws' });
  });
});
